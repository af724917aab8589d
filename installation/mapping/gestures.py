"""Gesture recogniser: per-frame touch state -> pan, pinch, rotate, tap and long-press.

Works on what TouchTracker reports each frame (fingers and their positions), so the same code
serves a multi-touch screen and a mouse (one finger).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from installation.sources.touch import TouchFrame

LONG_PRESS_MOVE = 0.02  # screen fraction a finger may wander and still be "pressing"


@dataclass(frozen=True)
class Gestures:
    pan: tuple[float, float] = (0.0, 0.0)  # movement this frame, screen widths / heights
    pinch: float = 0.0  # log of the finger-spread ratio this frame (> 0 spreading, < 0 closing)
    rotate: float = 0.0  # radians the two fingers turned this frame (counter-clockwise on screen > 0)
    taps: int = 0
    long_press: tuple[float, float] | None = None  # where a press just became long (fires once)
    fingers: int = 0


class GestureRecognizer:
    def __init__(self, aspect: float = 16 / 9, long_press_s: float = 0.8) -> None:
        self.aspect = aspect  # width / height: angles and distances need square units
        self.long_press_s = long_press_s
        self._pair: tuple[int, int] | None = None
        self._pair_geom: tuple[float, float] | None = None  # distance, angle of the finger pair
        self._press: dict[int, tuple[float, float, float, bool]] = {}  # id -> x0, y0, t0, fired

    def _geometry(self, frame: TouchFrame, pair: tuple[int, int]) -> tuple[float, float]:
        pos = {t.finger_id: (t.x * self.aspect, t.y) for t in frame.touches}
        (x1, y1), (x2, y2) = pos[pair[0]], pos[pair[1]]
        return math.hypot(x2 - x1, y2 - y1), math.atan2(-(y2 - y1), x2 - x1)  # screen y grows downward

    def update(self, frame: TouchFrame, t_s: float) -> Gestures:
        ids = sorted(t.finger_id for t in frame.touches)
        pinch = rotate = 0.0
        pair = (ids[0], ids[1]) if len(ids) >= 2 else None
        if pair is not None:
            dist, angle = self._geometry(frame, pair)
            if pair == self._pair and self._pair_geom is not None and dist > 1e-3 and self._pair_geom[0] > 1e-3:
                pinch = math.log(dist / self._pair_geom[0])
                rotate = (angle - self._pair_geom[1] + math.pi) % (2 * math.pi) - math.pi
            self._pair_geom = (dist, angle)
        else:
            self._pair_geom = None
        self._pair = pair

        long_press = None
        for t in frame.touches:
            x0, y0, t0, fired = self._press.get(t.finger_id, (t.x, t.y, t_s, False))
            if abs(t.x - x0) + abs(t.y - y0) > LONG_PRESS_MOVE:
                fired = True  # it became a drag: never a long press
            elif not fired and len(ids) == 1 and t_s - t0 >= self.long_press_s:
                fired, long_press = True, (t.x, t.y)
            self._press[t.finger_id] = (x0, y0, t0, fired)
        for fid in [f for f in self._press if f not in ids]:
            del self._press[fid]
        return Gestures((frame.drag_dx, frame.drag_dy), pinch, rotate, frame.taps, long_press, len(ids))
