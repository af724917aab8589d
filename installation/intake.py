"""Render requests out, finished frames in: the main thread's side of the generator worker.

Each frame the newest latent goes into the worker's latest-value slot and the newest finished frame
comes back. The main thread does not wait for the generator, except when renders are fast enough to
fit this frame's slack: then it waits, at most `quality.latch_fraction` of a frame, for the render it
just asked for (one frame less latency).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from installation.config import Config
from installation.render.picture import Picture
from installation.render.quality import latch_timeout_s
from installation.render.worker import GeneratorWorker, RenderRequest, RenderResult, result_for
from installation.telemetry import Telemetry

log = logging.getLogger(__name__)


class FrameIntake:
    """Main thread only."""

    def __init__(self, config: Config, telemetry: Telemetry) -> None:
        self.config = config
        self.telemetry = telemetry
        self.frame: RenderResult | None = None  # newest generator frame received
        self.stamp = 0  # render requests submitted
        self._seen = 0  # the worker's result slot version last read
        self._new_frame = False

    def first_frame(self, worker: GeneratorWorker, model: torch.nn.Module, z: np.ndarray, picture: Picture) -> None:
        """Render frame one before the loop starts (the worker is not running yet), so the screen never
        opens on black."""
        request = RenderRequest(z, picture.work_size, self.config.display.fit, time.perf_counter(), 0)
        try:
            frame = worker.render(model, request)
        except Exception as exc:  # the worker will report it again; start on black meanwhile
            log.error("first frame failed: %s", exc)
            return
        self._show(result_for(frame, model, 0, worker.epoch, request.t_input_s, 0.0), picture)

    def exchange(self, worker: GeneratorWorker, z: np.ndarray, picture: Picture, t_input_s: float) -> None:
        """Submit this frame's latent, take the newest finished frame into the compositor."""
        if not picture.wants_render():  # the compose thread is behind: a render now would be thrown away
            return
        self.stamp += 1
        worker.submit(RenderRequest(z, picture.work_size, self.config.display.fit, t_input_s, self.stamp))
        result, self._seen = self._newest_result(worker)
        if result is None or result.epoch != worker.epoch:
            return  # nothing new, or rendered by a model that has since been swapped out
        self.telemetry.received(t_input_s, result.render_ms)
        if result.error:
            self.telemetry.last_error = f"generator error: {result.error}"  # keep showing the previous frame
            return
        if self.frame is not None and result.stamp <= self.frame.stamp and result.epoch == self.frame.epoch:
            return  # stale
        self._show(result, picture)

    def new_worker(self) -> None:
        """After a worker was replaced: its results count from 0."""
        self._seen = 0

    def shown_input_s(self) -> float | None:
        """Once per new generator frame, when it is first presented: when its input was read (latency)."""
        frame, self._new_frame = (self.frame if self._new_frame else None), False
        return frame.t_input_s if frame is not None else None

    def _show(self, result: RenderResult, picture: Picture) -> None:
        assert result.frame_rgb is not None or result.field is not None
        self.frame = result
        picture.add_result(result, time.perf_counter())
        self._new_frame = True

    def _newest_result(self, worker: GeneratorWorker) -> tuple[RenderResult | None, int]:
        """The newest finished frame. When renders are fast enough to fit this frame's slack, wait
        (bounded) for the one just requested, saving a frame of latency; never for a slow generator."""
        timeout_s = latch_timeout_s(
            self.telemetry.render_ms.percentile(50), self.config.display.fps, self.config.quality.latch_fraction
        )
        result, seen = worker.results.get_newer(self._seen)
        deadline_s = time.perf_counter() + timeout_s
        while timeout_s > 0 and (result is None or result.stamp < self.stamp):  # not this frame's yet
            remaining_s = deadline_s - time.perf_counter()
            newer, newer_seen = worker.results.wait_newer(seen, remaining_s) if remaining_s > 0 else (None, seen)
            if newer is None:
                break
            result, seen = newer, newer_seen
        return result, seen
