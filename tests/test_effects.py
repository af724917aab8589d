import numpy as np
import pytest

from installation.mapping.presets import EffectsPreset
from installation.render.effects import Compositor, kaleidoscope_maps


def solid(value, size=(64, 36)):
    return np.full((size[1], size[0], 3), value, np.uint8)


def test_frame_blend_crossfades_over_the_generator_interval():
    c = Compositor((128, 72), work_height=36)
    c.add_frame(solid(0), 0.0)
    c.add_frame(solid(0), 0.1)
    c.add_frame(solid(200), 0.2)  # interval ~0.1 s
    mid = c.compose(0.2 + c._interval_s / 2, {}, EffectsPreset())
    assert mid.shape == (72, 128, 3)
    assert 60 < mid.mean() < 140
    end = c.compose(0.2 + c._interval_s * 1.01, {}, EffectsPreset())
    assert end.mean() == pytest.approx(200, abs=1)
    off = c.compose(0.2 + c._interval_s / 2, {}, EffectsPreset(frame_blend=False))
    assert off.mean() == pytest.approx(200, abs=1)


def test_trails_hold_the_past_and_transition_fades_from_the_old_picture():
    c = Compositor((64, 36), work_height=36)
    c.add_frame(solid(200), 0.0)
    c.compose(1.0, {}, EffectsPreset())
    c.add_frame(solid(0), 1.0)
    with_trails = c.compose(2.0, {"trails": 0.5}, EffectsPreset())
    assert with_trails.mean() == pytest.approx(100, abs=2)
    c.start_transition(3.0, 1.0)
    c.add_frame(solid(0), 3.0)
    c.add_frame(solid(0), 3.1)
    early = c.compose(3.1, {}, EffectsPreset()).mean()
    late = c.compose(3.9, {}, EffectsPreset()).mean()
    assert early > late


def test_letterbox_and_cover_sizes_and_zoom():
    cover = Compositor((160, 90), "cover", work_height=90)
    cover.add_frame(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8), 0.0)
    assert cover.compose(0.0, {}, EffectsPreset()).shape == (90, 160, 3)
    box = Compositor((160, 90), "letterbox", work_height=90)
    box.add_frame(solid(100, (64, 64)), 0.0)
    assert box.compose(0.0, {"zoom": 1.5}, EffectsPreset()).shape == (90, 90, 3)


def test_kaleidoscope_is_symmetric_and_grain_adds_texture():
    mx, my = kaleidoscope_maps(41, 41, 4)
    assert np.allclose(mx[20, 20], 20) and np.allclose(my[20, 20], 20)
    c = Compositor((96, 96), work_height=96)
    rng = np.random.default_rng(1)
    c.add_frame(rng.integers(0, 255, (96, 96, 3), np.uint8), 0.0)
    k = c.compose(0.0, {}, EffectsPreset(kaleidoscope=4)).astype(int)
    assert np.abs(k - k[:, ::-1]).mean() < 12  # mirrored left-right (up to interpolation)
    c2 = Compositor((64, 64), work_height=64)
    c2.add_frame(solid(128, (64, 64)), 0.0)
    assert c2.compose(0.0, {"grain": 0.1}, EffectsPreset()).std() > 5
