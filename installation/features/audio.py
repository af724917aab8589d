"""Audio features: pure functions on mono float32 sample blocks in [-1, 1]."""

from __future__ import annotations

import math

import numpy as np

SILENCE_DB = -90.0  # what digital silence reports instead of -inf


def rms(samples: np.ndarray) -> float:
    """Root-mean-square level of a block (0 for an empty block)."""
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def dbfs(level_rms: float) -> float:
    """RMS level in dB relative to a full-scale sine-free square (1.0 RMS = 0 dBFS)."""
    if level_rms <= 10 ** (SILENCE_DB / 20):
        return SILENCE_DB
    return 20.0 * math.log10(level_rms)


def loudness(level_db: float, floor_db: float = -60.0, ceiling_db: float = -10.0) -> float:
    """Map dBFS onto 0..1: floor_db and below is 0 (a quiet room), ceiling_db and above is 1."""
    return min(1.0, max(0.0, (level_db - floor_db) / (ceiling_db - floor_db)))
