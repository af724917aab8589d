"""The show's figures: rolling counters on the main thread, and one frozen snapshot of them.

`Telemetry` is fed by the loop (a frame presented, a generator result received, the walk's speed).
`Figures` is one reading of it plus the show's names and sources; the --stats line, the health file,
the web panel's status and the HUD's status page are all formatted from the same snapshot, so they
never disagree about what a figure means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installation.render.recorder import Recorder
from installation.sources.base import SourceStatus
from installation.stats import RateCounter, Rolling


@dataclass(frozen=True)
class Rates:
    """The loop's own figures at one moment (Telemetry.rates)."""

    uptime_s: float
    frames: int
    fps: float
    generator_fps: float
    render_ms_p50: float
    frame_ms_p95: float
    latency_ms_p50: float
    latency_ms_p95: float


@dataclass(frozen=True)
class Figures:
    """One reading of the show, taken on the main thread (see App.figures)."""

    rates: Rates
    model: str
    model_arch: str
    preset: str
    preset_file: str  # the preset's file stem: what a switch command names
    sources: Mapping[str, SourceStatus]  # "camera", "microphone"
    last_error: str
    generator_errors: int
    recording: bool
    record_error: str
    screen: tuple[int, int]
    mode: str
    hud_unlocked: bool
    features: Mapping[str, float]
    params: Mapping[str, float]  # every mapped parameter ({} before the first frame)
    nudge: float
    attract: str  # active | attract
    touch: Mapping[str, float]  # events, fingers, drag_total
    mirror: bool
    quality: int | None  # the quality ladder's level (None: [quality] off)
    quality_line: str
    live: Mapping[str, object] | None  # control/live.py stats
    live_lines: tuple[str, ...]  # control/live.py HUD lines
    record: Mapping[str, Any] | None  # path, written, dropped, error while recording


class Telemetry:
    """Rolling figures of the loop; main thread only."""

    def __init__(self, t_start_s: float = 0.0) -> None:
        self.t_start_s = t_start_s
        self.frames_presented = 0
        self.last_error = ""  # the newest problem worth showing an operator (HUD, stats, health, panel)
        self.fps = RateCounter()
        self.gen_fps = RateCounter()
        self.latency_ms = Rolling(240)
        self.frame_ms = Rolling(240)
        self.render_ms = Rolling(120)
        self._speed_sum = 0.0
        self._speed_time = 0.0

    def presented(self, now_s: float, dt_s: float, t_input_s: float | None) -> None:
        """A frame reached the screen; t_input_s when it shows a generator frame for the first time."""
        self.frames_presented += 1
        self.fps.tick(now_s)
        self.frame_ms.add(dt_s * 1e3)
        if t_input_s is not None:
            self.latency_ms.add((now_s - t_input_s) * 1e3)

    def received(self, t_s: float, render_ms: float) -> None:
        """A generator result of the current model arrived (error or picture)."""
        self.gen_fps.tick(t_s)
        self.render_ms.add(render_ms)

    def walked(self, latent_speed: float, dt_s: float) -> None:
        self._speed_sum += latent_speed * dt_s
        self._speed_time += dt_s

    def rates(self, now_s: float) -> Rates:
        return Rates(
            uptime_s=now_s - self.t_start_s,
            frames=self.frames_presented,
            fps=self.fps.rate(now_s),
            generator_fps=self.gen_fps.rate(now_s),
            render_ms_p50=self.render_ms.percentile(50),
            frame_ms_p95=self.frame_ms.percentile(95),
            latency_ms_p50=self.latency_ms.percentile(50),
            latency_ms_p95=self.latency_ms.percentile(95),
        )

    def take_mean_speed(self) -> float:
        """Mean latent speed since the last call (one stats interval)."""
        mean = self._speed_sum / self._speed_time if self._speed_time > 0 else 0.0
        self._speed_sum = self._speed_time = 0.0
        return mean


def record_figures(rec: Recorder) -> dict[str, Any]:
    return {"path": str(rec.path), "written": rec.frames_written, "dropped": rec.frames_dropped, "error": rec.error}


