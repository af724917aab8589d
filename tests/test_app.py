"""The App in-process on SDL's dummy driver: keys, HUD, fallbacks, a failing generator."""

import dataclasses
import os
import time

import cv2
import numpy as np
import pygame
import pytest

from installation.app import App
from installation.config import ConfigError, load_config
from installation.mapping.walk import WalkInputs
from tests.generators import Exploding
from tests.runner import run_main


def headless_config(*overrides: str):
    return load_config(
        None,
        ["display.mode=headless", "display.size=[160, 90]", "camera.source=none", "microphone.source=none", *overrides],
    )


@pytest.fixture
def app():
    app = App(headless_config())
    app.setup()
    yield app
    app.close()


def key(k: int) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="", scancode=0)


def step(app: App, n: int = 1) -> None:
    for _ in range(n):
        app.update(1 / 60)
        app.draw(1 / 60)


def test_first_frame_is_a_picture_and_it_animates(app):
    step(app)
    first = pygame.surfarray.array3d(app.screen).copy()
    assert first.std() > 10
    deadline = time.monotonic() + 20
    while app.frame.stamp < 30 and time.monotonic() < deadline:  # real time: the worker runs at its own pace
        step(app)
        pygame.time.wait(10)
    assert app.frame.stamp >= 30, "the generator delivered no new frames"
    step(app, 3)
    assert np.abs(pygame.surfarray.array3d(app.screen).astype(int) - first).mean() > 0.5


def test_hud_toggles_with_f1_and_h_and_draws_over_the_picture(app):
    step(app)
    before = pygame.surfarray.array3d(app.screen)[12:60, 12:30].copy()
    pygame.event.post(key(pygame.K_F1))
    step(app)
    assert app.pages.visible
    with_hud = pygame.surfarray.array3d(app.screen)[12:60, 12:30]
    assert np.abs(with_hud.astype(int) - before).mean() > 5
    lines = app.hud_lines()
    assert any("display" in line and "generator" in line for line in lines)
    assert any("input->photon" in line for line in lines)
    assert any(line.startswith(f"model {app.model_entry.name}") for line in lines)
    pygame.event.post(key(pygame.K_h))
    step(app)
    assert not app.pages.visible


def test_escape_quits_outside_fullscreen(app):
    pygame.event.post(key(pygame.K_ESCAPE))
    step(app)
    assert not app.running


def test_fullscreen_ignores_visitor_keys_and_close_requests(app):
    app.mode = "fullscreen"
    for event in (key(pygame.K_ESCAPE), key(pygame.K_q), pygame.event.Event(pygame.QUIT)):
        app.handle_event(event)
    assert app.running
    app.on_key(pygame.K_q, pygame.KMOD_LCTRL | pygame.KMOD_LSHIFT | pygame.KMOD_LALT)
    assert not app.running


def test_generator_failure_keeps_the_previous_frame_and_reports_it(app, caplog):
    step(app)
    shown = app.frame
    app.worker.swap_model(Exploding(app.worker.z_dim))
    deadline = time.monotonic() + 20
    while not app.telemetry.last_error and time.monotonic() < deadline:
        step(app)
        pygame.time.wait(5)
    assert "exploded" in app.telemetry.last_error
    assert app.frame is shown  # the last good frame is still up
    assert any("generator error" in line for line in app.hud_lines())
    assert app.stats_record()["generator_errors"] >= 1


def test_broken_model_file_falls_back_to_builtin(tmp_path, caplog):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    app = App(headless_config(f'generator.model="{bad}"'))
    try:
        app.setup()
        assert app.model_entry.name == "seeded-cppn"
        assert "cannot load model" in caplog.text and "broken.safetensors" in caplog.text
    finally:
        app.close()


def test_bad_quit_chord_is_a_config_error():
    app = App(headless_config('kiosk.quit_chord="ctrl+banana"'))
    try:
        with pytest.raises(ConfigError, match="kiosk.quit_chord: unknown key 'banana'"):
            app.setup()
    finally:
        app.close()


def test_stats_record_is_complete(app):
    step(app, 5)
    record = app.stats_record()
    for key_ in (
        "fps",
        "generator_fps",
        "latency_ms_p50",
        "latency_ms_p95",
        "features",
        "sources",
        "model",
        "preset",
        "touch",
        "latent_speed",
    ):
        assert key_ in record
    assert record["sources"]["camera"]["state"] == "off"
    assert set(record["features"]) >= {"loudness", "loudness_db", "motion", "brightness"}


