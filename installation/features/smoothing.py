"""Frame-rate independent smoothing."""

from __future__ import annotations

import math


def ema_alpha(dt_s: float, tau_s: float) -> float:
    """Blend factor of an exponential moving average with time constant tau_s over a step dt_s."""
    if tau_s <= 0.0:
        return 1.0
    return 1.0 - math.exp(-max(dt_s, 0.0) / tau_s)


class Ema:
    """Exponential moving average whose response does not depend on the frame rate."""

    def __init__(self, tau_s: float, value: float = 0.0) -> None:
        self.tau_s = tau_s
        self.value = value

    def update(self, x: float, dt_s: float) -> float:
        self.value += (x - self.value) * ema_alpha(dt_s, self.tau_s)
        return self.value
