"""Learn by demonstration (as Wekinator does, in the app): record (features -> latent) pairs in a
setup mode, fit a small regressor, save it beside the preset, and let it steer the show live.

Ridge regression on standardised features, in numpy; saved as plain JSON (never a pickle).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

DEFAULT_FEATURES = (
    "loudness",
    "band_low",
    "band_high",
    "spectral_centroid",
    "motion",
    "motion_x",
    "motion_y",
    "presence",
    "brightness",
    "hue",
)
RIDGE = 0.1


class Demonstrations:
    def __init__(self, feature_names: Sequence[str] = DEFAULT_FEATURES) -> None:
        self.feature_names = tuple(feature_names)
        self.inputs: list[list[float]] = []
        self.latents: list[list[float]] = []

    def vector(self, features: Mapping[str, float]) -> np.ndarray:
        return np.array([features.get(n, 0.0) for n in self.feature_names], dtype=np.float64)

    def record(self, features: Mapping[str, float], z: np.ndarray) -> int:
        self.inputs.append(self.vector(features).tolist())
        self.latents.append(np.asarray(z, dtype=np.float64).ravel().tolist())
        return len(self.inputs)

    def clear(self) -> None:
        self.inputs.clear()
        self.latents.clear()

    def fit(self) -> LearnedMapping:
        if len(self.inputs) < 2:
            raise ValueError("record at least two examples before fitting")
        return LearnedMapping.fit(self.feature_names, np.array(self.inputs), np.array(self.latents))


class LearnedMapping:
    def __init__(
        self,
        feature_names: Sequence[str],
        mean: np.ndarray,
        std: np.ndarray,
        weights: np.ndarray,
        bias: np.ndarray,
        examples: int,
    ) -> None:
        self.feature_names = tuple(feature_names)
        self.mean, self.std, self.weights, self.bias = mean, std, weights, bias  # weights (F, z_dim)
        self.examples = examples

    @property
    def z_dim(self) -> int:
        return int(self.bias.shape[0])

    @classmethod
    def fit(cls, names: Sequence[str], x: np.ndarray, z: np.ndarray) -> LearnedMapping:
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
        xs = (x - mean) / std
        bias = z.mean(axis=0)
        gram = xs.T @ xs + RIDGE * np.eye(xs.shape[1])
        weights = np.linalg.solve(gram, xs.T @ (z - bias))  # (F, z_dim)
        return cls(names, mean, std, weights, bias, len(x))

    def predict(self, features: Mapping[str, float]) -> np.ndarray:
        x = np.array([features.get(n, 0.0) for n in self.feature_names])
        return ((x - self.mean) / self.std) @ self.weights + self.bias

    def save(self, path: Path) -> None:
        data = {
            "format": "reverie-learned/1",
            "features": list(self.feature_names),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias.tolist(),
            "examples": self.examples,
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LearnedMapping:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != "reverie-learned/1":
                raise ValueError(f"format is {data.get('format')!r}")
            arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "std", "weights", "bias")]
            names = [str(n) for n in data["features"]]
            mean, std, weights, bias = arrays
            if not (mean.shape == std.shape == (len(names),) and weights.shape == (len(names), bias.shape[0])):
                raise ValueError("array shapes do not agree")
            if not all(np.isfinite(a).all() for a in arrays):
                raise ValueError("non-finite values")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a usable learned mapping ({exc})") from None
        return cls(names, mean, std, weights, bias, int(data.get("examples", 0)))
