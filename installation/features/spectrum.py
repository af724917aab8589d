"""Spectral features: pure functions on power spectra of mono float32 frames.

Power is scaled so that 10*log10 of a band's power is in dBFS like audio.dbfs(): a full-scale
sine (amplitude 1) has power 0.5 (-3 dB), wherever its energy lands.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from installation.features.audio import SILENCE_DB

BANDS_HZ = {"low": (20.0, 250.0), "mid": (250.0, 2000.0), "high": (2000.0, 16000.0)}
CENTROID_LO_HZ = 60.0  # spectral_centroid reads 0 here ...
CENTROID_HI_HZ = 12000.0  # ... and 1 here, on a log-frequency scale


@lru_cache(maxsize=8)
def hann(n: int) -> np.ndarray:
    """(n,) float32 periodic Hann window."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


@lru_cache(maxsize=8)
def bin_freqs_hz(n_fft: int, samplerate: int) -> np.ndarray:
    """(n_fft // 2 + 1,) centre frequency of each rfft bin."""
    return np.fft.rfftfreq(n_fft, 1.0 / samplerate)


def power_spectrum(samples: np.ndarray) -> np.ndarray:
    """(n // 2 + 1,) float64 power per rfft bin of a Hann-windowed frame; sums to the mean square."""
    window = hann(samples.shape[0])
    spec = np.fft.rfft(samples * window)
    power = spec.real**2 + spec.imag**2
    power *= 2.0 / (samples.shape[0] * float(np.dot(window, window)))
    return power


def band_power(power: np.ndarray, samplerate: int, lo_hz: float, hi_hz: float) -> float:
    """Summed power of the bins in [lo_hz, hi_hz)."""
    freqs = bin_freqs_hz(2 * (power.shape[0] - 1), samplerate)
    return float(power[(freqs >= lo_hz) & (freqs < hi_hz)].sum())


def power_db(power: float) -> float:
    """Power (mean square) in dBFS; SILENCE_DB for (near) nothing."""
    if power <= 10 ** (SILENCE_DB / 10):
        return SILENCE_DB
    return 10.0 * math.log10(power)


def band_levels_db(power: np.ndarray, samplerate: int) -> dict[str, float]:
    """dBFS of each band in BANDS_HZ, e.g. {"low": -12.0, "mid": -40.5, "high": -90.0}."""
    return {name: power_db(band_power(power, samplerate, lo, hi)) for name, (lo, hi) in BANDS_HZ.items()}


def spectral_centroid_hz(power: np.ndarray, samplerate: int) -> float:
    """Power-weighted mean frequency above 20 Hz; 0 for silence."""
    freqs = bin_freqs_hz(2 * (power.shape[0] - 1), samplerate)
    weights = np.where(freqs >= 20.0, power, 0.0)
    total = float(weights.sum())
    if total <= 1e-12:
        return 0.0
    return float(np.dot(freqs, weights) / total)


def centroid_unit(centroid_hz: float) -> float:
    """0..1 "brightness" of a sound: CENTROID_LO_HZ..CENTROID_HI_HZ on a log scale (0 for silence)."""
    if centroid_hz <= CENTROID_LO_HZ:
        return 0.0
    return min(1.0, math.log(centroid_hz / CENTROID_LO_HZ) / math.log(CENTROID_HI_HZ / CENTROID_LO_HZ))


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filterbank(
    n_fft: int, samplerate: int, n_mels: int = 40, lo_hz: float = 30.0, hi_hz: float = 11000.0
) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 triangular filters, equally spaced on the mel scale."""
    hi_hz = min(hi_hz, samplerate / 2)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(lo_hz), hz_to_mel(hi_hz), n_mels + 2))
    freqs = bin_freqs_hz(n_fft, samplerate)
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
