"""Field models: generators whose output is a shape field (a signed distance to an edge), not colours.

The one place that decides whether a model is a field model. A checkpoint says so in its
safetensors header (`output = "field"`, `field_type`, `field_spread_px`), so any path works, with
or without a JSON card. The runtime renders such output at the screen's own resolution
(installation/render/field.py): ink > 0, 0 on the edge, +-1 at `spread_px` model pixels from it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TypeVar

import torch

log = logging.getLogger(__name__)
ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)

FIELD_TYPES = ("sdf",)  # signed distance, clipped and scaled by spread_px (see models/glyphs.py)
ATTR = "field_info"  # the attribute a loaded field model carries (None or absent: a colour model)


@dataclass(frozen=True)
class FieldInfo:
    type: str  # "sdf"
    spread_px: float  # model px from the edge where the field reaches +-1


def field_info_from_header(metadata: dict[str, str], where: str = "checkpoint") -> FieldInfo | None:
    """FieldInfo from a checkpoint header; None for colour models. A field header that is wrong is
    logged once (naming the key) and the model is treated as a colour model, so the show goes on."""
    if metadata.get("output", "image") != "field":
        return None
    kind = metadata.get("field_type", "sdf")
    if kind not in FIELD_TYPES:
        log.error("%s: field_type %r is not one of %s; rendering it as colours", where, kind, ", ".join(FIELD_TYPES))
        return None
    try:
        spread_px = float(metadata.get("field_spread_px", ""))
    except ValueError:
        spread_px = float("nan")
    if not (math.isfinite(spread_px) and 0.0 < spread_px <= 64.0):
        log.error(
            "%s: field_spread_px %r is not a number of model pixels in (0, 64]; rendering it as colours",
            where,
            metadata.get("field_spread_px"),
        )
        return None
    return FieldInfo(kind, spread_px)


def field_info(model: torch.nn.Module) -> FieldInfo | None:
    """What a loaded generator outputs: FieldInfo for a field model, None for colours."""
    info = getattr(model, ATTR, None)
    return info if isinstance(info, FieldInfo) else None


def mark(model: ModuleT, info: FieldInfo | None) -> ModuleT:
    """Attach the field info to a loaded model (the worker and the mirror read it from there)."""
    setattr(model, ATTR, info)  # a plain attribute (not a submodule or buffer): not saved with the weights
    return model
