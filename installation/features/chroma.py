"""Chroma: how much of each pitch class (C, C#, ... B) a power spectrum holds."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from installation.features.spectrum import bin_freqs_hz

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
LO_HZ = 100.0  # below this an FFT bin is wider than a semitone at useful frame lengths
HI_HZ = 5000.0  # above this mostly noise and overtones
SIGMA_SEMITONES = 0.35  # how far a bin's energy spreads to the neighbouring pitch class
MIN_POWER = 1e-9  # (about -90 dBFS) below this the chroma is all zeros, not noise blown up


@lru_cache(maxsize=8)
def chroma_filters(n_fft: int, samplerate: int) -> np.ndarray:
    """(12, n_fft // 2 + 1) float32 weights: each bin votes for the pitch classes near its pitch."""
    freqs = bin_freqs_hz(n_fft, samplerate)
    weights = np.zeros((12, freqs.shape[0]), np.float32)
    ok = (freqs >= LO_HZ) & (freqs <= HI_HZ)
    midi = 69.0 + 12.0 * np.log2(freqs[ok] / 440.0)  # A4 = MIDI 69 = pitch class 9
    for pc in range(12):
        distance = (midi - pc + 6.0) % 12.0 - 6.0  # semitones to the nearest pc, -6..6
        weights[pc, ok] = np.exp(-0.5 * (distance / SIGMA_SEMITONES) ** 2)
    return weights


def chroma(power: np.ndarray, samplerate: int) -> np.ndarray:
    """(12,) float32 chroma of a power spectrum, scaled so the strongest class is 1 (zeros if silent)."""
    n_fft = 2 * (power.shape[0] - 1)
    c = chroma_filters(n_fft, samplerate) @ power.astype(np.float32)
    top = float(c.max())
    if top <= MIN_POWER:
        return np.zeros(12, np.float32)
    return (c / top).astype(np.float32)
