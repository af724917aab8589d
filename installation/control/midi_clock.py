"""MIDI clock: 24 pulses per beat from a DAW or drum machine -> one ClockBeat per beat with its tempo."""

from __future__ import annotations

import collections
import math
import statistics

from installation.control import commands as c

CLOCK_PPQN = 24  # MIDI clock: pulses per quarter note
CLOCK_WINDOW = 48  # pulse intervals kept for the tempo estimate (two beats)
CLOCK_MIN_PULSES = 7  # timestamps needed before a tempo is trusted (a quarter beat)
CLOCK_GAP_S = 0.25  # a pause this long between pulses (slower than 10 BPM) restarts the estimate
CLOCK_HOLD_S = 1.0  # a second port's clock is ignored while the current source ticked this recently
MIN_BPM, MAX_BPM = 20.0, 400.0
CLOCK_TYPES = frozenset({"clock", "start", "stop", "continue", "songpos"})


class ClockTracker:
    """MIDI clock (24 pulses per beat) -> one ClockBeat per beat, with a smoothed tempo.

    Time comes in with each message (t_s, perf_counter seconds), so tests can feed exact pulses.
    Start resets the beat count (the next pulse is the DAW's downbeat, beat 0); Continue keeps it;
    Song Position moves it; Stop emits ClockStop and no beats follow until Start or Continue.
    A clock with no Start counts beats from the first pulse seen. Not thread-safe: one caller at a time.
    """

    def __init__(self) -> None:
        self._times_s: collections.deque[float] = collections.deque(maxlen=CLOCK_WINDOW + 1)
        self._pulse = 0  # pulses since Start (or the first pulse); a beat begins where pulse % 24 == 0
        self.running = True  # False after Stop: pulses still measure the tempo but make no beats
        self.bpm = 0.0  # the last tempo emitted (0 = none yet)
        self.last_pulse_s = -math.inf
        self.rejected = 0  # beats not emitted because the tempo was absurd or not known yet

    def feed(self, kind: str, t_s: float, position: int = 0) -> c.ClockBeat | c.ClockStop | None:
        """One realtime message: "clock" | "start" | "stop" | "continue" | "songpos" (position in 16ths)."""
        if kind == "clock":
            return self._pulse_at(t_s)
        if kind == "start":
            self._pulse, self.running = 0, True
        elif kind == "continue":
            self.running = True
        elif kind == "stop":
            self.running = False
            return c.ClockStop()
        elif kind == "songpos":
            self._pulse = max(0, int(position)) * (CLOCK_PPQN // 4)  # a sixteenth is 6 pulses
        return None

    def _pulse_at(self, t_s: float) -> c.ClockBeat | None:
        if self._times_s and not 0.0 <= t_s - self._times_s[-1] <= CLOCK_GAP_S:
            self._times_s.clear()  # the clock paused (or time went backwards): old intervals say nothing
        self._times_s.append(t_s)
        self.last_pulse_s = t_s
        pulse = self._pulse
        self._pulse += 1
        if not self.running or pulse % CLOCK_PPQN:
            return None
        bpm = self.measure_bpm() or self.bpm  # just after a pause (DAWs stop the clock with the transport): as before
        if not MIN_BPM <= bpm <= MAX_BPM:
            self.rejected += 1
            return None
        self.bpm = bpm
        return c.ClockBeat(t_s=t_s, bpm=bpm, beat_index=pulse // CLOCK_PPQN)

    def measure_bpm(self) -> float:
        """Tempo from the median of k-pulse spans (k up to a beat) over the last two beats; 0 if unknown.

        Spans rather than single intervals: drivers deliver clock in bursts (JACK once per period),
        which makes single intervals useless but barely moves a span of 24 pulses.
        """
        times_s = self._times_s
        n = len(times_s)
        if n < CLOCK_MIN_PULSES:
            return 0.0
        k = min(CLOCK_PPQN, n - 1)
        interval_s = statistics.median((times_s[i + k] - times_s[i]) / k for i in range(n - k))
        return 60.0 / (CLOCK_PPQN * interval_s) if interval_s > 0.0 else 0.0
