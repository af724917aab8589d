"""The gesture recogniser on recorded sequences of real pygame finger events."""

import math
import os

import pygame
import pytest

from installation.mapping.gestures import GestureRecognizer
from installation.sources.touch import TouchTracker


@pytest.fixture(scope="module", autouse=True)
def dummy_display():
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    pygame.display.init()
    yield
    pygame.display.quit()


def ev(kind, fid, x, y):
    return pygame.event.Event(kind, touch_id=1, finger_id=fid, x=x, y=y, dx=0.0, dy=0.0, pressure=1.0)


def play(recording, aspect=1.0, long_press_s=0.8):
    """recording: list of (t_s, [events]) frames; returns the Gestures of every frame."""
    tracker, recognizer = TouchTracker((100, 100)), GestureRecognizer(aspect, long_press_s)
    out = []
    for t_s, events in recording:
        for e in events:
            tracker.handle(e)
        out.append(recognizer.update(tracker.frame(), t_s))
    return out


def test_pinch_spread_is_positive_and_rotation_is_measured():
    down = [ev(pygame.FINGERDOWN, 1, 0.4, 0.5), ev(pygame.FINGERDOWN, 2, 0.6, 0.5)]
    spread = [ev(pygame.FINGERMOTION, 1, 0.3, 0.5), ev(pygame.FINGERMOTION, 2, 0.7, 0.5)]
    # turn the pair a quarter turn counter-clockwise (on screen: finger 2 goes up)
    turn = [ev(pygame.FINGERMOTION, 1, 0.5, 0.7), ev(pygame.FINGERMOTION, 2, 0.5, 0.3)]
    g = play([(0.0, down), (0.02, spread), (0.04, turn)])
    assert g[1].pinch == pytest.approx(math.log(2.0))
    assert g[1].pan == pytest.approx((0.0, 0.0))  # symmetric spread does not pan
    assert g[2].rotate == pytest.approx(math.pi / 2)
    assert g[2].fingers == 2


def test_single_finger_drag_pans_without_pinch():
    g = play([(0.0, [ev(pygame.FINGERDOWN, 1, 0.1, 0.1)]), (0.02, [ev(pygame.FINGERMOTION, 1, 0.4, 0.2)])])
    assert g[1].pan == pytest.approx((0.3, 0.1)) and g[1].pinch == 0.0 and g[1].rotate == 0.0


def test_tap_and_long_press():
    taps = play([(0.0, [ev(pygame.FINGERDOWN, 1, 0.5, 0.5)]), (0.1, [ev(pygame.FINGERUP, 1, 0.5, 0.5)])])
    assert taps[1].taps == 1 and all(g.long_press is None for g in taps)
    hold = [(t / 10, [ev(pygame.FINGERDOWN, 1, 0.3, 0.6)] if t == 0 else []) for t in range(12)]
    g = play(hold, long_press_s=0.8)
    fired = [x.long_press for x in g if x.long_press is not None]
    assert fired == [(0.3, 0.6)]  # fires once, where the finger is


def test_a_drag_is_never_a_long_press():
    frames = [(0.0, [ev(pygame.FINGERDOWN, 1, 0.1, 0.5)])]
    frames += [(t / 10, [ev(pygame.FINGERMOTION, 1, 0.1 + t / 20, 0.5)]) for t in range(1, 15)]
    assert all(g.long_press is None for g in play(frames))
