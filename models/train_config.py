"""What a training run is told: TrainConfig, typed `--set key=value` overrides, and the hardware line.

Shared by the generator trainer (models/train.py) and the super-resolution trainer.
"""

from __future__ import annotations

import json
import platform
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch


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
    train_vals: dict[str, Any] = {}
    model_vals: dict[str, Any] = {}
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
