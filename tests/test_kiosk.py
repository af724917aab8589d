"""Kiosk lock: visitors cannot open the operator HUD or quit in fullscreen; operators can unlock."""

from __future__ import annotations

import pygame
import pytest

from installation.app import App
from installation.config import ConfigError, load_config
from installation.kiosk import KioskLock

CHORD = pygame.KMOD_LCTRL | pygame.KMOD_LSHIFT | pygame.KMOD_LALT


def kiosk_app(tmp_path, *overrides: str) -> App:
    app = App(
        load_config(
            None,
            [
                "display.mode=headless",
                "display.size=[160, 90]",
                "camera.source=none",
                "microphone.source=none",
                *overrides,
            ],
        )
    )
    app.setup()
    # Headless stands in for the fullscreen kiosk: same code path, no real display needed.
    app.mode = "fullscreen"
    app.pages.kiosk_lock = KioskLock(app.config.kiosk, "fullscreen")
    return app


def key(k: int, mod: int = 0) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod, unicode="", scancode=0)


def test_visitor_keys_do_nothing_in_fullscreen(tmp_path):
    app = kiosk_app(tmp_path)
    try:
        for k, mod in [
            (pygame.K_F1, 0),
            (pygame.K_h, 0),
            (pygame.K_ESCAPE, 0),
            (pygame.K_q, 0),
            (pygame.K_TAB, pygame.KMOD_LALT),
            (pygame.K_F4, pygame.KMOD_LALT),
            (pygame.K_q, pygame.KMOD_LCTRL),
            (pygame.K_w, pygame.KMOD_LCTRL),
        ]:
            app.on_key(k, mod)
        app.handle_event(pygame.event.Event(pygame.QUIT))
        assert app.running and not app.pages.visible
        assert app.pages.kiosk_lock.swallowed == 3  # F1, H and (Alt+)F4 are operator keys: refused
    finally:
        app.close()


def test_admin_chord_unlocks_and_locks_the_hud(tmp_path):
    app = kiosk_app(tmp_path)
    try:
        app.on_key(pygame.K_u, CHORD)
        assert app.pages.kiosk_lock.unlocked and app.pages.visible  # unlocking shows the HUD at once
        app.on_key(pygame.K_F1, 0)
        assert not app.pages.visible
        app.on_key(pygame.K_h, 0)
        assert app.pages.visible
        app.on_key(pygame.K_u, CHORD)
        assert not app.pages.kiosk_lock.unlocked and not app.pages.visible
        assert app.running
    finally:
        app.close()


def test_unlock_file_unlocks_while_present(tmp_path):
    unlock = tmp_path / "reverie-unlock"
    app = kiosk_app(tmp_path, f'kiosk.unlock_file="{unlock}"')
    try:
        app.on_key(pygame.K_F1, 0)
        assert not app.pages.visible
        unlock.touch()
        app.pages.kiosk_lock.poll(1e9)
        app.on_key(pygame.K_F1, 0)
        assert app.pages.visible
        unlock.unlink()
        assert app.pages.kiosk_lock.poll(2e9) and not app.pages.kiosk_lock.unlocked
        app.care._next_schedule_s = 0.0  # let the once-a-second housekeeping run now
        app.care.after_frame()
        assert not app.pages.visible  # the HUD goes when the file goes
    finally:
        app.close()


def test_windowed_and_headless_are_never_locked(tmp_path):
    app = App(
        load_config(
            None, ["display.mode=headless", "display.size=[160, 90]", "camera.source=none", "microphone.source=none"]
        )
    )
    app.setup()
    try:
        app.on_key(pygame.K_F1, 0)
        assert app.pages.visible
    finally:
        app.close()


def test_bad_admin_chord_is_a_config_error():
    app = App(
        load_config(
            None,
            ["display.mode=headless", "camera.source=none", "microphone.source=none", 'kiosk.admin_chord="ctrl+nokey"'],
        )
    )
    try:
        with pytest.raises(ConfigError, match="kiosk.admin_chord: unknown key 'nokey'"):
            app.setup()
    finally:
        app.close()


def test_display_resolution_change_is_survived(tmp_path):
    """The display changes size under the show (new monitor, xrandr): surface, touch, recorder, health cope."""
    out = tmp_path / "rec.mp4"
    app = App(
        load_config(
            None,
            [
                "display.mode=headless",
                "display.size=[320, 180]",
                "camera.source=none",
                'generator.model="vae-emoji"',  # a colour model: its frames are sized for the screen
                "microphone.source=none",
                f'record.path="{out}"',
                "health.check_every=1",
                f'health.path="{tmp_path / "h.json"}"',
                "health.interval_s=0.2",
            ],
        )
    )
    app.setup()
    try:
        for _ in range(5):
            app.step(1 / 30)
        pygame.display.set_mode((200, 300))  # what SDL does when the desktop resolution changes
        pygame.event.post(pygame.event.Event(pygame.VIDEORESIZE, size=(200, 300), w=200, h=300))
        for _ in range(40):
            app.step(1 / 30)
            pygame.time.wait(10)
        assert app.screen.get_size() == (200, 300) and app.touch.window_size == (200, 300)
        assert app.frame.frame_rgb.shape[:2] == (308, 208)  # the new size, plus the burn-in drift margin
        assert app.recorder.active and app.recorder.size == (320, 180)  # the file keeps its size
        assert app.care.health_record()["screen"] == [200, 300]
    finally:
        app.close()
    assert out.stat().st_size > 1000
