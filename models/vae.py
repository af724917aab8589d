"""Convolutional VAE. forward(z) decodes (the Generator protocol); encode(x) -> (mu, logvar)
turns a camera frame into a latent at run time ("mirror" mode). Losses live in models/train.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models.gan import ladder


@dataclass(frozen=True)
class VAEConfig:
    z_dim: int = 32  # latent length
    img_resolution: int = 64  # input/output side
    img_channels: int = 3  # 3 = RGB
    width: int = 32  # channels at full resolution; doubles per step down
    max_width: int = 256  # channel cap
    dec_convs: int = 2  # 3x3 convs per decoder resolution (more = sharper, slower)


class VAE(nn.Module):
    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        self.z_dim = config.z_dim
        self.img_resolution = config.img_resolution
        self.img_channels = config.img_channels
        self.res = ladder(config.img_resolution)  # e.g. [4, 8, 16, 32, 64]
        ch = {r: min(config.max_width, config.width * (config.img_resolution // r)) for r in self.res}
        s, c0 = self.res[0], ch[self.res[0]]
        # encoder: full resolution down to the starting grid
        enc: list[nn.Module] = [nn.Conv2d(config.img_channels, ch[self.res[-1]], 3, padding=1), nn.LeakyReLU(0.2)]
        for r_in, r_out in zip(self.res[::-1][:-1], self.res[::-1][1:]):
            enc += [nn.Conv2d(ch[r_in], ch[r_out], 4, stride=2, padding=1), nn.BatchNorm2d(ch[r_out]), nn.LeakyReLU(0.2)]
        self.encoder = nn.Sequential(*enc)
        self.to_stats = nn.Linear(c0 * s * s, 2 * config.z_dim)
        # decoder: the starting grid up to full resolution
        self.from_z = nn.Linear(config.z_dim, c0 * s * s)
        dec: list[nn.Module] = [nn.BatchNorm2d(c0), nn.ReLU()]
        for r_in, r_out in zip(self.res[:-1], self.res[1:]):
            dec += [nn.Upsample(scale_factor=2, mode="nearest")]
            c = ch[r_in]
            for _ in range(config.dec_convs):
                dec += [nn.Conv2d(c, ch[r_out], 3, padding=1, bias=False), nn.BatchNorm2d(ch[r_out]), nn.ReLU()]
                c = ch[r_out]
        self.decoder = nn.Sequential(*dec)
        self.to_rgb = nn.Conv2d(ch[self.res[-1]], config.img_channels, 3, padding=1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 3, H, W) in [-1, 1] -> mu, logvar (B, z_dim). Other sizes are resized first."""
        r = self.img_resolution
        if x.shape[-2:] != (r, r):
            x = nn.functional.interpolate(x, size=(r, r), mode="area")
        h = self.encoder(x).flatten(1)  # (B, C0*s*s)
        mu, logvar = self.to_stats(h).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        s = self.res[0]
        h = self.from_z(z).view(z.shape[0], -1, s, s)  # (B, C0, s, s)
        return torch.tanh(self.to_rgb(self.decoder(h)))  # (B, 3, R, R) in [-1, 1]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z)
