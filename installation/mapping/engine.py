"""The preset-driven mapping: features + touch -> latent z and effect parameters, once per frame.

Owns the walk (which persists across preset switches, so the picture never jumps), the rule
engine of the current preset, gestures, attract mode, engagement statistics and the optional
mirror/learned targets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from installation.features.smoothing import Ema
from installation.mapping.attract import AttractMode, AttractState
from installation.mapping.base import LatentState
from installation.mapping.engagement import Engagement
from installation.mapping.gestures import GestureRecognizer, Gestures
from installation.mapping.learn import LearnedMapping
from installation.mapping.names import PARAMETER_RANGES
from installation.mapping.presets import Preset
from installation.mapping.rules import RuleEngine
from installation.mapping.walk import LatentWalk, WalkInputs
from installation.sources.touch import TouchFrame

TAP_PULSE = 1.0  # a tap's burst, added to the preset's pulse parameter


@dataclass(frozen=True)
class MappingOutput:
    state: LatentState
    params: dict[str, float]
    attract: AttractState
    gestures: Gestures
    snapshot: bool  # a long-press asked for a snapshot this frame


class PresetMapping:
    def __init__(self, z_dim: int, preset: Preset, seed: int = 1, t_s: float = 0.0, aspect: float = 16 / 9) -> None:
        self.z_dim = z_dim
        self.engagement = Engagement(z_dim)
        self.walk = LatentWalk(z_dim, seed, choose_keyframe=self.engagement.choose_keyframe)
        self.gestures = GestureRecognizer(aspect, preset.gestures.long_press_s)
        self._touch = Ema(1.0)
        self._pinch_log = 0.0
        self._counts: dict[str, float | None] = {"onset_count": None, "beat_count": None}
        self.mirror_target: np.ndarray | None = None
        self.learned: LearnedMapping | None = None
        self.params: dict[str, float] = {}
        self.overrides: dict[str, float] = {}  # a performer's base values (OSC/MIDI), kept across presets
        self._extra_pulse = 0.0  # from controllers, applied on the next update
        self._extra_keyframe = False
        self._extra_drag = (0.0, 0.0)
        self._set(preset, t_s, crossfade=False)

    # ------------------------------------------------------------------ presets
    def _set(self, preset: Preset, t_s: float, crossfade: bool) -> None:
        self.preset = preset
        self.rules = RuleEngine(preset)
        self.attract = AttractMode(preset.attract, t_s)
        self.gestures.long_press_s = preset.gestures.long_press_s
        self._from_params = dict(self.params) if crossfade and self.params else None
        self._t_switch_s = t_s

    def set_preset(self, preset: Preset, t_s: float) -> None:
        """Switch rules and parameters, fading the parameters over the new preset's crossfade_s."""
        self._set(preset, t_s, crossfade=True)

    def inject(self, pulse: float = 0.0, keyframe: bool = False, drag: tuple[float, float] = (0.0, 0.0)) -> None:
        """A controller's pulse, keyframe jump or push, taken on the next update."""
        self._extra_pulse = max(self._extra_pulse, pulse)
        self._extra_keyframe = self._extra_keyframe or keyframe
        self._extra_drag = (self._extra_drag[0] + drag[0], self._extra_drag[1] + drag[1])

    def set_principal(self, directions: np.ndarray) -> None:
        if directions.shape == (2, self.z_dim):
            self.walk.principal = directions

    # ------------------------------------------------------------------ per frame
    def update(self, dt_s: float, t_s: float, features: Mapping[str, float], touch: TouchFrame) -> MappingOutput:
        p = self.preset
        g = self.gestures.update(touch, t_s)
        touching = g.fingers > 0 or g.taps > 0
        features = {**features, "touch": self._touch.update(1.0 if touching else 0.0, dt_s)}
        params = self.rules.update(dt_s, features, self.overrides)
        presence = features.get("presence", 0.0)
        attract = self.attract.update(t_s, presence, touching)
        a = attract.amount
        params["trails"] = max(params["trails"], a * p.attract.trails)
        params = self._crossfade(params, t_s)

        pulse, new_keyframe = 0.0, False
        for key, trigger in (("onset_count", "onset"), ("beat_count", "beat")):
            count, last = features.get(key), self._counts[key]
            if count is not None and last is not None and count > last and p.walk.pulse_on == trigger:
                pulse = max(pulse, params["pulse"])
            self._counts[key] = count
        if g.taps:
            if p.gestures.tap == "burst":
                pulse = max(pulse, TAP_PULSE + params["pulse"])
            elif p.gestures.tap == "keyframe":
                new_keyframe = True
        if attract.wake:
            pulse, new_keyframe = max(pulse, p.attract.wake_pulse), True
        pulse, new_keyframe = max(pulse, self._extra_pulse), new_keyframe or self._extra_keyframe
        drag = (
            p.gestures.drag_gain * g.pan[0] + self._extra_drag[0],
            p.gestures.drag_gain * g.pan[1] + self._extra_drag[1],
        )
        self._extra_pulse, self._extra_keyframe, self._extra_drag = 0.0, False, (0.0, 0.0)

        self._pinch_log = self._pinch_log * math.exp(-dt_s / p.gestures.decay_s) + g.pinch
        spread = math.exp(self._pinch_log)
        speed, diversity = params["speed"], params["diversity"]
        if p.gestures.pinch == "diversity":
            diversity = min(PARAMETER_RANGES["diversity"][1], diversity * spread)
        elif p.gestures.pinch == "speed":
            speed *= spread * spread
        speed *= (1.0 - a) + a * p.attract.speed

        target, pull = None, 0.0
        if self.mirror_target is not None and params["mirror_pull"] > 0 and p.mirror.enabled:
            target, pull = self.mirror_target, params["mirror_pull"] * min(1.0, presence * 1.5)
        elif self.learned is not None and params["learned_pull"] > 0:
            target, pull = self.learned.predict(features), params["learned_pull"]

        motion = features.get("motion", 0.0)
        steer = params["steer"] * motion
        inputs = WalkInputs(
            speed_kf_s=p.walk.speed * speed,
            speed_mult=speed,
            loop_s=p.walk.loop_s,
            diversity=diversity,
            drift=params["drift"],
            drag=drag,
            plane_turn=g.rotate if p.gestures.rotate else 0.0,
            decay_s=p.gestures.decay_s,
            pulse=pulse,
            pulse_decay_s=p.walk.pulse_decay_s,
            steer=(steer * features.get("motion_x", 0.0), steer * features.get("motion_y", 0.0)),
            new_keyframe=new_keyframe,
            target=target,
            pull=pull,
        )
        state = self.walk.update(dt_s, inputs)
        self.engagement.observe(self.walk.z, dt_s, presence >= 0.5, g.taps)
        self.params = params
        snapshot = g.long_press is not None and p.gestures.long_press == "snapshot"
        return MappingOutput(state, params, attract, g, snapshot)

    def _crossfade(self, params: dict[str, float], t_s: float) -> dict[str, float]:
        if self._from_params is None:
            return params
        k = (t_s - self._t_switch_s) / max(self.preset.crossfade_s, 1e-6)
        if k >= 1.0:
            self._from_params = None
            return params
        k = k * k * (3 - 2 * k)
        return {n: self._from_params.get(n, v) + (v - self._from_params.get(n, v)) * k for n, v in params.items()}

    # ------------------------------------------------------------------ persistence
    def export_state(self) -> dict[str, Any]:
        return {"walk": self.walk.export_state(), "engagement": self.engagement.export_state()}

    def import_state(self, state: Mapping[str, Any]) -> None:
        """ValueError if it does not fit; the walk and the statistics are restored independently."""
        errors = []
        for key, target in (("walk", self.walk), ("engagement", self.engagement)):
            if key in state:
                try:
                    target.import_state(state[key])
                except ValueError as exc:
                    errors.append(f"{key}: {exc}")
        if errors:
            raise ValueError("; ".join(errors))
