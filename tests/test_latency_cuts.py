"""Latency cuts (issue #12): each test fails on the code before its cut."""

import numpy as np
import pytest

from installation.mapping.presets import EffectsPreset
from installation.render.picture import Picture
from installation.render.worker import RenderResult


def colour(value: int, z: np.ndarray, stamp: int) -> RenderResult:
    return RenderResult(np.full((36, 64, 3), value, np.uint8), stamp, 0, 0.0, 1.0, z=z)


def field(value: float, z: np.ndarray, stamp: int) -> RenderResult:
    return RenderResult(None, stamp, 0, 0.0, 1.0, field=np.full((16, 16), value, np.float32),
                        field_spread_px=4.0, z=z)


def latent(scale: float, seed: int = 0) -> np.ndarray:
    return (scale * np.random.default_rng(seed).standard_normal((1, 64))).astype(np.float32)


def picture_after(results: list[RenderResult], interval_s: float = 0.05) -> tuple[Picture, float]:
    """A Picture fed `results` one generator interval apart; returns it and the last result's time."""
    pic = Picture((128, 72), work_height=36)
    t_s = 0.0
    for i, result in enumerate(results):
        t_s = i * interval_s
        pic.add_result(result, t_s)
        pic.compose(t_s, {}, EffectsPreset())
    return pic, t_s


def test_a_latent_jump_shows_in_the_next_colour_frame_not_blended_away():
    z0 = latent(0.0)
    pic, t_s = picture_after([colour(0, z0, 1), colour(0, z0, 2), colour(0, z0, 3), colour(200, latent(2.0), 4)])
    shown = pic.compose(t_s + 0.001, {}, EffectsPreset())  # the very next presented frame
    assert shown.mean() == pytest.approx(200, abs=1)


def test_a_small_latent_step_is_still_crossfaded():
    z0 = latent(1.0)
    z1 = z0 + 0.02  # a walk's step between two generator frames
    pic, t_s = picture_after([colour(0, z0, 1), colour(0, z0, 2), colour(0, z0, 3), colour(200, z1, 4)])
    shown = pic.compose(t_s + 0.001, {}, EffectsPreset())
    assert 5 < shown.mean() < 150  # on its way, not there yet: the blend still hides frame steps


def test_a_latent_jump_shows_in_the_next_field_frame_not_morphed_away():
    z0 = latent(0.0)
    pic, t_s = picture_after([field(-1.0, z0, 1), field(-1.0, z0, 2), field(-1.0, z0, 3), field(1.0, latent(2.0), 4)])
    assert pic.kind == "field"
    blended = pic.field.current_blend(t_s + 0.001)
    assert np.allclose(blended, 1.0)
    small, t2_s = picture_after([field(-1.0, z0, 1), field(-1.0, z0, 2), field(-1.0, z0, 3),
                                 field(1.0, z0 + 0.02, 4)])
    assert float(small.field.current_blend(t2_s + 0.001).mean()) < 0.9  # a walk still morphs
