"""One registry: architecture names -> (config dataclass, module), and the shipped model catalogue.

Add an architecture by adding one line to ARCHITECTURES. A model spec given to the runtime is
either a built-in name, the name of a checkpoint in assets/models/, or a path to a .safetensors file.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from models.baseline_seed import SeedDCGANConfig, SeedGenerator
from models.cppn import CPPN, CPPNConfig
from models.external import EXTERNAL_SUFFIXES
from models.gan import GANConfig, Generator, SAGANConfig
from models.superres import SuperRes, SuperResConfig
from models.vae import VAE, VAEConfig

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"

# arch name -> (config class, model class); every model class takes its config as sole argument.
ARCHITECTURES: dict[str, tuple[type, type[torch.nn.Module]]] = {
    "cppn": (CPPNConfig, CPPN),
    "gan": (GANConfig, Generator),
    "sagan": (SAGANConfig, Generator),
    "vae": (VAEConfig, VAE),
    "seed-dcgan": (SeedDCGANConfig, SeedGenerator),  # the ported seed baseline, for comparison only
    "superres": (SuperResConfig, SuperRes),  # a x4 post-processor for colour models, never a generator
}
POST_PROCESSORS = {"superres"}  # architectures that enlarge pictures: not offered as generators

# Generators that need no file: fixed seeded weights, clearly labelled as untrained.
BUILTINS: dict[str, tuple[str, dict[str, Any], str]] = {
    "seeded-cppn": ("cppn", {}, "untrained CPPN with fixed seeded weights (abstract patterns)"),
}


def config_from_dict(config_cls: type, values: dict[str, Any]) -> Any:
    """Build a config dataclass from plain JSON values; unknown keys are an error, tuples restored."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown {config_cls.__name__} keys {unknown}")
    hints = typing.get_type_hints(config_cls)
    kwargs = {}
    for name, value in values.items():
        if typing.get_origin(hints[name]) is tuple and isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[name] = value
    return config_cls(**kwargs)


def build_model(arch: str, config_values: dict[str, Any]) -> torch.nn.Module:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    config_cls, model_cls = ARCHITECTURES[arch]
    return model_cls(config_from_dict(config_cls, config_values))


@dataclass(frozen=True)
class ModelEntry:
    name: str  # what --set generator.model= takes
    arch: str
    description: str
    path: Path | None  # None for built-ins


def list_models(assets_dir: Path = ASSETS_DIR) -> list[ModelEntry]:
    """Shipped checkpoints (with their cards' descriptions) followed by the built-ins."""
    entries = []
    for path in sorted(assets_dir.glob("*.safetensors")):
        card_path = path.with_suffix(".json")
        description, arch = "", "?"
        if card_path.is_file():
            try:
                card = json.loads(card_path.read_text())
                description = str(card.get("description", ""))
                arch = str(card.get("arch", "?"))
            except (OSError, ValueError):
                description = "(model card unreadable)"
            if arch in POST_PROCESSORS:  # e.g. sr-emoji enlarges pictures; it draws none
                continue
        entries.append(ModelEntry(path.stem, arch, description, path))
    entries += _external_entries(assets_dir)
    for name, (arch, _, description) in BUILTINS.items():
        entries.append(ModelEntry(name, arch, description, None))
    return entries


def default_model_name(assets_dir: Path = ASSETS_DIR) -> str:
    """The shipped model whose card has the highest "rank" (the best-looking); the built-in if none."""
    best, best_rank = "seeded-cppn", float("-inf")
    for path in sorted(assets_dir.glob("*.json")):
        try:
            card = json.loads(path.read_text())
            rank = float(card.get("rank", float("-inf")))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
        if card.get("arch") in POST_PROCESSORS:
            continue
        if rank > best_rank and path.with_suffix(".safetensors").is_file():
            best, best_rank = path.stem, rank
    return best


def resolve(spec: str, assets_dir: Path = ASSETS_DIR) -> ModelEntry:
    """Find the model a spec names; ValueError lists what exists when nothing matches."""
    if spec in BUILTINS:
        arch, _, description = BUILTINS[spec]
        return ModelEntry(spec, arch, description, None)
    candidate = Path(spec)
    if candidate.suffix == ".safetensors":
        return ModelEntry(candidate.stem, "?", "", candidate)
    if candidate.suffix in EXTERNAL_SUFFIXES:
        return ModelEntry(candidate.stem, "external", _sidecar_description(candidate), candidate)
    for entry in list_models(assets_dir):
        if entry.name == spec:
            return entry
    names = ", ".join(e.name for e in list_models(assets_dir))
    raise ValueError(f"no model named {spec!r}; available: {names}")


def load_generator(spec: str, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, ModelEntry]:
    """Build the generator a spec names, in eval mode on `device`. Raises ValueError/CheckpointError."""
    entry = resolve(spec)
    if entry.path is None:
        arch, values, _ = BUILTINS[entry.name]
        model = build_model(arch, values).to(device).eval()
        return model, entry
    if entry.path.suffix in EXTERNAL_SUFFIXES:
        from models.external import load_external  # an artist's TorchScript / torch.export file

        return load_external(entry.path, device), entry
    from models.checkpoint import load_checkpoint, read_header  # checkpoint imports this module

    arch = read_header(entry.path)["arch"]
    if arch in POST_PROCESSORS:
        raise ValueError(
            f"{entry.path}: a {arch} post-processor, not a generator (the show applies it itself; "
            f"see generator.superres)"
        )
    return load_checkpoint(entry.path, device), entry


def _sidecar_description(path: Path) -> str:
    try:
        return str(json.loads(path.with_suffix(".json").read_text()).get("description", "external generator"))
    except (OSError, ValueError, AttributeError):
        return "external generator (sidecar missing or unreadable)"


def _external_entries(assets_dir: Path) -> list[ModelEntry]:
    """Artists' TorchScript / torch.export generators dropped into assets/models with a JSON sidecar."""
    return [
        ModelEntry(path.stem, "external", _sidecar_description(path), path)
        for path in sorted(assets_dir.glob("*"))
        if path.suffix in EXTERNAL_SUFFIXES and path.with_suffix(".json").is_file()
    ]
