"""GeneratorWorker: the thread that owns the model and its device.

The main thread submits render requests into a latest-value slot and never waits: the worker
renders only the newest request (older ones are overwritten unseen), converts the picture to
uint8 at the size it will be shown, and posts the result. A model swap raises `epoch`, so results
still in flight from the old model are recognisably stale. An exception or a NaN picture becomes
an error result; the main thread keeps showing the previous frame. CUDA running out of memory
moves the model to the CPU once (slower, but the show goes on).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

from installation.config import AccelConfig
from installation.render.accel import Accelerator
from installation.render.superres import SuperResolver
from installation.slot import LatestSlot
from models.field import field_info
from models.protocol import resolution_free

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderRequest:
    z: np.ndarray  # (1, z_dim) float32
    out_size: tuple[int, int]  # (width, height) in px of the screen area to fill
    fit: str  # "cover" crops to fill out_size; "letterbox" fits inside it
    t_input_s: float  # perf_counter when the inputs behind this request were read
    stamp: int  # request counter, rises by one per request


@dataclass(frozen=True)
class RenderResult:
    frame_rgb: np.ndarray | None  # (H, W, 3) uint8 ready to show; None on error and for field models
    stamp: int  # stamp of the request it answers
    epoch: int  # model epoch it was rendered with
    t_input_s: float
    render_ms: float
    error: str = ""
    field: np.ndarray | None = None  # field models: (h, w) float32 in [-1, 1], ink > 0, at the model's size
    field_spread_px: float = 0.0  # model px from the edge where the field reaches +-1
    z: np.ndarray | None = None  # (1, z_dim) float32 latent it was rendered from (the blend's jump test)
    t_render_s: float = 0.0  # perf_counter when the worker began this render (bench stage breakdown)


def result_for(
    picture: np.ndarray,
    model: torch.nn.Module,
    stamp: int,
    epoch: int,
    t_input_s: float,
    render_ms: float,
    z: np.ndarray | None = None,
    t_render_s: float = 0.0,
) -> RenderResult:
    """What render() returned as a result: a field model's (h, w) field or a colour (H, W, 3) frame."""
    info = field_info(model)
    if info is not None and picture.ndim == 2:
        return RenderResult(
            None,
            stamp,
            epoch,
            t_input_s,
            render_ms,
            field=picture,
            field_spread_px=info.spread_px,
            z=z,
            t_render_s=t_render_s,
        )
    return RenderResult(picture, stamp, epoch, t_input_s, render_ms, z=z, t_render_s=t_render_s)


