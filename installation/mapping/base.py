"""The interface between senses and the generator: a mapping turns features into a latent."""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from installation.sources.touch import TouchFrame


@dataclass(frozen=True)
class LatentState:
    z: np.ndarray  # (1, z_dim) float32: what the generator renders next
    walk_speed: float  # keyframes per second right now
    latent_speed: float  # |dz| / dt_s: how fast the picture is travelling through latent space
    nudge: float  # size of the touch offset still in effect


class Mapping(Protocol):
    """Anything that, once per display frame, turns features and touch into a latent state."""

    z_dim: int

    def update(self, dt_s: float, features: MappingType[str, float], touch: TouchFrame) -> LatentState: ...
