"""The show's beat grid: taps, explicit tempo, MIDI clock, nudge, source priority, quantised boundaries."""

from __future__ import annotations

import pytest

from installation.config import TempoConfig
from installation.control.tempo import TempoClock

AUDIO = {"tempo_bpm": 100.0, "beat_count": 7.0, "beat_phase": 0.25}


def test_taps_set_tempo_and_downbeat() -> None:
    clock = TempoClock(TempoConfig())
    for i in range(4):  # 128 BPM, slightly uneven like a human
        clock.tap(10.0 + i * 60 / 128 + (0.004 if i % 2 else -0.004))
    beat = clock.update(10.0 + 4 * 60 / 128, {})
    assert beat.source == "tap"
    assert beat.bpm == pytest.approx(128, rel=0.02)
    assert beat.position == pytest.approx(4.0, abs=0.05)  # the first tap was beat 0 (a downbeat)
    assert clock.features(beat)["beat_confidence"] == 1.0


def test_a_single_tap_realigns_the_downbeat_at_the_known_tempo() -> None:
    clock = TempoClock(TempoConfig())
    clock.set_bpm(120.0, 0.0)
    clock.update(1.3, {})
    clock.tap(5.0)  # a new run of taps: this is the downbeat now
    beat = clock.update(5.25, {})
    assert beat.bpm == 120.0 and beat.position == pytest.approx(0.5)


def test_explicit_tempo_keeps_the_phase() -> None:
    clock = TempoClock(TempoConfig())
    clock.set_bpm(120.0, 0.0)
    before = clock.update(1.0, {}).position  # 2 beats in
    clock.set_bpm(60.0, 1.0)
    assert clock.update(1.0, {}).position == pytest.approx(before)
    assert clock.update(2.0, {}).position == pytest.approx(before + 1.0)
    with pytest.raises(ValueError, match="outside"):
        clock.set_bpm(4000.0, 1.0)


def test_midi_clock_leads_then_falls_back_when_it_stops() -> None:
    clock = TempoClock(TempoConfig())
    clock.tap(0.0)
    clock.tap(0.5)  # tapped 120
    for i in range(8):
        clock.clock_beat(1.0 + i * 0.4, 150.0, i)
    beat = clock.update(1.0 + 7 * 0.4 + 0.2, AUDIO)
    assert beat.source == "midi" and beat.bpm == 150.0 and beat.position == pytest.approx(7.5)
    assert clock.update(20.0, AUDIO).source == "tap"  # clock silent: the tap (still held) leads
    clock.clock_beat(21.0, 150.0, 0)
    clock.clock_stop()
    assert clock.update(21.1, AUDIO).source == "tap"


def test_audio_leads_without_manual_sources_and_after_the_hold() -> None:
    config = TempoConfig(tap_hold_s=10.0)
    clock = TempoClock(config)
    beat = clock.update(0.0, AUDIO)
    assert beat.source == "audio" and beat.bpm == 100.0 and beat.position == pytest.approx(7.25)
    assert clock.features(beat) == {}  # the tracker's own features pass through
    clock.tap(1.0)
    clock.tap(1.5)
    assert clock.update(2.0, AUDIO).source == "tap"
    assert clock.update(12.0, AUDIO).source == "audio"
    assert TempoClock(TempoConfig(source="tap")).update(0.0, AUDIO).source == "none"


def test_nudge_moves_the_grid() -> None:
    clock = TempoClock(TempoConfig())
    clock.set_bpm(120.0, 0.0)
    clock.nudge(0.25)
    assert clock.update(0.5, {}).position == pytest.approx(1.25)
    clock.nudge(-0.5)
    assert clock.update(0.5, {}).position == pytest.approx(0.75)


def test_next_bar_and_beat_boundaries() -> None:
    clock = TempoClock(TempoConfig(beats_per_bar=4))
    assert clock.next_boundary_s(0.0, "bar") is None  # no tempo: switch at once
    clock.set_bpm(120.0, 0.0)
    clock.update(1.1, {})  # beat 2.2
    assert clock.next_boundary_s(1.1, "beat") == pytest.approx(1.5)
    assert clock.next_boundary_s(1.1, "bar") == pytest.approx(2.0)
    clock.update(2.0, {})  # exactly on a downbeat: the next bar, not now
    assert clock.next_boundary_s(2.0, "bar") == pytest.approx(4.0)


def test_taps_far_apart_start_again_and_absurd_tempi_are_ignored() -> None:
    clock = TempoClock(TempoConfig())
    clock.tap(0.0)
    clock.tap(0.01)  # 6000 BPM: a bounce, not a tempo
    assert clock.update(0.02, {}).bpm == 0.0
    clock.tap(10.0)
    clock.tap(10.6)
    assert clock.update(10.6, {}).bpm == pytest.approx(100.0)
