"""Train a generator on a prepared image folder.

    python -m models.train --arch gan|sagan|vae|cppn|seed-dcgan --data data/NAME --out runs/NAME \
        [--set steps=4000 --set batch_size=64 --set g_width=32 ...] [--resume]

`--set k=v` sets a TrainConfig field or, if the name is not one, a field of the architecture's
config dataclass (prefix `model.` to force the latter). The run folder gets samples/ (fixed-latent
grids), loss.png, state.pt (everything needed for --resume), model.safetensors (the exportable
generator, rebuildable by models.checkpoint alone) and train.json (what a model card needs).
Ctrl-C or SIGTERM saves and exits cleanly. Multi-GPU: `torchrun --nproc_per_node=N -m models.train ...`
(WORLD_SIZE set -> init_process_group + DistributedDataParallel; only rank 0 writes).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import platform
import shlex
import signal
import sys
import time
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.architectures import ARCHITECTURES, config_from_dict
from models.baseline_seed import SeedDiscriminator
from models.checkpoint import load_checkpoint, save_checkpoint
from models.data import AugmentConfig, ImageArray, save_grid
from models.gan import Discriminator
from models.glyphs import field_picture


@dataclass
class TrainConfig:
    arch: str = "gan"  # gan | sagan | vae | cppn | seed-dcgan
    data: str = ""  # prepared data folder (python -m models.data prepare ...)
    out: str = ""  # run folder
    steps: int = 10000  # optimiser steps (a GAN step = one D and one G update)
    minutes: float = 0.0  # also stop after this much training wall time (0 = no limit)
    batch_size: int = 64  # images per step per process
    lr: float = 2e-4  # generator / VAE / CPPN learning rate
    lr_d: float = 2e-4  # discriminator learning rate
    beta1: float = 0.0  # Adam beta1 (0.0 suits GANs; VAE/CPPN use 0.9)
    beta2: float = 0.99  # Adam beta2
    loss: str = "hinge"  # GAN loss: hinge | ns (non-saturating)
    ema: float = 0.999  # GAN: EMA of generator weights; the exported generator is the EMA (0 = off)
    kl_weight: float = 0.05  # VAE: KL weight against summed squared error (~ 2 * decoder sigma^2)
    kl_warmup: int = 500  # VAE: steps over which the KL weight ramps up from 0
    teacher: str = ""  # CPPN: VAE checkpoint whose encoder turns each image into the CPPN's latent
    train_res: int = 32  # CPPN: render size while training (it renders any size afterwards)
    flip: bool = True  # augmentation: random horizontal flips
    shift: int = 2  # augmentation: random translation in pixels
    jitter: float = 0.0  # augmentation: colour jitter strength
    sample_every: int = 250  # steps between fixed-latent sample grids and loss-curve updates
    log_every: int = 10  # steps between loss records
    ckpt_minutes: float = 5.0  # wall minutes between checkpoints
    threads: int = 2  # torch.set_num_threads (CPU)
    seed: int = 0  # seeds weights, batches, and the fixed sample latents
    device: str = "auto"  # auto | cpu | cuda


# ---------------------------------------------------------------------------------------------
# per-architecture trainers: build models + optimisers, one step, samples, export


def _ema_update(ema: nn.Module, live: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), live.parameters()):
            e.lerp_(p, 1.0 - decay)
        for e, b in zip(ema.buffers(), live.buffers()):
            e.copy_(b)


def _unwrap(m: nn.Module) -> nn.Module:
    return m.module if hasattr(m, "module") else m


class GANTrainer:
    """gan / sagan: spectral-norm D, hinge or non-saturating loss, EMA generator."""

    def __init__(self, tc: TrainConfig, model_cfg: Any, device: torch.device, ds: ImageArray) -> None:
        self.tc, self.device = tc, device
        model_cls = ARCHITECTURES[tc.arch][1]
        self.G = model_cls(model_cfg).to(device)
        self.D = self._discriminator(model_cfg).to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if tc.ema > 0 else None
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=tc.lr, betas=(tc.beta1, tc.beta2))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=tc.lr_d, betas=(tc.beta1, tc.beta2))
        self.G_train, self.D_train = self.G, self.D

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

    def export(self) -> nn.Module:
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

    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, ...]:
        mu, logvar = self.vae.encode_raw(x)  # (B, z)
        z = mu + eps * torch.exp(0.5 * logvar)  # reparameterisation: the noise is an input, not a draw
        return self.vae.decode_raw(z), mu, logvar


class VAETrainer:
    def __init__(self, tc: TrainConfig, model_cfg: Any, device: torch.device, ds: ImageArray) -> None:
        self.tc, self.device, self.ds = tc, device, ds
        self.vae = ARCHITECTURES["vae"][1](model_cfg).to(device)
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
    def export(self) -> nn.Module:
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
        self.teacher = load_checkpoint(tc.teacher, device)
        if not hasattr(self.teacher, "encode"):
            raise SystemExit(f"{tc.teacher}: teacher must be a VAE (needs encode())")
        self.cppn = ARCHITECTURES["cppn"][1](model_cfg).to(device)
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

    def export(self) -> nn.Module:
        return self.cppn


TRAINERS = {"gan": GANTrainer, "sagan": GANTrainer, "seed-dcgan": SeedTrainer, "vae": VAETrainer, "cppn": CPPNTrainer}


# ---------------------------------------------------------------------------------------------
# configuration from the command line


def _parse_value(raw: str, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        inner = args[0] if args else str
        return tuple(_parse_value(v, inner) for v in raw.split(",") if v)
    if hint is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    if hint in (int, float, str):
        return hint(raw)
    return json.loads(raw)


def split_overrides(pairs: list[str], model_cls: type) -> tuple[dict[str, Any], dict[str, Any]]:
    """--set k=v pairs -> (TrainConfig values, model config values), typed from the dataclasses."""
    t_hints = typing.get_type_hints(TrainConfig)
    m_hints = typing.get_type_hints(model_cls)
    train_vals, model_vals = {}, {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--set takes key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        if key.startswith("model."):
            key = key[len("model.") :]
            target = "model"
        elif key in t_hints:
            target = "train"
        elif key in m_hints:
            target = "model"
        else:
            raise SystemExit(
                f"unknown setting {key!r}; TrainConfig: {', '.join(t_hints)}; "
                f"{model_cls.__name__}: {', '.join(m_hints)}"
            )
        hints = m_hints if target == "model" else t_hints
        if key not in hints:
            raise SystemExit(f"{model_cls.__name__} has no field {key!r}")
        try:
            value = _parse_value(raw, hints[key])
        except ValueError as exc:
            raise SystemExit(f"--set {pair}: {exc}") from exc
        (model_vals if target == "model" else train_vals)[key] = value
    return train_vals, model_vals


def hardware(device: torch.device, threads: int) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA), torch {torch.__version__}"
    cpu = platform.processor() or "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {threads} threads, torch {torch.__version__} CPU"


# ---------------------------------------------------------------------------------------------
# the loop


def save_tensor_grid(images: torch.Tensor, path: Path, cols: int = 8) -> None:
    """(B, 3, H, W) in [-1, 1] -> PNG grid; a field (B, 1, H, W), ink > 0, is drawn as black ink on white."""
    images = field_picture(images.detach().float().cpu())
    arr = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    save_grid(arr.permute(0, 2, 3, 1).numpy(), path, cols=cols)


def plot_losses(history: list[dict[str, float]], path: Path) -> None:
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in history[0] if k != "step"]
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.2 * len(keys)), sharex=True, squeeze=False)
    steps = [h["step"] for h in history]
    for ax, k in zip(axes[:, 0], keys):
        vals = [h.get(k, math.nan) for h in history]
        ax.plot(steps, vals, lw=0.6, alpha=0.4)
        w = max(1, len(vals) // 50)  # running mean to see the trend through GAN noise
        smooth = [sum(vals[max(0, i - w) : i + 1]) / len(vals[max(0, i - w) : i + 1]) for i in range(len(vals))]
        ax.plot(steps, smooth, lw=1.5)
        ax.set_ylabel(k)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def train(tc: TrainConfig, model_values: dict[str, Any], resume: bool = False, command: str = "") -> Path:
    torch.set_num_threads(tc.threads)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1 or "TORCHELASTIC_RUN_ID" in os.environ
    use_cuda = tc.device == "cuda" or (tc.device == "auto" and torch.cuda.is_available())
    rank, world = 0, 1
    if distributed:
        import torch.distributed as dist

        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    is_main = rank == 0
    out = Path(tc.out)
    state_path = out / "state.pt"
    state: dict[str, Any] | None = None
    if resume:
        if not state_path.is_file():
            raise SystemExit(f"{state_path}: nothing to resume")
        state = torch.load(state_path, map_location="cpu", weights_only=True)  # tensors + plain data only
        if state["arch"] != tc.arch:
            raise SystemExit(f"{state_path} is a {state['arch']} run, not {tc.arch}")
        model_values = json.loads(state["model_config"])  # the run keeps the architecture it started with

    ds = ImageArray(tc.data, AugmentConfig(tc.flip, tc.shift, tc.jitter))
    field_meta = field_metadata(tc.data)
    config_cls = ARCHITECTURES[tc.arch][0]
    field_names = {f.name for f in dataclasses.fields(config_cls)}
    values = dict(model_values)
    if "img_resolution" in field_names and tc.arch != "cppn":
        values.setdefault("img_resolution", ds.resolution)
    if tc.arch == "cppn" and tc.teacher:
        values.setdefault("z_dim", int(json.loads(_read_meta(tc.teacher)["config"])["z_dim"]))
    model_cfg = config_from_dict(config_cls, values)
    if getattr(model_cfg, "img_resolution", ds.resolution) != ds.resolution and tc.arch != "cppn":
        raise SystemExit(f"{tc.data} holds {ds.resolution} px images but the model draws {model_cfg.img_resolution} px")
    torch.manual_seed(tc.seed)
    trainer = TRAINERS[tc.arch](tc, model_cfg, device, ds)
    tc = getattr(trainer, "tc", tc)
    step, elapsed, history = 0, 0.0, []
    gen = torch.Generator().manual_seed(tc.seed * 1000 + rank)
    if state is not None:
        for name, m in trainer.modules().items():
            m.load_state_dict(state["modules"][name])
        for name, o in trainer.optimizers().items():
            o.load_state_dict(state["optimizers"][name])
        step, elapsed, history = state["step"], state["elapsed"], json.loads(state["history"])
        gen.set_state(state["rng"])
    if distributed:
        trainer.wrap_ddp([local_rank] if use_cuda else None)
    fixed_z = trainer.fixed_latents(64, ds)
    if is_main:
        (out / "samples").mkdir(parents=True, exist_ok=True)
        print(
            f"{tc.arch}: {sum(p.numel() for p in trainer.export().parameters()) / 1e6:.2f} M generator params, "
            f"{len(ds)} images at {ds.resolution} px, {hardware(device, tc.threads)}, world {world}",
            flush=True,
        )

    def save() -> None:
        if not is_main:
            return
        blob = {
            "arch": tc.arch,
            "step": step,
            "elapsed": elapsed,
            "history": json.dumps(history),
            "model_config": json.dumps(dataclasses.asdict(model_cfg)),
            "train_config": json.dumps(dataclasses.asdict(tc)),
            "modules": {k: m.state_dict() for k, m in trainer.modules().items()},
            "optimizers": {k: o.state_dict() for k, o in trainer.optimizers().items()},
            "rng": gen.get_state(),
        }
        tmp = state_path.with_suffix(".tmp")
        torch.save(blob, tmp)
        tmp.replace(state_path)
        exported = trainer.export()
        save_checkpoint(exported, tc.arch, out / "model.safetensors", extra={"step": str(step), **field_meta})
        summary = {
            "arch": tc.arch,
            "step": step,
            "wall_time_s": round(elapsed, 1),
            "images_seen": step * tc.batch_size * world,
            "hardware": hardware(device, tc.threads),
            "world_size": world,
            "train_config": dataclasses.asdict(tc),
            "model_config": dataclasses.asdict(model_cfg),
            "command": command,
            "last_losses": history[-1] if history else {},
        }
        (out / "train.json").write_text(json.dumps(summary, indent=1))
        save_tensor_grid(trainer.sample(fixed_z), out / "samples" / "latest.png")
        plot_losses(history, out / "loss.png")

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    from tqdm import tqdm

    bar = tqdm(total=tc.steps, initial=step, disable=not is_main, unit="step", dynamic_ncols=True, mininterval=2.0)
    last_ckpt = time.monotonic()
    t_window, n_window = time.monotonic(), 0
    try:
        while step < tc.steps and not (tc.minutes and elapsed >= tc.minutes * 60):
            t0 = time.monotonic()
            batch = ds.batch(tc.batch_size, gen).to(device, non_blocking=True)
            losses = trainer.step(batch, step, gen)
            step += 1
            n_window += batch.shape[0] * world
            elapsed += time.monotonic() - t0
            bar.update(1)
            if step % tc.log_every == 0 or step == 1:
                record = {"step": step, **{k: round(float(v), 5) for k, v in losses.items()}}
                history.append(record)
                rate = n_window / max(1e-6, time.monotonic() - t_window)
                t_window, n_window = time.monotonic(), 0
                bar.set_postfix({**{k: f"{v:.3g}" for k, v in record.items() if k != "step"}, "img/s": f"{rate:.0f}"})
            if is_main and step % tc.sample_every == 0:
                save_tensor_grid(trainer.sample(fixed_z), out / "samples" / f"step_{step:06d}.png")
                plot_losses(history, out / "loss.png")
            if time.monotonic() - last_ckpt > tc.ckpt_minutes * 60:
                save()
                last_ckpt = time.monotonic()
    except KeyboardInterrupt:
        if is_main:
            print(f"\ninterrupted at step {step}; saving", flush=True)
    finally:
        bar.close()
    save()
    if is_main:
        print(f"done: {step} steps, {elapsed / 60:.1f} min -> {out}/model.safetensors", flush=True)
    if distributed:
        import torch.distributed as dist

        dist.destroy_process_group()
    return out


def field_metadata(data: str) -> dict[str, str]:
    """Checkpoint header entries that mark a field model (data report kind 'field'); {} for colour data."""
    try:
        report = json.loads((Path(data) / "report.json").read_text())
    except (OSError, ValueError):
        return {}
    if report.get("kind") != "field":
        return {}
    field = report.get("field", {})
    return {
        "output": "field",
        "field_type": str(field.get("type", "sdf")),
        "field_spread_px": str(field.get("spread_px", 4.0)),
    }


def _read_meta(path: str) -> dict[str, str]:
    from models.checkpoint import read_header

    return read_header(path)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m models.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--arch", required=True, choices=sorted(TRAINERS))
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (same as --set threads=N)")
    args = p.parse_args(argv)
    config_cls = ARCHITECTURES[args.arch][0]
    train_vals, model_vals = split_overrides(args.sets, config_cls)
    if args.threads is not None:
        train_vals["threads"] = args.threads
    if args.arch in ("vae", "cppn"):
        train_vals.setdefault("beta1", 0.9)
        train_vals.setdefault("beta2", 0.999)
        train_vals.setdefault("lr", 1e-3)
    tc = TrainConfig(arch=args.arch, data=args.data, out=args.out, **train_vals)
    command = "python -m models.train " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    train(tc, model_vals, resume=args.resume, command=command)


if __name__ == "__main__":
    main()
