"""Touch input: pygame finger and mouse events normalised to one vocabulary (0..1 screen units).

The mouse acts as one finger (id MOUSE_ID) so a gallery without a touchscreen still works;
mouse events SDL synthesises from real touches are ignored so a touch never counts twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pygame

MOUSE_ID = -1
TAP_MAX_S = 0.3  # a touch shorter than this ...
TAP_MAX_MOVE = 0.02  # ... that moved less than this (screen fraction) is a tap


@dataclass(frozen=True)
class Touch:
    finger_id: int
    x: float  # 0 = left edge, 1 = right edge
    y: float  # 0 = top edge, 1 = bottom edge


@dataclass(frozen=True)
class TouchFrame:
    """What touch input did since the previous frame."""

    touches: tuple[Touch, ...] = ()  # fingers down now
    drag_dx: float = 0.0  # mean finger movement this frame, screen widths
    drag_dy: float = 0.0  # screen heights
    taps: int = 0
    t_last_s: float = 0.0  # perf_counter of the newest touch event (0 = none yet)


class TouchTracker:
    def __init__(self, window_size: tuple[int, int]) -> None:
        self.window_size = window_size
        self._down: dict[int, tuple[float, float, float, float, float]] = {}  # id -> x, y, x0, y0, t0
        self._dx = 0.0
        self._dy = 0.0
        self._taps = 0
        self._t_last_s = 0.0
        self.events_total = 0  # every touch/mouse event consumed, for stats and tests
        self.drag_total = 0.0  # accumulated drag distance in screen units

    @property
    def fingers_down(self) -> int:
        return len(self._down)

    def resize(self, window_size: tuple[int, int]) -> None:
        self.window_size = window_size

    def _norm(self, pos: tuple[int, int]) -> tuple[float, float]:
        w, h = self.window_size
        return min(1.0, max(0.0, pos[0] / max(w, 1))), min(1.0, max(0.0, pos[1] / max(h, 1)))

    def handle(self, event: pygame.event.Event) -> bool:
        """Consume a finger/mouse event; False for anything else."""
        t = time.perf_counter()
        kind = event.type
        if kind in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP, pygame.MOUSEMOTION):
            if getattr(event, "touch", False):
                return True  # SDL's mouse echo of a real touch: already handled as a finger
            if kind == pygame.MOUSEBUTTONDOWN and event.button != 1:
                return False
            if kind == pygame.MOUSEBUTTONUP and event.button != 1:
                return False
            x, y = self._norm(event.pos)
            if kind == pygame.MOUSEBUTTONDOWN:
                self._press(MOUSE_ID, x, y, t)
            elif kind == pygame.MOUSEBUTTONUP:
                self._release(MOUSE_ID, x, y, t)
            elif MOUSE_ID in self._down:
                self._move(MOUSE_ID, x, y, t)
            else:
                return True  # hovering mouse: no finger down, nothing to do
        elif kind == pygame.FINGERDOWN:
            self._press(event.finger_id, event.x, event.y, t)
        elif kind == pygame.FINGERUP:
            self._release(event.finger_id, event.x, event.y, t)
        elif kind == pygame.FINGERMOTION:
            self._move(event.finger_id, event.x, event.y, t)
        else:
            return False
        self.events_total += 1
        self._t_last_s = t
        return True

    def _press(self, fid: int, x: float, y: float, t: float) -> None:
        self._down[fid] = (x, y, x, y, t)

    def _move(self, fid: int, x: float, y: float, t: float) -> None:
        if fid not in self._down:
            self._press(fid, x, y, t)
            return
        px, py, x0, y0, t0 = self._down[fid]
        share = 1.0 / max(len(self._down), 1)  # two fingers moving together pan once, not twice
        self._dx += (x - px) * share
        self._dy += (y - py) * share
        self.drag_total += abs(x - px) + abs(y - py)
        self._down[fid] = (x, y, x0, y0, t0)

    def _release(self, fid: int, x: float, y: float, t: float) -> None:
        if fid not in self._down:
            return
        self._move(fid, x, y, t)
        _, _, x0, y0, t0 = self._down.pop(fid)
        if t - t0 <= TAP_MAX_S and abs(x - x0) + abs(y - y0) <= TAP_MAX_MOVE:
            self._taps += 1

    def frame(self) -> TouchFrame:
        """The touches now and the movement since the last call (which it resets)."""
        out = TouchFrame(
            touches=tuple(Touch(fid, v[0], v[1]) for fid, v in self._down.items()),
            drag_dx=self._dx,
            drag_dy=self._dy,
            taps=self._taps,
            t_last_s=self._t_last_s,
        )
        self._dx = self._dy = 0.0
        self._taps = 0
        return out
