"""What the web server knows about the show: the newest status and thumbnail, a few minutes of
figures for the sparklines, and whether the show is up. Written by the link (the show's feed thread,
or the supervisor's socket reader), read by the server's handlers; a lock guards every field.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

HISTORY_S = 600  # ten minutes of one-a-second figures for the sparklines
STALE_S = 4.0  # no status for this long: the show is restarting (or stuck)
PUBLIC_KEYS = (
    "fps",
    "generator_fps",
    "latency_ms_p95",
    "preset",
    "preset_file",
    "model",
    "sources",
    "uptime_s",
    "restarts",
    "last_error",
    "open",
    "schedule",
    "closed_mode",
    "recording",
    "presets",
    "models",
)


@dataclass(frozen=True)
class ShowUpdate:
    """One status message from the show, decoded."""

    status: dict[str, Any]  # the show's figures (PUBLIC_KEYS and "engagement"); only read, never changed
    jpeg: bytes  # the thumbnail of the generated picture; b"" when there is none (closed, black)
    t_s: float  # time.monotonic() when it arrived


class PanelState:
    def __init__(self, supervised: bool, stale_s: float = STALE_S) -> None:
        self.supervised = supervised  # served by --supervise: the panel outlives the show
        self.stale_s = stale_s
        self._lock = threading.Lock()
        self._update: ShowUpdate | None = None
        self._seq = 0
        self._connected = False
        self._history: deque[tuple[float, float, float, float]] = deque(maxlen=HISTORY_S)
        self._t0_wall = time.time() - time.monotonic()

    # ------------------------------------------------------------ written by the link
    def publish(self, status_json: bytes, jpeg: bytes) -> None:
        """A new status from the show (its feed thread or the supervisor's socket reader)."""
        status = json.loads(status_json)
        if not isinstance(status, dict):
            raise ValueError("a status must be a JSON object")
        now = time.monotonic()
        with self._lock:
            self._update = ShowUpdate(status, bytes(jpeg), now)
            self._seq += 1
            self._connected = True
            self._history.append(
                (now, _num(status.get("fps")), _num(status.get("generator_fps")), _num(status.get("latency_ms_p95")))
            )

    def set_connected(self, connected: bool) -> None:
        """The supervisor's link: a show connected, or its connection closed (it exited, crashed)."""
        with self._lock:
            self._connected = connected

    # ------------------------------------------------------------ read by the handlers
    def latest(self) -> tuple[ShowUpdate | None, int]:
        with self._lock:
            return self._update, self._seq

    def state(self) -> str:
        """running | restarting | starting: what the page's banner says."""
        with self._lock:
            update, connected = self._update, self._connected
        if update is None:
            return "starting"
        if not connected or time.monotonic() - update.t_s > self.stale_s:
            return "restarting"
        return "running"

    def status(self) -> dict[str, Any]:
        update, _ = self.latest()
        record: dict[str, Any] = {"state": self.state(), "supervised": self.supervised}
        if update is not None:
            record.update({k: update.status[k] for k in PUBLIC_KEYS if k in update.status})
            record["age_s"] = round(time.monotonic() - update.t_s, 1)
        return record

    def history(self) -> dict[str, list[float]]:
        with self._lock:
            rows = list(self._history)
        return {
            "t_unix": [round(self._t0_wall + r[0], 1) for r in rows],
            "fps": [r[1] for r in rows],
            "generator_fps": [r[2] for r in rows],
            "latency_ms_p95": [r[3] for r in rows],
        }

    def names(self, kind: str) -> list[str] | None:
        """The show's presets or models (what a switch may name); None while no show has reported."""
        update, _ = self.latest()
        if update is None:
            return None
        names = update.status.get(kind)
        return [str(n) for n in names] if isinstance(names, list) else []


def _num(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
