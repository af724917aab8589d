"""The one protocol every generator follows, so the runtime never hard-codes sizes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Generator(Protocol):
    """A latent-to-image model: forward(z) with z (B, z_dim) returns (B, C, H, W) in [-1, 1]."""

    z_dim: int  # length of one latent vector
    img_resolution: int  # side of the (square) image forward() returns by default
    img_channels: int  # 3 for RGB

    def __call__(self, z: torch.Tensor) -> torch.Tensor: ...
