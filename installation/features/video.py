"""Video features: pure functions on small RGB frames (H, W, 3) uint8."""

from __future__ import annotations

import cv2
import numpy as np

HUE_BINS = 24  # 15 degrees each
COLOUR_SIZE = (40, 30)  # dominant colour is judged on a 40x30 thumbnail: enough, and cheap


def gray(frame_rgb: np.ndarray) -> np.ndarray:
    """(H, W) float32 luma in [0, 1] (ITU-R BT.601 weights)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return (frame_rgb.astype(np.float32) @ weights) / 255.0


def gray_u8(frame_rgb: np.ndarray) -> np.ndarray:
    """(H, W) uint8 luma, the input of flow, background and face detection."""
    return cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)


def brightness(frame_rgb: np.ndarray) -> float:
    """Mean luma 0..1."""
    return float(np.mean(gray(frame_rgb)))


def dominant_colour(frame_rgb: np.ndarray) -> tuple[float, float]:
    """(hue 0..1 with 0 = red, 1/3 = green, 2/3 = blue; saturation 0..1) of the picture.

    Each pixel votes for its hue with weight saturation x value, so grey, white and black pixels
    barely count; the hue is the weighted circular mean around the winning hue. The saturation is
    how colourful the whole picture is (mean saturation, weighted by value because the saturation
    of near-black pixels is noise): about 0 for a grey room, where the hue reads 0.
    """
    small = cv2.resize(frame_rgb, COLOUR_SIZE, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV_FULL).reshape(-1, 3).astype(np.float32) / 255.0
    hue, sat, val = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    weights = sat * val
    saturation = float(weights.sum()) / max(float(val.sum()), 1e-6)
    if float(weights.sum()) <= 1e-3 * weights.shape[0]:
        return 0.0, saturation
    bins = np.minimum((hue * HUE_BINS).astype(np.int64), HUE_BINS - 1)
    votes = np.bincount(bins, weights=weights, minlength=HUE_BINS)
    votes = votes + 0.5 * (np.roll(votes, 1) + np.roll(votes, -1))  # a hue on a bin edge is not split
    best = int(np.argmax(votes))
    near = ((bins - best + 1) % HUE_BINS) <= 2  # the winning bin and its two neighbours
    angle = hue[near] * 2 * np.pi
    w = weights[near]
    mean_hue = float(np.arctan2(np.dot(w, np.sin(angle)), np.dot(w, np.cos(angle))) / (2 * np.pi)) % 1.0
    return mean_hue, saturation
