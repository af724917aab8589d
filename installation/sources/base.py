"""What every input source hands the rest of the show: status lines, frames, retry timing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SourceStatus:
    name: str  # "camera" | "microphone"
    state: str  # "live" (real device/file/stream) | "fallback" (synthetic/silence while retrying) | "off"
    detail: str  # one human line, e.g. "camera 0 640x480 @30fps"
    error: str = ""  # last error text, "" if none


@dataclass(frozen=True)
class VideoFrame:
    frame_rgb: np.ndarray  # (H, W, 3) uint8, already downscaled to the source's size
    t_s: float  # time.perf_counter() when captured
    index: int  # frame counter, rises by 1 per new frame


class Backoff:
    """Exponential retry delays: first_s, 2*first_s, ... capped at max_s. Used by one thread only."""

    def __init__(self, first_s: float, max_s: float) -> None:
        self.first_s = first_s
        self.max_s = max(max_s, first_s)
        self._next_s = first_s

    def next_delay_s(self) -> float:
        delay_s = self._next_s
        self._next_s = min(self._next_s * 2.0, self.max_s)
        return delay_s

    def reset(self) -> None:
        self._next_s = self.first_s

    def describe(self) -> str:
        return f"retrying every {self.first_s:g}-{self.max_s:g} s"
