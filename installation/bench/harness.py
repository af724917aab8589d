"""Drive the real App in-process, headless: our threaded loop, or the same loop run synchronously.

The synchronous baseline swaps the GeneratorWorker for an `InlineWorker` that renders inside
submit() and makes the Picture compose inline (no compose thread), so one thread does capture read
-> features -> generate -> compose/scale -> present, as the seed's example did; everything else (senses, mapping, compositor, display) is the same code.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psutil
import pygame

from installation.app import App
from installation.bench.latency import StepMicrophone, calibrate_threshold, detect_steps
from installation.bench.stages import StepCamera, Timeline, after_frame, attach, breakdown, summarize_stages
from installation.config import load_config
from installation.render.worker import GeneratorWorker, RenderRequest, RenderResult, result_for

log = logging.getLogger(__name__)

THUMB_STRIDE = 24  # px between thumbnail samples (1920x1080 -> 80x45)


class InlineWorker(GeneratorWorker):
    """The worker's render, run on the caller's thread inside submit(): the synchronous baseline."""

    def start(self) -> None:
        pass  # no thread

    def submit(self, request: RenderRequest) -> None:
        t0 = time.perf_counter()
        with self._swap_lock:
            model, epoch = self._model, self.epoch
        try:
            picture = self.render(model, request)
            result = result_for(
                picture, model, request.stamp, epoch, request.t_input_s, (time.perf_counter() - t0) * 1e3, request.z, t0
            )
        except Exception as exc:
            self.errors += 1
            result = RenderResult(
                None,
                request.stamp,
                epoch,
                request.t_input_s,
                (time.perf_counter() - t0) * 1e3,
                error=f"{type(exc).__name__}: {exc}",
            )
        self.rendered += 1
        self.results.put(result)


@dataclass
class LoopRun:
    """What one headless run measured."""

    seconds: float
    t0_s: float = 0.0  # perf_counter when measuring began (step edges are offsets from it)
    frame_times_s: list[float] = field(default_factory=list)  # perf_counter after each present
    thumbs: list[np.ndarray] = field(default_factory=list)  # only when steps are measured
    generator_frames: int = 0
    composed_frames: int = 0  # distinct frames the Picture composed (a present may show one again)
    requests: int = 0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    pipeline_latency_ms: list[float] = field(default_factory=list)  # the App's own input read -> present
    quality_changes: int = 0
    model: str = ""
    thread_cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds per thread name


def thread_cpu_s(proc: psutil.Process) -> dict[str, float]:
    """CPU seconds so far of each live thread, by its Python name (torch's pool threads: "other")."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for t in proc.threads():
        name = names.get(t.id, "other")
        out[name] = out.get(name, 0.0) + t.user_time + t.system_time
    return out


def make_app(overrides: list[str], synchronous: bool) -> App:
    app = App(load_config(None, overrides))
    app.setup()
    if synchronous:
        old = app.worker
        old.close()
        inline = InlineWorker(old.model, old.device, old.render_size)
        inline.accel = old.accel
        app.worker = inline
        app.compositor.run_inline()  # and compose on the main thread too: generate, compose, present in turn
        app.pacer.wake = None  # and read its inputs on a fixed tick: a frame never starts early for a sound
    return app


def thumbnail(screen: pygame.Surface) -> np.ndarray:
    view = pygame.surfarray.pixels3d(screen)  # (W, H, 3) view: locks the surface until deleted
    try:
        return np.ascontiguousarray(view[::THUMB_STRIDE, ::THUMB_STRIDE])
    finally:
        del view


def step(app: App) -> None:
    """One iteration exactly as App.run paces it (the caretaker may lower the rate when closed)."""
    care = getattr(app, "care", None)
    fps = care.target_fps() if care is not None else app.config.display.fps
    dt_s = app.pacer.wait(fps)
    if hasattr(app, "step"):
        app.step(dt_s)
    else:
        app.update(dt_s)
        app.draw(dt_s)


def settle_background(app: App, timeout_s: float = 30.0) -> None:
    """Start-up work on other threads (the model's principal directions) must not count as the loop's."""
    end_s = time.perf_counter() + timeout_s
    while time.perf_counter() < end_s and any(t.name == "directions" for t in threading.enumerate()):
        time.sleep(0.05)


def run_loop(
    overrides: list[str],
    seconds: float,
    synchronous: bool,
    step_mic: StepMicrophone | StepCamera | None = None,
    step_edges_s: list[float] | None = None,
    timeline: Timeline | None = None,
) -> LoopRun:
    """Run the App's update/draw loop for `seconds` (as App.run does) and measure it.

    With step_mic (a StepMicrophone or a StepCamera), the App's microphone or camera is replaced
    and `step_edges_s` (offsets from the loop's start) are scheduled on it; thumbnails of every
    presented frame are kept for detection, and `timeline` records each stage's times.
    """
    app = make_app(overrides, synchronous)
    proc = psutil.Process()
    run = LoopRun(seconds, model=app.model_entry.name)
    try:
        if isinstance(step_mic, StepCamera):
            app.senses.camera.close()
            app.senses.camera = step_mic  # type: ignore[assignment]
            step_mic.start()
        elif step_mic is not None:
            app.senses.microphone.close()
            app.senses.microphone = step_mic  # type: ignore[assignment]
        if timeline is not None:
            if isinstance(step_mic, StepCamera):
                attach(app, timeline, app.senses, "_video", "brightness")
            else:  # the audio slot sits in the hearing thread's outbox
                attach(app, timeline, app.senses._audio, "slot", "loudness_db")
        for i in range(10):  # warm-up: first-touch allocations, caches, the worker's first renders
            step(app)
            if i == 2:
                app.worker.accel.settle()  # the CPU trace is built in the background: measure after it
                settle_background(app)
        t0 = run.t0_s = time.perf_counter()
        if step_mic is not None and step_edges_s is not None:
            step_mic.schedule([t0 + e for e in step_edges_s])
        cpu0 = sum(proc.cpu_times()[:2])
        threads0 = thread_cpu_s(proc)
        rendered0, stamp0, composed0 = app.worker.rendered, app._stamp, app.compositor.composed_frames
        quality0 = app.quality.index if app.quality is not None else 0
        changes = 0
        next_rss_s = t0
        end_s = t0 + seconds
        while app.running and time.perf_counter() < end_s:
            step(app)
            now = time.perf_counter()
            run.frame_times_s.append(now)
            if step_mic is not None:
                run.thumbs.append(thumbnail(app.screen))
            if timeline is not None:
                after_frame(app, timeline)
            if app.quality is not None and app.quality.index != quality0:
                changes, quality0 = changes + 1, app.quality.index
            if now >= next_rss_s:
                run.peak_rss_mb = max(run.peak_rss_mb, proc.memory_info().rss / 2**20)
                next_rss_s = now + 0.5
        run.cpu_s = sum(proc.cpu_times()[:2]) - cpu0
        run.thread_cpu_s = {k: v - threads0.get(k, 0.0) for k, v in thread_cpu_s(proc).items()}
        run.generator_frames = app.worker.rendered - rendered0
        run.composed_frames = app.compositor.composed_frames - composed0
        run.requests = app._stamp - stamp0
        run.pipeline_latency_ms = list(app._latency_ms._values)
        run.quality_changes = changes
        run.seconds = time.perf_counter() - t0
    finally:
        app.close()
        app.compositor.close()  # App.close does too; a harness-made App may have failed before it could
    return run


def summarize(run: LoopRun, fps_target: int) -> dict[str, Any]:
    times = np.asarray(run.frame_times_s)
    frame_ms = np.diff(times) * 1e3 if len(times) > 1 else np.zeros(1)
    period_ms = 1000.0 / fps_target
    pipeline = np.asarray(run.pipeline_latency_ms or [0.0])
    return {
        "display_fps": round(len(times) / run.seconds, 2),
        "generator_fps": round(run.generator_frames / run.seconds, 2),
        "composed_fps": round(run.composed_frames / run.seconds, 2),  # new pictures; display_fps counts presents
        "frame_time_p50_ms": round(float(np.percentile(frame_ms, 50)), 2),
        "frame_time_p95_ms": round(float(np.percentile(frame_ms, 95)), 2),
        "frame_time_p99_ms": round(float(np.percentile(frame_ms, 99)), 2),
        "dropped_frames": int((frame_ms > 1.5 * period_ms).sum()),  # a display deadline missed
        "generator_requests_skipped": max(0, run.requests - run.generator_frames),  # overwritten unseen
        "cpu_percent": round(100.0 * run.cpu_s / run.seconds, 1),  # of one core; 200 = both cores busy
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "pipeline_latency_p50_ms": round(float(np.percentile(pipeline, 50)), 2),
        "pipeline_latency_p95_ms": round(float(np.percentile(pipeline, 95)), 2),
        "quality_changes": run.quality_changes,
        "thread_cpu_percent": {
            k: round(100.0 * v / run.seconds, 1)
            for k, v in sorted(run.thread_cpu_s.items())
            if v / run.seconds >= 0.005
        },
        "model": run.model,
        "seconds": round(run.seconds, 2),
    }


def step_edges(steps: int, calm_s: float, gap_s: float, seed: int = 0) -> list[float]:
    """Toggle offsets: `calm_s` with no steps (threshold calibration), then a step every gap_s
    (jittered, so steps land anywhere within a frame)."""
    rng = np.random.default_rng(seed)
    return [calm_s + i * gap_s + float(rng.uniform(0, gap_s * 0.25)) for i in range(steps)]


FEATURE_STEP = {"sound": -40.0, "camera": 0.5}  # where the step presets' step curves switch


def measure_latency(
    overrides: list[str], steps: int, synchronous: bool, gap_s: float = 0.3, calm_s: float = 1.0, source: str = "sound"
) -> dict[str, Any]:
    """Input-to-photon latency over `steps` steps of the sound (silence->loud and back) or of the
    camera's scene (dark->bright and back), with each stage's share (installation/bench/stages.py)."""
    edges = step_edges(steps, calm_s, gap_s)
    stepper = StepCamera() if source == "camera" else StepMicrophone()
    timeline = Timeline()
    run = run_loop(overrides, edges[-1] + gap_s + 0.2, synchronous, stepper, edges, timeline)
    times = run.frame_times_s
    calm = [th for t, th in zip(times, run.thumbs) if t - run.t0_s < calm_s - 0.05]
    threshold = calibrate_threshold(calm[len(calm) // 3 :])  # skip the first frames: the picture settles
    edges_abs = [run.t0_s + e for e in edges]
    result = detect_steps(times, run.thumbs, edges_abs, threshold)
    lat = np.asarray(result.latencies_ms or [float("nan")])
    stages = summarize_stages(breakdown(timeline, times, edges_abs, result.frames, FEATURE_STEP[source]))
    return {
        "stages": stages,
        "steps": steps,
        "detected": len(result.latencies_ms),
        "missed": result.missed,
        "threshold": round(result.threshold, 2),
        "latency_p50_ms": round(float(np.percentile(lat, 50)), 2),
        "latency_p95_ms": round(float(np.percentile(lat, 95)), 2),
        "latency_max_ms": round(float(np.max(lat)), 2),
    }
