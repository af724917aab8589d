"""The model catalogue: shipped checkpoints, external generators and built-ins, and loading one by name.

A model spec given to the runtime is either a built-in name, the name of a checkpoint in
assets/models/, or a path to a .safetensors (or external) file. The architecture table itself lives in
models/architectures.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from models.architectures import ARCHITECTURES as ARCHITECTURES  # re-exported: callers predate the split
from models.architectures import POST_PROCESSORS, build_model
from models.checkpoint import load_checkpoint, read_header
from models.external import EXTERNAL_SUFFIXES
from models.protocol import GeneratorModule

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"

# Generators that need no file: fixed seeded weights, clearly labelled as untrained.
BUILTINS: dict[str, tuple[str, dict[str, Any], str]] = {
    "seeded-cppn": ("cppn", {}, "untrained CPPN with fixed seeded weights (abstract patterns)"),
}


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


def load_generator(spec: str, device: str | torch.device = "cpu") -> tuple[GeneratorModule, ModelEntry]:
    """Build the generator a spec names, in eval mode on `device`. Raises ValueError/CheckpointError."""
    entry = resolve(spec)
    if entry.path is None:
        arch, values, _ = BUILTINS[entry.name]
        model = build_model(arch, values)
        model.to(device).eval()  # in place
        return _generator(model, entry.name), entry
    if entry.path.suffix in EXTERNAL_SUFFIXES:
        from models.external import load_external  # an artist's TorchScript / torch.export file

        return load_external(entry.path, device), entry
    arch = read_header(entry.path)["arch"]
    if arch in POST_PROCESSORS:
        raise ValueError(
            f"{entry.path}: a {arch} post-processor, not a generator (the show applies it itself; "
            f"see generator.superres)"
        )
    return _generator(load_checkpoint(entry.path, device), str(entry.path)), entry


def _generator(model: torch.nn.Module, where: str) -> GeneratorModule:
    if not isinstance(model, GeneratorModule):  # a new architecture that is not a generator
        raise ValueError(f"{where}: a {type(model).__name__}, not a generator")
    return model


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
