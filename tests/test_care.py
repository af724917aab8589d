"""The caretaker on its own: a fake show (installation/care.py CareHost), no display, no App, no torch."""

from __future__ import annotations

import math
import os
from datetime import datetime

import numpy as np
import pytest

from installation.care import EXIT_UNHEALTHY, RECOVERY_WINDOW_S, Caretaker
from installation.config import Config, load_config
from installation.health import Heartbeat
from installation.sources.base import SourceStatus
from installation.sources.microphone import STUCK_S
from installation.standby import RESTARTS_ENV
from installation.telemetry import Figures, Rates

SOURCES = {
    "camera": SourceStatus("camera", "off", "camera off"),
    "microphone": SourceStatus("microphone", "live", "mic 0"),
}


def figures() -> Figures:
    return Figures(
        rates=Rates(12.34, 740, 59.876, 24.5, 8.0, 17.0, 40.0, 55.0),
        model="sagan-calligraphy",
        model_arch="sagan",
        preset="Ink",
        preset_file="6-ink",
        sources=SOURCES,
        last_error="generator error: boom",
        generator_errors=2,
        recording=False,
        record_error="",
        screen=(160, 90),
        mode="headless",
        hud_unlocked=False,
        features={},
        params={},
        nudge=0.0,
        attract="active",
        touch={"events": 0, "fingers": 0, "drag_total": 0.0},
        mirror=False,
        quality=None,
        quality_line="",
        live=None,
        live_lines=(),
        record=None,
    )


class FakeShow:
    """Implements CareHost and records what the caretaker asked of it."""

    def __init__(self) -> None:
        self.stopped: list[str] = []
        self.failed: list[tuple[int, str]] = []
        self.restarts: list[str] = []
        self.unlocked = True
        self.unlock_polls = 0
        self.hud_hidden = 0
        self.mic_stuck_s = 0.0
        self.thumb = np.linspace(0, 255, 144, dtype=np.float32).reshape(9, 16)  # a picture that never changes

    def stop(self, reason: str) -> None:
        self.stopped.append(reason)

    def fail(self, exit_code: int, reason: str) -> None:
        self.failed.append((exit_code, reason))

    def restart_generator(self, reason: str) -> None:
        self.restarts.append(reason)

    def microphone_stuck_s(self) -> float:
        return self.mic_stuck_s

    def kiosk_unlocked(self, now_s: float) -> bool:
        self.unlock_polls += 1
        return self.unlocked

    def hide_hud(self) -> None:
        self.hud_hidden += 1

    def screen_thumbnail(self) -> np.ndarray:
        return self.thumb

    def figures(self) -> Figures:
        return figures()


def config(*overrides: str) -> Config:
    return load_config(None, list(overrides))


