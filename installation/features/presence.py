"""Presence: a per-pixel background model of the empty room, and what stands out from it.

Each pixel keeps a running mean and variance (a single Gaussian, like MOG2 with one component
but with a predictable forgetting time). The frame is first gain-compensated, scaled so its
median matches the background's, so a cloud, a dimmer or the camera's auto-exposure does not read
as a visitor. The background keeps learning (time constant BACKGROUND_TAU_S): slow changes and
moved furniture fade in, and so does a visitor who stands still for half a minute.
"""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND_TAU_S = 12.0  # the background follows the room with this time constant
RELEARN_FRACTION = 0.6  # more of the frame than this "in the foreground" means the scene changed ...
RELEARN_TAU_S = 0.5  # ... so learn the new scene this fast instead
K_SIGMA = 3.0  # foreground: further than this many standard deviations from the background ...
MIN_DIFF = 12.0  # ... and than this many grey levels (sensor noise and compression)
MIN_VAR, MAX_VAR = 4.0, 400.0  # per-pixel variance bounds, grey levels squared
BOOTSTRAP_FRAMES = 10  # the background starts as the mean of this many frames
PRESENCE_AREA = (0.002, 0.02)  # foreground area that reads as presence 0 .. 1


class Foreground:
    """Silhouette mask and occupied area of a stream of grey uint8 frames."""

    def __init__(self) -> None:
        self._mean: np.ndarray | None = None  # (H, W) float32 background grey level
        self._var: np.ndarray | None = None  # (H, W) float32 background variance
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._frames = 0
        self._relearn = False

    def update(self, gray_u8: np.ndarray, dt_s: float) -> tuple[np.ndarray, float]:
        """(mask (H, W) uint8 0/255, occupied 0..1 fraction of the frame)."""
        x = gray_u8.astype(np.float32)
        if self._mean is None or self._var is None or self._mean.shape != x.shape:
            self._mean, self._var, self._frames = x, np.full_like(x, MIN_VAR), 0
        mean, var = self._mean, self._var  # updated in place (mean) or replaced (var) below
        self._frames += 1
        median = float(np.median(x))
        if median > 1.0:  # gain compensation: the frame's median becomes the background's median
            x *= float(np.median(mean)) / median
        tau_s = RELEARN_TAU_S if self._relearn else BACKGROUND_TAU_S
        rate = 1.0 - float(np.exp(-max(dt_s, 0.0) / tau_s))
        if self._frames <= BOOTSTRAP_FRAMES:  # the first frames build the model from scratch
            rate = max(rate, 1.0 / self._frames)

        diff = x - mean
        foreground = np.abs(diff) > np.maximum(K_SIGMA * np.sqrt(var), MIN_DIFF)
        mean += rate * diff
        # Noise is learned from the background only: a visitor must not widen the threshold.
        learned = np.clip(var + rate * (diff * diff - var), MIN_VAR, MAX_VAR)
        self._var = np.where(foreground, var, learned)

        mask = cv2.morphologyEx(foreground.astype(np.uint8) * 255, cv2.MORPH_OPEN, self._kernel)  # speckles out
        occupied = float(np.count_nonzero(mask)) / mask.size
        self._relearn = occupied > RELEARN_FRACTION or (self._relearn and occupied > 0.1)
        return mask, occupied


def presence_from_area(occupied: float) -> float:
    """0..1 confidence that someone is there, from the foreground area alone."""
    lo, hi = PRESENCE_AREA
    x = min(1.0, max(0.0, (occupied - lo) / (hi - lo)))
    return x * x * (3.0 - 2.0 * x)  # smoothstep: a few stray pixels count for nothing
