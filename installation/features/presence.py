"""Presence: a background model of the empty room, and what stands out from it.

MOG2 background subtraction on a gain-compensated grey frame: every frame is scaled so its
median matches the background's, so a cloud, a dimmer or the camera's auto-exposure does not
read as a visitor. The background still learns (time constant BACKGROUND_TAU_S), so slow changes
and moved furniture fade in; a visitor who stands still for much longer fades too.
"""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND_TAU_S = 12.0  # the background absorbs a change over roughly this long
RELEARN_FRACTION = 0.6  # more of the frame than this "in the foreground" means the scene changed ...
RELEARN_TAU_S = 0.5  # ... so learn the new scene this fast instead
PRESENCE_AREA = (0.002, 0.02)  # foreground area that reads as presence 0 .. 1


class Foreground:
    """Silhouette mask and occupied area of a stream of grey uint8 frames."""

    def __init__(self) -> None:
        self._mog = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=25, detectShadows=False)
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._reference_median = 0.0  # of the (compensated) frames the background learned from
        self._frames = 0
        self._relearn = False

    def update(self, gray_u8: np.ndarray, dt_s: float) -> tuple[np.ndarray, float]:
        """(mask (H, W) uint8 0/255, occupied 0..1 fraction of the frame)."""
        self._frames += 1
        median = float(np.median(gray_u8))
        if self._frames == 1:
            self._reference_median = max(median, 1.0)
        if median > 1.0:  # gain compensation: the frame's median is the background's median
            gray_u8 = cv2.convertScaleAbs(gray_u8, alpha=self._reference_median / median)
        tau_s = RELEARN_TAU_S if self._relearn else BACKGROUND_TAU_S
        rate = 1.0 - float(np.exp(-max(dt_s, 0.0) / tau_s))
        rate = max(rate, 1.0 / self._frames)  # the first frames build the model from scratch
        mask = self._mog.apply(gray_u8, learningRate=min(1.0, rate))
        if self._frames == 1:
            mask[:] = 0  # MOG2 calls everything foreground before it has a model
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)  # speckle noise out
        occupied = float(np.count_nonzero(mask)) / mask.size
        self._relearn = occupied > RELEARN_FRACTION or (self._relearn and occupied > 0.1)
        return mask, occupied


def presence_from_area(occupied: float) -> float:
    """0..1 confidence that someone is there, from the foreground area alone."""
    lo, hi = PRESENCE_AREA
    x = min(1.0, max(0.0, (occupied - lo) / (hi - lo)))
    return x * x * (3.0 - 2.0 * x)  # smoothstep: a few stray pixels count for nothing
