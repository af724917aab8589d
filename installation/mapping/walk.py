"""Latent navigation primitives, combined into one walk.

    z = diversity * (path + drift) + nudge + pulse + steer, then pulled toward a target (mirror)

- path: slerp between keyframes (endless), or a perfect loop of a chosen period;
- drift: smooth noise on top; pulse: an onset/tap jumps along a direction and decays;
- nudge: touch drags in a 2-D plane of the latent space (pinch/rotate change the plane);
- steer: camera flow moves along the model's two principal directions;
- diversity: truncation (0 = the average image).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from installation.mapping.base import LatentState


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation; keeps Gaussian latents at a typical norm (lerp would shrink them)."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = float(np.dot(a, b) / max(na * nb, 1e-12))
    omega = math.acos(min(1.0, max(-1.0, cos)))
    if omega < 1e-6:
        return (1.0 - t) * a + t * b
    s = math.sin(omega)
    return (math.sin((1.0 - t) * omega) / s) * a + (math.sin(t * omega) / s) * b


@dataclass(frozen=True)
class WalkInputs:
    """What moves the walk this frame, besides time."""

    speed_kf_s: float = 0.08  # keyframes per second (keyframe mode)
    speed_mult: float = 1.0  # loop mode: 1 = one turn per loop_s
    loop_s: float = 0.0  # > 0: perfect loop of this period
    diversity: float = 1.0
    drift: float = 0.0
    drag: tuple[float, float] = (0.0, 0.0)  # latent units along the drag plane this frame
    plane_turn: float = 0.0  # radians to rotate the drag plane by
    decay_s: float = 6.0  # nudge fade time
    pulse: float = 0.0  # > 0 fires a pulse of this size now
    pulse_decay_s: float = 0.5
    steer: tuple[float, float] = (0.0, 0.0)  # latent units per second along the principal directions
    new_keyframe: bool = False  # jump the walk toward a fresh keyframe now
    target: np.ndarray | None = None  # (z_dim,) latent to pull toward (mirror, learned mapping)
    pull: float = 0.0  # 0..1


class LatentWalk:
    def __init__(
        self, z_dim: int, seed: int = 1, choose_keyframe: Callable[[np.random.Generator], np.ndarray] | None = None
    ) -> None:
        self.z_dim = z_dim
        self._rng = np.random.default_rng(seed)
        self.choose_keyframe = choose_keyframe or (lambda rng: rng.standard_normal(z_dim))
        self._k0 = self._rng.standard_normal(z_dim)
        self._k1 = self.choose_keyframe(self._rng)
        self._phase = 0.0  # 0..1 between keyframe k0 and k1
        self._loop_theta = 0.0
        self._loop_a, self._loop_b = self._rng.standard_normal((2, z_dim))
        basis = np.linalg.qr(self._rng.standard_normal((z_dim, 4)))[0]  # orthonormal directions
        self._u, self._v = basis[:, 0], basis[:, 1]  # drag plane
        self.principal = basis[:, 2:4].T.copy()  # (2, z_dim): replaced by the model's own (directions.py)
        self._drift_freq = self._rng.uniform(0.05, 0.3, size=(3, z_dim))  # Hz, 3 octaves of smooth noise
        self._drift_phase = self._rng.uniform(0, 2 * np.pi, size=(3, z_dim))
        self._nudge = np.zeros(z_dim)
        self._steer = np.zeros(z_dim)
        self._pulse_dir = np.zeros(z_dim)
        self._pulse_amp = 0.0
        self._t_s = 0.0
        self._z = self._compose(WalkInputs())

    # ----------------------------------------------------------------- pieces
    def _path(self, loop_s: float) -> np.ndarray:
        if loop_s > 0:  # a great circle through two random latents: returns exactly to its start
            return math.cos(self._loop_theta) * self._loop_a + math.sin(self._loop_theta) * self._loop_b
        return slerp(self._k0, self._k1, self._phase)

    def _drift(self) -> np.ndarray:
        waves = np.sin(2 * np.pi * self._drift_freq * self._t_s + self._drift_phase)  # (3, z_dim)
        return (waves * np.array([[1.0], [0.5], [0.25]])).sum(axis=0) / 1.3

    def _compose(self, inputs: WalkInputs) -> np.ndarray:
        z = inputs.diversity * (self._path(inputs.loop_s) + inputs.drift * self._drift())
        z = z + self._nudge + self._steer + self._pulse_amp * self._pulse_dir
        if inputs.target is not None and inputs.pull > 0:
            z = z + min(1.0, inputs.pull) * (inputs.target - z)
        return z

    # ----------------------------------------------------------------- per frame
    def update(self, dt_s: float, inputs: WalkInputs) -> LatentState:
        self._t_s += dt_s
        if inputs.loop_s > 0:  # one turn per loop_s at speed multiplier 1
            self._loop_theta = (self._loop_theta + 2 * math.pi * dt_s * inputs.speed_mult / inputs.loop_s) % (
                2 * math.pi
            )
        else:
            self._phase += inputs.speed_kf_s * dt_s
            while self._phase >= 1.0:  # next keyframe; the path stays continuous
                self._phase -= 1.0
                self._k0, self._k1 = self._k1, self.choose_keyframe(self._rng)
        if inputs.new_keyframe and inputs.loop_s <= 0:
            self._k0 = slerp(self._k0, self._k1, self._phase)  # from here, continuously ...
            self._k1 = self.choose_keyframe(self._rng)  # ... toward somewhere new
            self._phase = 0.0
        if inputs.plane_turn:
            c, s = math.cos(inputs.plane_turn), math.sin(inputs.plane_turn)
            self._u, self._v = c * self._u + s * self._v, -s * self._u + c * self._v
        fade = math.exp(-dt_s / inputs.decay_s)
        self._nudge = self._nudge * fade + inputs.drag[0] * self._u + inputs.drag[1] * self._v
        self._steer = self._steer * fade + dt_s * (
            inputs.steer[0] * self.principal[0] + inputs.steer[1] * self.principal[1]
        )
        self._pulse_amp *= math.exp(-dt_s / inputs.pulse_decay_s)
        if inputs.pulse > 0:
            direction = self._rng.standard_normal(self.z_dim)
            self._pulse_dir = direction / np.linalg.norm(direction)
            self._pulse_amp = inputs.pulse * math.sqrt(self.z_dim) * 0.5
        z = self._compose(inputs)
        step = float(np.linalg.norm(z - self._z))
        self._z = z
        return LatentState(
            z=z.astype(np.float32)[None, :],
            walk_speed=inputs.speed_kf_s,
            latent_speed=step / dt_s if dt_s > 0 else 0.0,
            nudge=float(np.linalg.norm(self._nudge)),
        )

    @property
    def z(self) -> np.ndarray:
        return self._z

    # ----------------------------------------------------------------- persistence
    def export_state(self) -> dict[str, Any]:
        """Where the walk is, as plain JSON values, so a restarted show continues from here."""
        return {
            "z_dim": self.z_dim,
            "k0": self._k0.tolist(),
            "k1": self._k1.tolist(),
            "phase": self._phase,
            "loop_theta": self._loop_theta,
            "nudge": self._nudge.tolist(),
            "t_s": self._t_s,
            "rng": self._rng.bit_generator.state,
        }

    def import_state(self, state: Mapping[str, Any]) -> None:
        """Continue from an exported state; ValueError (and no change) if it does not fit this walk."""
        try:
            k0, k1, nudge = (np.asarray(state[k], dtype=np.float64) for k in ("k0", "k1", "nudge"))
            phase, theta, t_s = float(state["phase"]), float(state["loop_theta"]), float(state["t_s"])
            if int(state["z_dim"]) != self.z_dim or not all(v.shape == (self.z_dim,) for v in (k0, k1, nudge)):
                raise ValueError(f"state is for z_dim {state['z_dim']}, this model has {self.z_dim}")
            if (
                not (0.0 <= phase < 1.0)
                or not all(map(math.isfinite, (theta, t_s)))
                or not all(np.isfinite(v).all() for v in (k0, k1, nudge))
            ):
                raise ValueError("state holds out-of-range or non-finite values")
            rng = np.random.default_rng()
            rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"state is missing or has a malformed field ({exc})") from None
        self._k0, self._k1, self._nudge, self._phase, self._rng = k0, k1, nudge, phase, rng
        self._loop_theta, self._t_s = theta, t_s
        self._z = self._compose(WalkInputs())
