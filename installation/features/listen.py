"""The audio analyser: one hop of microphone samples in, every audio feature out.

Stateful but single-threaded and clock-free, so tests feed it a sound file hop by hop and get the
same numbers the live show gets. Senses runs it on its own thread, never on the audio callback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from installation.features import audio, chroma, onset, spectrum, tempo
from installation.features.smoothing import AttackRelease, AutoGain, Ema

HOP_S = 0.0058  # ~256 samples at 44.1 kHz: a sound is analysed within ~6 ms of arriving (issue #12)
GATE_DB = -60.0  # quieter than this is an empty room: normalised features read 0
HOLD_S = 1 / 60  # the onset gate's and smoothed loudness's level: the loudest hop of the newest ~17 ms
CHROMA_EVERY = 8  # hops between chroma updates (~21 Hz is plenty for harmony)
CHROMA_S = 0.186  # chroma's spectrum window: 5.4 Hz bins resolve semitones from ~100 Hz up

Calibration = tuple[str, float, float, float, float]  # (name, raw, normalised, lo, hi)


@dataclass(frozen=True)
class AudioResult:
    features: dict[str, float]  # every audio feature by name; never mutated after publishing
    chroma: np.ndarray  # (12,) float32, smoothed, strongest class 1 (zeros in silence)
    calibration: tuple[Calibration, ...]  # auto-gained features: raw value, 0..1 value, window
    t_s: float  # clock time of the newest sample analysed (whatever clock the caller uses)
    beat_period_s: float  # 60 / tempo_bpm, 0 without a tempo: lets readers advance beat_phase


def hop_size(samplerate: int) -> int:
    """Samples per hop: the power of two nearest HOP_S (256 at 44.1 and 48 kHz, 128 at 22.05 kHz)."""
    return 2 ** round(math.log2(samplerate * HOP_S))


class AudioAnalyser:
    def __init__(self, samplerate: int) -> None:
        self.samplerate = samplerate
        self.hop = hop_size(samplerate)
        self.hop_s = self.hop / samplerate
        self.n_fft = 8 * self.hop  # ~46 ms spectrum for bands and centroid: 110 Hz stays out of the mids
        self.n_onset = 4 * self.hop  # ~23 ms spectrum for onsets: a hit shows in the flux within it
        self.n_chroma = self.hop * 2 ** round(math.log2(CHROMA_S * samplerate / self.hop))  # 8192 at 44.1 kHz
        self.window = self.n_chroma  # samples update() needs, newest last
        # loudness_db is the newest hop alone: a long average (or a held peak) delays a step by its
        # length, and a reader slower than the hops misses no spike because Senses keeps the loudest
        # hop published since the reader's last read (AudioOutbox). The onset gate and the smoothed
        # `loudness` use the peak of the hops in HOLD_S: a 6 ms hop is shorter than one period of a
        # low note, and a click's onset is only confirmed a hop after the click.
        self._hop_levels_db = np.full(max(1, math.ceil(HOLD_S / self.hop_s - 1e-6)), audio.SILENCE_DB)
        self._mel = spectrum.mel_filterbank(self.n_onset, samplerate)
        self._onsets = onset.OnsetDetector(self.hop_s)
        # A hit moves the flux most as it reaches the middle of the spectrum window: ~23 ms late.
        self.beats = tempo.BeatTracker(samplerate / self.hop, latency_s=0.5 * self.n_onset / samplerate)
        self._gain = {
            "loudness": AutoGain(floor=GATE_DB, min_span=18.0),  # dBFS
            "band_low": AutoGain(floor=GATE_DB, min_span=18.0),  # dBFS
            "band_mid": AutoGain(floor=GATE_DB, min_span=18.0),
            "band_high": AutoGain(floor=GATE_DB, min_span=18.0),
            "onset": AutoGain(floor=0.3, min_span=3.0, rise_s=5.0),  # mean dB rise per mel band per hop
        }
        self._smooth = {
            "loudness": Ema(0.08),
            "band_low": Ema(0.05),
            "band_mid": Ema(0.05),
            "band_high": Ema(0.05),
            "spectral_centroid": Ema(0.1),
        }
        self._onset_env = AttackRelease(0.0, 0.15)  # a 12 ms spike stays visible to a 60 Hz reader
        self._chroma = np.zeros(12, np.float32)
        self._hops = 0

    def update(self, samples: np.ndarray, t_s: float) -> AudioResult:
        """Analyse one hop. samples: (self.window,) mono float32, the newest last; t_s: its time."""
        dt_s = self.hop_s
        self._hops += 1
        hop_db = audio.dbfs(audio.rms(samples[-self.hop :]))
        self._hop_levels_db[self._hops % self._hop_levels_db.shape[0]] = hop_db
        level_db = float(self._hop_levels_db.max())
        power = spectrum.power_spectrum(samples[-self.n_fft :])
        bands_db = spectrum.band_levels_db(power, self.samplerate)
        onset_power = spectrum.power_spectrum(samples[-self.n_onset :])
        flux, _ = self._onsets.update(onset.mel_db(onset_power, self._mel), level_db)  # events: self._onsets.count
        self.beats.update(flux)
        if self._hops % CHROMA_EVERY == 1:
            c = chroma.chroma(spectrum.power_spectrum(samples[-self.n_chroma :]), self.samplerate)
            if level_db <= GATE_DB:
                c[:] = 0.0
            self._chroma = self._chroma + (c - self._chroma) * 0.5  # ~2 updates: ~0.1 s smoothing

        raw = {"loudness": level_db, "onset": flux, **{f"band_{k}": v for k, v in bands_db.items()}}
        norm = {name: gain.update(raw[name], dt_s) for name, gain in self._gain.items()}
        centroid = spectrum.centroid_unit(spectrum.spectral_centroid_hz(power, self.samplerate))
        if level_db <= GATE_DB:
            centroid = 0.0
        beats = self.beats
        features = {
            "loudness": self._smooth["loudness"].update(norm["loudness"], dt_s),
            "loudness_db": hop_db,
            "band_low": self._smooth["band_low"].update(norm["band_low"], dt_s),
            "band_mid": self._smooth["band_mid"].update(norm["band_mid"], dt_s),
            "band_high": self._smooth["band_high"].update(norm["band_high"], dt_s),
            "spectral_centroid": self._smooth["spectral_centroid"].update(centroid, dt_s),
            "onset": self._onset_env.update(norm["onset"], dt_s),
            "onset_count": float(self._onsets.count),
            "tempo_bpm": float(beats.bpm),
            "beat_phase": float(beats.phase),
            "beat_confidence": float(beats.confidence),
            "beat_count": float(beats.count),
        }
        features.update({f"chroma_{i}": float(v) for i, v in enumerate(self._chroma)})
        calibration = tuple((name, gain.raw, gain.value, *gain.range()) for name, gain in self._gain.items())
        period_s = 60.0 / beats.bpm if beats.bpm > 0 else 0.0
        return AudioResult(features, self._chroma.copy(), calibration, t_s, period_s)