def stats_record(f: Figures, mean_speed: float) -> dict[str, Any]:
    """One --stats line (README "What --stats writes"); mean_speed: the walk's since the last line."""
    record: dict[str, Any] = {
        "t_s": round(f.rates.uptime_s, 3),
        "frames": f.rates.frames,
        "fps": round(f.rates.fps, 2),
        "generator_fps": round(f.rates.generator_fps, 2),
        "render_ms_p50": round(f.rates.render_ms_p50, 2),
        "frame_ms_p95": round(f.rates.frame_ms_p95, 2),
        "latency_ms_p50": round(f.rates.latency_ms_p50, 2),
        "latency_ms_p95": round(f.rates.latency_ms_p95, 2),
        "features": {k: round(v, 4) for k, v in f.features.items()},
        "latent_speed": round(mean_speed, 4),
        "params": {k: round(v, 4) for k, v in f.params.items()},
        "nudge": round(f.nudge, 4),
        "attract": f.attract,
        "touch": {**f.touch, "drag_total": round(f.touch["drag_total"], 4)},
        "sources": {n: {"state": s.state, "detail": s.detail, "error": s.error} for n, s in f.sources.items()},
        "model": f.model,
        "preset": f.preset,
        "mirror": f.mirror,
        "mode": f.mode,
        "screen": list(f.screen),
        "generator_errors": f.generator_errors,
        "last_error": f.last_error,
        "quality": f.quality,
    }
    if f.live is not None:
        record["live"] = dict(f.live)
    if f.record is not None:
        record["record"] = dict(f.record)
    return record


def health_figures(f: Figures) -> dict[str, Any]:
    """The figures' part of the health file (installation/care.py adds its own)."""
    return {
        "uptime_s": round(f.rates.uptime_s, 1),
        "frames": f.rates.frames,
        "fps": round(f.rates.fps, 2),
        "generator_fps": round(f.rates.generator_fps, 2),
        "camera": _source(f, "camera"),
        "microphone": _source(f, "microphone"),
        "last_error": f.last_error,
        "generator_errors": f.generator_errors,
        "model": f.model,
        "preset": f.preset,
        "record_error": f.record_error,
        "screen": list(f.screen),
        "hud_unlocked": f.hud_unlocked,
    }


def panel_figures(f: Figures) -> dict[str, Any]:
    """The figures' part of the web panel's status (installation/web/state.py PUBLIC_KEYS)."""
    return {
        "fps": round(f.rates.fps, 2),
        "generator_fps": round(f.rates.generator_fps, 2),
        "latency_ms_p95": round(f.rates.latency_ms_p95, 2),
        "preset": f.preset,
        "preset_file": f.preset_file,
        "model": f.model,
        "sources": {k: {"state": v.state, "detail": v.detail} for k, v in f.sources.items()},
        "uptime_s": round(f.rates.uptime_s, 1),
        "last_error": f.last_error,
        "recording": f.recording,
    }


def hud_status_lines(f: Figures) -> list[str]:
    """The HUD's status page."""
    r = f.rates
    lines = [
        f"display {r.fps:5.1f} fps   generator {r.generator_fps:5.1f} fps   render {r.render_ms_p50:5.1f} ms",
        f"input->photon p50 {r.latency_ms_p50:5.1f} ms  p95 {r.latency_ms_p95:5.1f} ms",
        f"model {f.model} [{f.model_arch}]   preset {f.preset} ({f.attract})",
        f"camera: {f.sources['camera'].state} - {f.sources['camera'].detail}",
        f"microphone: {f.sources['microphone'].state} - {f.sources['microphone'].detail}",
        "keys: 1-9 presets  F2 learn  F3 calibration  F4 reset engagement  F5 MIDI learn",
        *f.live_lines,
    ]
    if f.quality_line:
        lines.append(f.quality_line)
    if f.record is not None:
        lines.append(f"recording {Path(f.record['path']).name}: {f.record['written']} frames")
    if f.last_error:
        lines.append(f.last_error[:110])
    return lines


def _source(f: Figures, name: str) -> dict[str, str]:
    s = f.sources[name]
    return {"state": s.state, "detail": s.detail}
