"""Rate-limited warnings: what a flood of bad input (OSC garbage, a chattering MIDI port, a controller
repeating an unknown preset name) says in the log.

One line per key per minute, with how many more like it came in that minute. Thread-safe, and its
memory is bounded however many distinct keys a sender invents.
"""

from __future__ import annotations

import logging
import math
import threading
import time

WARN_EVERY_S = 60.0
MAX_KEYS = 256


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, every_s: float = WARN_EVERY_S) -> None:
        self._log = logger
        self._every_s = every_s
        self._seen: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def warn(self, key: str, message: str, level: int = logging.WARNING) -> None:
        now = time.monotonic()
        with self._lock:
            last, suppressed = self._seen.get(key, (-math.inf, 0))
            if now - last < self._every_s:
                self._seen[key] = (last, suppressed + 1)
                return
            if len(self._seen) >= MAX_KEYS:
                self._seen.clear()
            self._seen[key] = (now, 0)
        more = f" ({suppressed} more like it in the last minute)" if suppressed else ""
        self._log.log(level, "%s%s", message, more)
