"""The seed essay's Keras DCGAN on MNIST, ported to PyTorch and "fixed just enough to run".

The seed code is the classic Keras tutorial DCGAN: Dense(7*7*256) -> BN -> LeakyReLU ->
Conv2DTranspose(128, 5, s1) -> Conv2DTranspose(64, 5, s2) -> Conv2DTranspose(1, 5, s2, tanh);
discriminator Conv2D(64, 5, s2) -> Conv2D(128, 5, s2) with LeakyReLU + Dropout(0.3), Dense(1);
binary cross-entropy, Adam(1e-4). As written it could not run: its generator stopped after
the first (stride-1) transposed conv and emitted 7x7x3 images while the discriminator expected
28x28x1. The fixes, and nothing else:
  * the generator gets back its two stride-2 transposed convs (7 -> 14 -> 28) and emits 1 channel;
  * BatchNorm after the Dense layer runs on the reshaped (256, 7, 7) map, because PyTorch's
    BatchNorm1d refuses a batch of one (Keras silently normalises a single sample).
It still trains one image at a time (batch size 1), as the seed did; models/train.py enforces
that for arch "seed-dcgan". forward(z) repeats the grey channel to RGB for the shared protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models.protocol import GeneratorModule


@dataclass(frozen=True)
class SeedDCGANConfig:
    z_dim: int = 100  # latent length (the seed used 100)
    img_resolution: int = 28  # fixed by the architecture
    img_channels: int = 3  # protocol output; the network itself draws one grey channel


class SeedGenerator(GeneratorModule):
    def __init__(self, config: SeedDCGANConfig) -> None:
        super().__init__()
        if config.img_resolution != 28:
            raise ValueError("the seed DCGAN only draws 28x28")
        self.config = config
        self.z_dim = config.z_dim
        self.img_resolution = 28
        self.img_channels = config.img_channels
        self.dense = nn.Linear(config.z_dim, 7 * 7 * 256, bias=False)
        self.bn0 = nn.BatchNorm2d(256, momentum=0.01, eps=1e-3)  # Keras BN defaults
        self.up = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False),  # 7x7
            nn.BatchNorm2d(128, momentum=0.01, eps=1e-3),
            nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False),  # 14x14 (fix)
            nn.BatchNorm2d(64, momentum=0.01, eps=1e-3),
            nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1, bias=False),  # 28x28x1 (fix)
        )

    def grey(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(z).view(-1, 256, 7, 7)
        x = nn.functional.leaky_relu(self.bn0(x), 0.3)
        return torch.tanh(self.up(x))  # (B, 1, 28, 28)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.grey(z).expand(-1, self.img_channels, -1, -1)  # (B, 3, 28, 28)


class SeedDiscriminator(nn.Module):
    def __init__(self, config: SeedDCGANConfig) -> None:
        super().__init__()
        self.config = config
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 5, stride=2, padding=2),
            nn.LeakyReLU(0.3),
            nn.Dropout(0.3),
            nn.Conv2d(64, 128, 5, stride=2, padding=2),
            nn.LeakyReLU(0.3),
            nn.Dropout(0.3),
            nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 3:
            x = x.mean(1, keepdim=True)  # the seed trained on grey digits
        return self.net(x).squeeze(1)
