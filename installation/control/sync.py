"""Several screens, one show: a leader broadcasts its picture state over OSC, followers render it.

The leader sends, sync.rate_hz times a second, its preset, model, beat grid, latent z and
effect parameters to each follower's OSC server (one datagram: ~0.5 KB for a 128-d latent). A
follower renders exactly that z, or for a panorama a neighbour of it: z + offset * spacing * u,
where u is a direction every instance derives from mapping.seed, so screen k and k+1 show
neighbouring regions of one latent plane. A follower whose leader goes quiet carries on with
its own walk, and picks the leader up again when it is back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from installation.config import SyncConfig
from installation.control.osc_out import OscSender
from installation.control.sync_wire import SyncState, encode_sync
from installation.mapping.names import PARAMETERS
from installation.slot import LatestSlot

log = logging.getLogger(__name__)


def panorama_direction(z_dim: int, seed: int) -> np.ndarray:
    """The unit latent direction screens are spread along; the same on every instance with this seed."""
    u = np.random.default_rng([seed, 7031]).standard_normal(z_dim)
    return (u / np.linalg.norm(u)).astype(np.float32)


class SyncLeader:
    def __init__(self, config: SyncConfig) -> None:
        self.config = config
        self._senders = [OscSender(host, int(port)) for host, _, port in (f.rpartition(":") for f in config.followers)]
        self._due_s = 0.0
        self.seq = 0

    def tick(
        self, t_s: float, preset: str, model: str, bpm: float, position: float, z: np.ndarray, params: dict[str, float]
    ) -> None:
        if t_s < self._due_s:
            return
        self._due_s = max(self._due_s + 1.0 / self.config.rate_hz, t_s)
        self.seq += 1
        values = np.array([params.get(n, v) for n, v in PARAMETERS.items()], np.float32)
        dgram = encode_sync(self.seq, preset, model, bpm, position, np.ravel(z), values)
        for sender in self._senders:
            sender.send_dgram(dgram)

    def status(self) -> str:
        sent = sum(s.sent for s in self._senders)
        return f"sync leader -> {', '.join(self.config.followers)}: {sent} sent"

    def close(self) -> None:
        for sender in self._senders:
            sender.close()


@dataclass(frozen=True)
class Follow:
    """What the follower renders this frame."""

    z: np.ndarray  # (1, z_dim) float32
    params: dict[str, float]
    state: SyncState


class SyncFollower:
    def __init__(self, config: SyncConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        self.slot: LatestSlot[SyncState] = LatestSlot()
        self._seen = 0
        self._latest: SyncState | None = None
        self._following = False
        self._warned_dim = 0
        self._direction: np.ndarray | None = None  # panorama direction for the current z_dim
        self.received = 0

    def newest(self) -> SyncState | None:
        """The newest leader state, if one arrived since the last call (main thread)."""
        state, self._seen = self.slot.get_newer(self._seen)
        if state is not None:
            self.received += 1
            self._latest = state
        return state

    def follow(self, t_s: float, z_dim: int) -> Follow | None:
        """The leader's picture for this frame, or None (no leader, quiet too long, other latent size)."""
        state = self._latest
        live = state is not None and t_s - state.t_received_s < self.config.timeout_s
        if live != self._following:
            self._following = live
            if state is not None and live:
                log.info("sync: following the leader (preset %s, model %s)", state.preset, state.model)
            else:
                log.warning(
                    "sync: no word from the leader for %.1f s; running on our own until it is back",
                    self.config.timeout_s,
                )
        if not live or state is None:
            return None
        if state.z.shape != (z_dim,):
            if self._warned_dim != state.z.shape[0]:
                self._warned_dim = state.z.shape[0]
                log.warning(
                    "sync: the leader's latent has %d values, our model %d; waiting for the model switch",
                    state.z.shape[0],
                    z_dim,
                )
            return None
        z = state.z
        if self.config.offset:
            if self._direction is None or self._direction.shape != (z_dim,):  # once per model, not per frame
                self._direction = panorama_direction(z_dim, self.seed)
            z = z + np.float32(self.config.offset * self.config.spacing) * self._direction
        params = {name: float(v) for name, v in zip(PARAMETERS, state.params)}
        return Follow(z.astype(np.float32)[None, :], params, state)

    @property
    def following(self) -> bool:
        return self._following

    def status(self) -> str:
        where = f"offset {self.config.offset:g}" if self.config.offset else "same picture"
        return f"sync follower ({where}): {'following' if self._following else 'no leader'}, {self.received} states"
