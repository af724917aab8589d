"""Keys and the HUD's pages: which key does what, which page shows, and learn-by-demonstration.

Visitors' keys never end a fullscreen show or open the HUD: the kiosk lock (installation/kiosk.py)
decides what an operator key may do. The show is reached through the narrow `KeyHost` protocol, so
this module never imports the App.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import pygame

from installation.config import Config, ConfigError
from installation.control.commands import SwitchPreset
from installation.control.live import LiveControl
from installation.keys import Chord, parse_chord
from installation.kiosk import KioskLock
from installation.mapping.engine import MappingOutput, PresetMapping
from installation.mapping.learn import Demonstrations
from installation.mapping.presets import list_presets

log = logging.getLogger(__name__)

PRESET_KEYS = {getattr(pygame, f"K_{i}"): i - 1 for i in range(1, 10)}
PERFORMER_KEYS = {pygame.K_r, pygame.K_t, pygame.K_LEFTBRACKET, pygame.K_RIGHTBRACKET, pygame.K_F5}
OPERATOR_KEYS = {pygame.K_F2, pygame.K_F3, pygame.K_F4, *PRESET_KEYS, *PERFORMER_KEYS}  # locked in a fullscreen kiosk
LEARN_KEYS = {pygame.K_UP: "up", pygame.K_DOWN: "down", pygame.K_RETURN: "return", pygame.K_DELETE: "delete"}

Calibration = Callable[[], Iterable[tuple[str, float, float, float, float]]]


class Learning(Protocol):
    """Where learn mode reads the latent and puts what it learned (installation/programme.py)."""

    @property
    def mapping(self) -> PresetMapping: ...
    def learned_path(self) -> Path | None: ...


class KeyHost(Protocol):
    """What the keys act on."""

    @property
    def live(self) -> LiveControl | None: ...
    @property
    def programme(self) -> Learning: ...
    @property
    def features(self) -> dict[str, float]: ...
    @property
    def mode(self) -> str: ...  # fullscreen | window | headless
    def stop(self, reason: str) -> None: ...


class Pages:
    """HUD visibility and page (status | calibration | learn | midi), and the key routing."""

    def __init__(self, config: Config, host: KeyHost) -> None:
        self.config = config
        self.host = host
        self.visible = config.hud.visible
        self.page = "status"
        self.demos = Demonstrations()
        self.kiosk_lock: KioskLock
        self.quit_chord: Chord

    def open(self, mode: str) -> None:
        """Once the display is open: the kiosk lock for this mode, and the quit chord."""
        self.kiosk_lock = KioskLock(self.config.kiosk, mode)
        try:
            self.quit_chord = parse_chord(self.config.kiosk.quit_chord)
        except ValueError as exc:
            raise ConfigError(f"kiosk.quit_chord: {exc}; expected e.g. 'ctrl+shift+alt+q'") from None

    # ---------------------------------------------------------------- keys
    def on_key(self, key: int, mods: int) -> None:
        if self.quit_chord.matches(key, mods):
            self.host.stop("quit chord pressed")
        elif self.kiosk_lock.on_admin_key(key, mods):
            self.visible = self.kiosk_lock.unlocked
        elif key in (pygame.K_F1, pygame.K_h):
            if self.kiosk_lock.allows_hud():  # fullscreen: only once an operator unlocked it
                self.visible = not self.visible
        elif key in OPERATOR_KEYS and not self.kiosk_lock.allows_hud():
            pass  # locked fullscreen kiosk: operator keys do nothing for visitors
        elif key == pygame.K_F2:
            self.toggle("learn")
        elif key == pygame.K_F3:
            self.toggle("calibration")
        elif key == pygame.K_F5:
            self.toggle("midi")
        elif self.page == "midi" and self.visible and key in LEARN_KEYS:
            assert self.host.live is not None
            self.host.live.learn_key(LEARN_KEYS[key])
        elif key in PERFORMER_KEYS:
            self._performer_key(key)
        elif key == pygame.K_F4:
            self.host.programme.mapping.engagement.reset()
            log.info("engagement statistics reset")
        elif key in PRESET_KEYS:
            if PRESET_KEYS[key] < len(list_presets()):  # on the next bar when tempo.quantise says so
                assert self.host.live is not None
                self.host.live.switch(SwitchPreset(str(PRESET_KEYS[key] + 1)), time.perf_counter())
        elif self.page == "learn" and self.visible:
            self._learn_key(key)
        elif key in (pygame.K_ESCAPE, pygame.K_q) and self.host.mode != "fullscreen":
            self.host.stop(f"{pygame.key.name(key)} pressed")

    def _performer_key(self, key: int) -> None:
        """R records, T taps the tempo, [ and ] nudge the beat grid."""
        live = self.host.live
        assert live is not None
        if key == pygame.K_r:
            live.set_recording(None)
        elif key == pygame.K_t:
            live.tempo.tap(time.perf_counter())
        elif key in (pygame.K_LEFTBRACKET, pygame.K_RIGHTBRACKET):
            step = self.config.tempo.nudge_beats
            live.tempo.nudge(step if key == pygame.K_RIGHTBRACKET else -step)

    def toggle(self, page: str) -> None:
        if self.visible and self.page == page:
            self.page, self.visible = "status", False
        else:
            self.page, self.visible = page, True

    def _learn_key(self, key: int) -> None:
        """Setup mode: Space records (features -> current latent), Return fits and saves, Backspace clears."""
        mapping = self.host.programme.mapping
        if key == pygame.K_SPACE:
            n = self.demos.record(self.host.features, mapping.walk.z)
            log.info("learn: example %d recorded", n)
        elif key == pygame.K_RETURN:
            try:
                learned = self.demos.fit()
            except ValueError as exc:
                log.warning("learn: %s", exc)
                return
            mapping.learned = learned
            path = self.host.programme.learned_path()
            if path is not None:
                try:
                    learned.save(path)
                    log.info("learn: fitted on %d examples, saved to %s", learned.examples, path)
                except OSError as exc:
                    log.error("learn: fitted, but not saved to %s (%s)", path, exc)
        elif key == pygame.K_BACKSPACE:
            self.demos.clear()
            mapping.learned = None
            log.info("learn: examples cleared")

    # ---------------------------------------------------------------- what the HUD shows
    def page_lines(self) -> list[str] | None:
        """The lines of an operator page, or None on the status page (the App's figures)."""
        if self.page == "calibration":
            return ["CALIBRATION (F3 closes): feature  raw  normalised  [range]"]
        if self.page == "midi" and self.host.live is not None:
            return self.host.live.learn_lines()
        if self.page == "learn":
            learned = self.host.programme.mapping.learned
            fitted = f"fitted on {learned.examples}" if learned else "not fitted"
            return [
                "LEARN (F2 closes): move to a picture you like, make the sound/gesture, press Space",
                f"examples: {len(self.demos.inputs)}   mapping: {fitted}",
                "Space record   Return fit + save with the preset   Backspace clear",
            ]
        return None

    def meters(self, out: MappingOutput | None, calibration: Calibration | None) -> list[tuple[str, float]]:
        f = self.host.features
        if self.page == "calibration":
            if calibration is not None:
                return [
                    (f"{name} {raw:8.3f} {norm:4.2f} [{lo:.2f}..{hi:.2f}]", norm)
                    for name, raw, norm, lo, hi in calibration()
                ]
            return [(f"{k} {v:8.3f}", min(1.0, max(0.0, v))) for k, v in f.items()]
        speed = out.params.get("speed", 1.0) / 10.0 if out else 0.0
        return [
            ("motion", f.get("motion", 0.0)),
            ("loudness", f.get("loudness", 0.0)),
            ("presence", f.get("presence", 0.0)),
            ("speed", speed),
        ]
