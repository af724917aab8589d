"""The sync wire format: one OSC message carrying a leader's picture state to its followers.

installation/control/sync.py sends and follows it; the OSC server (osc.py) decodes it on its thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pythonosc import osc_message_builder

from installation.control.osc_addresses import OscArgError
from installation.mapping.names import PARAMETERS

SYNC_ADDRESS = "/reverie/sync/state"


@dataclass(frozen=True)
class SyncState:
    """A leader's picture state, as a follower receives it (see installation/control/sync.py)."""

    seq: int
    preset: str
    model: str
    bpm: float
    position: float  # beat position
    z: np.ndarray  # (z_dim,) float32
    params: np.ndarray  # (len(PARAMETERS),) float32, in PARAMETERS order
    t_received_s: float


def encode_sync(
    seq: int, preset: str, model: str, bpm: float, position: float, z: np.ndarray, params: np.ndarray
) -> bytes:
    b = osc_message_builder.OscMessageBuilder(SYNC_ADDRESS)
    for value, kind in (
        (seq, "i"),
        (preset, "s"),
        (model, "s"),
        (float(bpm), "f"),
        (float(position), "d"),
        (np.asarray(z, "<f4").tobytes(), "b"),
        (np.asarray(params, "<f4").tobytes(), "b"),
    ):
        b.add_arg(value, kind)
    return b.build().dgram


def decode_sync(args: Sequence[object], t_s: float) -> SyncState:
    try:
        seq, preset, model, bpm, position, z, params = args
        if not (
            isinstance(seq, int)
            and isinstance(preset, str)
            and isinstance(model, str)
            and isinstance(z, bytes)
            and isinstance(params, bytes)
            and len(z) % 4 == 0
            and len(params) == 4 * len(PARAMETERS)
        ):
            raise ValueError
        zv, pv = np.frombuffer(z, "<f4").copy(), np.frombuffer(params, "<f4").copy()
        if not (np.isfinite(zv).all() and np.isfinite(pv).all() and zv.size > 0):
            raise ValueError
        return SyncState(seq, preset, model, float(bpm), float(position), zv, pv, t_s)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise OscArgError("expected seq, preset, model, bpm, position, z blob, params blob") from None
