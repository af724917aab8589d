"""Real torch modules that fail on purpose, for fault tests (they follow the generator protocol)."""

from __future__ import annotations

import torch


class Exploding(torch.nn.Module):
    """Raises on every forward."""

    img_resolution = 8
    img_channels = 3

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("model exploded")


class NanForever(Exploding):
    """Returns a NaN picture on every forward."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.full((1, 3, 8, 8), float("nan"))
