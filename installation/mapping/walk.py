"""The first mapping: a latent walk that sound, motion and touch push around.

A slerp between seeded random keyframes moves at a base speed with nobody there; loudness and
camera motion speed it up; a touch drag nudges the latent along two fixed directions, and the
nudge fades so the walk always comes home.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from installation.config import MappingConfig
from installation.features.smoothing import Ema
from installation.mapping.base import LatentState
from installation.sources.touch import TouchFrame


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation; keeps Gaussian latents at a typical norm (lerp would shrink them)."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = float(np.dot(a, b) / max(na * nb, 1e-12))
    omega = math.acos(min(1.0, max(-1.0, cos)))
    if omega < 1e-6:
        return (1.0 - t) * a + t * b
    s = math.sin(omega)
    return (math.sin((1.0 - t) * omega) / s) * a + (math.sin(t * omega) / s) * b


class LatentWalk:
    """Mapping: (features, touch) -> latent z, advanced every display frame."""

    def __init__(self, z_dim: int, config: MappingConfig) -> None:
        self.z_dim = z_dim
        self.config = config
        self._rng = np.random.default_rng(config.seed)
        self._k0 = self._rng.standard_normal(z_dim)
        self._k1 = self._rng.standard_normal(z_dim)
        self._phase = 0.0  # 0..1 between keyframe k0 and k1
        basis = np.linalg.qr(self._rng.standard_normal((z_dim, 2)))[0]  # two orthonormal directions
        self._u, self._v = basis[:, 0], basis[:, 1]
        self._nudge = np.zeros(z_dim)
        self._speed = Ema(config.smoothing_s, config.walk_speed)
        self._z = self._current()

    def _current(self) -> np.ndarray:
        return slerp(self._k0, self._k1, self._phase) + self._nudge

    def export_state(self) -> dict[str, Any]:
        """Where the walk is, as plain JSON values, so a restarted show continues from here."""
        return {"z_dim": self.z_dim, "k0": self._k0.tolist(), "k1": self._k1.tolist(), "phase": self._phase,
                "nudge": self._nudge.tolist(), "speed": self._speed.value, "rng": self._rng.bit_generator.state}

    def import_state(self, state: Mapping[str, Any]) -> None:
        """Continue from an exported state; ValueError (and no change) if it does not fit this walk."""
        try:
            k0, k1, nudge = (np.asarray(state[k], dtype=np.float64) for k in ("k0", "k1", "nudge"))
            phase, speed = float(state["phase"]), float(state["speed"])
            if int(state["z_dim"]) != self.z_dim or not all(v.shape == (self.z_dim,) for v in (k0, k1, nudge)):
                raise ValueError(f"state is for z_dim {state['z_dim']}, this model has {self.z_dim}")
            if not (0.0 <= phase < 1.0) or not math.isfinite(speed) or not all(np.isfinite(v).all() for v in (k0, k1, nudge)):
                raise ValueError("state holds out-of-range or non-finite values")
            rng = np.random.default_rng()
            rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"state is missing or has a malformed field ({exc})") from None
        self._k0, self._k1, self._nudge, self._phase, self._rng = k0, k1, nudge, phase, rng
        self._speed.value = speed
        self._z = self._current()

    def update(self, dt_s: float, features: Mapping[str, float], touch: TouchFrame) -> LatentState:
        c = self.config
        drive = 1.0 + c.loudness_gain * features.get("loudness", 0.0) + c.motion_gain * features.get("motion", 0.0)
        speed = self._speed.update(c.walk_speed * drive, dt_s)  # keyframes per second
        self._phase += speed * dt_s
        while self._phase >= 1.0:  # step to the next keyframe; the path stays continuous
            self._phase -= 1.0
            self._k0, self._k1 = self._k1, self._rng.standard_normal(self.z_dim)
        self._nudge *= math.exp(-dt_s / c.touch_decay_s)
        self._nudge += c.touch_gain * (touch.drag_dx * self._u + touch.drag_dy * self._v)
        z = self._current()
        step = float(np.linalg.norm(z - self._z))
        self._z = z
        return LatentState(
            z=z.astype(np.float32)[None, :],
            walk_speed=speed,
            latent_speed=step / dt_s if dt_s > 0 else 0.0,
            nudge=float(np.linalg.norm(self._nudge)),
        )
