"""Opening the output surface: fullscreen, a window, or headless (SDL's dummy driver).

When no display can be opened the show falls back to headless and says so, rather than dying.
"""

from __future__ import annotations

import logging
import os

import pygame

from installation.config import DisplayConfig

log = logging.getLogger(__name__)

NO_SCREEN_DRIVERS = ("offscreen", "dummy")  # SDL drivers that draw into memory, not onto a screen


def prepare_headless_env(mode: str) -> None:
    """Must run before pygame.display.init(): the video driver is chosen there."""
    if mode == "headless":
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    # Touchscreens: keep fingers as finger events (we synthesise the mouse-as-finger ourselves).
    os.environ.setdefault("SDL_TOUCH_MOUSE_EVENTS", "0")


def open_display(config: DisplayConfig) -> tuple[pygame.Surface, str]:
    """Open the surface the show draws on; returns (surface, mode actually used)."""
    mode = config.mode
    prepare_headless_env(mode)
    try:
        pygame.display.init()
        if mode != "headless" and pygame.display.get_driver() in NO_SCREEN_DRIVERS:
            # Without DISPLAY, SDL quietly picks its offscreen driver: say so instead of "fullscreen".
            raise pygame.error(f"only SDL's {pygame.display.get_driver()!r} driver is available")
        if mode == "fullscreen":
            surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
        elif mode == "windowed":
            surface = pygame.display.set_mode(config.size, pygame.RESIZABLE)
        else:
            surface = pygame.display.set_mode(config.size)
    except pygame.error as exc:
        if mode == "headless":
            raise
        log.warning(
            "no display could be opened for %s mode (%s; DISPLAY=%r); running headless instead — "
            "the show runs and records/stats work, but nothing is shown",
            mode,
            exc,
            os.environ.get("DISPLAY", ""),
        )
        pygame.display.quit()
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        pygame.display.init()
        surface = pygame.display.set_mode(config.size)
        mode = "headless"
    pygame.display.set_caption("Reverie")
    if mode == "fullscreen" and config.hide_cursor:
        pygame.mouse.set_visible(False)
    log.info("display: %s %dx%d (driver %s)", mode, *surface.get_size(), pygame.display.get_driver())
    return surface, mode
