"""Draw from a generator: a grid PNG or a smooth latent-walk video.

    python -m models.sample CHECKPOINT --grid out.png [--n 64 --size 128 --seed 0]
    python -m models.sample CHECKPOINT --walk out.mp4 [--seconds 12 --fps 30 --size 256 --keys 6]

CHECKPOINT is a .safetensors file, a shipped model name (assets/models), a built-in name, or an
external TorchScript / torch.export file with its JSON sidecar.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.data import save_grid
from models.glyphs import field_picture


@torch.no_grad()
def render(model: nn.Module, z: torch.Tensor, size: int) -> np.ndarray:
    """(B, z_dim) -> (B, size, size, 3) uint8. Resolution-free models render at `size` directly."""
    try:
        x = model(z, size, size) if _takes_size(model) else model(z)
    except TypeError:
        x = model(z)
    x = x.float().clamp(-1, 1)
    native = x.shape[-1]
    if x.shape[-1] != size:
        mode = "area" if x.shape[-1] > size else "bicubic"
        x = nn.functional.interpolate(x, size=(size, size), mode=mode).clamp(-1, 1)
    x = field_picture(x, sharpness=8.0 * size / native)  # a field: edge ~half a px at any size
    return ((x + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _takes_size(model: nn.Module) -> bool:
    from models.cppn import CPPN

    return isinstance(model, CPPN)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: keeps |z| typical of the Gaussian prior all along the path."""
    an, bn = a / a.norm(), b / b.norm()
    omega = torch.arccos((an * bn).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    if so.abs() < 1e-6:
        return a * (1 - t) + b * t
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def walk_latents(z_dim: int, frames: int, keys: int, seed: int) -> torch.Tensor:
    """A looping walk through `keys` random key latents with eased slerp between them. (frames, z_dim)."""
    gen = torch.Generator().manual_seed(seed)
    key = torch.randn(keys, z_dim, generator=gen)
    out = []
    for f in range(frames):
        pos = f / frames * keys
        i, t = int(pos), pos - int(pos)
        t = t * t * (3 - 2 * t)  # smoothstep: linger a little on each key image
        out.append(slerp(key[i % keys], key[(i + 1) % keys], t))
    return torch.stack(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m models.sample", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("checkpoint")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--grid", type=Path, help="write an 8-column sample grid PNG")
    mode.add_argument("--walk", type=Path, help="write a latent-walk MP4")
    p.add_argument("--n", type=int, default=64, help="grid: number of samples")
    p.add_argument("--size", type=int, default=0, help="output side in px (default: 2x model resolution, min 128)")
    p.add_argument("--seconds", type=float, default=12.0)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--keys", type=int, default=6, help="walk: key latents visited (loops)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from models.registry import load_generator

    model, entry = load_generator(args.checkpoint)
    size = args.size or max(128, 2 * int(model.img_resolution))
    if args.grid:
        z = torch.randn(args.n, model.z_dim, generator=torch.Generator().manual_seed(args.seed))
        args.grid.parent.mkdir(parents=True, exist_ok=True)
        save_grid(render(model, z, size), args.grid)
        print(f"{entry.name}: {args.n} samples -> {args.grid}")
        return
    import imageio_ffmpeg

    frames = max(2, int(args.seconds * args.fps))
    zs = walk_latents(model.z_dim, frames, args.keys, args.seed)
    args.walk.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(str(args.walk), (size, size), fps=args.fps, quality=8, macro_block_size=1)
    writer.send(None)  # start the ffmpeg process
    try:
        for i in range(0, frames, 16):
            for frame in render(model, zs[i : i + 16], size):
                writer.send(np.ascontiguousarray(frame))
    finally:
        writer.close()
    print(f"{entry.name}: {frames} frames ({args.seconds:g} s) -> {args.walk}")


if __name__ == "__main__":
    main()
