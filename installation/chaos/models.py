"""Model-file faults for the chaos soak: a corrupted file, and finite weights that overflow to NaN.

Both replace the file atomically (write beside it, then rename), as an artist copying a file over the
old one would; the running show's hot swap (installation/render/model_watch.py) picks them up.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

OVERFLOW_GAIN = 1e30  # weights x up to 1e30: finite on disk (the loader checks), Inf/NaN after a few layers


def _replace(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.chaos")
    write(tmp)
    os.replace(tmp, path)


def copy_model(source: Path, folder: Path) -> Path:
    """The model file (and its JSON card, if any) copied into folder; the copy's path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    shutil.copyfile(source, target)
    card = source.with_suffix(".json")
    if card.is_file():
        shutil.copyfile(card, target.with_suffix(".json"))
    return target


def corrupt(path: Path, good: Path) -> None:
    """Bit rot: the good file with its tensor data overwritten by garbage (the header still parses)."""

    def write(tmp: Path) -> None:
        data = bytearray(good.read_bytes())
        header_end = 8 + int.from_bytes(data[:8], "little")
        data[header_end:] = os.urandom(len(data) - header_end)[: len(data) - header_end]
        data = data[: header_end + (len(data) - header_end) // 2]  # and truncated
        tmp.write_bytes(bytes(data))

    _replace(path, write)


def overflowing(path: Path, good: Path) -> None:
    """The good model with every floating-point weight multiplied by OVERFLOW_GAIN: it loads, and
    renders NaN/Inf (as a diverged training run or an fp16 overflow would)."""

    def write(tmp: Path) -> None:
        with safe_open(str(good), framework="pt") as f:
            metadata = f.metadata()
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 - safe_open is not a dict
        for name, tensor in tensors.items():
            if name.endswith("running_var"):  # batch norm: sqrt(var + eps) of a negative var is NaN
                tensors[name] = torch.full_like(tensor, -1.0)
            elif tensor.is_floating_point() and tensor.numel() > 1:
                # as large as the file's dtype holds (fp16 tops out at 65504): finite on disk
                top = float(tensor.float().abs().max()) or 1.0
                gain = min(OVERFLOW_GAIN, torch.finfo(tensor.dtype).max / (4.0 * top))
                tensors[name] = (tensor.float() * gain).to(tensor.dtype)
        save_file(tensors, str(tmp), metadata=metadata)

    _replace(path, write)


def restore(path: Path, good: Path) -> None:
    _replace(path, lambda tmp: shutil.copyfile(good, tmp))


def renders_non_finite(path: Path) -> bool:
    """Does the model at path render NaN/Inf? (a check for the overflow fault itself)."""
    from models.registry import load_generator

    model, _ = load_generator(str(path))
    with torch.no_grad():
        image = model(torch.randn(1, int(model.z_dim)))
    return not bool(torch.isfinite(image).all())