def fit_rect(
    src_w: int, src_h: int, out_w: int, out_h: int, fit: str
) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """Source crop (x, y, w, h) and destination size (w, h) that fill or fit out_w x out_h."""
    if fit == "cover":
        scale = max(out_w / src_w, out_h / src_h)
        crop_w = min(src_w, max(1, round(out_w / scale)))
        crop_h = min(src_h, max(1, round(out_h / scale)))
        return ((src_w - crop_w) // 2, (src_h - crop_h) // 2, crop_w, crop_h), (out_w, out_h)
    scale = min(out_w / src_w, out_h / src_h)
    return (0, 0, src_w, src_h), (max(1, round(src_w * scale)), max(1, round(src_h * scale)))


def to_device(obj: Any, device: torch.device) -> Any:
    """Move a model or tensor; the worker's only way onto a device (tests inject a fake GPU here)."""
    return obj.to(device)


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


class GeneratorWorker:
    """Renders the newest RenderRequest on its own thread; see the module docstring."""

    def __init__(
        self,
        model: torch.nn.Module,
        device: torch.device,
        render_size: int = 160,
        move: Callable[[Any, torch.device], Any] = to_device,
    ) -> None:
        self.device = device
        self._move = move
        self.render_size = render_size
        self._model = model
        self.epoch = 0
        self._fresh_from = 0  # slot version of the last model swap: older requests are never rendered
        self._requests: LatestSlot[RenderRequest] = LatestSlot()
        self.results: LatestSlot[RenderResult] = LatestSlot()
        self._stop = threading.Event()
        self._swap_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="generator", daemon=True)
        self.rendered = 0  # results posted (successful or not)
        self.errors = 0
        self.accel = Accelerator(device)  # CPU: pass-through; CUDA: see render/accel.py
        self.superres: SuperResolver | None = None  # x4 learned enlargement of colour pictures (render/superres.py)

    def configure_superres(self, resolver: SuperResolver | None) -> None:
        """Before start(): the learned enlargement for colour models (None = bicubic only)."""
        self.superres = resolver

    def configure_accel(self, config: AccelConfig) -> None:
        """Before start(): the GPU options (precision, layout, compile); ignored on the CPU."""
        self.accel = Accelerator(self.device, config)

    def set_render_size(self, render_size: int) -> None:
        """Render height for resolution-free models from the next request on (quality controller)."""
        self.render_size = render_size  # an int: replaced atomically, read once per render

    @property
    def z_dim(self) -> int:
        z_dim: Any = self._model.z_dim  # a plain int attribute (torch's typing says Tensor | Module)
        return int(z_dim)

    @property
    def model(self) -> torch.nn.Module:
        return self._model

    def start(self) -> None:
        self._thread.start()

    def submit(self, request: RenderRequest) -> None:
        self._requests.put(request)

    def swap_model(self, model: torch.nn.Module) -> int:
        """Use another model from the next request on; returns the new epoch. A request still waiting
        in the slot was built for the old model (its latent space, maybe its z size): it is dropped
        unrendered, never rendered by the new one."""
        with self._swap_lock:
            self._model = model
            self.epoch += 1
            self._fresh_from = self._requests.discard()  # requests at or below this version are stale
            return self.epoch

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._requests.wake()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("generator thread did not stop within %.1f s (a render is still running)", timeout_s)
        self.accel.close()

    def _run(self) -> None:
        seen = 0
        while not self._stop.is_set():
            request, seen = self._requests.wait_newer(seen, timeout_s=0.5)
            if request is None or self._stop.is_set():
                continue
            with self._swap_lock:
                if seen <= self._fresh_from:  # taken just before a model swap: built for the old model
                    continue
                model, epoch = self._model, self.epoch
            t0 = time.perf_counter()
            try:
                picture = self.render(model, request)
                result = result_for(
                    picture,
                    model,
                    request.stamp,
                    epoch,
                    request.t_input_s,
                    (time.perf_counter() - t0) * 1e3,
                    request.z,
                    t0,
                )
            except Exception as exc:  # any model failure becomes a visible, logged error, not a dead thread
                if is_out_of_memory(exc) and self.device.type != "cpu" and self._fall_back_to_cpu(model, exc):
                    continue  # the same request is still the newest; the next one renders on the CPU
                self.errors += 1
                message = f"{type(exc).__name__}: {exc}"
                if self.errors == 1 or math.log2(self.errors).is_integer():  # 1, 2, 4, 8 ... keeps the log readable
                    log.error("generator failed (%d so far), keeping the previous frame: %s", self.errors, message)
                result = RenderResult(
                    None, request.stamp, epoch, request.t_input_s, (time.perf_counter() - t0) * 1e3, error=message
                )
            self.rendered += 1
            self.results.put(result)

    def _fall_back_to_cpu(self, model: torch.nn.Module, exc: BaseException) -> bool:
        """Out of GPU memory: move the model to the CPU for good. True when it moved."""
        cpu = torch.device("cpu")
        try:
            moved = self._move(model, cpu)
        except Exception as move_exc:  # noqa: BLE001 - then report the original error as usual
            log.error("out of GPU memory and the model cannot move to the CPU (%s)", move_exc)
            return False
        with self._swap_lock:
            if self._model is model:
                self._model = moved
            self.device = cpu
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        log.warning("out of GPU memory (%s); the generator runs on the CPU from now on", str(exc).splitlines()[0][:120])
        return True

    def render(self, model: torch.nn.Module, request: RenderRequest) -> np.ndarray:
        """One request -> a uint8 frame sized for the screen, or a field model's (h, w) float32 field at
        the model's own size (the main thread thresholds it at screen resolution). Worker thread."""
        out_w, out_h = request.out_size
        z = self._move(torch.from_numpy(request.z), self.device)
        if self.accel.device != self.device:  # fell back to the CPU after running out of GPU memory
            self.accel = Accelerator(self.device, self.accel.config)
        with torch.inference_mode(), self.accel.autocast():
            if resolution_free(model):  # resolution-free: render the screen's aspect directly
                height = self.accel.render_height(self.render_size, out_h)
                width = max(1, round(height * out_w / out_h))
                image = self.accel.run(model, z, height, width)
            else:
                image = self.accel.run(model, z)
            if not torch.isfinite(image).all():
                raise FloatingPointError("generator produced NaN or Inf")
            if field_info(model) is not None:  # never enlarged here: a field stays small until it is drawn
                return np.ascontiguousarray(image[0, 0].float().clamp(-1, 1).cpu().numpy())
            if self.superres is not None:  # before the final resize; fields and large pictures pass through
                image = self.superres.apply(model, image, (out_w, out_h))
            frame = self.accel.to_uint8(image)
        (x, y, w, h), dst = fit_rect(frame.shape[1], frame.shape[0], out_w, out_h, request.fit)
        frame = frame[y : y + h, x : x + w]
        if (frame.shape[1], frame.shape[0]) != dst:
            # Big enlargements of 32-64 px models: bicubic hides the pixel grid that bilinear shows.
            big = dst[0] > 3 * frame.shape[1]
            frame = cv2.resize(frame, dst, interpolation=cv2.INTER_CUBIC if big else cv2.INTER_LINEAR)
        return np.ascontiguousarray(frame)
