"""Hot swap (issue #15): a model file replaced under the running show is loaded again; a corrupted
replacement is reported once and the current model stays; weights that render NaN are a burst the
show rides out on its last good frame until the good file is back."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pygame
import pytest

from installation.app import App
from installation.chaos.models import copy_model, corrupt, overflowing, renders_non_finite, restore
from installation.config import load_config
from models.registry import default_model_name, resolve


def run_until(app: App, predicate, timeout_s: float) -> bool:
    end_s = time.monotonic() + timeout_s
    while time.monotonic() < end_s:
        app.step(1 / 30)
        pygame.time.wait(5)
        if predicate():
            return True
    return False


def test_replaced_model_file_is_hot_swapped_and_a_broken_one_is_refused(tmp_path: Path, caplog) -> None:
    source = resolve(default_model_name()).path
    if source is None:
        pytest.skip("the default model is built in: no file to replace")
    good = copy_model(source, tmp_path / "good")
    live = copy_model(source, tmp_path / "live")
    app = App(
        load_config(
            None,
            [
                "display.mode=headless",
                "display.size=[160, 90]",
                "camera.source=none",
                "microphone.source=none",
                "osc.enabled=false",
                "midi.enabled=false",
                f'generator.model="{live}"',
            ],
        )
    )
    caplog.set_level(logging.INFO)
    app.setup()
    try:
        name = app.model_entry.name
        assert run_until(app, lambda: app.frames_presented > 5, 60)
        corrupt(live, good)
        assert run_until(app, lambda: "cannot load the replaced model" in caplog.text, 30), "corruption unnoticed"
        assert app.model_entry.name == name  # kept, not the built-in fallback
        overflowing(live, good)
        if renders_non_finite(live):
            errors = app.worker.errors
            assert run_until(app, lambda: app.worker.errors > errors + 3, 30), "the NaN model was not swapped in"
        restore(live, good)
        swaps = caplog.text.count("generator: now")
        assert run_until(app, lambda: caplog.text.count("generator: now") > swaps, 30), "the good file was not loaded"
        settled = app.frames_presented + 10  # a render of the old model may still be in flight
        assert run_until(app, lambda: app.frames_presented > settled, 30)
        errors = app.worker.errors
        frames = app.frames_presented
        assert run_until(app, lambda: app.frames_presented > frames + 30, 30)
        assert app.worker.errors == errors and app.model_entry.name == name and app.running
    finally:
        app.close()
    assert caplog.text.count("cannot load the replaced model") == 1
