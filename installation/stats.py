"""Rolling performance figures and the --stats JSON-lines writer."""

from __future__ import annotations

import json
import logging
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class Rolling:
    """The last `size` samples, for rates and percentiles."""

    def __init__(self, size: int = 240) -> None:
        self._values: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self._values.append(value)

    def percentile(self, q: float) -> float:
        if not self._values:
            return 0.0
        return float(np.percentile(np.fromiter(self._values, dtype=np.float64), q))

    def __len__(self) -> int:
        return len(self._values)


class RateCounter:
    """Events per second over a sliding window of timestamps."""

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, t_s: float) -> None:
        self._times.append(t_s)

    def rate(self, now_s: float) -> float:
        while self._times and self._times[0] < now_s - self.window_s:
            self._times.popleft()
        return len(self._times) / self.window_s


class StatsWriter:
    """Appends one JSON object per line; a write failure is logged once and stats go quiet."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._failed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - line-buffered, closed in close()
        except OSError as exc:
            log.error("cannot write stats to %s (%s); the show goes on without stats", self.path, exc)
            self._failed = True

    def write(self, record: dict[str, Any]) -> None:
        if self._failed:
            return
        try:
            self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        except (OSError, ValueError) as exc:
            self._failed = True
            log.error("writing stats to %s failed (%s); stats are off from now on", self.path, exc)

    def close(self) -> None:
        if not self._failed:
            try:
                self._file.close()
            except OSError:
                pass
