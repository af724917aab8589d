"""Presets: an artist's description of how the room plays the picture, as a TOML file.

Declarative only — feature names, parameter names, numbers and choices; nothing is evaluated.
A preset that names an unknown feature or parameter is rejected with the file, the key and the
list of valid names.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from installation.config import ConfigError, _f, build_dataclass
from installation.control.bindings import MidiBinding, check_binding
from installation.mapping.names import FEATURES, PARAMETER_RANGES, PARAMETERS

PRESET_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "presets"


@dataclass(frozen=True)
class RuleConfig:
    source: str  # a feature name (see mapping/names.py)
    target: str  # a parameter name
    range: tuple[float, float] = (0.0, 1.0)  # what the rule adds at feature 0 and at feature 1
    curve: Literal["linear", "smooth", "exp", "log", "step"] = "linear"  # shape between the two
    smoothing_s: float = _f(0.1, 0.0, 60.0)  # time constant applied to the rule's output
    input_range: tuple[float, float] = (0.0, 1.0)  # feature values that map to 0 and 1 (e.g. 60..180 BPM)


@dataclass(frozen=True)
class WalkPreset:
    speed: float = _f(0.08, 0.0, 10.0)  # keyframes per second at speed multiplier 1
    loop_s: float = _f(0.0, 0.0, 3600.0)  # > 0: a perfect loop of this period instead of endless keyframes
    pulse_on: Literal["onset", "beat", "none"] = "onset"  # what triggers a pulse (taps always do)
    pulse_decay_s: float = _f(0.5, 0.05, 10.0)


@dataclass(frozen=True)
class GesturePreset:
    drag_gain: float = _f(2.5, 0.0, 50.0)  # latent units per screen width dragged
    decay_s: float = _f(6.0, 0.1, 600.0)  # how long a push takes to fade back into the walk
    pinch: Literal["diversity", "speed", "none"] = "diversity"  # what spreading two fingers changes
    rotate: bool = True  # two-finger rotation turns the drag plane
    tap: Literal["keyframe", "burst", "none"] = "burst"  # a tap drops a new keyframe or fires a pulse
    long_press: Literal["snapshot", "none"] = "snapshot"  # saves the generated picture (never the camera)
    long_press_s: float = _f(0.8, 0.2, 10.0)


@dataclass(frozen=True)
class MirrorPreset:
    enabled: bool = False  # visitors see themselves in the model's style (needs a model with an encoder)
    encoder: str = "auto"  # "auto" = the generator itself if it can encode, else a shipped VAE of the same z_dim
    mask: bool = True  # keep only the visitor's silhouette before encoding
    rate_hz: float = _f(8.0, 0.5, 60.0)  # encodes per second


@dataclass(frozen=True)
class EffectsPreset:
    frame_blend: bool = True  # crossfade between generator frames (smooth at any generator rate)
    kaleidoscope: int = _f(0, 0, 16)  # 0 = off, else mirrored segments
    upscale: Literal["smooth", "sharp"] = "smooth"  # how low-resolution models are enlarged
    palette: Literal["ink", "neon", "gold"] = "ink"  # field models: ink on paper, neon on black, gold on lacquer


@dataclass(frozen=True)
class AttractPreset:
    idle_s: float = _f(20.0, 1.0, 86400.0)  # nobody present or touching for this long -> attract loop
    reset_after_s: float = _f(600.0, 10.0, 604800.0)  # no interaction for this long -> back to the default preset
    speed: float = _f(0.3, 0.0, 10.0)  # speed multiplier while attracting (a slow dreamy loop)
    trails: float = _f(0.5, 0.0, 0.95)  # feedback while attracting
    wake_pulse: float = _f(2.0, 0.0, 5.0)  # the jump visitors see when they arrive


@dataclass(frozen=True)
class Preset:
    name: str  # shown in the HUD and stats
    description: str = ""  # what a visitor sees
    model: str = "auto"  # generator (see main.py --list-models)
    crossfade_s: float = _f(2.0, 0.0, 60.0)  # switching to this preset fades over this long
    params: dict[str, float] = field(default_factory=dict)  # base parameter values, e.g. {trails = 0.3}
    walk: WalkPreset = WalkPreset()
    rule: tuple[RuleConfig, ...] = ()  # [[rule]] tables
    gestures: GesturePreset = GesturePreset()
    mirror: MirrorPreset = MirrorPreset()
    effects: EffectsPreset = EffectsPreset()
    attract: AttractPreset = AttractPreset()
    midi: tuple[MidiBinding, ...] = ()  # [[midi]] tables: knobs and pads (MIDI learn adds <preset>.midi.json)
    path: str = ""  # where it was loaded from (set by the loader)

    def base(self, name: str) -> float:
        return self.params.get(name, PARAMETERS[name])


def _names_error(where: str, key: str, value: str, valid: tuple[str, ...] | list[str]) -> ConfigError:
    return ConfigError(f"{where}: {key}: unknown name {value!r}; valid names: {', '.join(valid)}")


def parse_preset(table: dict[str, Any], where: str) -> Preset:
    params = table.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: params: expected a table of parameter = number")
    clean: dict[str, float] = {}
    for key, value in params.items():
        if key not in PARAMETERS:
            raise _names_error(where, f"params.{key}", key, list(PARAMETERS))
        lo, hi = PARAMETER_RANGES[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ConfigError(f"{where}: params.{key}: expected a number from {lo} to {hi}, got {value!r}")
        clean[key] = float(value)
    rest = {k: v for k, v in table.items() if k != "params"}
    preset = build_dataclass(Preset, rest, where)
    for i, rule in enumerate(preset.rule):
        if rule.source not in FEATURES:
            raise _names_error(where, f"rule[{i}].source", rule.source, FEATURES)
        if rule.target not in PARAMETERS:
            raise _names_error(where, f"rule[{i}].target", rule.target, list(PARAMETERS))
        if rule.input_range[0] == rule.input_range[1]:
            raise ConfigError(f"{where}: rule[{i}].input_range: expected two different values")
    for i, binding in enumerate(preset.midi):
        check_binding(binding, where, f"midi[{i}]")
    return Preset(**{**preset.__dict__, "params": clean, "path": where})


def load_preset(spec: str, preset_dir: Path = PRESET_DIR) -> Preset:
    """A preset by name (assets/presets/NAME.toml) or path. ConfigError names the file and key."""
    path = Path(spec) if spec.endswith(".toml") else preset_dir / f"{spec}.toml"
    if not path.is_file():
        names = ", ".join(list_presets(preset_dir))
        raise ConfigError(f"{path}: preset not found (shipped presets: {names})")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read preset ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_preset(table, str(path))


def list_presets(preset_dir: Path = PRESET_DIR) -> list[str]:
    """Preset names in key order: files may start with a number ("1-calm-mirror") to fix it."""
    return [p.stem for p in sorted(preset_dir.glob("*.toml"))]
