"""SAGAN self-attention (Zhang et al. 2019): every position attends to every other one.

Cost grows with (H*W)^2, so Reverie places it at 16x16 (256 positions); at 32x32 it is
roughly 6x slower on CPU for little visible gain.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class SelfAttention(nn.Module):
    def __init__(self, channels: int, sn: bool = False) -> None:
        super().__init__()
        wrap = spectral_norm if sn else (lambda m: m)
        self.key_dim = max(1, channels // 8)
        self.query = wrap(nn.Conv2d(channels, self.key_dim, 1, bias=False))
        self.key = wrap(nn.Conv2d(channels, self.key_dim, 1, bias=False))
        self.value = wrap(nn.Conv2d(channels, channels // 2, 1, bias=False))
        self.out = wrap(nn.Conv2d(channels // 2, channels, 1, bias=False))
        self.gamma = nn.Parameter(torch.zeros(()))  # starts as identity; the net learns how much to attend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q = self.query(x).flatten(2).transpose(1, 2)  # (B, HW, c/8)
        k = self.key(nn.functional.max_pool2d(x, 2)).flatten(2)  # (B, c/8, HW/4): SAGAN pools keys/values
        v = self.value(nn.functional.max_pool2d(x, 2)).flatten(2)  # (B, c/2, HW/4)
        attn = torch.softmax(q @ k, dim=-1)  # (B, HW, HW/4)
        o = (v @ attn.transpose(1, 2)).view(b, c // 2, h, w)  # (B, c/2, H, W)
        return x + self.gamma * self.out(o)
