"""Learned x4 super-resolution for colour generators, run on the generator worker thread.

A 32 px colour model is enlarged ~60 times to fill a 1080p screen; bicubic alone turns every edge
into a soft ramp. `SuperResolver.apply` enlarges the model's picture x4 with the shipped SR CNN
(models/superres.py, assets/models/sr-emoji.safetensors) before the worker's final cv2.resize.
It leaves alone what it cannot help: fields (one-channel signed-distance outputs are thresholded at
screen resolution instead), resolution-free models, pictures already large, and enlargements
smaller than x4. With generator.superres = "auto" it measures itself: when frames after the
start-up burst cost more than `budget_ms` (median) on this machine it switches off for good with
one log line, so a slow computer keeps its frame rate; "on" skips that check.

CPU: the net runs as a frozen TorchScript trace per input size, so one forward releases the GIL
once instead of once per op (the main thread needs it at 60 fps).
"""

from __future__ import annotations

import logging
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from models.protocol import resolution_free
from models.registry import ASSETS_DIR

log = logging.getLogger(__name__)

DEFAULT_PATH = ASSETS_DIR / "sr-emoji.safetensors"
MAX_INPUT_PX = 64  # larger pictures would cost (side/32)^2 times more and need the help less
BUDGET_MS = 12.0  # median cost above this switches SR off (a 30 fps generator frame is 33 ms)
WARMUP_S = 10.0  # not timed: the show's start-up (generator trace, camera, microphone) competes for the CPU
PROBE_FRAMES = 60  # frames timed after the warm-up before the budget is judged


class SuperResolver:
    """Holds the SR net; `apply(model, image, out_size)` returns the image enlarged x4 or as it was."""

    def __init__(
        self, net: torch.nn.Module, budget_ms: float = BUDGET_MS, source: str = "", warmup_s: float = WARMUP_S
    ) -> None:
        self.net = net.eval()
        scale: Any = net.scale  # plain ints on a SuperRes (torch types module attributes as Tensor | Module)
        channels: Any = net.img_channels
        self.scale, self.channels = int(scale), int(channels)
        self.budget_ms = budget_ms
        self.warmup_s = warmup_s
        self._t_first_s: float | None = None  # perf_counter of the first enlarged frame
        self.source = source
        self.enabled = True  # False after the budget check failed
        self.applied = 0  # frames enlarged (for tests and stats)
        self.times_ms: list[float] = []  # the probe's frames
        self._traced: dict[tuple[int, ...], torch.jit.ScriptModule | None] = {}

    def wants(self, model: torch.nn.Module, image: torch.Tensor, out_size: tuple[int, int]) -> bool:
        """True when SR helps this picture: colour, fixed-size, small, and shown more than x4 larger."""
        if not self.enabled or resolution_free(model):  # resolution-free models render at any size
            return False
        _, c, h, w = image.shape
        if c != self.channels or max(h, w) > MAX_INPUT_PX:  # 1 channel = a field: thresholded, never SR'd
            return False
        return max(out_size[0] / w, out_size[1] / h) > self.scale  # a smaller enlargement gains nothing

    def apply(self, model: torch.nn.Module, image: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        """(1, C, h, w) in [-1, 1] -> (1, C, 4h, 4w) when wanted, else `image` unchanged. Worker thread only."""
        if not self.wants(model, image, out_size):
            return image
        t0 = time.perf_counter()
        net = self._net_for(image)
        if image.device != next(self.net.parameters()).device:
            self.net.to(image.device)
            self._traced.clear()
            net = self._net_for(image)
        out = net(image.float())
        self.applied += 1
        if self._t_first_s is None:
            self._t_first_s = t0
        warm = t0 - self._t_first_s >= self.warmup_s
        if warm and len(self.times_ms) < PROBE_FRAMES and self.budget_ms < float("inf"):
            self._judge((time.perf_counter() - t0) * 1e3)
        return out

    def _judge(self, ms: float) -> None:
        self.times_ms.append(ms)
        if len(self.times_ms) == PROBE_FRAMES:
            median = statistics.median(self.times_ms)
            if median > self.budget_ms:
                self.enabled = False
                log.warning(
                    "superres: x%d enlargement takes %.1f ms per frame here (budget %.0f ms); off from now "
                    'on, pictures are enlarged by bicubic only (generator.superres = "on" keeps it)',
                    self.scale,
                    median,
                    self.budget_ms,
                )
            else:
                log.info("superres: x%d enlargement %.1f ms per frame (%s)", self.scale, median, self.source)

    def _net_for(self, image: torch.Tensor) -> torch.nn.Module:
        """A frozen trace for this input shape on the CPU (built once), else the eager net."""
        if image.device.type != "cpu":
            return self.net
        key = tuple(image.shape)
        if key not in self._traced:
            self._traced[key] = _trace(self.net, image.float())
        return self._traced[key] or self.net


def _trace(net: torch.nn.Module, example: torch.Tensor) -> torch.jit.ScriptModule | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.freeze(torch.jit.trace(net, (example,), check_trace=False))
            error = float((traced(example) - net(example)).abs().max())
    except Exception as exc:  # noqa: BLE001 - the eager net works just as well, a little slower
        log.info("superres: not traced (%s); running eagerly", exc)
        return None
    return traced if error <= 1e-3 else None


def load_superres(mode: str, path: Path = DEFAULT_PATH, budget_ms: float = BUDGET_MS) -> SuperResolver | None:
    """The resolver for generator.superres = "auto" (with the budget check) or "on" (without); None for
    "off" or when the file cannot be used."""
    if mode == "off":
        return None
    from models.checkpoint import CheckpointError, load_checkpoint, read_header

    try:
        if read_header(path).get("arch") != "superres":
            raise CheckpointError(f"{path}: not a super-resolution checkpoint")
        net = load_checkpoint(path)
    except CheckpointError as exc:
        log.warning("superres: %s; enlarging with bicubic only", exc)
        return None
    return SuperResolver(net, budget_ms if mode == "auto" else float("inf"), source=path.name)
