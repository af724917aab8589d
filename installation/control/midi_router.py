"""MIDI routing on the main thread: MidiEvents through a preset's [[midi]] bindings into commands, and MIDI learn."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from installation.control import commands as c
from installation.control.bindings import ACTIONS, TARGETS, MidiBinding, merge, save_learned
from installation.mapping.names import PARAMETER_RANGES


class MidiRouter:
    """Main thread: MidiEvents through the bindings into commands, and MIDI learn. No I/O but save()."""

    def __init__(
        self,
        bindings: tuple[MidiBinding, ...] = (),
        learned: tuple[MidiBinding, ...] = (),
        nudge_beats: float = 0.0625,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.nudge_beats = nudge_beats
        self._clock = clock  # stamps Tap commands
        self._cc_values: dict[tuple[str, int, int], int] = {}  # (port, channel, cc) -> last value, for thresholds
        self.armed = ""  # the target the next control moved is bound to; "" = not learning
        self._armed_arg = ""
        self.last_control = ""  # e.g. "cc 7 ch 1 = 64", for the HUD learn page
        self.last_learned: MidiBinding | None = None
        self.unsaved = False  # learned since the last save()
        self.preset_bindings: tuple[MidiBinding, ...] = ()
        self.learned: tuple[MidiBinding, ...] = ()  # from <preset>.midi.json plus this session's
        self.bindings: tuple[MidiBinding, ...] = ()  # the preset's with the learned ones winning
        self.set_bindings(bindings, learned)

    def set_bindings(self, preset_bindings: tuple[MidiBinding, ...], learned: tuple[MidiBinding, ...]) -> None:
        self.preset_bindings = tuple(preset_bindings)
        self.learned = tuple(learned)
        self.bindings = merge(self.preset_bindings, self.learned)

    def arm(self, target: str, arg: str = "") -> None:
        """Bind the next knob moved or pad hit to target ("" cancels). ValueError on an unknown name."""
        if target and target not in TARGETS:
            raise ValueError(f"MIDI learn: unknown target {target!r}; valid names: {', '.join(TARGETS)}")
        if target in ("preset", "model") and not arg:
            raise ValueError(f"MIDI learn: the {target!r} action needs the {target}'s name")
        self.armed, self._armed_arg = target, arg

    def save(self, path: Path) -> None:
        """Write the learned bindings beside the preset (OSError on a full or read-only disk)."""
        save_learned(path, self.learned)
        self.unsaved = False

    def route(self, event: c.MidiEvent) -> list[c.Command]:
        """The commands this event asks for ([] while it is being learned)."""
        kind = "note_off" if event.kind == "note_on" and event.value == 0 else event.kind  # running-status note-off
        self.last_control = f"{kind} {event.number} ch {event.channel + 1} = {event.value}"
        crossed = False
        if kind == "cc":
            key = (event.port, event.channel, event.number)
            crossed = self._cc_values.get(key, 0) < 64 <= event.value
            self._cc_values[key] = event.value
        if self.armed and kind in ("cc", "note_on"):
            self._learn(event)
            return []
        # Learned bindings win over the preset's, also over a preset's any-channel binding.
        matching = [b for b in self.learned if b.matches(kind, event.channel, event.number)]
        if not matching:
            matching = [b for b in self.bindings if b.matches(kind, event.channel, event.number)]
        commands: list[c.Command] = []
        for binding in matching:
            if is_action(binding):
                if kind == "note_on" or crossed:
                    size = event.value / 127.0 * 2.0 if kind == "note_on" else 1.0
                    commands.append(self._action(binding, size, event.t_s))
            else:
                lo, hi = binding.value_range()
                if kind == "cc":
                    commands.append(c.SetParam(binding.target, lo + (hi - lo) * event.value / 127.0))
                else:
                    commands.append(c.SetParam(binding.target, hi if kind == "note_on" else lo))
        return commands

    def _learn(self, event: c.MidiEvent) -> None:
        self.bind(event, self.armed, self._armed_arg)
        self.armed, self._armed_arg = "", ""

    def bind(self, event: c.MidiEvent, target: str, arg: str = "") -> MidiBinding:
        """Bind the control that sent event to target, replacing its old binding (learn, HUD page)."""
        binding = MidiBinding(
            number=event.number,
            target=target,
            kind="cc" if event.kind == "cc" else "note",
            channel=event.channel,
            arg=arg,
        )
        learned = tuple(b for b in self.learned if not b.same_control(binding)) + (binding,)
        self.set_bindings(self.preset_bindings, learned)
        self.last_learned = binding
        self.unsaved = True
        return binding

    def clear_learned(self) -> None:
        self.set_bindings(self.preset_bindings, ())
        self.unsaved = True

    def _action(self, binding: MidiBinding, size: float, t_s: float = 0.0) -> c.Command:
        match binding.target:
            case "pulse":
                return c.Pulse(size)
            case "keyframe":
                return c.NewKeyframe()
            case "tap":
                return c.Tap(t_s or self._clock())  # stamped on arrival when the input thread did
            case "snapshot":
                return c.Snapshot()
            case "record":
                return c.SetRecording(None)
            case "next_preset":
                return c.SwitchPreset("next")
            case "previous_preset":
                return c.SwitchPreset("previous")
            case "preset":
                return c.SwitchPreset(binding.arg)
            case "model":
                return c.SwitchModel(binding.arg)
            case "nudge_forward":
                return c.TempoNudge(self.nudge_beats)
            case "nudge_back":
                return c.TempoNudge(-self.nudge_beats)
        raise ValueError(f"unknown MIDI action {binding.target!r}")  # ACTIONS and this match disagree


def is_action(binding: MidiBinding) -> bool:
    """ "pulse" names both a parameter and an action: a pad (note) fires the jump, a knob (cc) sets the size."""
    if binding.target not in ACTIONS:
        return False
    return binding.kind == "note" or binding.target not in PARAMETER_RANGES
