"""The display loop's pacer: one frame every 1/fps s, started early when the sound jumps.

A loop that reads its inputs once per frame answers a sound half a frame late on average (8 ms at
60 fps) just by waiting for its next read. When the hearing thread reports a jump (an onset, or the
level moving by JUMP_DB), the pacer ends the wait at once, but never sooner than MIN_FRACTION of a
frame after the last one began, so the display never runs faster than 1/MIN_FRACTION of its rate and
the frame after an early one is paced from it. The naive synchronous loop of the bench has no wake.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MIN_FRACTION = 0.5  # an early frame starts at least half a frame period after the previous one


class FramePacer:
    def __init__(self, wake: Callable[[float], bool] | None = None) -> None:
        """wake(timeout_s) blocks up to timeout_s and returns True if the frame should start now."""
        self.wake = wake
        self.early_frames = 0  # frames started early by a wake (telemetry, tests)
        self._last_s: float | None = None

    def wait(self, fps: float) -> float:
        """Sleep until the next frame is due (or woken); returns the seconds since the last frame began."""
        now_s = time.perf_counter()
        if self._last_s is None:
            self._last_s = now_s
            return 0.0
        period_s = 1.0 / max(1.0, fps)
        earliest_s = self._last_s + MIN_FRACTION * period_s
        if now_s < earliest_s:
            time.sleep(earliest_s - now_s)
        remaining_s = self._last_s + period_s - time.perf_counter()
        if remaining_s > 0:
            if self.wake is None:
                time.sleep(remaining_s)
            elif self.wake(remaining_s):
                self.early_frames += 1
        start_s = time.perf_counter()
        dt_s, self._last_s = start_s - self._last_s, start_s
        return dt_s
