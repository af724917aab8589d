"""Kiosk lock: in fullscreen, visitors' keys neither end the show nor open the operator HUD.

Only the quit chord quits (App.on_key). The operator HUD (F1/H) works in a window or headless, and in
fullscreen only while unlocked: the admin chord toggles the lock, and an unlock file (a path in the
config; present = unlocked, e.g. on a USB stick or created over SSH) unlocks too. Every other key is
swallowed. SDL is asked not to minimise the fullscreen window when it loses focus. With
`kiosk.grab_keyboard` SDL also grabs the keyboard, so window-manager combos such as Alt+Tab reach the
show (and are ignored) instead of revealing the desktop. It is off by default: on Xvfb + openbox a grab
made synthetic (XTEST) key presses, the quit chord included, never arrive; try it on the kiosk PC and
check that the quit chord still works before relying on it.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pygame

from installation.config import KioskConfig
from installation.keys import Chord, parse_chord

log = logging.getLogger(__name__)

UNLOCK_FILE_CHECK_S = 1.0  # one stat() a second


def prepare_kiosk_env(grab_keyboard: bool) -> None:
    """Before pygame.display.init(): keep a fullscreen show up when focus moves; optionally grab keys."""
    os.environ.setdefault("SDL_VIDEO_MINIMIZE_ON_FOCUS_LOSS", "0")
    if grab_keyboard:
        os.environ.setdefault("SDL_GRAB_KEYBOARD", "1")


def grab_input(mode: str, hide_cursor: bool, grab_keyboard: bool) -> None:
    """After the display is (re)opened: cursor hidden (and the keyboard grabbed, if asked) in fullscreen."""
    if mode != "fullscreen":
        return
    if hide_cursor:
        pygame.mouse.set_visible(False)
    if not grab_keyboard:
        return
    try:
        pygame.event.set_keyboard_grab(True)
    except (pygame.error, AttributeError) as exc:  # older SDL: the window manager must be locked down instead
        log.info("keyboard grab unavailable (%s)", exc)


class KioskLock:
    def __init__(self, config: KioskConfig, mode: str) -> None:
        self.kiosk = mode == "fullscreen"
        try:
            self.admin_chord: Chord = parse_chord(config.admin_chord)
        except ValueError as exc:
            from installation.config import ConfigError

            raise ConfigError(f"kiosk.admin_chord: {exc}; expected e.g. 'ctrl+shift+alt+u'") from None
        self.unlock_file = Path(config.unlock_file).expanduser() if config.unlock_file else None
        self._chord_unlocked = False
        self._file_unlocked = False
        self._next_check_s = 0.0
        self.swallowed = 0  # visitor key presses ignored so far

    @property
    def unlocked(self) -> bool:
        return not self.kiosk or self._chord_unlocked or self._file_unlocked

    def on_admin_key(self, key: int, mods: int) -> bool:
        """True if this key press was the admin chord (and toggled the lock)."""
        if not self.admin_chord.matches(key, mods):
            return False
        self._chord_unlocked = not self._chord_unlocked
        log.info("operator HUD %s by the admin chord", "unlocked" if self._chord_unlocked else "locked")
        return True

    def allows_hud(self) -> bool:
        if not self.unlocked:
            self.swallowed += 1
        return self.unlocked

    def poll(self, now_s: float | None = None) -> bool:
        """Check the unlock file (at most once a second); returns True when the lock state changed."""
        if self.unlock_file is None or not self.kiosk:
            return False
        now_s = time.monotonic() if now_s is None else now_s
        if now_s < self._next_check_s:
            return False
        self._next_check_s = now_s + UNLOCK_FILE_CHECK_S
        present = self.unlock_file.exists()
        if present == self._file_unlocked:
            return False
        self._file_unlocked = present
        log.info(
            "operator HUD %s (unlock file %s %s)",
            "unlocked" if present else "locked",
            self.unlock_file,
            "present" if present else "removed",
        )
        return True
