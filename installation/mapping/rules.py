"""Rules: feature -> parameter contributions, with a curve, a range and smoothing. Pure and cheap."""

from __future__ import annotations

import math
from collections.abc import Mapping

from installation.features.smoothing import ema_alpha
from installation.mapping.names import PARAMETER_RANGES, PARAMETERS
from installation.mapping.presets import Preset, RuleConfig


def shape(curve: str, x: float) -> float:
    """Map 0..1 onto 0..1 along a named curve."""
    x = min(1.0, max(0.0, x))
    if curve == "smooth":
        return x * x * (3.0 - 2.0 * x)
    if curve == "exp":  # quiet inputs do little, loud ones a lot
        return (math.exp(3.0 * x) - 1.0) / (math.exp(3.0) - 1.0)
    if curve == "log":  # quiet inputs already do a lot
        return math.log1p(9.0 * x) / math.log(10.0)
    if curve == "step":
        return 1.0 if x >= 0.5 else 0.0
    return x


def rule_output(rule: RuleConfig, feature_value: float) -> float:
    lo_in, hi_in = rule.input_range
    x = (feature_value - lo_in) / (hi_in - lo_in)
    lo, hi = rule.range
    return lo + (hi - lo) * shape(rule.curve, x)


class RuleEngine:
    """Evaluates a preset's rules every frame; parameters = preset base + smoothed rule outputs."""

    def __init__(self, preset: Preset) -> None:
        self.preset = preset
        self._smoothed = [rule_output(r, 0.0) for r in preset.rule]

    def update(
        self, dt_s: float, features: Mapping[str, float], base: Mapping[str, float] | None = None
    ) -> dict[str, float]:
        """base: a performer's values (OSC/MIDI) that replace the preset's base for those parameters."""
        base = base or {}
        params = {name: base.get(name, self.preset.base(name)) for name in PARAMETERS}
        for i, rule in enumerate(self.preset.rule):
            target = rule_output(rule, features.get(rule.source, 0.0))
            self._smoothed[i] += (target - self._smoothed[i]) * ema_alpha(dt_s, rule.smoothing_s)
            params[rule.target] += self._smoothed[i]
        return {k: min(PARAMETER_RANGES[k][1], max(PARAMETER_RANGES[k][0], v)) for k, v in params.items()}
