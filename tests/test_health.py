"""Health: output watch (frozen/black), heartbeat pipe, health file, and in-process recovery.

Fault "generator returns NaN forever" (or raises forever): log ERROR "generator failed ... FloatingPointError",
then WARNING "restarting the generator with the built-in 'seeded-cppn': output frozen for N s".
Visitor: the last good picture stays up for N s, then the show animates again. If the output stays
frozen/black after that, ERROR "output still frozen after restarting the generator; exiting with
code 3 for the supervisor", and the supervisor restarts the process.
"""

from __future__ import annotations

import json
import logging
import os
import time

import numpy as np
import pygame

from installation.app import App
from installation.config import load_config
from installation.health import HEARTBEAT_ENV, Heartbeat, OutputWatch, thumbnail
from tests.generators import NanForever


def test_output_watch_frozen_and_black():
    watch = OutputWatch(frozen_s=10, black_s=5)
    rng = np.random.default_rng(0)
    picture = rng.uniform(0, 255, (9, 16)).astype(np.float32)
    assert watch.observe(picture, 0.0) == ""
    assert watch.observe(picture + 0.5, 9.0) == ""  # tiny change (burn-in drift) does not count as change
    assert watch.observe(picture, 10.5) == "frozen"
    watch.reset()
    for t in range(0, 30, 2):  # an animating picture is never frozen
        assert watch.observe(rng.uniform(0, 255, (9, 16)).astype(np.float32), float(t)) == ""
    black = np.zeros((9, 16), np.float32)
    assert watch.observe(black, 100.0) == ""
    assert watch.observe(black + 1, 105.5) == "black"
    off = OutputWatch(0, 0)
    assert off.observe(black, 0.0) == "" and off.observe(black, 1e6) == ""


def test_thumbnail_of_a_surface():
    surface = pygame.Surface((320, 180))
    surface.fill((255, 255, 255), pygame.Rect(0, 0, 160, 180))
    thumb = thumbnail(surface)
    assert thumb.shape == (9, 16)
    assert thumb[:, :8].mean() > 250 and thumb[:, 8:].mean() < 5


def test_heartbeat_never_blocks_on_a_full_pipe():
    r, w = os.pipe()
    try:
        beat = Heartbeat(w)
        beat.beat(0.0)
        beat.beat(0.5)  # within the second: no byte
        assert os.read(r, 100) == b"."
        t0 = time.monotonic()
        for i in range(200_000):  # fill the pipe: must not block
            beat.beat(float(i + 1))
        assert time.monotonic() - t0 < 5
    finally:
        os.close(r)
        os.close(w)


def test_a_show_whose_supervisor_is_gone_stops(tmp_path):
    """Log: 'heartbeat pipe closed ...: the supervisor is gone', then 'stopping: the supervisor is gone'.
    Otherwise a supervisor restarted by systemd would start a second show next to the orphan."""
    r, w = os.pipe()
    os.environ[HEARTBEAT_ENV] = str(w)
    try:
        app = headless_app(tmp_path)
        app.setup()
    finally:
        del os.environ[HEARTBEAT_ENV]
    try:
        app.step(1 / 30)
        assert app.running and os.read(r, 10) == b"."
        os.close(r)  # the supervisor dies
        app.care.heartbeat._next_s = 0.0
        app.step(1 / 30)
        assert not app.running
    finally:
        app.close()


def headless_app(tmp_path, *overrides: str) -> App:
    return App(
        load_config(
            None,
            [
                "display.mode=headless",
                "display.size=[160, 90]",
                "camera.source=none",
                "microphone.source=none",
                "health.frozen_s=1.0",
                "health.check_every=1",
                f'health.path="{tmp_path / "health.json"}"',
                "health.interval_s=0.2",
                *overrides,
            ],
        )
    )


def run_for(app: App, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and app.running:
        app.step(1 / 30)
        pygame.time.wait(15)


def test_nan_generator_forever_is_recovered_in_process(tmp_path, caplog):
    app = headless_app(tmp_path)
    app.setup()
    try:
        run_for(app, 0.5)
        with caplog.at_level(logging.INFO):
            app.worker.swap_model(NanForever(app.worker.z_dim))
            run_for(app, 2.0)
            assert "restarting the generator with the built-in 'seeded-cppn': output frozen" in caplog.text
            assert app.care.recoveries == 1 and app.running
            before = pygame.surfarray.array3d(app.screen).copy()
            run_for(app, 1.0)
            assert np.abs(pygame.surfarray.array3d(app.screen).astype(int) - before).mean() > 0.2  # animates again
        health = json.loads((tmp_path / "health.json").read_text())
        assert health["recoveries"] == 1 and health["last_verdict"] == "frozen" and health["generator_errors"] == 0
        for key in (
            "uptime_s",
            "restarts",
            "fps",
            "generator_fps",
            "camera",
            "microphone",
            "last_error",
            "model",
            "preset",
            "disk_free_mb",
        ):
            assert key in health
    finally:
        app.close()


def test_still_frozen_after_recovery_exits_3_for_the_supervisor(tmp_path, caplog):
    still = tmp_path / "still.toml"  # a preset in which nothing ever moves
    still.write_text(
        'name = "Still"\n[walk]\nspeed = 0.0\npulse_on = "none"\n'
        "[attract]\nidle_s = 86400.0\nspeed = 0.0\ntrails = 0.0\nwake_pulse = 0.0\n"
    )
    app = headless_app(tmp_path, f'run.preset="{still}"', 'generator.model="seeded-cppn"', "burnin.drift_px=0")
    app.setup()
    app.running = True
    try:
        with caplog.at_level(logging.INFO):
            run_for(app, 6.0)
        assert not app.running and app.exit_code == 3
        assert "output still frozen after restarting the generator; exiting with code 3" in caplog.text
    finally:
        app.close()
