"""The architecture table: arch name -> (config dataclass, model class), and building a model from it.

Add an architecture by adding one line to ARCHITECTURES. Checkpoints (models/checkpoint.py) and the
model catalogue (models/registry.py) both read this table; it imports neither of them.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import torch

from models.baseline_seed import SeedDCGANConfig, SeedGenerator
from models.cppn import CPPN, CPPNConfig
from models.gan import GANConfig, Generator, SAGANConfig
from models.superres import SuperRes, SuperResConfig
from models.vae import VAE, VAEConfig

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
