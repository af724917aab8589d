"""Bring your own generator: an artist's TorchScript (.ts / .pt) or torch.export (.pt2) file.

Next to `my_model.pt2` put `my_model.json`:

    {"z_dim": 128, "resolution": 256, "output_range": [-1, 1], "description": "my GAN"}

`output_range` is what the model emits ([-1, 1], [0, 1] or [0, 255]); Reverie maps it to [-1, 1].
Optional: "channels" (default 3), "name". The file is loaded with torch.jit.load or
torch.export.load, never with pickle, and probed once: a wrong output shape is an error that
names the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from models.protocol import GeneratorModule

TORCHSCRIPT_SUFFIXES = (".ts", ".pt", ".jit")
EXPORT_SUFFIXES = (".pt2",)
EXTERNAL_SUFFIXES = TORCHSCRIPT_SUFFIXES + EXPORT_SUFFIXES


class ExternalModelError(ValueError):
    """An external generator or its sidecar that cannot be used; the message names the file."""


def sidecar_path(path: Path) -> Path:
    return path.with_suffix(".json")


def read_sidecar(path: Path) -> dict[str, Any]:
    side = sidecar_path(path)
    if not side.is_file():
        raise ExternalModelError(f"{path}: needs a sidecar {side.name} with z_dim, resolution, output_range")
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise ExternalModelError(f"{side}: unreadable JSON ({exc})") from exc
    try:
        z_dim, res = int(meta["z_dim"]), int(meta["resolution"])
        lo, hi = (float(v) for v in meta.get("output_range", (-1, 1)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ExternalModelError(
            f"{side}: needs integer z_dim and resolution and a 2-number output_range ({exc})"
        ) from exc
    if z_dim <= 0 or res <= 0 or hi <= lo:
        raise ExternalModelError(f"{side}: z_dim/resolution must be positive and output_range increasing")
    meta.update(z_dim=z_dim, resolution=res, output_range=(lo, hi), channels=int(meta.get("channels", 3)))
    return meta


class ExternalGenerator(GeneratorModule):
    """Wraps a loaded program so it follows the Generator protocol (output mapped to [-1, 1])."""

    program: Any  # a TorchScript module or an exported program's module: both callable on z

    def __init__(self, program: Any, meta: dict[str, Any], path: Path) -> None:
        super().__init__()
        # not registered as a submodule: exported programs refuse .train()/.eval(), and the
        # wrapper never trains anyway
        object.__setattr__(self, "program", program)
        self.path = path
        self.z_dim = meta["z_dim"]
        self.img_resolution = meta["resolution"]
        self.img_channels = meta["channels"]
        self.lo, self.hi = meta["output_range"]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.program(z)
        if isinstance(x, (tuple, list)):
            x = x[0]
        x = (x.float() - self.lo) / (self.hi - self.lo) * 2 - 1
        return x.clamp(-1, 1)


def load_external(path: str | Path, device: str | torch.device = "cpu") -> ExternalGenerator:
    path = Path(path)
    if not path.is_file():
        raise ExternalModelError(f"{path}: no such file")
    meta = read_sidecar(path)
    try:
        if path.suffix in EXPORT_SUFFIXES:
            program = torch.export.load(str(path)).module()
        else:
            program = torch.jit.load(str(path), map_location=device)
    except Exception as exc:  # corrupt archive, wrong format, unsupported ops
        raise ExternalModelError(
            f"{path}: cannot load as {'torch.export' if path.suffix in EXPORT_SUFFIXES else 'TorchScript'} "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if path.suffix in EXPORT_SUFFIXES:
        if str(device) != "cpu":
            program = program.to(device)
    else:
        program.eval()  # TorchScript: inference mode for dropout/batch norm
    model = ExternalGenerator(program, meta, path)
    with torch.no_grad():
        try:
            probe = model(torch.zeros(1, model.z_dim, device=device))
        except Exception as exc:
            raise ExternalModelError(f"{path}: forward on a (1, {model.z_dim}) latent failed ({exc})") from exc
    want = (1, model.img_channels, model.img_resolution, model.img_resolution)
    if tuple(probe.shape) != want:
        raise ExternalModelError(f"{path}: output shape {tuple(probe.shape)}, sidecar promises {want}")
    return model.eval()
