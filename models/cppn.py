"""CPPN: a coordinate network (x, y, r + latent -> RGB) that renders at any resolution.

Each pixel is computed independently from its coordinates and the latent, so the same weights
render a thumbnail or a 4K frame. With fixed seeded weights it is an abstract-pattern generator;
trained as a decoder it becomes a pretrained one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from models.protocol import GeneratorModule

ACTIVATIONS = ("tanh", "sin", "gauss", "softplus")


@dataclass(frozen=True)
class CPPNConfig:
    z_dim: int = 16  # latent length
    hidden: int = 32  # width of every hidden layer
    layers: int = 5  # number of hidden layers after the input layer
    activations: tuple[str, ...] = ("tanh", "sin", "gauss", "tanh", "sin")  # cycled over layers
    img_resolution: int = 128  # default render size; forward() takes any size
    coord_scale: float = 2.5  # how far the coordinate plane reaches (more = finer detail)
    z_scale: float = 1.0  # latent influence relative to the coordinates
    init_gain: float = 1.6  # weight scale of the seeded init (higher = busier patterns)
    seed: int = 7  # seed of the fixed initial weights


def _activate(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "tanh":
        return torch.tanh(x)
    if name == "sin":
        return torch.sin(x)
    if name == "gauss":
        return torch.exp(-x * x) * 2.0 - 1.0
    if name == "softplus":
        return nn.functional.softplus(x) - 1.0
    raise ValueError(f"unknown CPPN activation {name!r}; expected one of {ACTIVATIONS}")


class CPPN(GeneratorModule):
    def __init__(self, config: CPPNConfig) -> None:
        super().__init__()
        for name in config.activations:
            if name not in ACTIVATIONS:
                raise ValueError(f"unknown CPPN activation {name!r}; expected one of {ACTIVATIONS}")
        self.config = config
        self.z_dim = config.z_dim
        self.img_resolution = config.img_resolution
        self.img_channels = 3
        self.coord_in = nn.Linear(3, config.hidden)
        self.z_in = nn.Linear(config.z_dim, config.hidden, bias=False)
        self.hidden = nn.ModuleList(nn.Linear(config.hidden, config.hidden) for _ in range(config.layers))
        self.to_rgb = nn.Linear(config.hidden, 3)
        self._seeded_init(config)
        self._grid_cache: dict[tuple[int, int, str], torch.Tensor] = {}

    def _seeded_init(self, config: CPPNConfig) -> None:
        gen = torch.Generator().manual_seed(config.seed)
        with torch.no_grad():
            for layer in [self.coord_in, self.z_in, *self.hidden, self.to_rgb]:
                fan_in = layer.weight.shape[1]
                layer.weight.copy_(
                    torch.randn(layer.weight.shape, generator=gen) * config.init_gain / math.sqrt(fan_in)
                )
                if layer.bias is not None:
                    layer.bias.copy_(torch.randn(layer.bias.shape, generator=gen) * 0.3)

    def coordinates(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """(H*W, 3) of x, y, r; x spans wider than y on landscape frames so nothing stretches."""
        key = (height, width, str(device))
        grid = self._grid_cache.get(key)
        if grid is None:
            aspect = width / height
            ys = torch.linspace(-1.0, 1.0, height, device=device)
            xs = torch.linspace(-aspect, aspect, width, device=device)
            y, x = torch.meshgrid(ys, xs, indexing="ij")
            r = torch.sqrt(x * x + y * y)
            grid = torch.stack([x, y, r], dim=-1).reshape(-1, 3) * self.config.coord_scale
            self._grid_cache = {key: grid}  # one size at a time: a resolution change frees the old grid
        return grid

    def forward(self, z: torch.Tensor, height: int | None = None, width: int | None = None) -> torch.Tensor:
        height = height or self.img_resolution
        width = width or height
        grid = self.coordinates(height, width, z.device).to(z.dtype)  # (P, 3)
        h = self.coord_in(grid).unsqueeze(0) + self.z_in(z * self.config.z_scale).unsqueeze(1)  # (B, P, hidden)
        acts = self.config.activations
        h = _activate(acts[0], h)
        for i, layer in enumerate(self.hidden):
            h = _activate(acts[(i + 1) % len(acts)], layer(h))
        rgb = torch.tanh(self.to_rgb(h))  # (B, P, 3)
        return rgb.reshape(z.shape[0], height, width, 3).permute(0, 3, 1, 2)  # (B, 3, H, W)
