"""The one protocol every generator follows, so the runtime never hard-codes sizes.

Every generator class derives from GeneratorModule. It adds no behaviour: it declares the sizes each
generator sets in its __init__, so code holding "a generator" (what load_generator returns) reads
them as ints (a plain nn.Module types every attribute as Tensor | Module).
forward(z) with z (B, z_dim) returns (B, img_channels, H, W) in [-1, 1]; H = W = img_resolution
unless the model is resolution-free (it then has `coordinates` and takes forward(z, height, width)).
"""

from __future__ import annotations

from typing import Any

from torch import nn


class GeneratorModule(nn.Module):
    z_dim: int  # length of one latent vector
    img_resolution: int  # side of the (square) image forward() returns by default
    img_channels: int  # 3 for RGB


def latent_size(model: nn.Module) -> int:
    """z_dim of a generator held as a plain nn.Module (a type checker reads its attributes as
    Tensor | Module); tests' stand-in generators set z_dim without deriving from GeneratorModule."""
    z_dim: Any = getattr(model, "z_dim", None)
    if z_dim is None:
        raise AttributeError(f"{type(model).__name__} has no z_dim: not a generator")
    return int(z_dim)


def resolution_free(model: nn.Module) -> bool:
    """Does the generator draw at any size (forward(z, height, width), e.g. the CPPN)? Such a model
    has `coordinates`; the runtime renders it at the screen's aspect instead of enlarging a square."""
    return hasattr(model, "coordinates")
