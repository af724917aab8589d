"""Where a step's milliseconds go: capture, analysis, mapping, render slot, render, compose, present.

The harness runs the real App with a step source (StepMicrophone or StepCamera) and a `Timeline`
that records, with perf_counter times: every analysis result published (its sample/frame time and
the stepped feature's value), every render request submitted, every result the App received, every
compose finished, and which generator frame each presented frame shows. For each detected step
`breakdown` then splits the step-to-photon latency into consecutive stages that add up to it:

  capture   the step -> the newest sample/frame time of the first block/frame holding it
  analysis  -> that analysis result published with the feature across the step (for loudness: the loudest hop since the last read)
  mapping   -> the first render request built after it submitted (the main loop's read, the mapping)
  slot      -> the worker began the render that is shown (requests overwritten meanwhile included)
  render    -> the render finished
  compose   -> the main thread composed the first frame showing it
  present   -> that frame presented (display flip and the loop's after-frame work)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from installation.slot import LatestSlot
from installation.sources.base import SourceStatus, VideoFrame

STAGES = ("capture", "analysis", "mapping", "slot", "render", "compose", "present")
CAMERA_STEP_PRESET = Path(__file__).resolve().parent / "camera_step.toml"
DARK, BRIGHT = 40, 215  # grey levels of the two camera scenes: brightness ~0.16 and ~0.84


class StepCamera:
    """Drop-in for CameraSource: a 30 fps camera whose scene switches dark/bright at chosen times.

    A frame is published at the end of its exposure, so a step between two frames is seen in the
    next one: its capture stage includes up to one frame interval, as with a real camera."""

    def __init__(self, fps: float = 30.0, size: tuple[int, int] = (160, 120)) -> None:
        self.period_s = 1.0 / fps
        self.size = size
        self._edges_s: np.ndarray = np.zeros(0)
        self._frames: LatestSlot[VideoFrame] = LatestSlot()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def schedule(self, edges_s: list[float]) -> None:
        """Sorted perf_counter toggle times: dark before the first, bright until the second, ..."""
        self._edges_s = np.asarray(sorted(edges_s), dtype=np.float64)

    def bright_at(self, t_s: float) -> bool:
        return int(np.searchsorted(self._edges_s, t_s, side="right")) % 2 == 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="camera-capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        w, h = self.size
        index, next_s = 0, time.perf_counter()
        while not self._stop.wait(max(0.0, next_s - time.perf_counter())):
            t_s = time.perf_counter()
            index += 1
            level = BRIGHT if self.bright_at(t_s) else DARK
            self._frames.put(VideoFrame(np.full((h, w, 3), level, np.uint8), t_s, index))
            next_s += self.period_s

    def latest(self) -> VideoFrame | None:
        return self._frames.get()[0]

    def wait_newer(self, seen_index: int, timeout_s: float) -> VideoFrame | None:
        return self._frames.wait_newer(seen_index, timeout_s)[0]

    def status(self) -> SourceStatus:
        return SourceStatus("camera", "live", "bench step camera")

    def close(self) -> None:
        self._stop.set()
        self._frames.wake()
        if self._thread is not None:
            self._thread.join(2.0)


class RecordingSlot(LatestSlot[Any]):
    """A LatestSlot that also notes (put time, result's t_s, one feature's value) of every put."""

    def __init__(self, feature: str, first: Any) -> None:
        super().__init__()
        self.feature = feature
        self.puts: list[tuple[float, float, float]] = []
        if first is not None:
            super().put(first)

    def put(self, value: Any) -> int:
        self.puts.append((time.perf_counter(), float(value.t_s), float(value.features.get(self.feature, 0.0))))
        return super().put(value)


@dataclass
class Timeline:
    """perf_counter times of each stage boundary, as the harness's hooks record them."""

    sense: RecordingSlot | None = None
    submits: dict[int, float] = field(default_factory=dict)  # request stamp -> submitted
    inputs: dict[int, float] = field(default_factory=dict)  # request stamp -> its inputs read (t_input_s)
    renders: dict[int, tuple[float, float]] = field(default_factory=dict)  # stamp -> (render began, finished)
    composed: list[float] = field(default_factory=list)  # per presented frame: compose finished
    last_compose_s: float = 0.0
    shown: list[int] = field(default_factory=list)  # per presented frame: stamp of the generator frame shown


