"""Onsets: spectral flux on a mel spectrum (how much louder the spectrum got) and onset events."""

from __future__ import annotations

import numpy as np

from installation.features.audio import SILENCE_DB

FLOOR_DB = -90.0  # mel bands quieter than this count as this: quantisation noise makes no flux
THRESHOLD_WINDOW_S = 1.0  # the adaptive threshold follows the mean flux of this much history
THRESHOLD_FACTOR = 1.5  # an onset's flux exceeds this many times the recent mean ...
THRESHOLD_MIN_DB = 1.0  # ... and this absolute amount (mean dB rise per mel band)
MIN_GAP_S = 0.06  # at most one onset per 60 ms (a flam is one event)
GATE_DB = -60.0  # no onset events in a quieter room than this (dBFS of the hop)


def mel_db(power: np.ndarray, filterbank: np.ndarray) -> np.ndarray:
    """(n_mels,) band levels in dB from a power spectrum, floored at FLOOR_DB."""
    mel = filterbank @ power
    return np.maximum(10.0 * np.log10(np.maximum(mel, 1e-30)), FLOOR_DB)


def spectral_flux(prev_db: np.ndarray | None, cur_db: np.ndarray) -> float:
    """Mean rise in dB over the bands that got louder (0 without a previous spectrum)."""
    if prev_db is None:
        return 0.0
    return float(np.mean(np.maximum(0.0, cur_db - prev_db)))


class OnsetDetector:
    """Onset strength per hop and onset events by peak picking over an adaptive threshold.

    An event is reported one hop late: a peak is only known once the flux has fallen again.
    """

    def __init__(self, hop_s: float) -> None:
        self.hop_s = hop_s
        self._history = np.zeros(max(4, round(THRESHOLD_WINDOW_S / hop_s)))
        self._pos = 0
        self._prev_db: np.ndarray | None = None
        self._flux = [0.0, 0.0]  # flux of the hops before this one: [t-2, t-1]
        self._since_onset_s = MIN_GAP_S
        self.count = 0  # onset events so far

    def update(self, band_db: np.ndarray, level_db: float) -> tuple[float, bool]:
        """(flux of this hop in dB, True if the previous hop was an onset)."""
        flux = spectral_flux(self._prev_db, band_db)
        self._prev_db = band_db
        before, peak = self._flux
        threshold = max(THRESHOLD_MIN_DB, THRESHOLD_FACTOR * float(self._history.mean()))
        self._since_onset_s += self.hop_s
        onset = (
            peak > before
            and peak >= flux
            and peak > threshold
            and self._since_onset_s >= MIN_GAP_S
            and level_db > max(GATE_DB, SILENCE_DB)
        )
        if onset:
            self.count += 1
            self._since_onset_s = 0.0
        self._history[self._pos] = flux
        self._pos = (self._pos + 1) % self._history.shape[0]
        self._flux = [peak, flux]
        return flux, onset