def test_cli_config_error_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "my-show.toml"
    path.write_text("[display]\nfps = 'fast'\n")
    proc = run_main("--config", str(path), "--headless", "--seconds", "1", timeout_s=60)
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"reverie: config error: {path}: display.fps: expected an integer from 1 to 240, got 'fast'"
    )


def test_list_models_names_the_builtin():
    proc = run_main("--list-models", timeout_s=60)
    assert proc.returncode == 0 and "seeded-cppn" in proc.stdout


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        headless_config().display.fps = 1  # type: ignore[misc]


def preset_copy(tmp_path, name="1-gallery"):
    from installation.mapping.presets import PRESET_DIR

    path = tmp_path / f"{name}.toml"
    path.write_text((PRESET_DIR / f"{name}.toml").read_text())
    return path


def test_malformed_preset_edited_while_running_keeps_the_show_going(tmp_path, caplog):
    path = preset_copy(tmp_path)
    app = App(headless_config(f'run.preset="{path}"'))
    app.setup()
    try:
        step(app)
        good_name = app.programme.preset.name
        path.write_text(path.read_text().replace('name = "Gallery"', 'name = "Edited"'))
        app.programme._watch_due_s = 0.0
        step(app)
        assert app.programme.preset.name == "Edited"  # a good edit is picked up
        path.write_text(path.read_text() + '\n[[rule]]\nsource = "loudnes"\ntarget = "speed"\n')
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
        app.programme._watch_due_s = 0.0
        step(app, 3)
        assert app.running and app.programme.preset.name == "Edited" != good_name
        assert "unknown name 'loudnes'" in caplog.text and "staying with Edited" in caplog.text
        assert "preset error" in app.telemetry.last_error
    finally:
        app.close()


def test_learn_mode_records_fits_and_saves_beside_the_preset(tmp_path):
    path = preset_copy(tmp_path)
    app = App(headless_config(f'run.preset="{path}"'))
    app.setup()
    try:
        app.on_key(pygame.K_F2, 0)
        assert app.pages.visible and app.pages.page == "learn"
        for loud in (0.0, 1.0, 0.0, 1.0):
            app.features = {"loudness": loud}
            app.programme.mapping.walk.update(1.0, WalkInputs(speed_kf_s=0.5))  # somewhere else for each example
            app.on_key(pygame.K_SPACE, 0)
        app.on_key(pygame.K_RETURN, 0)
        assert app.programme.mapping.learned is not None and app.programme.mapping.learned.examples == 4
        saved = tmp_path / "1-gallery.learned.json"
        assert saved.is_file()
        app.programme.switch_preset(str(path))  # reloading the preset loads the saved mapping
        assert app.programme.mapping.learned is not None
    finally:
        app.close()


def test_long_press_saves_a_snapshot_of_the_generated_picture(tmp_path):
    app = App(headless_config(f'run.snapshot_dir="{tmp_path / "snaps"}"', 'run.preset="3-touch-garden"'))
    app.setup()
    try:
        step(app)
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(80, 45), button=1, touch=False))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not list((tmp_path / "snaps").glob("*.png")):
            step(app)
            pygame.time.wait(20)
        shots = list((tmp_path / "snaps").glob("snapshot-*.png"))
        assert len(shots) == 1
        image = cv2.imread(str(shots[0]))
        assert image.shape == (90, 160, 3) and image.std() > 5
    finally:
        app.close()


def test_calibration_page_lists_every_normalised_feature(app):
    step(app, 3)
    app.on_key(pygame.K_F3, 0)
    assert app.pages.visible and app.pages.page == "calibration"
    meters = app.hud_meters()
    names = " ".join(label for label, _ in meters)
    for feature in ("loudness", "motion", "band_low"):
        assert feature in names
    assert all(0.0 <= value <= 1.0 for _, value in meters)
    step(app)  # draws without error
    app.on_key(pygame.K_F3, 0)
    assert not app.pages.visible


def test_restarted_generator_keeps_the_accel_settings():
    """Recovery builds its worker the way setup does: [accel] must survive a restart_generator."""
    app = App(headless_config("accel.trace=false", "accel.max_rel_error=0.05"))
    app.setup()
    try:
        assert app.worker.accel.config == app.config.accel  # setup applied them
        app.restart_generator("test")
        assert app.worker.accel.config == app.config.accel
        assert app.worker.accel.config.trace is False and app.worker.accel.config.max_rel_error == 0.05
    finally:
        app.close()
