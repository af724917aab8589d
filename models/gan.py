"""DCGAN-style generator and discriminator, optionally with SAGAN self-attention ("sagan").

The generator upsamples by nearest-neighbour + 3x3 conv (no transposed convs, so no
checkerboard artefacts); the discriminator uses spectral norm on every layer. Losses live in
models/train.py; this file knows nothing of training.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from models.attention import SelfAttention
from models.protocol import GeneratorModule


@dataclass(frozen=True)
class GANConfig:
    z_dim: int = 128  # latent length
    img_resolution: int = 64  # output side; halved until odd or 4 to find the starting grid
    img_channels: int = 3  # 3 = RGB
    g_width: int = 32  # generator channels at full resolution; doubles per step down
    d_width: int = 32  # discriminator channels at full resolution; doubles per step down
    max_width: int = 256  # channel cap for both networks
    attn_res: int = 0  # resolution at which a self-attention block sits in G and D (0 = none)


@dataclass(frozen=True)
class SAGANConfig(GANConfig):
    attn_res: int = 16  # resolution at which a self-attention block sits in G and D (0 = none)


def ladder(resolution: int) -> list[int]:
    """Resolutions from the starting grid up: 64 -> [4, 8, 16, 32, 64]; 28 -> [7, 14, 28]."""
    res = [resolution]
    while res[-1] % 2 == 0 and res[-1] > 4:
        res.append(res[-1] // 2)
    if len(res) < 2:
        raise ValueError(f"img_resolution {resolution} must be divisible by 2 at least once")
    return res[::-1]


def width(config: GANConfig, base: int, res: int) -> int:
    return min(config.max_width, base * (config.img_resolution // res))


class Generator(GeneratorModule):
    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        self.z_dim = config.z_dim
        self.img_resolution = config.img_resolution
        self.img_channels = config.img_channels
        self.res = ladder(config.img_resolution)
        c0 = width(config, config.g_width, self.res[0])
        self.start = nn.Linear(config.z_dim, c0 * self.res[0] ** 2)
        self.start_norm = nn.BatchNorm2d(c0)
        blocks = []
        for r_in, r_out in zip(self.res[:-1], self.res[1:]):
            c_in, c_out = width(config, config.g_width, r_in), width(config, config.g_width, r_out)
            layers: list[nn.Module] = [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            if r_out == config.attn_res:
                layers.append(SelfAttention(c_out))
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.Sequential(*blocks)
        self.to_rgb = nn.Conv2d(width(config, config.g_width, self.res[-1]), config.img_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        s = self.res[0]
        x = self.start(z).view(z.shape[0], -1, s, s)  # (B, C0, s, s)
        x = torch.relu(self.start_norm(x))
        x = self.blocks(x)  # (B, C, R, R)
        return torch.tanh(self.to_rgb(x))  # (B, 3, R, R) in [-1, 1]


class Discriminator(nn.Module):
    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        res = ladder(config.img_resolution)[::-1]  # full resolution down to the starting grid
        c = width(config, config.d_width, res[0])
        layers: list[nn.Module] = [
            spectral_norm(nn.Conv2d(config.img_channels, c, 3, padding=1)),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for r_in, r_out in itertools.pairwise(res):
            c_in, c_out = width(config, config.d_width, r_in), width(config, config.d_width, r_out)
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
            if r_out == config.attn_res:
                layers.append(SelfAttention(c_out, sn=True))
        self.features = nn.Sequential(*layers)
        c_last = width(config, config.d_width, res[-1])
        self.head = spectral_norm(nn.Linear(c_last * res[-1] ** 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1)).squeeze(1)  # (B,) real-vs-fake logits
