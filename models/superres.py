"""A small learned x4 super-resolution CNN (ESPCN-like: convolutions at low resolution, then a
pixel shuffle), a post-processor for colour generators, not a generator.

forward(x) takes (B, C, h, w) in [-1, 1] and returns (B, C, 4h, 4w) in [-1, 1]: a bicubic
enlargement plus a learned residual, so an untrained (zero-tail) net is exactly bicubic and
training only has to learn the detail bicubic misses. All convolutions run at the input size,
which keeps a 32 -> 128 px frame to a few milliseconds on one CPU thread. Training lives in
models/train_superres.py; using it in the show lives in installation/render/superres.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class SuperResConfig:
    scale: int = 4  # output side / input side
    img_channels: int = 3  # 3 = RGB (a post-processor for colour models only)
    width: int = 32  # feature channels, all at the input resolution
    depth: int = 4  # 3x3 conv layers between the 5x5 head and the pixel-shuffle tail
    residual_bicubic: bool = True  # add the learned detail to a bicubic enlargement


class SuperRes(nn.Module):
    """x4 SR: 5x5 head -> depth x (3x3 conv + LeakyReLU) with a skip -> 3x3 conv to C*s*s -> pixel shuffle."""

    def __init__(self, config: SuperResConfig) -> None:
        super().__init__()
        self.config = config
        self.scale = config.scale
        self.img_channels = config.img_channels
        c, w = config.img_channels, config.width
        self.head = nn.Sequential(nn.Conv2d(c, w, 5, padding=2), nn.LeakyReLU(0.1))
        body: list[nn.Module] = []
        for _ in range(config.depth):
            body += [nn.Conv2d(w, w, 3, padding=1), nn.LeakyReLU(0.1)]
        self.body = nn.Sequential(*body)
        self.tail = nn.Conv2d(w, c * config.scale * config.scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(config.scale)
        if config.residual_bicubic:  # start as exactly bicubic: the residual branch begins at zero
            nn.init.zeros_(self.tail.weight)
            if self.tail.bias is not None:  # always (Conv2d's default); the check is for the type checker
                nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x)  # (B, W, h, w)
        feat = feat + self.body(feat)  # local skip: the body learns a correction of the head's features
        out = self.shuffle(self.tail(feat))  # (B, C, s*h, s*w)
        if self.config.residual_bicubic:
            out = out + upscale_bicubic(x, self.scale)
        # Clamp only when showing: in training a clamp would zero the gradient of overshooting pixels.
        return out if self.training else out.clamp(-1.0, 1.0)


def upscale_bicubic(x: torch.Tensor, scale: int) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, scale*h, scale*w), the bicubic baseline the net must beat."""
    return nn.functional.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
