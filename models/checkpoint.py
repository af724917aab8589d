"""Generator checkpoints: safetensors weights whose header carries the architecture and config.

A checkpoint rebuilds its model alone: `load_checkpoint(path)` needs nothing but the file.
Nothing here unpickles: safetensors holds only tensors and string metadata.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from models.architectures import ARCHITECTURES, build_model
from models.field import FieldInfo, ModuleT, field_info_from_header, mark

FORMAT = "reverie-generator/1"


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message names the file and what is wrong."""


def save_checkpoint(
    model: torch.nn.Module, arch: str, path: str | Path, *, half: bool = False, extra: dict[str, str] | None = None
) -> Path:
    """Write model weights + arch + config to `path` (.safetensors). fp16 storage when half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = model.config
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"{type(model).__name__}.config is not a config dataclass instance")
    config_values = dataclasses.asdict(config)
    tensors = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous()
        if half and tensor.is_floating_point():
            tensor = tensor.half()
        tensors[name] = tensor
    metadata = {"format": FORMAT, "arch": arch, "config": json.dumps(config_values)}
    metadata.update(extra or {})
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)  # atomic: a crash mid-write never leaves a half checkpoint under the real name
    return path


def read_header(path: str | Path) -> dict[str, str]:
    """The string metadata of a checkpoint, validated to be ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as exc:  # safetensors raises several types for corrupt/truncated files
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: header format is {metadata.get('format')!r}, expected {FORMAT!r}")
    if metadata.get("arch") not in ARCHITECTURES:
        raise CheckpointError(
            f"{path}: unknown architecture {metadata.get('arch')!r}; known: {', '.join(sorted(ARCHITECTURES))}"
        )
    return metadata


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Rebuild the model from the file alone, checking every tensor's name, shape and dtype."""
    path = Path(path)
    metadata = read_header(path)
    arch = metadata["arch"]
    try:
        config_dict: dict[str, Any] = json.loads(metadata.get("config", "{}"))
        model = build_model(arch, config_dict)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: config does not fit architecture {arch!r} ({exc})") from exc
    expected = model.state_dict()
    loaded: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt") as f:
            names = set(f.keys())
            missing = sorted(set(expected) - names)
            unexpected = sorted(names - set(expected))
            if missing or unexpected:
                raise CheckpointError(
                    f"{path}: tensors do not match {arch!r}: missing {missing[:5]}, unexpected {unexpected[:5]}"
                )
            for name, want in expected.items():
                tensor = f.get_tensor(name)
                if tuple(tensor.shape) != tuple(want.shape):
                    raise CheckpointError(
                        f"{path}: tensor {name} has shape {tuple(tensor.shape)}, expected {tuple(want.shape)}"
                    )
                if tensor.is_floating_point() != want.is_floating_point():
                    raise CheckpointError(f"{path}: tensor {name} has dtype {tensor.dtype}, expected {want.dtype}")
                if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                    raise CheckpointError(f"{path}: tensor {name} holds NaN or Inf")
                loaded[name] = tensor.to(want.dtype)
    except CheckpointError:
        raise
    except Exception as exc:  # truncated data section, bad offsets
        raise CheckpointError(f"{path}: corrupt tensor data ({exc})") from exc
    model.load_state_dict(loaded)
    model.to(device).eval()  # in place
    return mark(model, field_info_from_header(metadata, str(path)))  # field or colour output


def load_checkpoint_as(path: str | Path, cls: type[ModuleT], device: str | torch.device = "cpu") -> ModuleT:
    """load_checkpoint, checked to be a `cls` (e.g. a VAE or a SuperRes where one is needed)."""
    model = load_checkpoint(path, device)
    if not isinstance(model, cls):
        raise CheckpointError(f"{path}: a {type(model).__name__}, expected a {cls.__name__}")
    return model


def read_field_info(path: str | Path) -> FieldInfo | None:
    """Field info of a checkpoint file (reads the header only); None for a colour model."""
    return field_info_from_header(read_header(path), str(path))
