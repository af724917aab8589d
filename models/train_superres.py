"""Train the x4 super-resolution post-processor (models/superres.py) on prepared image pairs.

    python -m models.train_superres --data data/emoji128 --out runs/sr-emoji [--set steps=20000 ...] [--resume]

High-resolution targets are a prepared folder (`python -m models.data prepare ... --resolution 128`);
the low-resolution inputs are made from them the way the shipped 32 px data was made (PIL Lanczos,
which matches data/emoji32 to 0.26 grey levels), with area downscales and a light blur mixed in so
the net also meets softer inputs. `--set generator_pairs=PATH/vae.safetensors` adds pairs whose input
is a VAE's own reconstruction of the 32 px image (the generator's output style). A fixed share of the
images (`holdout`) never trains; models/superres_eval.py measures on it. The run folder gets
state.pt (for --resume), model.safetensors (models.checkpoint format), train.json, samples.png
(rows: input, bicubic, SR, target) and loss.png. Ctrl-C or SIGTERM saves and exits.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from models.checkpoint import load_checkpoint
from models.run_files import load_state, plot_losses, save_run
from models.superres import SuperRes, SuperResConfig, upscale_bicubic
from models.train_config import split_overrides
from models.vae import VAE


@dataclass
class SRTrainConfig:
    data: str = "data/emoji128"  # prepared folder of high-resolution targets (images.npy)
    out: str = "runs/sr-emoji"  # run folder
    steps: int = 20000  # optimiser steps
    minutes: float = 0.0  # also stop after this much training wall time (0 = no limit)
    batch_size: int = 32  # patches per step
    patch: int = 16  # low-resolution patch side in px (targets are scale x this)
    lr: float = 1e-3  # Adam learning rate, cosine-decayed to 5 % over `steps`
    holdout: float = 0.1  # share of images kept out of training (a seeded permutation's tail)
    area_share: float = 0.25  # inputs made by area downscale instead of Lanczos
    blur_share: float = 0.25  # inputs blurred a little more (Gaussian, sigma up to blur_sigma LR px)
    blur_sigma: float = 0.8
    generator_pairs: str = ""  # a VAE checkpoint: its reconstructions become extra inputs ("" = none)
    generator_share: float = 0.0  # share of each batch taken from those pairs
    ckpt_minutes: float = 3.0  # wall minutes between checkpoints
    log_every: int = 50  # steps between loss records
    threads: int = 1  # torch.set_num_threads
    seed: int = 0


def split_indices(n: int, holdout: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) image indices: a seeded permutation, the last `holdout` share held out."""
    order = np.random.default_rng(seed).permutation(n)
    n_out = max(1, round(n * holdout))
    return np.sort(order[:-n_out]), np.sort(order[-n_out:])


def downscale(hr_rgb: np.ndarray, scale: int, method: str = "lanczos") -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, H/scale, W/scale, 3) uint8 the way models.data prepare resizes."""
    resample = Image.Resampling.LANCZOS if method == "lanczos" else Image.Resampling.BOX
    size = (hr_rgb.shape[2] // scale, hr_rgb.shape[1] // scale)
    return np.stack([np.asarray(Image.fromarray(im).resize(size, resample, reducing_gap=3.0)) for im in hr_rgb])


def to_tensor(images_rgb: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(images_rgb).permute(0, 3, 1, 2).float() / 127.5 - 1.0


@torch.no_grad()
def vae_reconstructions(vae_path: str, lr: torch.Tensor) -> torch.Tensor:
    """A VAE's decode(encode(x)) of each low-resolution image: inputs in the generator's own style."""
    vae = load_checkpoint(vae_path)
    if not isinstance(vae, VAE) or vae.img_resolution != lr.shape[-1]:
        raise SystemExit(f"{vae_path}: generator_pairs needs a VAE drawing {lr.shape[-1]} px images")
    return torch.cat([vae.decode_raw(vae.encode_raw(lr[i : i + 128])[0]) for i in range(0, len(lr), 128)])


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image Gaussian blur of (B, C, h, w) with sigma (B,) in px (5x5 taps, replicate border)."""
    t = torch.arange(-2, 3, dtype=x.dtype)
    k = torch.exp(-(t[None] ** 2) / (2 * sigma[:, None].clamp(min=1e-3) ** 2))
    k = k / k.sum(1, keepdim=True)  # (B, 5)
    b, c, h, w = x.shape
    pad = nn.functional.pad(x.reshape(1, b * c, h, w), (2, 2, 2, 2), mode="replicate")
    kx = k.repeat_interleave(c, 0)  # (B*C, 5): one kernel per channel of each image
    out = nn.functional.conv2d(pad, kx[:, None, None, :], groups=b * c)
    out = nn.functional.conv2d(out, kx[:, None, :, None], groups=b * c)
    return out.reshape(b, c, h, w)


