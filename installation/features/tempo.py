"""Tempo and beat phase from an onset-strength envelope (one value per audio hop).

The tempo is the period whose multiples (1, 2, 3, 4 beats) all line up with peaks of the
envelope's autocorrelation, weighted by a broad prior around 120 BPM that settles the
half/double-tempo ambiguity every tempo estimator has. The beat phase is the offset of the pulse
train at that period that best fits the recent onsets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_BPM = 60.0
MAX_BPM = 200.0
BPM_STEP = 0.05  # candidate grid; 0.04% at 120 BPM, well inside the 2% we promise
PRIOR_BPM = 120.0  # centre of the log-normal tempo prior ...
PRIOR_OCTAVES = 0.9  # ... and its width in octaves
HARMONICS = (1.0, 2.0, 3.0, 4.0)  # beat multiples whose lags must all be periodic


@dataclass(frozen=True)
class TempoEstimate:
    bpm: float  # 0 when there is nothing to go on
    confidence: float  # 0..1: how periodic the envelope is at that tempo


def autocorrelation(envelope: np.ndarray) -> np.ndarray:
    """(n,) unbiased autocorrelation of the mean-removed envelope, normalised so lag 0 is 1."""
    x = envelope.astype(np.float64) - float(np.mean(envelope))
    n = x.shape[0]
    spec = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spec.real**2 + spec.imag**2, 2 * n)[:n]
    acf /= np.arange(n, 0, -1)  # unbiased: long lags overlap fewer frames
    if acf[0] <= 1e-12:
        return np.zeros(n)
    return acf / acf[0]


def tempo_scores(acf: np.ndarray, fps: float, bpms: np.ndarray) -> np.ndarray:
    """Comb score per candidate BPM: mean autocorrelation at its beat multiples (before the prior)."""
    max_lag = 0.6 * acf.shape[0]  # longer lags rest on too little overlap
    lags = np.arange(acf.shape[0])
    total = np.zeros(bpms.shape[0])
    count = np.zeros(bpms.shape[0])
    for k in HARMONICS:
        lag = k * 60.0 * fps / bpms
        ok = lag < max_lag
        total[ok] += np.interp(lag[ok], lags, acf)
        count[ok] += 1.0
    return np.where(count > 0, total / np.maximum(count, 1.0), 0.0)


def tempo_prior(bpms: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * (np.log2(bpms / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)


def estimate_tempo(envelope: np.ndarray, fps: float) -> TempoEstimate:
    """Tempo of an onset envelope sampled at fps (needs a few seconds: at least 4 beats)."""
    if envelope.shape[0] < 2 * 60.0 * fps / MIN_BPM or float(np.max(envelope)) <= 0.0:
        return TempoEstimate(0.0, 0.0)
    acf = autocorrelation(envelope)
    bpms = np.arange(MIN_BPM, MAX_BPM + BPM_STEP, BPM_STEP)
    scores = tempo_scores(acf, fps, bpms)
    weighted = np.maximum(scores, 0.0) * tempo_prior(bpms)
    best = int(np.argmax(weighted))
    if weighted[best] <= 0.0:
        return TempoEstimate(0.0, 0.0)
    bpm = float(bpms[best])
    if 0 < best < bpms.shape[0] - 1:  # parabolic interpolation between grid points
        a, b, c = weighted[best - 1 : best + 2]
        denom = a - 2 * b + c
        if denom < 0:
            bpm += 0.5 * (a - c) / denom * BPM_STEP
    return TempoEstimate(bpm, float(min(1.0, max(0.0, scores[best]))))


def beat_offset_s(envelope: np.ndarray, fps: float, bpm: float, beats: int = 16, decay: float = 0.9) -> float:
    """Seconds since the most recent beat at the end of the envelope (0..period).

    Fits a pulse train of period 60/bpm to the last `beats` beats; recent beats count more.
    """
    period = 60.0 * fps / bpm  # frames
    n = envelope.shape[0]
    beats = max(1, min(beats, int((n - 1) / period)))
    offsets = np.arange(0.0, period, 0.25)  # frames since the last beat, quarter-frame steps
    frames = np.arange(n, dtype=np.float64)
    scores = np.zeros(offsets.shape[0])
    for k in range(beats):
        pos = (n - 1) - offsets - k * period
        scores += (decay**k) * np.interp(pos, frames, envelope)
    return float(offsets[int(np.argmax(scores))]) / fps


def wrap_phase(x: float) -> float:
    """x mapped into (-0.5, 0.5]: the shortest way round a cycle."""
    return x - math.floor(x + 0.5)


HISTORY_S = 8.0  # onset envelope kept for the tempo estimate (at 60 BPM: 8 beats)
MIN_HISTORY_S = 3.0  # no tempo before this much sound
ESTIMATE_EVERY_S = 0.5
SAME_TEMPO = 0.04  # a new estimate within 4% is the same tempo, refined; further away must repeat
PHASE_PULL = 0.5  # fraction of the phase error corrected per estimate (smooth, no jumps)
BEAT_MIN_CONFIDENCE = 0.3  # beats are counted only when the tempo is this believable


class BeatTracker:
    """Tempo, beat phase and a beat counter, fed one onset-strength value per audio hop.

    Between estimates the phase runs freely at the current tempo, so beats keep coming on time
    through a quiet bar; each estimate pulls the phase towards the fitted pulse train.
    """

    def __init__(self, fps: float, latency_s: float = 0.0) -> None:
        self.fps = fps
        self.latency_s = latency_s  # how late the onset envelope reacts to a hit (spectrum window)
        self._env = np.zeros(round(HISTORY_S * fps))  # ring of onset strengths
        self._pos = 0
        self._filled = 0
        self._hops = 0
        self._every = max(1, round(ESTIMATE_EVERY_S * fps))
        self._pending_bpm = 0.0  # a different tempo seen once; adopted if seen again
        self._skip_wrap = False  # the phase was pulled back over a beat already counted
        self.bpm = 0.0
        self.confidence = 0.0
        self.phase = 0.0  # 0 on the beat, rising to 1 just before the next
        self.count = 0  # beats so far (only while confident)

    def update(self, strength: float) -> None:
        self._env[self._pos] = strength
        self._pos = (self._pos + 1) % self._env.shape[0]
        self._filled = min(self._filled + 1, self._env.shape[0])
        if self.bpm > 0.0:
            self._advance(self.bpm / 60.0 / self.fps)
        self._hops += 1
        if self._hops % self._every == 0 and self._filled >= MIN_HISTORY_S * self.fps:
            self._estimate()

    def _envelope(self) -> np.ndarray:
        """The kept envelope, oldest first."""
        if self._filled < self._env.shape[0]:
            return self._env[: self._filled].copy()
        return np.concatenate((self._env[self._pos :], self._env[: self._pos]))

    def _estimate(self) -> None:
        env = self._envelope()
        est = estimate_tempo(env, self.fps)
        self.confidence = est.confidence
        if est.bpm <= 0.0:
            return
        if self.bpm <= 0.0 or abs(est.bpm / self.bpm - 1.0) < SAME_TEMPO:
            self.bpm, self._pending_bpm = est.bpm, 0.0
        elif self._pending_bpm > 0.0 and abs(est.bpm / self._pending_bpm - 1.0) < SAME_TEMPO:
            self.bpm, self._pending_bpm = est.bpm, 0.0  # the new tempo held for two estimates
        else:
            self._pending_bpm = est.bpm
            return
        target = (beat_offset_s(env, self.fps, self.bpm) + self.latency_s) * self.bpm / 60.0
        self._advance(PHASE_PULL * wrap_phase(target - self.phase))

    def _advance(self, beats: float) -> None:
        self.phase += beats
        if self.phase >= 1.0:
            self.phase -= math.floor(self.phase)
            if self._skip_wrap:
                self._skip_wrap = False
            elif self.confidence >= BEAT_MIN_CONFIDENCE:
                self.count += 1
        elif self.phase < 0.0:
            self.phase += 1.0
            self._skip_wrap = True
