"""Attract mode: a slow dreamy loop while nobody is there, a visible wake-up when someone arrives.

A small state machine driven by an explicit clock (t_s), so tests can run it with a manual clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from installation.mapping.presets import AttractPreset

PRESENT = 0.5  # presence at or above this counts as someone there
ENTER_TAU_S = 2.0  # drifting into the attract look is slow ...
LEAVE_TAU_S = 0.12  # ... leaving it is fast: the wake must be visible within half a second


@dataclass(frozen=True)
class AttractState:
    mode: str  # "active" | "attract"
    amount: float  # 0..1 how much of the attract look is applied (smoothed)
    wake: bool  # someone just arrived (this frame only)
    reset: bool  # nobody interacted for reset_after_s (fires once per lull)
    idle_s: float  # seconds since the last interaction


class AttractMode:
    def __init__(self, config: AttractPreset, t_s: float = 0.0) -> None:
        self.config = config
        self.mode = "active"
        self.amount = 0.0
        self._last_interaction_s = t_s
        self._last_t_s = t_s
        self._reset_fired = False

    def update(self, t_s: float, presence: float, touched: bool) -> AttractState:
        dt_s = max(0.0, t_s - self._last_t_s)
        self._last_t_s = t_s
        engaged = touched or presence >= PRESENT
        wake = False
        if engaged:
            self._last_interaction_s = t_s
            self._reset_fired = False
            if self.mode == "attract":
                self.mode, wake = "active", True
        idle_s = t_s - self._last_interaction_s
        if self.mode == "active" and idle_s >= self.config.idle_s:
            self.mode = "attract"
        reset = False
        if idle_s >= self.config.reset_after_s and not self._reset_fired:
            self._reset_fired = reset = True
        goal, tau = (1.0, ENTER_TAU_S) if self.mode == "attract" else (0.0, LEAVE_TAU_S)
        self.amount += (goal - self.amount) * (1.0 - math.exp(-dt_s / tau))
        return AttractState(self.mode, self.amount, wake, reset, idle_s)