def attach(app: Any, timeline: Timeline, holder: Any, slot_name: str, feature: str) -> None:
    """Hook the senses slot `holder.slot_name`, the worker's submit, result intake and compose to record `timeline`."""
    old = getattr(holder, slot_name)
    timeline.sense = RecordingSlot(feature, old.get()[0])
    setattr(holder, slot_name, timeline.sense)
    submit, add_result, compose = app.worker.submit, app.compositor.add_result, app.compositor.compose

    def submit_recorded(request: Any) -> None:
        timeline.submits[request.stamp] = time.perf_counter()
        timeline.inputs[request.stamp] = request.t_input_s
        submit(request)

    def add_result_recorded(result: Any, t_s: float) -> None:
        timeline.renders[result.stamp] = (result.t_render_s, result.t_render_s + result.render_ms / 1e3)
        add_result(result, t_s)

    def compose_recorded(*args: Any, **kwargs: Any) -> Any:
        out = compose(*args, **kwargs)
        timeline.last_compose_s = time.perf_counter()
        return out

    app.worker.submit = submit_recorded
    app.compositor.add_result = add_result_recorded
    app.compositor.compose = compose_recorded


def after_frame(app: Any, timeline: Timeline) -> None:
    """Per presented frame: which generator frame it shows and when its compose finished."""
    timeline.shown.append(app.frame.stamp if app.frame is not None else -1)
    timeline.composed.append(timeline.last_compose_s)


def breakdown(
    timeline: Timeline, frame_times_s: list[float], edges_s: list[float], found: list[int | None], threshold: float
) -> list[dict[str, float]]:
    """Stage durations (ms) for each step whose frame was found; `threshold` splits the feature's two sides."""
    assert timeline.sense is not None
    puts = timeline.sense.puts
    stamps = sorted(timeline.submits)
    out: list[dict[str, float]] = []
    for k, (edge_s, frame) in enumerate(zip(edges_s, found)):
        if frame is None or frame >= len(timeline.shown):
            continue
        high = k % 2 == 0  # the first edge goes loud/bright, the next back
        holding = next((p for p in puts if p[1] >= edge_s), None)  # first block/frame holding the step
        crossed = next((p for p in puts if p[1] >= edge_s and (p[2] > threshold) == high), None)
        if holding is None or crossed is None:
            continue
        first = next((s for s in stamps if timeline.inputs[s] >= crossed[0]), None)
        shown = timeline.shown[frame]
        if first is None or shown not in timeline.renders or shown < first:
            continue  # the frame that changed was not rendered from the changed input (a blend artefact)
        began_s, done_s = timeline.renders[shown]
        bounds = [
            edge_s,
            holding[1],
            crossed[0],
            timeline.submits[first],
            began_s,
            done_s,
            timeline.composed[frame],
            frame_times_s[frame],
        ]
        out.append({name: (b - a) * 1e3 for name, a, b in zip(STAGES, bounds, bounds[1:])})
    return out


def summarize_stages(rows: list[dict[str, float]]) -> dict[str, Any]:
    """Median and p95 of each stage over the steps (and how many steps were traced)."""
    if not rows:
        return {"traced": 0}
    out: dict[str, Any] = {"traced": len(rows)}
    for name in (*STAGES, "total"):
        values = np.asarray([sum(r.values()) if name == "total" else r[name] for r in rows])
        out[name] = {
            "p50_ms": round(float(np.percentile(values, 50)), 2),
            "p95_ms": round(float(np.percentile(values, 95)), 2),
        }
    return out
