"""The field path in the bench: the Ink preset on a field model, the whole loop headless, plus the
FieldRenderer's own cost per frame at 1080p and 4K.

The model is the shipped field model when there is one (the default, else sagan-calligraphy); on a
checkout without one, a freshly initialised field SAGAN of the shipped size (64 px, g_width 16,
max_width 128) written to the bench's temporary folder: it draws other shapes, at the same cost.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from installation.bench.harness import run_loop, summarize
from installation.render.field import FieldRenderer, FieldStyle
from models.checkpoint import CheckpointError, read_header, save_checkpoint
from models.field import field_info_from_header
from models.gan import Generator, SAGANConfig
from models.registry import ASSETS_DIR, default_model_name

FIELD_PRESET = "6-ink"
SHIPPED_FIELD = "sagan-calligraphy"
RENDER_SIZES = ((1920, 1080), (3840, 2160))
LOOP_FIGURES = (
    "display_fps",
    "generator_fps",
    "frame_time_p50_ms",
    "frame_time_p95_ms",
    "frame_time_p99_ms",
    "dropped_frames",
    "cpu_percent",
    "peak_rss_mb",
    "model",
    "seconds",
)


def is_field_checkpoint(path: Path) -> bool:
    try:
        return field_info_from_header(read_header(path), str(path)) is not None
    except CheckpointError:
        return False


def field_model(tmp: Path) -> tuple[str, bool]:
    """(model spec, shipped?) for the field loop."""
    for name in (default_model_name(), SHIPPED_FIELD):
        path = ASSETS_DIR / f"{name}.safetensors"
        if path.is_file() and is_field_checkpoint(path):
            return name, True
    torch.manual_seed(0)
    model = Generator(SAGANConfig(z_dim=128, img_resolution=64, img_channels=1, g_width=16, d_width=16, max_width=128))
    path = save_checkpoint(
        model,
        "sagan",
        tmp / "untrained-field-sagan.safetensors",
        extra={"output": "field", "field_type": "sdf", "field_spread_px": "4.0"},
    )
    return str(path), False


def render_cost(budget_s: float = 1.0) -> dict[str, Any]:
    """FieldRenderer.render ms per frame (p50, p95) on one 64 px glyph-like field, per screen size."""
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
    field = np.clip((12 - np.hypot(xs - 31.5, ys - 31.5)) / 4.0, -1, 1) * np.cos(xs / 5.0)  # rings and bars
    out = {}
    for size in RENDER_SIZES:
        renderer = FieldRenderer(size)
        renderer.render(field, 4.0, FieldStyle())  # textures and matrices are made once
        times: list[float] = []
        end_s = time.perf_counter() + budget_s
        while time.perf_counter() < end_s or len(times) < 5:
            t0 = time.perf_counter()
            renderer.render(field, 4.0, FieldStyle(wetness=0.3 + 0.001 * (len(times) % 7)))  # a new LUT now and then
            times.append((time.perf_counter() - t0) * 1e3)
        out[f"{size[0]}x{size[1]}"] = {
            "ms_p50": round(float(np.percentile(times, 50)), 2),
            "ms_p95": round(float(np.percentile(times, 95)), 2),
        }
    return out


def field_loop(
    overrides: list[str], tmp: Path, seconds: float, fps: int, default_loop: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The whole loop with the Ink preset on a field model (overrides: the bench's loop overrides).

    default_loop: the bench's own loop on the default preset; when that already is Ink on the shipped
    field model, its figures are the field loop's (no second identical run: the bench fits in 150 s)."""
    spec, shipped = field_model(tmp)
    if default_loop is not None and shipped and default_loop.get("model") == spec:
        loop = {k: v for k, v in default_loop.items() if k in LOOP_FIGURES}
        loop["same_run_as"] = "ours"
    else:
        loop = summarize(
            run_loop([*overrides, f'run.preset="{FIELD_PRESET}"', f'generator.model="{spec}"'], seconds, False), fps
        )
    loop["model_shipped"] = shipped
    loop["preset"] = FIELD_PRESET
    loop["render_ms"] = render_cost(0.2 if seconds < 5 else 1.0)
    return loop
