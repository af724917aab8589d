"""Convolutional VAE. forward(z) decodes (the Generator protocol); encode(x) -> (mu, logvar)
turns a camera frame into a latent at run time ("mirror" mode). Losses live in models/train.py.

A VAE trained for sharp reconstructions leaves its posterior far from N(0, I), so decoding
prior samples gives mush. After training we fit a Gaussian to the encoded data set (ex-post
density estimation, Ghosh et al. 2020) and store it as two buffers: forward(z) decodes
prior_mean + prior_scale @ z, and encode() returns latents in that same whitened space, so
forward(encode(x)[0]) reconstructs x and z ~ N(0, I) lands where real images live.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models.gan import ladder
from models.protocol import GeneratorModule


@dataclass(frozen=True)
class VAEConfig:
    z_dim: int = 32  # latent length
    img_resolution: int = 64  # input/output side
    img_channels: int = 3  # 3 = RGB
    width: int = 32  # channels at full resolution; doubles per step down
    max_width: int = 256  # channel cap
    dec_convs: int = 2  # 3x3 convs per decoder resolution (more = sharper, slower)


class VAE(GeneratorModule):
    prior_mean: torch.Tensor  # buffers, registered in __init__
    prior_scale: torch.Tensor

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
            enc += [
                nn.Conv2d(ch[r_in], ch[r_out], 4, stride=2, padding=1),
                nn.BatchNorm2d(ch[r_out]),
                nn.LeakyReLU(0.2),
            ]
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
        self.register_buffer("prior_mean", torch.zeros(config.z_dim))  # fitted by fit_prior()
        self.register_buffer("prior_scale", torch.eye(config.z_dim))  # lower-triangular Cholesky factor

    @torch.no_grad()
    def fit_prior(self, mu: torch.Tensor) -> None:
        """Fit the latent Gaussian to raw encodings mu (N, z_dim) of the training set."""
        mean = mu.mean(0)
        cov = torch.cov(mu.T.double()) + 1e-4 * torch.eye(mu.shape[1], dtype=torch.float64)
        self.prior_mean.copy_(mean)
        self.prior_scale.copy_(torch.linalg.cholesky(cov).float())

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 3, H, W) in [-1, 1] -> mu, logvar (B, z_dim) in the space forward() takes."""
        mu, logvar = self.encode_raw(x)
        w = torch.linalg.solve_triangular(self.prior_scale, (mu - self.prior_mean).T, upper=False).T
        return w, logvar - 2 * torch.log(torch.diagonal(self.prior_scale))  # variance rescaled per axis (approx.)

    def encode_raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's own posterior; other input sizes are resized first."""
        r = self.img_resolution
        if x.shape[-2:] != (r, r):
            x = nn.functional.interpolate(x, size=(r, r), mode="area")
        h = self.encoder(x).flatten(1)  # (B, C0*s*s)
        mu, logvar = self.to_stats(h).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, z_dim) in the whitened space (z ~ N(0, I) for samples) -> (B, 3, R, R)."""
        return self.decode_raw(self.prior_mean + z @ self.prior_scale.T)

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        s = self.res[0]
        h = self.from_z(z).view(z.shape[0], -1, s, s)  # (B, C0, s, s)
        return torch.tanh(self.to_rgb(self.decoder(h)))  # (B, 3, R, R) in [-1, 1]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z)
