"""MIDI bindings of the running preset, and the HUD's MIDI learn page (F5) that adds to them.

The preset's own [[midi]] bindings and those learned for it (<preset>.midi.json beside it) go into
the router; a learned binding is saved at once, so it outlives the show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from installation.control import commands as c
from installation.control.bindings import TARGETS, MidiBinding, describe, load_learned, sidecar_path
from installation.control.midi import MidiRouter

log = logging.getLogger(__name__)

LEARN_TARGETS = tuple(t for t in TARGETS if t not in ("preset", "model"))  # those need a name: [[midi]] or OSC


class MidiLearnPage:
    def __init__(self, router: MidiRouter, preset_path: Callable[[], str]) -> None:
        self.router = router
        self._preset_path = preset_path
        self.learn_index = 0  # which target is picked
        self.last_midi: c.MidiEvent | None = None

    def load_bindings(self, preset_bindings: tuple[MidiBinding, ...]) -> None:
        """The preset's [[midi]] bindings, and those learned for it (<preset>.midi.json)."""
        learned: tuple[MidiBinding, ...] = ()
        path = sidecar_path(self._preset_path())
        if path is not None and path.is_file():
            try:
                learned = load_learned(path)
                log.info("MIDI: %d learned binding(s) from %s", len(learned), path.name)
            except ValueError as exc:
                log.error("%s; the preset's own bindings apply", exc)
        self.router.set_bindings(preset_bindings, learned)

    def save_learned(self) -> None:
        path = sidecar_path(self._preset_path())
        if path is None:
            return
        try:
            self.router.save(path)
            log.info("MIDI: %d learned binding(s) saved to %s", len(self.router.learned), path)
        except OSError as exc:
            log.error("MIDI: binding learned but not saved to %s (%s); it works until the show stops", path, exc)

    def bind_last(self, target: str) -> None:
        """Bind the control moved last to target."""
        event = self.last_midi
        if event is None:
            log.info("MIDI learn: move a knob or press a pad first")
            return
        log.info("MIDI learn: %s", describe(self.router.bind(event, target)))
        self.save_learned()

    def lines(self) -> list[str]:
        target = LEARN_TARGETS[self.learn_index % len(LEARN_TARGETS)]
        last = self.router.last_control or "nothing yet: move a knob or press a pad"
        lines = [
            "MIDI LEARN (F5 closes): move a control, pick its target with Up/Down, Return binds",
            f"last control: {last}",
            f"target: > {target} <   ({self.learn_index % len(LEARN_TARGETS) + 1}/{len(LEARN_TARGETS)})",
            f"bindings: {len(self.router.bindings)} ({len(self.router.learned)} learned, Delete clears learned)",
        ]
        lines.extend(describe(b) for b in self.router.bindings[-6:])
        return lines

    def key(self, key: str) -> None:
        if key == "up":
            self.learn_index -= 1
        elif key == "down":
            self.learn_index += 1
        elif key == "return":
            self.bind_last(LEARN_TARGETS[self.learn_index % len(LEARN_TARGETS)])
        elif key == "delete":
            self.router.clear_learned()
            self.save_learned()
