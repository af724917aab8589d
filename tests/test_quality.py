"""The automatic quality controller: pure logic on a manual clock, then with a really slow generator."""

import time

import numpy as np
import pytest
import torch

from installation.render.quality import Measurements, QualityController, build_ladder
from installation.render.worker import GeneratorWorker, RenderRequest


def test_ladder_shrinks_render_size_then_drops_effects_then_the_model():
    levels = build_ladder(128, 48, resolution_free=True, has_light_model=True)
    sizes = [lv.render_size for lv in levels]
    assert sizes[0] == 128 and sizes == sorted(sizes, reverse=True) and min(sizes) >= 48
    assert levels[-2].effects is False and levels[-1].light_model is True
    fixed = build_ladder(128, 48, resolution_free=False, has_light_model=False)
    assert [(lv.render_size, lv.effects) for lv in fixed] == [(128, True), (128, False)]


def test_steps_down_when_behind_and_up_with_headroom_with_hysteresis(caplog):
    caplog.set_level("INFO")
    q = QualityController(build_ladder(128, 48, True, False), 60, 60, down_after_s=2.0, up_after_s=5.0)
    slow = Measurements(display_fps=60, generator_fps=30, render_ms=33.0)
    assert q.update(0.0, slow) is None and q.update(1.0, slow) is None  # one bad second is not enough
    decision = q.update(2.0, slow)
    assert decision is not None and q.index == 1 and decision.level.render_size < 128
    assert "quality down to 1/" in caplog.text and "generator 30.0 fps < target 60" in caplog.text
    fast = Measurements(display_fps=60, generator_fps=60, render_ms=5.0)  # capacity ~200 fps: room above
    for t in range(3, 7):
        assert q.update(float(t), fast) is None  # headroom must last up_after_s
    assert q.update(8.0, fast) is not None and q.index == 0
    tight = Measurements(display_fps=60, generator_fps=60, render_ms=12.0)  # 128 px would need ~24 ms
    q.index = 1
    for t in range(9, 30):
        assert q.update(float(t), tight) is None  # no room above: stays


def test_a_failed_step_up_doubles_the_wait():
    q = QualityController(build_ladder(128, 48, True, False), 60, 60, down_after_s=1.0, up_after_s=2.0)
    slow, fast = Measurements(60, 20, 50.0), Measurements(60, 60, 4.0)
    t = 0.0
    for m in (slow, slow):
        q.update(t, m)
        t += 1
    assert q.index == 1
    for _ in range(3):
        q.update(t, fast)
        t += 1
    assert q.index == 0  # stepped up ...
    q.update(t, slow)  # one slow second (down_after_s) right after stepping up
    assert q.index == 1 and q._up_wait_s == 4.0  # ... failed at once: wait twice as long next time


class SleepyCPPN(torch.nn.Module):
    """A real resolution-free module whose render time grows with its pixel count (sleeps)."""

    z_dim = 4
    img_resolution = 64
    img_channels = 3

    def __init__(self, s_per_px: float) -> None:
        super().__init__()
        self.s_per_px = s_per_px

    def coordinates(self, height: int, width: int, device: torch.device) -> None:  # marks it resolution-free
        return None

    def forward(self, z: torch.Tensor, height: int, width: int) -> torch.Tensor:
        time.sleep(self.s_per_px * height * width)
        return torch.zeros(1, 3, height, width)


def run_for(worker: GeneratorWorker, seconds: float) -> Measurements:
    """Submit at 60 Hz like the display loop; measure generator fps and render time."""
    seen, got, render_ms = 0, 0, []
    t_end = time.perf_counter() + seconds
    stamp = 0
    while time.perf_counter() < t_end:
        stamp += 1
        worker.submit(RenderRequest(np.zeros((1, 4), np.float32), (64, 36), "cover", time.perf_counter(), stamp))
        result, seen = worker.results.get_newer(seen)
        if result is not None:
            got += 1
            render_ms.append(result.render_ms)
        time.sleep(1 / 60)
    return Measurements(60.0, got / seconds, float(np.median(render_ms)) if render_ms else 0.0)


def drive(worker, q, t, done, steps: int = 20) -> float:
    """Feed the controller 0.2 s measurements of the real worker and apply its decisions until done()."""
    for _ in range(steps):
        t += 0.2
        decision = q.update(t, run_for(worker, 0.2))
        if decision is not None:
            worker.set_render_size(decision.level.render_size)
        if done():
            break
    return t


def test_controller_holds_the_rate_with_an_artificially_slow_generator():
    # 64 px high (114x64 px) takes ~100 ms: 10 fps, far behind a 20 fps generator target.
    model = SleepyCPPN(s_per_px=0.1 / (64 * 114))
    worker = GeneratorWorker(model, torch.device("cpu"), render_size=64)
    q = QualityController(build_ladder(64, 16, True, False), 60, 20, down_after_s=0.4, up_after_s=0.4)
    worker.start()
    try:
        t = 0.0
        t = drive(worker, q, t, lambda: q.index >= 1)
        assert q.index >= 1, "did not step down under a slow generator"
        assert worker.render_size < 64
        model.s_per_px = 0.001 / (64 * 114)  # the slowdown is gone: lots of headroom
        t = drive(worker, q, t, lambda: q.index == 0)
        assert q.index == 0 and worker.render_size == 64, "did not recover with headroom"
    finally:
        worker.close()


def test_latch_waits_only_for_renders_that_fit_the_frame():
    from installation.render.quality import latch_timeout_s

    assert latch_timeout_s(2.0, 60, 0.5) == 0.004  # 2 ms renders: wait up to 4 ms of a 16.7 ms frame
    assert latch_timeout_s(6.0, 60, 0.5) == pytest.approx(0.5 / 60)  # at most half the frame
    assert latch_timeout_s(12.0, 60, 0.5) == 0.0  # too slow to wait for: show it next frame
    assert latch_timeout_s(0.0, 60, 0.5) == 0.0 and latch_timeout_s(2.0, 60, 0.0) == 0.0


def test_the_app_applies_a_level_shows_it_in_the_hud_and_records_it_in_stats(caplog):
    from installation.app import App
    from installation.config import load_config

    app = App(
        load_config(
            None,
            [
                "display.mode=headless",
                "display.size=[160, 90]",
                "camera.source=none",
                "microphone.source=none",
                'generator.model="seeded-cppn"',
                "generator.render_size=64",
                "quality.min_render_size=16",
            ],
        )
    )
    app.setup()
    try:
        assert app.quality is not None and app.quality.index == 0
        slow = Measurements(display_fps=60, generator_fps=5, render_ms=200.0)
        app.quality.update(0.0, slow)
        decision = app.quality.update(5.0, slow)
        assert decision is not None
        app._apply_quality(decision.level)
        assert app.worker.render_size == decision.level.render_size < 64
        app.update(1 / 60)
        app.draw(1 / 60)
        assert any(line.startswith("quality 1/") for line in app.hud_lines())
        assert app.stats_record()["quality"] == 1
        effects_off = next(lv for lv in app.quality.levels if not lv.effects)
        app._apply_quality(effects_off)
        assert app.compositor.effects_enabled is False
    finally:
        app.close()
