import os

import pygame
import pytest

from installation.sources.touch import MOUSE_ID, TouchTracker


@pytest.fixture(scope="module", autouse=True)
def dummy_display():
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    pygame.display.init()
    pygame.display.set_mode((200, 100))
    yield
    pygame.display.quit()


def finger(kind, fid, x, y):
    return pygame.event.Event(kind, touch_id=1, finger_id=fid, x=x, y=y, dx=0.0, dy=0.0, pressure=1.0)


def test_finger_drag_is_normalised_movement():
    tracker = TouchTracker((200, 100))
    tracker.handle(finger(pygame.FINGERDOWN, 3, 0.2, 0.5))
    tracker.handle(finger(pygame.FINGERMOTION, 3, 0.5, 0.4))
    frame = tracker.frame()
    assert [(t.finger_id, t.x, t.y) for t in frame.touches] == [(3, 0.5, 0.4)]
    assert frame.drag_dx == pytest.approx(0.3) and frame.drag_dy == pytest.approx(-0.1)
    assert tracker.frame().drag_dx == 0.0  # deltas reset per frame
    tracker.handle(finger(pygame.FINGERUP, 3, 0.5, 0.4))
    assert tracker.frame().touches == ()


def test_two_fingers_moving_together_pan_once():
    tracker = TouchTracker((200, 100))
    tracker.handle(finger(pygame.FINGERDOWN, 1, 0.2, 0.2))
    tracker.handle(finger(pygame.FINGERDOWN, 2, 0.6, 0.2))
    tracker.handle(finger(pygame.FINGERMOTION, 1, 0.3, 0.2))
    tracker.handle(finger(pygame.FINGERMOTION, 2, 0.7, 0.2))
    assert tracker.frame().drag_dx == pytest.approx(0.1)


def test_mouse_is_one_finger_in_screen_units_through_the_real_event_queue():
    tracker = TouchTracker((200, 100))
    pygame.event.clear()
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(50, 50), button=1, touch=False))
    pygame.event.post(
        pygame.event.Event(pygame.MOUSEMOTION, pos=(150, 25), rel=(100, -25), buttons=(1, 0, 0), touch=False)
    )
    for event in pygame.event.get():
        assert tracker.handle(event)
    frame = tracker.frame()
    assert [(t.finger_id, t.x, t.y) for t in frame.touches] == [(MOUSE_ID, 0.75, 0.25)]
    assert frame.drag_dx == pytest.approx(0.5) and frame.drag_dy == pytest.approx(-0.25)


def test_mouse_echo_of_a_touch_is_not_counted_twice_and_hover_is_ignored():
    tracker = TouchTracker((200, 100))
    tracker.handle(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(50, 50), button=1, touch=True))
    tracker.handle(pygame.event.Event(pygame.MOUSEMOTION, pos=(80, 50), rel=(30, 0), buttons=(0, 0, 0), touch=False))
    assert tracker.frame().touches == () and tracker.events_total == 0


def test_short_still_touch_is_a_tap_and_positions_clamp():
    tracker = TouchTracker((200, 100))
    tracker.handle(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(500, -20), button=1, touch=False))
    assert tracker.frame().touches[0].x == 1.0
    tracker.handle(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(500, -20), button=1, touch=False))
    assert tracker.frame().taps == 1
    assert not tracker.handle(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a, mod=0))
