"""The display loop's pacer: one frame every 1/fps s, started early when the sound jumps.

A loop that reads its inputs once per frame answers a sound half a frame late on average (8 ms at
60 fps) just by waiting for its next read. When the hearing thread reports a jump (an onset, or the
level moving by JUMP_DB), the pacer ends the wait at once, but never sooner than MIN_FRACTION of a
frame after the last one began. Frames keep their slots on a grid of 1/fps: an early frame only moves
within its slot and the next one waits for the next slot, so a busy sound never raises the frame
rate (or the CPU it costs). The naive synchronous loop of the bench has no wake.
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
        self._last_s: float | None = None  # when the last frame began
        self._due_s = 0.0  # the end of the last frame's slot: the next frame is due then

    def wait(self, fps: float) -> float:
        """Sleep until the next frame is due (or woken); returns the seconds since the last frame began."""
        now_s = time.perf_counter()
        period_s = 1.0 / max(1.0, fps)
        if self._last_s is None:
            self._last_s, self._due_s = now_s, now_s + period_s
            return 0.0
        # Early by at most (1 - MIN_FRACTION) of a period within its slot, and MIN_FRACTION after the last.
        earliest_s = max(self._last_s + MIN_FRACTION * period_s, self._due_s - (1 - MIN_FRACTION) * period_s)
        if now_s < earliest_s:
            time.sleep(earliest_s - now_s)
        remaining_s = self._due_s - time.perf_counter()
        if remaining_s > 0:
            if self.wake is None:
                time.sleep(remaining_s)
            elif self.wake(remaining_s):
                self.early_frames += 1
        start_s = time.perf_counter()
        # The next slot; after a stall (or a rate change) start a new grid instead of catching up.
        self._due_s = self._due_s + period_s if start_s < self._due_s + period_s else start_s + period_s
        dt_s, self._last_s = start_s - self._last_s, start_s
        return dt_s
