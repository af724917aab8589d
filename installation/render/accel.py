"""How the generator worker runs a model fast: TorchScript on the CPU; precision, layout,
compilation and fast readback on CUDA.

CPU: our own architectures are traced (per render size for the CPPN) on a background thread,
running eagerly until the trace is ready, so the first frame is not delayed. Eager PyTorch
releases and retakes the GIL around every op, and on a 2-core machine the main thread holds the
GIL much of the time, so a 25-op forward waits for it 25 times; a TorchScript forward releases it
once for the whole call. Anything else (an artist's module, a test double) runs eagerly, and a
trace that does not reproduce the eager output on a fresh latent is not used.

Each trace is made once per architecture, weight shapes and render size, and kept: a model loaded
later with the same structure (a hot swap, a preset change back, a reload of the same file) has its
weights copied into the traced copy. TorchScript never frees what a trace registers (about 6 MB of
types and graphs per trace and freeze here), so tracing every loaded model leaked that much per
load, for weeks. The trace is not frozen for the same reason: freezing bakes the weights into the
graph (a new graph per model) and gained nothing measurable on the CPU (1.72 vs 1.69 ms a frame).

CUDA:

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
import copy
import logging
import threading
import warnings
import weakref
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from installation.config import AccelConfig
from models.protocol import resolution_free
from models.registry import ARCHITECTURES

log = logging.getLogger(__name__)

PROBE_SIZE = 64  # px side a resolution-free model renders for the precision check
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
TRACEABLE = tuple(cls for _, cls in ARCHITECTURES.values())  # our models: pure tensor code, no side effects
TRACE_TOLERANCE = 1e-3  # max abs difference (of [-1, 1] pixels) a trace may show against eager
MAX_TRACES = 8  # structures traced per worker; a show uses two or three (model, light model, sizes)


class _Sized(torch.nn.Module):
    """A resolution-free model at one fixed size, so the trace has a single input."""

    def __init__(self, model: torch.nn.Module, height: int, width: int) -> None:
        super().__init__()
        self.model, self.height, self.width = model, height, width

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z, self.height, self.width)


def trace_module(module: torch.nn.Module, z_dim: int) -> torch.jit.ScriptModule | None:
    """A TorchScript trace of module(z) that shares module's tensors, or None if it cannot be traced."""
    z = torch.randn(1, z_dim, generator=torch.Generator().manual_seed(0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation chatter
            return torch.jit.trace(module.eval(), (z,), check_trace=False)
    except Exception as exc:
        log.info("accel: %s not traced (%s); running eagerly", type(module).__name__, exc)
        return None


def z_dim_of(model: torch.nn.Module) -> int:
    """The latent size every generator declares (an attribute torch's stubs cannot know)."""
    return int(cast(Any, model).z_dim)


def trace_error(traced: Any, eager: Any, z_dim: int) -> float:
    """Largest difference between the trace and eager on a fresh latent (NaN when either is not finite)."""
    z = torch.randn(1, z_dim, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        return float((traced(z) - eager(z)).abs().max())


def structure(model: torch.nn.Module, height: int, width: int) -> tuple[Any, ...]:
    """What a trace depends on besides the weights' values: the class, every tensor's name, shape and
    dtype, and the render size (a model with other non-tensor settings fails the check against eager)."""
    tensors = tuple((name, tuple(t.shape), t.dtype) for name, t in model.state_dict().items())
    return (type(model), tensors, height, width)


@dataclass
class _Trace:
    """One trace per structure: a private copy of a model, the trace of it, and which model's weights
    the copy holds now (a weak reference: an id can be reused by the next model after a swap)."""

    copy: torch.nn.Module
    runner: Any  # the ScriptModule; it runs the copy's tensors
    size: tuple[int, ...] = ()  # (height, width) of a resolution-free model, else ()
    holds: weakref.ref[torch.nn.Module] | None = None
    usable: bool = False  # the trace reproduces eager for the weights it holds


@dataclass(frozen=True)
class AccelPlan:
    device: str  # "cpu" or "cuda:0"
    precision: str  # "fp32" | "fp16" | "bf16" actually used
    rel_error: float  # ||reduced - fp32|| / ||fp32|| on the probe latent; 0.0 when fp32
    channels_last: bool
    compiled: bool


def to_uint8_frame(image: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) in [-1, 1] -> (H, W, 3) uint8 on the CPU (the CUDA path is Accelerator.to_uint8)."""
    img = ((image[0].clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    if img.shape[0] == 1:
        img = img.expand(3, -1, -1)
    return np.ascontiguousarray(img.permute(1, 2, 0).cpu().numpy())


def relative_error(reference: torch.Tensor, other: torch.Tensor) -> float:
    ref = reference.float()
    return float((other.float() - ref).norm() / ref.norm().clamp_min(1e-12))


def probe(model: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """One picture from a fixed latent, small for resolution-free models."""
    if resolution_free(model):
        return model(z, PROBE_SIZE, PROBE_SIZE)
    return model(z)


class Accelerator:
    """Per-device helpers the worker calls around each render; see the module docstring."""

    def __init__(self, device: torch.device, config: AccelConfig | None = None) -> None:
        self.device = device
        self.config = config or AccelConfig()
        self.cuda = device.type == "cuda" and torch.cuda.is_available()  # tests may fake a GPU device
        self.plan = AccelPlan(str(device), "fp32", 0.0, False, False)
        self._dtype: torch.dtype | None = None
        self._prepared: dict[int, torch.nn.Module] = {}  # id(original model) -> the one to call
        self._pinned: torch.Tensor | None = None
        # CPU: traces by structure (kept: a trace's TorchScript types are never freed), the model
        # rendered now with its runner, and the background thread making a new trace.
        self._traces: dict[tuple[Any, ...], _Trace | None] = {}  # None: this structure cannot be traced
        self._active: tuple[weakref.ref[torch.nn.Module], int, int, Any] | None = None
        self._tracing: tuple[tuple[Any, ...], threading.Thread] | None = None
        self.traces_made = 0  # how many traces this accelerator made (tests: once per structure)

    # ------------------------------------------------------------------ CPU: TorchScript
    def cpu_runner(self, model: torch.nn.Module, height: int = 0, width: int = 0) -> Any:
        """A callable z -> image for `model` (at height x width if resolution-free): the trace once the
        background thread has it (with this model's weights copied in), the eager model until then or
        for good. Worker thread only: it is the one thread that runs and reloads the traced copies."""
        active = self._active
        if active is not None and active[0]() is model and active[1:3] == (height, width):
            return active[3]
        eager = (lambda z: model(z, height, width)) if height else model
        if not self.config.trace or not isinstance(model, TRACEABLE):
            self._active = (weakref.ref(model), height, width, eager)
            return eager
        key = structure(model, height, width)
        if key not in self._traces:
            self._start_trace(key, model, height, width)
            return eager  # not cached as active: asked again next frame, until the trace is there
        trace = self._traces[key]
        runner = eager if trace is None else self._load(trace, model)
        self._active = (weakref.ref(model), height, width, runner)
        return runner

    def _load(self, trace: _Trace, model: torch.nn.Module) -> Any:
        """Copy model's weights into the traced copy (unless it holds them) and check against eager."""
        eager = (lambda z: model(z, *trace.size)) if trace.size else model
        if trace.holds is None or trace.holds() is not model:
            with torch.inference_mode(False), torch.no_grad():
                trace.copy.load_state_dict(model.state_dict())
            trace.holds = weakref.ref(model)
            error = trace_error(trace.runner, eager, z_dim_of(model))
            trace.usable = error <= TRACE_TOLERANCE
            if not trace.usable:  # NaN weights land here too: eager gives the worker the same NaN
                log.info("accel: trace of %s differs from eager by %.2e; running eagerly", type(model).__name__, error)
        return trace.runner if trace.usable else eager

    def _start_trace(self, key: tuple[Any, ...], model: torch.nn.Module, height: int, width: int) -> None:
        if self._tracing is not None and (self._tracing[0] == key or self._tracing[1].is_alive()):
            return  # this one is on its way, or another still finishing (retried on a later frame)
        if len(self._traces) >= MAX_TRACES:  # more structures than a show uses: each new one costs ~6 MB
            log.warning("accel: %d model structures traced already; %s runs eagerly", MAX_TRACES, type(model).__name__)
            self._traces[key] = None
            return
        # The copy is taken here, on the worker thread, so the trace thread never reads a model that
        # the worker might be rendering (and the show's model never shares tensors with a trace).
        with torch.inference_mode(False):  # the worker renders in inference mode; a trace needs normal tensors
            private = copy.deepcopy(model).eval()
        z_dim = z_dim_of(model)

        def work() -> None:
            traced = None
            try:
                traced = trace_module(_Sized(private, height, width) if height else private, z_dim)
            finally:  # published even if tracing blew up, so the worker does not wait for it for ever
                size = (height, width) if height else ()
                self._traces[key] = None if traced is None else _Trace(private, traced, size=size)
                self.traces_made += 1

        thread = threading.Thread(target=work, name="trace", daemon=True)
        self._tracing = (key, thread)
        thread.start()

    def settle(self, timeout_s: float = 10.0) -> None:
        """Wait for a trace in progress (benchmarks: measure the steady state, not the tracing)."""
        if self._tracing is not None and self._tracing[1].is_alive():
            self._tracing[1].join(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Join a trace still running (it is short and cannot be interrupted)."""
        self.settle(timeout_s)

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
            model = cast(Any, model).to(memory_format=torch.channels_last)  # typeshed lacks the keyword
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
        log.info(
            "accel: %s %s (rel. error vs fp32 %.2e), channels_last %s, compiled %s",
            self.device,
            precision,
            rel_error,
            channels_last,
            compiled,
        )
        return runner

    def _choose_precision(self, model: torch.nn.Module) -> tuple[torch.dtype | None, float]:
        wanted = self.config.precision
        if wanted == "fp32":
            return None, 0.0
        candidates = [wanted] if wanted in DTYPES else ["fp16", "bf16"]
        gen = torch.Generator().manual_seed(0)
        z = torch.randn(1, z_dim_of(model), generator=gen).to(self.device)
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

    def run(self, model: torch.nn.Module, z: torch.Tensor, height: int = 0, width: int = 0) -> torch.Tensor:
        """One forward: TorchScript on the CPU where possible, the prepared (compiled) module on CUDA."""
        if not self.cuda:
            return self.cpu_runner(model, height, width)(z)
        runner = self.prepare(model)
        try:
            return runner(z, height, width) if height else runner(z)
        except Exception as exc:
            if not self.plan.compiled:
                raise
            # torch.compile fails at the first call, not at wrapping: fall back to eager for good
            log.warning("accel: compiled %s failed (%s); running eagerly", type(model).__name__, exc)
            self._prepared = {id(model): model}
            self.plan = AccelPlan(
                self.plan.device, self.plan.precision, self.plan.rel_error, self.plan.channels_last, False
            )
            return model(z, height, width) if height else model(z)

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
