"""MIDI bindings: which knob or pad drives which parameter or action. Saved with the preset.

A preset may list them as [[midi]] tables; bindings learned in the show (MIDI learn) are saved
beside the preset as <preset>.midi.json and win over the preset's for the same control.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from installation.config import ConfigError, _f, build_dataclass
from installation.mapping.names import PARAMETER_RANGES, PARAMETERS

log = logging.getLogger(__name__)

# What a binding can do besides setting a parameter. "preset"/"model" take the binding's arg.
ACTIONS: dict[str, str] = {
    "pulse": "a jump through latent space (note velocity = size)",
    "keyframe": "head for a fresh keyframe now",
    "tap": "tap tempo",
    "snapshot": "save the generated picture",
    "record": "start/stop recording",
    "next_preset": "the next preset (on the next bar when quantised)",
    "previous_preset": "the previous preset",
    "preset": "the preset named by arg",
    "model": "the model named by arg",
    "nudge_forward": "shift the beat grid by tempo.nudge_beats: the next beat comes sooner",
    "nudge_back": "shift the beat grid back by tempo.nudge_beats: the next beat comes later",
}
TARGETS: tuple[str, ...] = tuple(dict.fromkeys((*PARAMETERS, *ACTIONS)))  # "pulse" is both


@dataclass(frozen=True)
class MidiBinding:
    number: int = _f(0, 0, 127)  # controller (cc) or note number
    target: str = ""  # a parameter name (cc: absolute value) or an action (fires on note-on / cc >= 64)
    kind: Literal["cc", "note"] = "cc"
    channel: int = _f(-1, -1, 15)  # 0..15, or -1 for any channel
    range: tuple[float, float] = (0.0, 0.0)  # parameter value at 0 and at 127; (0, 0) = the parameter's whole range
    arg: str = ""  # the preset or model for the "preset"/"model" actions

    def matches(self, kind: str, channel: int, number: int) -> bool:
        wanted = "note" if kind in ("note_on", "note_off") else kind
        return wanted == self.kind and number == self.number and self.channel in (-1, channel)

    def value_range(self) -> tuple[float, float]:
        if self.range != (0.0, 0.0) or self.target not in PARAMETER_RANGES:
            return self.range
        return PARAMETER_RANGES[self.target]

    def same_control(self, other: MidiBinding) -> bool:
        return (self.kind, self.number, self.channel) == (other.kind, other.number, other.channel)


def check_binding(binding: MidiBinding, where: str, key: str) -> MidiBinding:
    """ConfigError naming the key when the target is unknown or an action lacks its arg."""
    if binding.target not in TARGETS:
        raise ConfigError(f"{where}: {key}.target: unknown name {binding.target!r}; valid names: {', '.join(TARGETS)}")
    if binding.target in ("preset", "model") and not binding.arg:
        raise ConfigError(f"{where}: {key}.arg: the {binding.target!r} action needs the {binding.target}'s name in arg")
    return binding


def sidecar_path(preset_path: str) -> Path | None:
    return Path(preset_path).with_suffix(".midi.json") if preset_path else None


def load_learned(path: Path) -> tuple[MidiBinding, ...]:
    """Bindings saved by MIDI learn; a broken file is reported and ignored (ValueError)."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(items, list):
            raise ValueError("expected a list of bindings")
        return tuple(
            check_binding(build_dataclass(MidiBinding, item, str(path), f"[{i}]."), str(path), f"[{i}]")
            for i, item in enumerate(items)
        )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, ConfigError) as exc:
        raise ValueError(f"{path}: MIDI bindings not loaded ({exc})") from None


def save_learned(path: Path, bindings: tuple[MidiBinding, ...]) -> None:
    """Atomically replace the sidecar file (OSError on a full or read-only disk)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps([asdict(b) for b in bindings], indent=1), encoding="utf-8")
    os.replace(tmp, path)


def merge(base: tuple[MidiBinding, ...], learned: tuple[MidiBinding, ...]) -> tuple[MidiBinding, ...]:
    """Learned bindings replace the preset's for the same control."""
    return tuple(b for b in base if not any(b.same_control(x) for x in learned)) + learned


def describe(binding: MidiBinding) -> str:
    channel = "any" if binding.channel < 0 else str(binding.channel + 1)
    arg = f" {binding.arg}" if binding.arg else ""
    return f"{binding.kind} {binding.number} (ch {channel}) -> {binding.target}{arg}"
