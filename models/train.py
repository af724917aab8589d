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
import dataclasses
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch

from models.architectures import ARCHITECTURES, config_from_dict
from models.checkpoint import read_header
from models.data import AugmentConfig, ImageArray, save_grid
from models.glyphs import field_picture
from models.run_files import load_state, plot_losses, save_run
from models.train_config import TrainConfig, hardware, split_overrides
from models.trainers import TRAINERS


def save_tensor_grid(images: torch.Tensor, path: Path, cols: int = 8) -> None:
    """(B, 3, H, W) in [-1, 1] -> PNG grid; a field (B, 1, H, W), ink > 0, is drawn as black ink on white."""
    images = field_picture(images.detach().float().cpu())
    arr = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    save_grid(arr.permute(0, 2, 3, 1).numpy(), path, cols=cols)


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
    state_path = out / "state.pt"  # named in messages
    state: dict[str, Any] | None = None
    if resume:
        state = load_state(out)
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
    tc = trainer.tc
    step, elapsed = 0, 0.0
    history: list[dict[str, float]] = []
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
        save_run(out, blob, trainer.export, tc.arch, {"step": str(step), **field_meta}, summary)
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
