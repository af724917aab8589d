"""The compose thread (issue #12, "the present happens as early in the frame as it can"): the
full-screen field pass runs off the main thread, and the main thread still shows this frame's
picture when composing is fast. Each test fails on the code before it (compose on the main thread)."""

import threading

import numpy as np
import pytest

import installation.render.picture as picture_module
from installation.mapping.presets import EffectsPreset
from installation.render.field import FieldRenderer
from installation.render.picture import Picture
from installation.render.worker import RenderResult
from tests.runner import wait_for

SIZE = (320, 180)


def field_result(value: float, stamp: int, z_scale: float = 0.0) -> RenderResult:
    z = np.full((1, 8), z_scale, np.float32)
    field = np.full((16, 16), -1.0, np.float32)
    field[4:12, 4:12] = value  # a square of ink (value > 0) or none
    return RenderResult(None, stamp, 0, 0.0, 1.0, field=field, field_spread_px=4.0, z=z)


@pytest.fixture
def picture():
    pic = Picture(SIZE, "cover", 90)
    yield pic
    pic.close()


def test_the_field_render_runs_off_the_calling_thread(picture, monkeypatch):
    threads: list[str] = []
    render = FieldRenderer.render

    def recorded(self, *args, **kwargs):
        threads.append(threading.current_thread().name)
        return render(self, *args, **kwargs)

    monkeypatch.setattr(FieldRenderer, "render", recorded)
    monkeypatch.setattr(picture_module, "latch_timeout_s", lambda *args: 0.0)  # composing does not fit a frame
    picture.add_result(field_result(1.0, 1), 0.0)
    frame = picture.compose(0.0, {}, EffectsPreset(frame_blend=False))
    assert frame is not None and frame.shape == (SIZE[1], SIZE[0], 3)  # the first frame is waited for: no black
    picture.add_result(field_result(-1.0, 2), 0.01)
    assert picture.compose(0.01, {}, EffectsPreset(frame_blend=False)) is not None
    assert wait_for(lambda: len(threads) >= 2, 5.0)
    assert threading.current_thread().name not in threads, threads


def test_a_fast_compose_shows_this_frames_picture(picture, monkeypatch):
    """When composing fits the frame the main thread composes right away (no handover to wait for):
    a jump shows in the frame that handed it in."""
    monkeypatch.setattr(picture_module, "latch_timeout_s", lambda *args: 5.0)
    effects = EffectsPreset(frame_blend=False)
    picture.add_result(field_result(-1.0, 1), 0.0)
    blank = picture.compose(0.0, {}, effects).copy()
    picture.add_result(field_result(1.0, 2, z_scale=3.0), 0.05)
    inked = picture.compose(0.05, {}, effects)
    assert np.abs(inked.astype(np.int16) - blank).mean() > 5  # the ink square is there, not next frame


def test_a_slow_compose_is_not_waited_for(picture, monkeypatch):
    """Without the latch the main thread returns the previous composed frame instead of waiting."""
    effects = EffectsPreset(frame_blend=False)
    picture.add_result(field_result(-1.0, 1), 0.0)
    first = picture.compose(0.0, {}, effects)
    assert first is not None
    gate, entered = threading.Event(), threading.Event()
    compose = picture.core.compose

    def slow(*args, **kwargs):
        entered.set()
        assert gate.wait(10.0)
        return compose(*args, **kwargs)

    monkeypatch.setattr(picture.core, "compose", slow)
    monkeypatch.setattr(picture_module, "latch_timeout_s", lambda *args: 0.0)
    try:
        again = picture.compose(0.02, {}, effects)  # the thread is stuck in compose: the last frame comes back
        assert again is first
        assert entered.wait(5.0)
    finally:
        gate.set()
    assert wait_for(lambda: picture.composed_frames >= 2, 5.0)


def test_the_frame_the_main_thread_holds_is_never_overwritten(picture):
    effects = EffectsPreset(frame_blend=False)
    picture.add_result(field_result(1.0, 1), 0.0)
    held = picture.compose(0.0, {}, effects)
    kept = held.copy()
    for i in range(8):  # more composes of another picture while the main thread keeps the first
        picture.add_result(field_result(-1.0, 2 + i, z_scale=3.0), 0.01 * i)
        picture._jobs.put(picture_module.ComposeJob(0.01 * i, (), effects, 100 + i))
        assert wait_for(lambda n=i: picture.composed_frames >= n + 2, 5.0)
    assert np.array_equal(held, kept)


def test_close_joins_the_compose_thread_and_an_idle_thread_ends(monkeypatch):
    monkeypatch.setattr(picture_module, "COMPOSE_IDLE_S", 0.0)
    monkeypatch.setattr(picture_module, "latch_timeout_s", lambda *args: 0.0)  # every compose goes to the thread
    pic = Picture(SIZE, "cover", 90)
    pic.add_result(field_result(1.0, 1), 0.0)
    assert pic.compose(0.0, {}, EffectsPreset()) is not None
    first = pic._thread
    assert first is not None
    assert wait_for(lambda: not first.is_alive(), 5.0)  # idle: it ended
    assert pic.compose(0.1, {}, EffectsPreset()) is not None  # and a new job starts it again
    second = pic._thread
    assert second is not None and second is not first
    pic.close()
    assert not second.is_alive()


def test_the_threaded_frame_is_the_inline_frame_pixel_for_pixel(monkeypatch):
    """The hand-over (ring buffers, the renderer's buffer swap) changes no pixel."""
    monkeypatch.setattr(picture_module, "latch_timeout_s", lambda *args: 0.0)  # every compose on the thread
    effects = EffectsPreset()
    threaded, inline = Picture(SIZE, "cover", 90), Picture(SIZE, "cover", 90, threaded=False)
    try:
        for i, value in enumerate((1.0, -1.0, 0.5, 1.0)):
            t_s = 0.02 * i
            for pic in (threaded, inline):
                pic.add_result(field_result(value, i + 1, z_scale=float(i)), t_s)
            expected = inline.compose(t_s, {"wetness": 0.6}, effects).copy()
            threaded._jobs.put(picture_module.ComposeJob(t_s, (("wetness", 0.6),), effects, 100 + i))
            threaded._ensure_thread()
            assert wait_for(lambda n=i: threaded.composed_frames >= n + 1, 5.0)
            frame, _ = threaded._composed.get()
            assert frame is not None and np.array_equal(frame.frame, expected), i
    finally:
        threaded.close()


def test_no_render_is_wanted_while_the_compose_thread_has_not_taken_the_last_one(picture, monkeypatch):
    """Uncapped, the generator rendered ~3 requests per picture composed; the rest were overwritten
    unseen, on CPU the compose thread needed."""
    monkeypatch.setattr(picture_module, "latch_timeout_s", lambda *args: 0.0)
    gate, entered = threading.Event(), threading.Event()
    compose = picture.core.compose

    def slow(*args, **kwargs):
        entered.set()
        assert gate.wait(10.0)
        return compose(*args, **kwargs)

    picture.add_result(field_result(1.0, 1), 0.0)
    assert picture.compose(0.0, {}, EffectsPreset()) is not None
    assert picture.wants_render()
    monkeypatch.setattr(picture.core, "compose", slow)
    try:
        picture.compose(0.01, {}, EffectsPreset())  # the thread is now stuck composing
        assert entered.wait(5.0)
        picture.add_result(field_result(-1.0, 2), 0.02)
        assert not picture.wants_render()
    finally:
        gate.set()
    picture.compose(0.03, {}, EffectsPreset())
    assert wait_for(picture.wants_render, 5.0)
    assert Picture(SIZE, threaded=False).wants_render()
