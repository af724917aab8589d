"""The GPU path of the generator worker: reduced precision, memory layout, compilation, fast readback.

On the CPU every method is a pass-through, so the CPU path stays exactly as it was. On CUDA:

- fp16/bf16 autocast, used only after a one-time comparison against fp32 on a fixed latent shows a
  relative error below `max_rel_error` (else fp32, with the reason logged);
- channels_last for convolutional generators (NHWC suits tensor cores);
- optional torch.compile(mode="reduce-overhead"): CUDA graphs remove the per-layer launch cost
  that dominates batch-1 inference of small models;
- uint8 conversion on the GPU and the copy back through pinned (page-locked) host buffers;
- the CPPN rendered at the full output size instead of a small render the CPU would upscale.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from installation.config import AccelConfig

log = logging.getLogger(__name__)

PROBE_SIZE = 64  # px side a resolution-free model renders for the precision check
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class AccelPlan:
    device: str  # "cpu" or "cuda:0"
    precision: str  # "fp32" | "fp16" | "bf16" actually used
    rel_error: float  # ||reduced - fp32|| / ||fp32|| on the probe latent; 0.0 when fp32
    channels_last: bool
    compiled: bool


def relative_error(reference: torch.Tensor, other: torch.Tensor) -> float:
    ref = reference.float()
    return float((other.float() - ref).norm() / ref.norm().clamp_min(1e-12))


def probe(model: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """One picture from a fixed latent, small for resolution-free models."""
    if hasattr(model, "coordinates"):
        return model(z, PROBE_SIZE, PROBE_SIZE)
    return model(z)


class Accelerator:
    """Per-device helpers the worker calls around each render; see the module docstring."""

    def __init__(self, device: torch.device, config: AccelConfig | None = None) -> None:
        self.device = device
        self.config = config or AccelConfig()
        self.cuda = device.type == "cuda"
        self.plan = AccelPlan(str(device), "fp32", 0.0, False, False)
        self._dtype: torch.dtype | None = None
        self._prepared: dict[int, torch.nn.Module] = {}  # id(original model) -> the one to call
        self._pinned: torch.Tensor | None = None

    # ------------------------------------------------------------------ model
    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module to call for `model` (cached; a model swap prepares the new one once)."""
        if not self.cuda:
            return model
        ready = self._prepared.get(id(model))
        if ready is None:
            self._prepared = {id(model): self._prepare(model)}  # one at a time: a swapped-out model is freed
            ready = self._prepared[id(model)]
        return ready

    def _prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        c = self.config
        has_conv = any(isinstance(m, torch.nn.modules.conv._ConvNd) for m in model.modules())
        channels_last = c.channels_last and has_conv
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self._dtype, rel_error = self._choose_precision(model)
        runner: Any = model
        compiled = False
        if c.compile:
            try:
                runner = torch.compile(model, mode="reduce-overhead")
                compiled = True
            except Exception as exc:  # an older toolchain must not stop the show
                log.warning("torch.compile unavailable (%s); running eagerly", exc)
        precision = next((k for k, v in DTYPES.items() if v == self._dtype), "fp32")
        self.plan = AccelPlan(str(self.device), precision, rel_error, channels_last, compiled)
        log.info("accel: %s %s (rel. error vs fp32 %.2e), channels_last %s, compiled %s", self.device, precision,
                 rel_error, channels_last, compiled)
        return runner

    def _choose_precision(self, model: torch.nn.Module) -> tuple[torch.dtype | None, float]:
        wanted = self.config.precision
        if wanted == "fp32":
            return None, 0.0
        candidates = [wanted] if wanted in DTYPES else ["fp16", "bf16"]
        gen = torch.Generator().manual_seed(0)
        z = torch.randn(1, int(model.z_dim), generator=gen).to(self.device)
        with torch.inference_mode():
            reference = probe(model, z)
            for name in candidates:
                if name == "bf16" and not torch.cuda.is_bf16_supported():
                    continue
                with torch.autocast("cuda", dtype=DTYPES[name]):
                    reduced = probe(model, z)
                error = relative_error(reference, reduced)
                if error <= self.config.max_rel_error and bool(torch.isfinite(reduced).all()):
                    return DTYPES[name], error
                log.info("accel: %s rejected (rel. error %.2e > %.2e)", name, error, self.config.max_rel_error)
        return None, 0.0

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.cuda and self._dtype is not None:
            return torch.autocast("cuda", dtype=self._dtype)
        return contextlib.nullcontext()

    def render_height(self, render_size: int, out_h: int) -> int:
        """Resolution-free models: on CUDA render at the output height, on the CPU small (upscaled later)."""
        return out_h if self.cuda and self.config.full_res_cppn else render_size

    # ------------------------------------------------------------------ readback
    def to_uint8(self, image: torch.Tensor) -> np.ndarray:
        """(1, C, H, W) in [-1, 1] on the device -> (H, W, 3) uint8 numpy, converted on the device."""
        if not self.cuda:
            from installation.render.worker import to_uint8_frame  # the CPU path, unchanged

            return to_uint8_frame(image)
        img = ((image[0].float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
        if img.shape[0] == 1:
            img = img.expand(3, -1, -1)
        img = img.permute(1, 2, 0).contiguous()  # (H, W, 3) on the GPU: only bytes cross the bus
        if self._pinned is None or self._pinned.shape != img.shape:
            self._pinned = torch.empty(img.shape, dtype=torch.uint8, pin_memory=True)
        self._pinned.copy_(img, non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()  # the copy must land before numpy reads it
        return self._pinned.numpy().copy()  # the pinned buffer is reused next frame: hand out a copy
