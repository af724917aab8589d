"""Opening hours: strict parsing, days and midnight wrap, and the App closing on an injected clock."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pygame
import pytest

from installation.app import App
from installation.config import ConfigError, load_config
from installation.schedule import parse_schedule

TUE = datetime(2026, 12, 1)  # a Tuesday


def at(day_offset: int, hh: int, mm: int = 0) -> datetime:
    return TUE.replace(day=1 + day_offset, hour=hh, minute=mm)


def test_tue_to_sun_ten_to_six():
    s = parse_schedule("Tue-Sun 10:00-18:00")
    assert not s.is_open(at(6, 12))  # Monday
    assert s.is_open(at(0, 10)) and s.is_open(at(0, 17, 59)) and not s.is_open(at(0, 18))
    assert not s.is_open(at(0, 9, 59)) and s.is_open(at(5, 12))  # Sunday


def test_several_rules_wrapping_days_and_past_midnight():
    s = parse_schedule("Fri-Mon 20:00-02:00; wed 10:00-24:00")
    assert s.is_open(at(3, 23)) and s.is_open(at(4, 1, 30))  # Friday night, into Saturday
    assert s.is_open(at(6, 21)) and s.is_open(at(7, 1))  # Monday night into Tuesday
    assert not s.is_open(at(0, 21)) and not s.is_open(at(7, 3))
    assert s.is_open(at(1, 23, 59)) and not s.is_open(at(2, 0, 30))  # Wednesday until midnight
    assert parse_schedule("").is_open(at(0, 3))  # no schedule: always open


@pytest.mark.parametrize(
    "text",
    [
        "Tue-Sun 10-18",
        "Tuesday 10:00-18:00",
        "Tue 25:00-26:00",
        "Tue 10:00-10:00",
        "Tue-Sun",
        ";",
        "Tue 10:60-11:00",
        "Xyz-Sun 10:00-18:00",
    ],
)
def test_bad_text_is_one_config_line_naming_the_key(tmp_path, text):
    path = tmp_path / "show.toml"
    path.write_text(f'[schedule]\nopen = "{text}"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: schedule.open: ") and "\n" not in message


def test_closed_black_screen_idles_the_generator_then_opens_again():
    config = load_config(
        None,
        [
            "display.mode=headless",
            "display.size=[160, 90]",
            "camera.source=none",
            "microphone.source=none",
            'schedule.open="Tue-Sun 10:00-18:00"',
        ],
    )
    now = {"t": at(0, 12)}
    app = App(config)
    app.setup()
    try:
        assert app.care is not None
        app.care.clock = lambda: now["t"]
        app.care.check_schedule()
        step(app, 5)
        assert app.care.open and app.care.target_fps() == config.display.fps
        now["t"] = at(6, 12)  # Monday: closed
        app.care.check_schedule()
        assert app.care.black_closed and app.care.target_fps() == config.schedule.closed_fps
        submitted = app._stamp
        step(app, 5)
        assert app._stamp == submitted  # no render requests while closed
        assert pygame.surfarray.array3d(app.screen).max() == 0  # black
        now["t"] = at(0, 10)
        app.care.check_schedule()
        step(app, 30)
        assert app._stamp > submitted and pygame.surfarray.array3d(app.screen).std() > 5
    finally:
        app.close()


def test_closed_calm_loop_is_dim_and_slow():
    config = load_config(
        None,
        [
            "display.mode=headless",
            "display.size=[160, 90]",
            "camera.source=none",
            "microphone.source=none",
            'schedule.open="Mon 10:00-11:00"',
            'schedule.closed_mode="calm"',
            "burnin.drift_px=0",
        ],
    )
    app = App(config)
    app.setup()
    try:
        app.care.clock = lambda: at(0, 12)
        app.care.check_schedule()
        assert app.care.calm_closed
        step(app, 3)
        calm = pygame.surfarray.array3d(app.screen).astype(float).mean()
        app.care.clock = lambda: at(6, 10, 30)
        app.care.check_schedule()
        step(app, 3)
        full = pygame.surfarray.array3d(app.screen).astype(float).mean()
        assert calm < 0.5 * full
    finally:
        app.close()


def test_burn_in_drift_moves_the_picture_a_few_px():
    config = load_config(
        None,
        [
            "display.mode=headless",
            "display.size=[160, 90]",
            "camera.source=none",
            "microphone.source=none",
            "burnin.drift_px=4",
            "burnin.drift_period_s=100",
        ],
    )
    app = App(config)
    app.setup()
    try:
        t0 = app.care._t0_s
        offsets = {app.care.drift_px(t0 + t) for t in np.linspace(0, 100, 200)}
        assert max(max(abs(x), abs(y)) for x, y in offsets) == 4 and len(offsets) > 8
    finally:
        app.close()


def step(app: App, n: int) -> None:
    for _ in range(n):
        app.step(1 / 30)
        pygame.time.wait(10)
