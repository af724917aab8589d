"""The show's tempo: one beat grid from MIDI clock, tap tempo, an explicit BPM or the audio tracker.

Manual sources (MIDI clock, taps, /reverie/tempo) hold an anchor: beat number n0 fell at time t0,
at bpm. The beat position at time t is n0 + (t - t0) * bpm / 60, plus the performer's nudge. The
audio tracker gives its own phase and count. Which source leads (tempo.source = auto): MIDI clock
while it ticks, else a tap or explicit tempo for tempo.tap_hold_s, else the audio tracker.
Pure and main-thread only: controller threads stamp times and enqueue, this class just counts.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from installation.config import TempoConfig

TAP_GAP_S = 2.0  # taps further apart than this start a new tap sequence (whose first tap is a downbeat)
MAX_TAPS = 8
MIN_BPM, MAX_BPM = 20.0, 400.0
CLOCK_LIVE_BEATS = 2.0  # MIDI clock silent for this many beats (or 1 s at least) no longer leads


@dataclass(frozen=True)
class Beat:
    """The beat grid right now."""

    bpm: float  # 0 = no tempo known
    position: float  # beats since the source's origin (count + phase), nudge included
    source: str  # "midi" | "sync" (a leader's grid) | "tap" | "osc" | "audio" | "none"
    beats_per_bar: int = 4

    @property
    def count(self) -> int:
        return math.floor(self.position)

    @property
    def phase(self) -> float:
        return self.position - math.floor(self.position)


@dataclass(frozen=True)
class _Anchor:
    t0_s: float
    n0: float
    bpm: float

    def position(self, t_s: float) -> float:
        return self.n0 + (t_s - self.t0_s) * self.bpm / 60.0


class TempoClock:
    def __init__(self, config: TempoConfig) -> None:
        self.config = config
        self._taps: deque[float] = deque(maxlen=MAX_TAPS)
        self._manual: _Anchor | None = None  # tap or explicit tempo
        self._manual_source = "tap"
        self._manual_t_s = -math.inf  # when the performer last set it
        self._clock: _Anchor | None = None
        self._clock_t_s = -math.inf  # last MIDI clock beat
        self._clock_source = "midi"
        self._nudge_beats = 0.0
        self._audio = Beat(0.0, 0.0, "none")
        self._last: Beat = Beat(0.0, 0.0, "none", config.beats_per_bar)
        self._features: Mapping[str, float] = {}  # the audio tracker's, as last seen

    # ------------------------------------------------------------------ inputs (main thread)
    def tap(self, t_s: float) -> None:
        """A tap: the first of a sequence is a downbeat; two or more set the tempo (least squares)."""
        if self._taps and t_s - self._taps[-1] > TAP_GAP_S:
            self._taps.clear()
        if self._taps and t_s <= self._taps[-1]:
            return  # duplicate or out-of-order stamp
        self._taps.append(t_s)
        self._manual_t_s, self._manual_source = t_s, "tap"
        self._nudge_beats = 0.0
        if len(self._taps) == 1:
            bpm = self._manual.bpm if self._manual is not None else self._last.bpm
            if bpm > 0:  # one tap re-aligns the downbeat at the tempo we have
                self._manual = _Anchor(t_s, 0.0, bpm)
            return
        times = np.asarray(self._taps)
        index = np.arange(len(times), dtype=np.float64)
        slope_s, t0_s = np.polyfit(index, times, 1)  # tap i fell at t0 + i * beat_s
        bpm = 60.0 / slope_s if slope_s > 0 else 0.0
        if MIN_BPM <= bpm <= MAX_BPM:
            self._manual = _Anchor(float(t0_s), 0.0, float(bpm))

    def set_bpm(self, bpm: float, t_s: float, source: str = "osc") -> None:
        """An explicit tempo; the beat position carries on from where it is now (no jump)."""
        if not MIN_BPM <= bpm <= MAX_BPM:
            raise ValueError(f"tempo {bpm:g} BPM is outside {MIN_BPM:g}..{MAX_BPM:g}")
        position = self._last.position - self._nudge_beats if self._last.bpm > 0 else 0.0
        self._manual = _Anchor(t_s, position, bpm)
        self._manual_t_s, self._manual_source = t_s, source

    def clock_beat(self, t_s: float, bpm: float, beat_index: float, source: str = "midi") -> None:
        """An external clock: beat beat_index (0 = the DAW's Start, a downbeat) fell at t_s.
        MIDI clock sends whole beats; a sync leader sends its exact beat position (source "sync")."""
        if MIN_BPM <= bpm <= MAX_BPM:
            self._clock = _Anchor(t_s, float(beat_index), bpm)
            self._clock_t_s = t_s
            self._clock_source = source

    def clock_stop(self) -> None:
        self._clock = None

    def nudge(self, beats: float) -> None:
        """Shift the grid: + moves the beats earlier (the next one comes sooner)."""
        self._nudge_beats += beats

    # ------------------------------------------------------------------ per frame
    def _leader(self, t_s: float) -> str:
        wanted = self.config.source
        clock_live = self._clock is not None and t_s - self._clock_t_s < max(
            1.0, CLOCK_LIVE_BEATS * 60.0 / self._clock.bpm
        )
        manual = self._manual is not None and t_s - self._manual_t_s < self.config.tap_hold_s
        if wanted == "midi":
            return "midi" if clock_live else "none"
        if wanted == "tap":
            return "manual" if self._manual is not None else "none"
        if wanted == "auto":
            if clock_live:
                return "midi"
            if manual:
                return "manual"
        return "audio"

    def update(self, t_s: float, features: Mapping[str, float]) -> Beat:
        """The grid at t_s. features: the senses' tempo_bpm / beat_count / beat_phase (audio tracker)."""
        self._features = features
        leader = self._leader(t_s)
        bpm, position, source = 0.0, 0.0, "none"
        if leader == "midi" and self._clock is not None:
            bpm, position, source = self._clock.bpm, self._clock.position(t_s) + self._nudge_beats, self._clock_source
        elif leader == "manual" and self._manual is not None:
            bpm, position, source = (
                self._manual.bpm,
                self._manual.position(t_s) + self._nudge_beats,
                self._manual_source,
            )
        elif leader == "audio" and features.get("tempo_bpm", 0.0) > 0:
            bpm, source = float(features["tempo_bpm"]), "audio"
            position = features.get("beat_count", 0.0) + features.get("beat_phase", 0.0) + self._nudge_beats
        self._last = Beat(bpm, position, source, self.config.beats_per_bar)
        return self._last

    @property
    def beat(self) -> Beat:
        return self._last

    def features(self, beat: Beat) -> dict[str, float]:
        """What the grid puts into the mapping's features, so beat pulses and tempo rules follow it.
        The audio tracker's own values pass through untouched."""
        if beat.source in ("audio", "none"):
            return {}
        return {
            "tempo_bpm": beat.bpm,
            "beat_phase": beat.phase,
            "beat_count": float(beat.count),
            "beat_confidence": 1.0,
        }

    def next_boundary_s(self, t_s: float, unit: str) -> float | None:
        """When the next beat or bar starts (perf_counter seconds); None without a tempo."""
        beat = self.update(t_s, self._features)  # commands may have changed the grid since the frame began
        if beat.bpm <= 0 or unit not in ("beat", "bar"):
            return None
        step = 1 if unit == "beat" else self.config.beats_per_bar
        target = (math.floor(beat.position / step) + 1) * step
        return t_s + (target - beat.position) * 60.0 / beat.bpm