@pytest.fixture(autouse=True)
def unsupervised(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if started without --supervise, whatever the test runner's environment says."""
    monkeypatch.delenv(RESTARTS_ENV, raising=False)
    monkeypatch.setattr(Heartbeat, "from_env", classmethod(lambda cls: cls(None)))


def test_burn_in_drift_orbits_drift_px_around_the_centre_once_per_period() -> None:
    care = Caretaker(config("burnin.drift_px=3", "burnin.drift_period_s=100.0"), FakeShow())
    t0 = care._t0_s
    assert care.drift_px(t0) == (3, 0)
    assert care.drift_px(t0 + 25.0) == (0, 3)  # a quarter orbit
    assert care.drift_px(t0 + 50.0) == (-3, 0)
    assert care.drift_px(t0 + 75.0) == (0, -3)
    assert care.drift_px(t0 + 100.0) == (3, 0)  # back where it started
    for t in np.linspace(t0, t0 + 100.0, 37):
        dx, dy = care.drift_px(float(t))
        assert math.hypot(dx, dy) <= 3 * math.sqrt(2)  # never further than the margin
    assert care.padded((160, 90)) == (166, 96)  # composed 3 px larger on every side: no edge shows


def test_no_drift_means_no_margin() -> None:
    care = Caretaker(config("burnin.drift_px=0"), FakeShow())
    assert care.drift_px(care._t0_s + 123.0) == (0, 0)
    assert care.padded((160, 90)) == (160, 90)


def test_the_hud_goes_when_the_kiosk_locks_again() -> None:
    show = FakeShow()
    care = Caretaker(config(), show)
    now = care._next_schedule_s  # the once-a-second housekeeping falls due
    care.after_frame(now)
    assert show.unlock_polls == 1 and show.hud_hidden == 0  # polled, still unlocked: the HUD stays
    show.unlocked = False  # the unlock file was removed
    care.after_frame(now + 0.5)
    assert show.unlock_polls == 1  # not due yet: once a second, not every frame
    care.after_frame(now + 1.0)
    assert show.unlock_polls == 2 and show.hud_hidden == 1


def test_frozen_output_restarts_the_generator_then_exits_for_the_supervisor() -> None:
    show = FakeShow()
    care = Caretaker(config("health.frozen_s=1.0", "health.black_s=0", "health.check_every=1"), show)
    care.after_frame(1000.0)
    care.after_frame(1000.5)
    assert show.restarts == [] and care.watch.last_std > 50  # watched, but not frozen for long enough yet
    care.after_frame(1001.0)
    assert show.restarts == ["output frozen for 1 s"] and care.recoveries == 1 and show.failed == []
    for t in (1001.5, 1002.0, 1002.5):  # still frozen a second later, within the recovery window
        care.after_frame(t)
    assert show.failed == [(EXIT_UNHEALTHY, "output frozen")] and len(show.restarts) == 1


def test_a_second_freeze_long_after_a_recovery_is_recovered_again() -> None:
    show = FakeShow()
    care = Caretaker(config("health.frozen_s=1.0", "health.black_s=0", "health.check_every=1"), show)
    for t in (0.0, 1.0):
        care.after_frame(t)
    later = 1.0 + RECOVERY_WINDOW_S + 1.0
    for t in (later, later + 1.0):
        care.after_frame(t)
    assert len(show.restarts) == 2 and show.failed == []


def test_a_moving_picture_is_never_recovered() -> None:
    show = FakeShow()
    care = Caretaker(config("health.frozen_s=1.0", "health.black_s=1.0", "health.check_every=1"), show)
    rng = np.random.default_rng(0)
    for i in range(40):
        show.thumb = rng.uniform(0, 255, (9, 16)).astype(np.float32)
        care.after_frame(float(i) * 0.25)
    assert care.watch.last_std > 50  # the watch saw the pictures
    assert show.restarts == [] and show.failed == []


def test_a_stuck_microphone_is_reported_once_and_the_show_goes_on_without_a_supervisor() -> None:
    show = FakeShow()
    care = Caretaker(config(), show)
    show.mic_stuck_s = STUCK_S + 1.0
    for k in range(3):
        care.after_frame(care._next_schedule_s + k)
    assert care._mic_stuck_reported and show.failed == [] and show.stopped == []


def test_a_stuck_microphone_exits_for_the_supervisor(tmp_path) -> None:
    read_fd, write_fd = os.pipe()
    try:
        show = FakeShow()
        care = Caretaker(config(), show)
        care.heartbeat = Heartbeat(write_fd)  # supervised
        show.mic_stuck_s = STUCK_S + 1.0
        care.after_frame(care._next_schedule_s)
        assert show.failed == [(EXIT_UNHEALTHY, "microphone stuck in PortAudio")]
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_opening_hours_close_black_and_slow_the_loop() -> None:
    now = [datetime(2026, 11, 30, 12, 0)]  # a Monday
    care = Caretaker(
        config('schedule.open="Mon 10:00-18:00"', "schedule.closed_fps=2", "display.fps=60"),
        FakeShow(),
        clock=lambda: now[0],
    )
    assert care.open and not care.black_closed and care.target_fps() == 60
    now[0] = datetime(2026, 11, 30, 19, 0)
    care.check_schedule()
    assert not care.open and care.black_closed and not care.calm_closed and care.target_fps() == 2


def test_health_record_reads_the_shows_figures() -> None:
    care = Caretaker(config(), FakeShow())
    record = care.health_record()
    assert record["uptime_s"] == 12.3 and record["frames"] == 740 and record["fps"] == 59.88
    assert record["generator_fps"] == 24.5 and record["generator_errors"] == 2
    assert record["camera"] == {"state": "off", "detail": "camera off"}
    assert record["microphone"] == {"state": "live", "detail": "mic 0"}
    assert record["model"] == "sagan-calligraphy" and record["preset"] == "Ink"
    assert record["last_error"] == "generator error: boom" and record["screen"] == [160, 90]
    assert record["restarts"] == 0 and record["recoveries"] == 0 and record["open"] is True
    assert record["disk_free_mb"] > 0
