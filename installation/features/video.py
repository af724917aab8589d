"""Video features: pure functions on small RGB frames (H, W, 3) uint8."""

from __future__ import annotations

import numpy as np

MOTION_SCALE = 12.0  # mean absolute grey difference of ~0.08 (a person walking through) reads as 1.0


def gray(frame_rgb: np.ndarray) -> np.ndarray:
    """(H, W) float32 luma in [0, 1] (ITU-R BT.601 weights)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return (frame_rgb.astype(np.float32) @ weights) / 255.0


def motion_energy(prev_gray: np.ndarray | None, cur_gray: np.ndarray) -> float:
    """0..1 amount of change between two grey frames; 0 when there is no previous frame."""
    if prev_gray is None or prev_gray.shape != cur_gray.shape:
        return 0.0
    return min(1.0, float(np.mean(np.abs(cur_gray - prev_gray))) * MOTION_SCALE)


def brightness(frame_rgb: np.ndarray) -> float:
    """Mean luma 0..1."""
    return float(np.mean(gray(frame_rgb)))
