"""Audience feedback, privacy-safe: which regions of the latent space held people's attention.

Only aggregates are kept — seconds of presence and touch counts per region, no images, no
identities. The idle walk then prefers regions that held attention (the seed essay's
evaluate-and-feedback loop, with the audience as the evaluator).
"""

from __future__ import annotations

from typing import Any

import numpy as np

TOUCH_WEIGHT_S = 5.0  # one touch counts as much as five seconds of dwelling
BIAS = 0.6  # share of new keyframes drawn near engaging regions once there is data


class Engagement:
    def __init__(self, z_dim: int, regions: int = 24, seed: int = 11) -> None:
        rng = np.random.default_rng(seed)
        self.z_dim = z_dim
        self.anchors = rng.standard_normal((regions, z_dim))  # region centres
        self._unit = self.anchors / np.linalg.norm(self.anchors, axis=1, keepdims=True)
        self.dwell_s = np.zeros(regions)
        self.touches = np.zeros(regions)

    def region(self, z: np.ndarray) -> int:
        return int(np.argmax(self._unit @ (z / max(float(np.linalg.norm(z)), 1e-9))))

    def observe(self, z: np.ndarray, dt_s: float, present: bool, touches: int) -> None:
        if not present and touches == 0:
            return
        k = self.region(z)
        if present:
            self.dwell_s[k] += dt_s
        self.touches[k] += touches

    def scores(self) -> np.ndarray:
        return self.dwell_s + TOUCH_WEIGHT_S * self.touches

    def choose_keyframe(self, rng: np.random.Generator) -> np.ndarray:
        """A new keyframe: usually near a region people liked, sometimes anywhere (keeps exploring)."""
        scores = self.scores()
        if scores.sum() <= 0 or rng.random() > BIAS:
            return rng.standard_normal(self.z_dim)
        weights = np.sqrt(scores) / np.sqrt(scores).sum()  # sqrt: favourites lead, others still appear
        k = int(rng.choice(len(weights), p=weights))
        return 0.8 * self.anchors[k] + 0.6 * rng.standard_normal(self.z_dim)  # near, not identical

    def reset(self) -> None:
        self.dwell_s[:] = 0.0
        self.touches[:] = 0.0

    def export_state(self) -> dict[str, Any]:
        return {"z_dim": self.z_dim, "dwell_s": self.dwell_s.round(3).tolist(), "touches": self.touches.tolist()}

    def import_state(self, state: dict[str, Any]) -> None:
        dwell = np.asarray(state.get("dwell_s", []), dtype=np.float64)
        touches = np.asarray(state.get("touches", []), dtype=np.float64)
        if state.get("z_dim") != self.z_dim or dwell.shape != self.dwell_s.shape or touches.shape != self.touches.shape:
            raise ValueError("engagement statistics are for another model or region count")
        if not (np.isfinite(dwell).all() and np.isfinite(touches).all()) or (dwell < 0).any() or (touches < 0).any():
            raise ValueError("engagement statistics hold negative or non-finite values")
        self.dwell_s, self.touches = dwell, touches
