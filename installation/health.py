"""Health: is the picture alive? A heartbeat for the supervisor and a JSON health file for people.

`OutputWatch` looks at a 16x9 grey thumbnail of the presented frame every few frames (cheap: one
cv2.resize of a surfarray view) and says when the output has been frozen (unchanged) or uniform
(black, or one flat colour) for too long. `Heartbeat` writes one byte a second into a pipe the
supervisor holds: no disk involved, so a full disk never looks like a hang.
"""

from __future__ import annotations

import logging
import os
import time

import cv2
import numpy as np
import pygame

log = logging.getLogger(__name__)

THUMB_SIZE = (16, 9)  # (w, h) px: enough to see a change, costs microseconds
FROZEN_DIFF = 1.0  # mean |grey difference| below this = "unchanged" (the burn-in drift stays below it)
UNIFORM_STD = 2.0  # grey std below this = a uniform (black or flat) picture
HEARTBEAT_ENV = "REVERIE_HEARTBEAT_FD"  # set by the supervisor: the write end of its heartbeat pipe
HEARTBEAT_EVERY_S = 1.0


def thumbnail(surface: pygame.Surface) -> np.ndarray:
    """(9, 16) float32 grey thumbnail of a surface, without copying the full frame."""
    view = pygame.surfarray.pixels3d(surface)  # (W, H, 3) view, locks the surface briefly
    try:
        # Subsample the strided view first: handing cv2 the whole view makes it copy the full frame
        # (~30 ms at 1920x1080, a dropped frame every check); a 4x4-per-cell grid costs ~0.05 ms.
        w, h = view.shape[:2]
        grid = np.ascontiguousarray(view[:: max(1, w // (4 * THUMB_SIZE[0])), :: max(1, h // (4 * THUMB_SIZE[1]))])
    finally:
        del view  # unlock the surface before the next blit
    small = cv2.resize(grid, (THUMB_SIZE[1], THUMB_SIZE[0]), interpolation=cv2.INTER_AREA)  # (16, 9, 3)
    return small.astype(np.float32).mean(axis=2).T  # (9, 16)


class OutputWatch:
    """Tracks how long the presented output has been frozen or uniform. 0 s limits switch a check off."""

    def __init__(self, frozen_s: float, black_s: float) -> None:
        self.frozen_s = frozen_s
        self.black_s = black_s
        self._ref: np.ndarray | None = None  # thumbnail when the current "unchanged" stretch began
        self._ref_t_s = 0.0
        self._uniform_since_s: float | None = None
        self.last_std = 0.0

    def reset(self) -> None:
        """Forget the past (after a recovery, or while the show is closed and black on purpose)."""
        self._ref = None
        self._uniform_since_s = None

    def observe(self, thumb: np.ndarray, t_s: float) -> str:
        """Feed a thumbnail; returns "frozen", "black" or "" (fine)."""
        self.last_std = float(thumb.std())
        if self.last_std < UNIFORM_STD:
            if self._uniform_since_s is None:
                self._uniform_since_s = t_s
        else:
            self._uniform_since_s = None
        if self._ref is None or float(np.abs(thumb - self._ref).mean()) >= FROZEN_DIFF:
            self._ref, self._ref_t_s = thumb, t_s
        if self.black_s > 0 and self._uniform_since_s is not None and t_s - self._uniform_since_s >= self.black_s:
            return "black"
        if self.frozen_s > 0 and t_s - self._ref_t_s >= self.frozen_s:
            return "frozen"
        return ""


class Heartbeat:
    """One byte per second into the supervisor's pipe; silently off when not supervised."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.lost = False  # the supervisor went away (a show without it would be started twice by systemd)
        self._next_s = 0.0
        if fd is not None:
            os.set_blocking(fd, False)  # a full pipe (supervisor stopped reading) must not block the show

    @classmethod
    def from_env(cls) -> Heartbeat:
        raw = os.environ.get(HEARTBEAT_ENV, "")
        return cls(int(raw) if raw.isdigit() else None)

    def beat(self, now_s: float | None = None) -> None:
        if self.fd is None:
            return
        now_s = time.monotonic() if now_s is None else now_s
        if now_s < self._next_s:
            return
        self._next_s = now_s + HEARTBEAT_EVERY_S
        try:
            os.write(self.fd, b".")
        except BlockingIOError:
            pass
        except OSError as exc:  # the supervisor is gone
            log.warning("heartbeat pipe closed (%s): the supervisor is gone", exc)
            self.fd = None
            self.lost = True
