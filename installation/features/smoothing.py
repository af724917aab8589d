"""Frame-rate independent smoothing and normalisation: EMA, One-Euro, automatic gain."""

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


class AttackRelease:
    """EMA that rises with attack_s and falls with release_s (e.g. presence: quick on, slow off)."""

    def __init__(self, attack_s: float, release_s: float, value: float = 0.0) -> None:
        self.attack_s = attack_s
        self.release_s = release_s
        self.value = value

    def update(self, x: float, dt_s: float) -> float:
        tau_s = self.attack_s if x > self.value else self.release_s
        self.value += (x - self.value) * ema_alpha(dt_s, tau_s)
        return self.value


class OneEuro:
    """One-Euro filter (Casiez, Roussel, Vogel 2012): an EMA whose cutoff rises with the speed.

    At rest the cutoff is min_cutoff_hz (little jitter); when the value moves, beta raises it
    (little lag). Good for positions such as a face centre or the motion centroid.
    """

    def __init__(
        self, min_cutoff_hz: float = 1.0, beta: float = 0.5, d_cutoff_hz: float = 1.0, value: float | None = None
    ) -> None:
        self.min_cutoff_hz = min_cutoff_hz
        self.beta = beta
        self.d_cutoff_hz = d_cutoff_hz
        self.value = value
        self._speed = 0.0  # smoothed derivative, units per second

    @staticmethod
    def _tau_s(cutoff_hz: float) -> float:
        return 1.0 / (2.0 * math.pi * max(cutoff_hz, 1e-6))

    def update(self, x: float, dt_s: float) -> float:
        if self.value is None or dt_s <= 0.0:
            self.value = x if self.value is None else self.value
            return self.value
        speed = (x - self.value) / dt_s
        self._speed += (speed - self._speed) * ema_alpha(dt_s, self._tau_s(self.d_cutoff_hz))
        cutoff_hz = self.min_cutoff_hz + self.beta * abs(self._speed)
        self.value += (x - self.value) * ema_alpha(dt_s, self._tau_s(cutoff_hz))
        return self.value

    def reset(self, value: float | None = None) -> None:
        self.value = value
        self._speed = 0.0


class AutoGain:
    """Maps a raw value onto 0..1 by what it has recently been, so a quiet gallery and a loud club
    both drive the full range.

    lo follows the quietest recent value (falls at once, rises over rise_s); hi follows the
    loudest (rises at once, falls over fall_s). The window is at least min_span wide above lo, so a
    steady hum reads 0, not 1. Values at or below floor (a noise gate) read 0 and never widen
    the window: near-digital silence cannot be turned up into full scale.
    """

    def __init__(self, floor: float, min_span: float, rise_s: float = 8.0, fall_s: float = 15.0) -> None:
        self.floor = floor
        self.min_span = min_span
        self.rise_s = rise_s
        self.fall_s = fall_s
        self.lo = floor
        self.hi = floor + min_span
        self.raw = floor
        self.value = 0.0

    def update(self, x: float, dt_s: float) -> float:
        self.raw = x
        gated = max(x, self.floor)
        if gated < self.lo:
            self.lo = gated
        else:
            self.lo += (gated - self.lo) * ema_alpha(dt_s, self.rise_s)
        if gated > self.hi:
            self.hi = gated
        else:
            self.hi += (gated - self.hi) * ema_alpha(dt_s, self.fall_s)
        lo, hi = self.range()
        self.value = 0.0 if x <= self.floor else min(1.0, max(0.0, (x - lo) / (hi - lo)))
        return self.value

    def range(self) -> tuple[float, float]:
        """The (lo, hi) raw values that map to 0 and 1 right now."""
        return self.lo, max(self.hi, self.lo + self.min_span)
