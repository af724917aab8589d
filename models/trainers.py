"""Per-architecture trainers: build models and optimisers, one step, samples, the exported generator."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from models.architectures import ARCHITECTURES
from models.baseline_seed import SeedDiscriminator
from models.checkpoint import load_checkpoint
from models.cppn import CPPN
from models.data import ImageArray
from models.gan import Discriminator
from models.protocol import GeneratorModule
from models.train_config import TrainConfig
from models.vae import VAE


def _ema_update(ema: nn.Module, live: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), live.parameters()):
            e.lerp_(p, 1.0 - decay)
        for e_buf, b in zip(ema.buffers(), live.buffers()):
            e_buf.copy_(b)


def _unwrap(m: nn.Module) -> nn.Module:
    return m.module if isinstance(m, DistributedDataParallel) else m


def _generator(arch: str, model_cfg: Any, device: torch.device) -> GeneratorModule:
    model = ARCHITECTURES[arch][1](model_cfg)
    if not isinstance(model, GeneratorModule):
        raise SystemExit(f"--arch {arch} is not a generator")
    model.to(device)  # in place
    return model


class GANTrainer:
    """gan / sagan: spectral-norm D, hinge or non-saturating loss, EMA generator."""

    def __init__(self, tc: TrainConfig, model_cfg: Any, device: torch.device, ds: ImageArray) -> None:
        self.tc, self.device = tc, device
        self.G = _generator(tc.arch, model_cfg, device)
        self.D = self._discriminator(model_cfg).to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if tc.ema > 0 else None
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=tc.lr, betas=(tc.beta1, tc.beta2))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=tc.lr_d, betas=(tc.beta1, tc.beta2))
        self.G_train: nn.Module = self.G  # DDP-wrapped when distributed
        self.D_train: nn.Module = self.D

    def _discriminator(self, model_cfg: Any) -> nn.Module:
        return Discriminator(model_cfg)

    def wrap_ddp(self, ids: list[int] | None) -> None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        self.G_train, self.D_train = DDP(self.G, device_ids=ids), DDP(self.D, device_ids=ids)

    def modules(self) -> dict[str, nn.Module]:
        mods = {"G": self.G, "D": self.D}
        if self.G_ema is not None:
            mods["G_ema"] = self.G_ema
        return mods

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def d_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        if self.tc.loss == "hinge":
            return torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()
        return nn.functional.softplus(-d_real).mean() + nn.functional.softplus(d_fake).mean()

    def g_loss(self, d_fake: torch.Tensor) -> torch.Tensor:
        return -d_fake.mean() if self.tc.loss == "hinge" else nn.functional.softplus(-d_fake).mean()

    def step(self, real: torch.Tensor, step: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        b = real.shape[0]
        z = torch.randn(b, self.G.z_dim, generator=gen).to(self.device)
        fake = self.G_train(z)  # (B, 3, R, R)
        # D step: real and fake in one forward so DDP sees exactly one forward per backward
        logits = self.D_train(torch.cat([real, fake.detach()]))
        loss_d = self.d_loss(logits[:b], logits[b:])
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # G step through the bare D: its weights do not change here, so nothing to synchronise
        d = _unwrap(self.D_train)
        d.requires_grad_(False)
        loss_g = self.g_loss(d(fake))
        d.requires_grad_(True)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if self.G_ema is not None:  # warm-up: a young run's average must not be dominated by the random init
            _ema_update(self.G_ema, self.G, min(self.tc.ema, (step + 1) / (step + 10)))
        return {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "d_real": logits[:b].detach().mean(),
            "d_fake": logits[b:].detach().mean(),
        }

    def fixed_latents(self, n: int, ds: ImageArray) -> torch.Tensor:
        return torch.randn(n, self.G.z_dim, generator=torch.Generator().manual_seed(self.tc.seed + 1))

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        g = self.export()
        was = g.training
        g.eval()
        out = g(z.to(self.device))
        g.train(was)
        return out

    def export(self) -> GeneratorModule:
        return self.G_ema if self.G_ema is not None else self.G


class SeedTrainer(GANTrainer):
    """The seed essay's setup: batch size 1, BCE (non-saturating), Adam(1e-4), no EMA."""

    def __init__(self, tc: TrainConfig, model_cfg: Any, device: torch.device, ds: ImageArray) -> None:
        tc = dataclasses.replace(tc, batch_size=1, loss="ns", lr=1e-4, lr_d=1e-4, beta1=0.9, beta2=0.999, ema=0.0)
        super().__init__(tc, model_cfg, device, ds)

    def _discriminator(self, model_cfg: Any) -> nn.Module:
        return SeedDiscriminator(model_cfg)


class _VAELoss(nn.Module):
    """One forward for the whole VAE step, so DDP wraps a single call."""

    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, ...]:
        mu, logvar = self.vae.encode_raw(x)  # (B, z)
        z = mu + eps * torch.exp(0.5 * logvar)  # reparameterisation: the noise is an input, not a draw
        return self.vae.decode_raw(z), mu, logvar


