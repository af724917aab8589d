"""Keyboard chords such as 'ctrl+shift+alt+q' (the kiosk's quit chord)."""

from __future__ import annotations

from dataclasses import dataclass

import pygame

MODIFIERS = {"ctrl": pygame.KMOD_CTRL, "shift": pygame.KMOD_SHIFT, "alt": pygame.KMOD_ALT, "meta": pygame.KMOD_META}


@dataclass(frozen=True)
class Chord:
    mods: tuple[int, ...]  # pygame KMOD_* masks that must all be held (either side counts)
    key: int  # pygame key code

    def matches(self, key: int, held_mods: int) -> bool:
        return key == self.key and all(held_mods & m for m in self.mods)


def parse_chord(text: str) -> Chord:
    """'ctrl+alt+q' -> Chord; ValueError naming the bad part. Call after pygame.display.init()."""
    parts = [p.strip().lower() for p in text.split("+") if p.strip()]
    if not parts:
        raise ValueError("empty chord")
    *mod_names, key_name = parts
    unknown = [m for m in mod_names if m not in MODIFIERS]
    if unknown:
        raise ValueError(f"unknown modifier {unknown[0]!r} (use {', '.join(MODIFIERS)})")
    try:
        key = pygame.key.key_code(key_name)
    except ValueError:
        raise ValueError(f"unknown key {key_name!r}") from None
    return Chord(tuple(MODIFIERS[m] for m in mod_names), key)