class PairSampler:
    """Aligned (low, high) patch pairs from the training images, augmented by flips and rotations."""

    def __init__(self, hr: torch.Tensor, inputs: dict[str, torch.Tensor], tc: SRTrainConfig, scale: int) -> None:
        self.hr, self.inputs, self.tc, self.scale = hr, inputs, tc, scale  # hr (N, 3, H, W); inputs (N, 3, h, w)

    def batch(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        tc, s, p = self.tc, self.scale, self.tc.patch
        n, h = len(self.hr), self.inputs["lanczos"].shape[-1]
        idx = torch.randint(n, (tc.batch_size,), generator=gen)
        ys = torch.randint(h - p + 1, (tc.batch_size,), generator=gen)
        xs = torch.randint(h - p + 1, (tc.batch_size,), generator=gen)
        kind = torch.rand(tc.batch_size, generator=gen)
        lows, highs = [], []
        for i in range(tc.batch_size):
            source = "lanczos"
            if "generator" in self.inputs and kind[i] < tc.generator_share:
                source = "generator"
            elif kind[i] > 1 - tc.area_share:
                source = "area"
            y, x = int(ys[i]), int(xs[i])
            lows.append(self.inputs[source][idx[i], :, y : y + p, x : x + p])
            highs.append(self.hr[idx[i], :, y * s : (y + p) * s, x * s : (x + p) * s])
        low, high = torch.stack(lows), torch.stack(highs)  # (B, 3, p, p), (B, 3, s*p, s*p)
        blur = torch.rand(tc.batch_size, generator=gen) < tc.blur_share
        if blur.any():
            sigma = torch.rand(int(blur.sum()), generator=gen) * tc.blur_sigma
            low[blur] = gaussian_blur(low[blur], sigma)
        turns = int(torch.randint(4, (1,), generator=gen))  # one rotation/flip per batch: cheap, same for both
        low, high = torch.rot90(low, turns, (2, 3)), torch.rot90(high, turns, (2, 3))
        if torch.rand(1, generator=gen) < 0.5:
            low, high = low.flip(3), high.flip(3)
        return low.contiguous(), high.contiguous()


def save_samples(model: SuperRes, low: torch.Tensor, high: torch.Tensor, path: Path) -> None:
    """Rows: input (nearest), bicubic, SR, target; one column per image."""
    was = model.training
    model.eval()
    with torch.no_grad():
        rows = [
            nn.functional.interpolate(low, scale_factor=model.scale, mode="nearest"),
            upscale_bicubic(low, model.scale).clamp(-1, 1),
            model(low),
            high,
        ]
    model.train(was)
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)  # (3, 4*H, n*W)
    arr = ((grid.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    Image.fromarray(arr).save(path)


def train(tc: SRTrainConfig, model_values: dict[str, Any], resume: bool = False, command: str = "") -> Path:
    torch.set_num_threads(tc.threads)
    out = Path(tc.out)
    out.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] | None = None
    if resume:
        state = load_state(out)
        model_values = json.loads(state["model_config"])  # the run keeps the architecture it started with
    config = SuperResConfig(**model_values)
    file = Path(tc.data) / "images.npy"
    if not file.is_file():
        raise SystemExit(
            f"{file}: no prepared images; run `python -m models.data prepare SRC --out {tc.data} --resolution 128`"
        )
    hr_rgb = np.load(file, allow_pickle=False)  # (N, H, W, 3) uint8
    if hr_rgb.ndim != 4 or hr_rgb.shape[3] != config.img_channels or hr_rgb.shape[1] % config.scale:
        raise SystemExit(
            f"{file}: expected (N, R, R, {config.img_channels}) with R a multiple of {config.scale}, got {hr_rgb.shape}"
        )
    train_idx, held_idx = split_indices(len(hr_rgb), tc.holdout, tc.seed)
    hr_rgb = hr_rgb[train_idx]
    inputs = {m: to_tensor(downscale(hr_rgb, config.scale, m)) for m in ("lanczos", "area")}
    if tc.generator_pairs and tc.generator_share > 0:
        inputs["generator"] = vae_reconstructions(tc.generator_pairs, inputs["lanczos"])
    sampler = PairSampler(to_tensor(hr_rgb), inputs, tc, config.scale)
    torch.manual_seed(tc.seed)
    model = SuperRes(config)
    opt = torch.optim.Adam(model.parameters(), lr=tc.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, tc.steps))))
    )
    gen = torch.Generator().manual_seed(tc.seed * 1000 + 7)
    step, elapsed, cpu_s, history = 0, 0.0, 0.0, []
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, elapsed, cpu_s = state["step"], state["elapsed"], state["cpu_s"]
        history = json.loads(state["history"])
        gen.set_state(state["rng"])
    n_show = 8
    show_low, show_high = inputs["lanczos"][:n_show], sampler.hr[:n_show]
    print(
        f"superres: {sum(p.numel() for p in model.parameters())} params, {len(train_idx)} training / "
        f"{len(held_idx)} held-out images, inputs {sorted(inputs)}",
        flush=True,
    )

    def save() -> None:
        blob = {
            "step": step,
            "elapsed": elapsed,
            "cpu_s": cpu_s,
            "history": json.dumps(history),
            "model_config": json.dumps(dataclasses.asdict(config)),
            "train_config": json.dumps(dataclasses.asdict(tc)),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "rng": gen.get_state(),
        }
        summary = {
            "arch": "superres",
            "step": step,
            "wall_time_s": round(elapsed, 1),
            "cpu_time_s": round(cpu_s, 1),
            "train_config": dataclasses.asdict(tc),
            "model_config": dataclasses.asdict(config),
            "held_out": [int(i) for i in held_idx],
            "command": command,
            "last_losses": history[-1] if history else {},
        }
        save_run(out, blob, lambda: model, "superres", {"role": "post-processor", "step": str(step)}, summary)
        save_samples(model, show_low, show_high, out / "samples.png")
        plot_losses(history, out / "loss.png")

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    last_ckpt, running = time.monotonic(), []
    try:
        while step < tc.steps and not (tc.minutes and elapsed >= tc.minutes * 60):
            t0, c0 = time.monotonic(), time.process_time()
            low, high = sampler.batch(gen)
            loss = (model(low) - high).abs().mean()  # L1: sharper than L2 where the answer is uncertain
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            running.append(float(loss.detach()))
            elapsed += time.monotonic() - t0
            cpu_s += time.process_time() - c0
            if step % tc.log_every == 0:
                history.append({"step": step, "l1": round(sum(running) / len(running), 5)})
                running = []
                if step % (tc.log_every * 10) == 0:
                    print(
                        f"step {step} l1 {history[-1]['l1']:.4f} {elapsed / 60:.1f} min ({cpu_s / 60:.1f} CPU min)",
                        flush=True,
                    )
            if time.monotonic() - last_ckpt > tc.ckpt_minutes * 60:
                save()
                last_ckpt = time.monotonic()
    except KeyboardInterrupt:
        print(f"\ninterrupted at step {step}; saving", flush=True)
    save()
    print(
        f"done: {step} steps, {elapsed / 60:.1f} min ({cpu_s / 60:.1f} CPU min) -> {out}/model.safetensors", flush=True
    )
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m models.train_superres",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", default=SRTrainConfig.data)
    p.add_argument("--out", default=SRTrainConfig.out)
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an SRTrainConfig or SuperResConfig field (model.NAME forces the latter)",
    )
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    args = p.parse_args(argv)
    train_vals, model_vals = _split(args.sets)
    tc = dataclasses.replace(SRTrainConfig(data=args.data, out=args.out), **train_vals)
    command = "python -m models.train_superres " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    train(tc, model_vals, resume=args.resume, command=command)


def _split(pairs: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The generator trainer's typed --set parsing types values from TrainConfig; re-type the keys that are ours."""
    import typing

    hints = typing.get_type_hints(SRTrainConfig)
    mine = [kv for kv in pairs if kv.split("=", 1)[0] in hints]
    rest = [kv for kv in pairs if kv not in mine]
    _, model_vals = split_overrides(
        [f"model.{kv}" if not kv.startswith("model.") else kv for kv in rest], SuperResConfig
    )
    train_vals: dict[str, Any] = {}
    for kv in mine:
        key, raw = kv.split("=", 1)
        hint = hints[key]
        try:
            train_vals[key] = (raw.lower() in ("1", "true", "yes", "on")) if hint is bool else hint(raw)
        except ValueError as exc:
            raise SystemExit(f"--set {kv}: {exc}") from exc
    return train_vals, model_vals


if __name__ == "__main__":
    main()