class VAETrainer:
    def __init__(self, tc: TrainConfig, model_cfg: Any, device: torch.device, ds: ImageArray) -> None:
        self.tc, self.device, self.ds = tc, device, ds
        self.vae = VAE(model_cfg)
        self.vae.to(device)
        self.net: nn.Module = _VAELoss(self.vae)
        self.opt = torch.optim.Adam(self.vae.parameters(), lr=tc.lr, betas=(tc.beta1, tc.beta2))

    def wrap_ddp(self, ids: list[int] | None) -> None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        self.net = DDP(self.net, device_ids=ids)

    def modules(self) -> dict[str, nn.Module]:
        return {"vae": self.vae}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.opt}

    def step(self, x: torch.Tensor, step: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        eps = torch.randn(x.shape[0], self.vae.z_dim, generator=gen).to(self.device)
        rec, mu, logvar = self.net(x, eps)
        sq = ((rec - x) ** 2).sum((1, 2, 3)).mean()  # summed over pixels: a Gaussian decoder's NLL up to scale
        kl = 0.5 * (mu * mu + logvar.exp() - 1 - logvar).sum(1).mean()
        w = self.tc.kl_weight * min(1.0, (step + 1) / max(1, self.tc.kl_warmup))
        loss = sq + w * kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"mse": sq.detach() / x[0].numel(), "kl": kl.detach()}

    def fixed_latents(self, n: int, ds: ImageArray) -> torch.Tensor:
        return torch.randn(n, self.vae.z_dim, generator=torch.Generator().manual_seed(self.tc.seed + 1))

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        self.export()
        self.vae.eval()
        out = self.vae(z.to(self.device))
        self.vae.train()
        return out

    @torch.no_grad()
    def export(self) -> GeneratorModule:
        """The VAE with its latent prior fitted to the encoded (un-augmented) training set."""
        was = self.vae.training
        self.vae.eval()
        x = self.ds.all()
        mu = torch.cat([self.vae.encode_raw(x[i : i + 256].to(self.device))[0] for i in range(0, len(x), 256)])
        self.vae.fit_prior(mu)
        self.vae.train(was)
        return self.vae


class CPPNTrainer:
    """CPPN as a decoder: CPPN(mu) reconstructs the image whose VAE encoding is mu."""

    def __init__(self, tc: TrainConfig, model_cfg: Any, device: torch.device, ds: ImageArray) -> None:
        if not tc.teacher:
            raise SystemExit("--arch cppn needs --set teacher=PATH/TO/vae.safetensors (its encoder makes the latents)")
        self.tc, self.device = tc, device
        teacher = load_checkpoint(tc.teacher, device)
        if not isinstance(teacher, VAE):
            raise SystemExit(f"{tc.teacher}: teacher must be a VAE (needs encode())")
        self.teacher = teacher
        self.cppn = CPPN(model_cfg)
        self.cppn.to(device)
        self.net: nn.Module = self.cppn
        self.opt = torch.optim.Adam(self.cppn.parameters(), lr=tc.lr, betas=(tc.beta1, tc.beta2))
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def wrap_ddp(self, ids: list[int] | None) -> None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        self.net = DDP(self.cppn, device_ids=ids)

    def modules(self) -> dict[str, nn.Module]:
        return {"cppn": self.cppn}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"cppn": self.opt}

    @torch.no_grad()
    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.teacher.encode(x.to(self.device))

    def step(self, x: torch.Tensor, step: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        mu, logvar = self._encode(x)
        eps = torch.randn(mu.shape, generator=gen).to(self.device)
        z = mu + 0.5 * eps * torch.exp(0.5 * logvar)  # a little posterior noise keeps nearby latents sensible
        r = self.tc.train_res
        target = nn.functional.interpolate(x, size=(r, r), mode="area")  # (B, 3, r, r)
        out = self.net(z, r, r)
        loss = ((out - target) ** 2).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"mse": loss.detach()}

    def fixed_latents(self, n: int, ds: ImageArray) -> torch.Tensor:
        idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(self.tc.seed + 1))[:n]
        return self._encode(ds.all()[idx])[0].cpu()  # encodings of fixed real images: the grid shows reconstructions

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        return self.cppn(z.to(self.device), 64, 64)

    def export(self) -> GeneratorModule:
        return self.cppn


class Trainer(Protocol):
    """What the training loop (models/train.py) asks of every architecture's trainer."""

    tc: TrainConfig  # may differ from the one given (the seed trainer fixes its own settings)

    def modules(self) -> dict[str, nn.Module]: ...  # what state.pt saves and --resume restores
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...
    def wrap_ddp(self, ids: list[int] | None) -> None: ...
    def step(self, x: torch.Tensor, step: int, gen: torch.Generator) -> dict[str, torch.Tensor]: ...
    def fixed_latents(self, n: int, ds: ImageArray) -> torch.Tensor: ...
    def sample(self, z: torch.Tensor) -> torch.Tensor: ...
    def export(self) -> GeneratorModule: ...  # the generator model.safetensors holds


TRAINERS: dict[str, Callable[[TrainConfig, Any, torch.device, ImageArray], Trainer]] = {
    "gan": GANTrainer,
    "sagan": GANTrainer,
    "seed-dcgan": SeedTrainer,
    "vae": VAETrainer,
    "cppn": CPPNTrainer,
}
