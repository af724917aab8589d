"""The App: owns pygame and the loop. setup / update(dt_s) / draw(dt_s) / close.

The main thread senses, maps, submits a render request and shows whatever frame the generator
finished last; it never waits on the generator, so the display stays smooth when inference is slow.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

import numpy as np
import pygame
import torch

from installation.care import CALM_DIM, CALM_SPEED, Caretaker
from installation.config import Config, ConfigError
from installation.keys import Chord, parse_chord
from installation.kiosk import KioskLock, grab_input, prepare_kiosk_env
from installation.mapping.base import LatentState
from installation.mapping.walk import LatentWalk
from installation.render.display import open_display
from installation.render.hud import Hud
from installation.render.recorder import Recorder
from installation.render.worker import GeneratorWorker, RenderRequest, RenderResult
from installation.senses import Senses
from installation.sources.touch import TouchTracker
from installation.stats import RateCounter, Rolling, StatsWriter
from models.registry import BUILTINS, ModelEntry, default_model_name, load_generator

log = logging.getLogger(__name__)

FALLBACK_MODEL = "seeded-cppn"  # needs no file, so it always loads


def pick_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        log.warning("generator.device = cuda but no CUDA GPU is available; using the CPU")
        return torch.device("cpu")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def set_torch_threads(requested: int) -> int:
    """Torch's pool and the capture/display threads share the cores; leave at least one free."""
    threads = requested or max(1, min(4, (os.cpu_count() or 2) - 1))
    torch.set_num_threads(threads)
    return threads


def load_model(spec: str, device: torch.device) -> tuple[torch.nn.Module, ModelEntry]:
    """Load the configured model; on any failure say why and fall back to the built-in one."""
    name = default_model_name() if spec == "auto" else spec
    try:
        return load_generator(name, device)
    except Exception as exc:  # a broken file must not stop the show
        log.error("cannot load model %r (%s); falling back to the built-in %r", name, exc, FALLBACK_MODEL)
        return load_generator(FALLBACK_MODEL, device)


class App:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.running = False
        self.frame: RenderResult | None = None  # newest frame shown
        self._frame_surface: pygame.Surface | None = None
        self._new_frame = False
        self._stamp = 0
        self._seen_result = 0
        self.state: LatentState | None = None
        self.features: dict[str, float] = {}
        self.hud_visible = config.hud.visible
        self.last_error = ""
        self.frames_presented = 0
        self.t_start_s = 0.0
        # rolling figures for HUD and stats
        self._fps = RateCounter()
        self._gen_fps = RateCounter()
        self._latency_ms = Rolling(240)
        self._frame_ms = Rolling(240)
        self._render_ms = Rolling(120)
        self._speed_sum = 0.0
        self._speed_time = 0.0
        self._stats_due_s = 0.0
        self.stats: StatsWriter | None = None
        self.recorder: Recorder | None = None
        self.care: Caretaker | None = None  # state, health, opening hours, burn-in care
        self.exit_code = 0

    # ---------------------------------------------------------------- setup
    def setup(self) -> None:
        c = self.config
        prepare_kiosk_env(c.kiosk.grab_keyboard)
        self.screen, self.mode = open_display(c.display)
        grab_input(self.mode, c.display.hide_cursor, c.kiosk.grab_keyboard)
        self.kiosk_lock = KioskLock(c.kiosk, self.mode)
        try:
            self.quit_chord: Chord = parse_chord(c.kiosk.quit_chord)
        except ValueError as exc:
            raise ConfigError(f"kiosk.quit_chord: {exc}; expected e.g. 'ctrl+shift+alt+q'") from None
        threads = set_torch_threads(c.generator.torch_threads)
        device = pick_device(c.generator.device)
        model, self.model_entry = load_model(c.generator.model, device)
        untrained = " (untrained, seeded weights)" if self.model_entry.name in BUILTINS else ""
        log.info("generator: %s%s [%s] on %s, %d torch thread(s)", self.model_entry.name, untrained,
                 self.model_entry.arch, device, threads)
        self.worker = GeneratorWorker(model, device, c.generator.render_size)
        self.mapping = LatentWalk(self.worker.z_dim, c.mapping)
        self.touch = TouchTracker(self.screen.get_size())
        self.care = Caretaker(self)
        self.care.restore()  # before the first frame, so a restarted show continues where it was
        self._first_frame(model)
        self.worker.start()
        self.senses = Senses(c.camera, c.microphone)
        self.senses.start()
        self.hud = Hud(c.hud.font_px)
        if c.stats.path:
            self.stats = StatsWriter(c.stats.path)
        if c.record.path:
            self.recorder = Recorder(c.record.path, self.screen.get_size(), c.display.fps, c.record.max_queue,
                                     c.record.crf)
            self.recorder.start()
        self.t_start_s = time.perf_counter()
        self._stats_due_s = self.t_start_s + c.stats.interval_s
        self.care.start()
        self.running = True

    def _first_frame(self, model: torch.nn.Module) -> None:
        """Render frame one before the loop starts, so the screen never opens on black."""
        state = self.mapping.update(0.0, {}, self.touch.frame())
        assert self.care is not None
        request = RenderRequest(state.z, self.care.padded(self.screen.get_size()), self.config.display.fit,
                                time.perf_counter(), 0)
        try:
            frame = self.worker.render(model, request)
        except Exception as exc:  # the worker will report it again; start on black meanwhile
            log.error("first frame failed: %s", exc)
            return
        self._show(RenderResult(frame, 0, self.worker.epoch, request.t_input_s, 0.0))

    def _show(self, result: RenderResult) -> None:
        self.frame = result
        frame = result.frame_rgb
        assert frame is not None
        self._frame_surface = pygame.image.frombuffer(frame, (frame.shape[1], frame.shape[0]), "RGB")
        self._new_frame = True

    # ---------------------------------------------------------------- events
    def handle_event(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT:
            if self.mode == "fullscreen":
                log.info("window close request ignored in fullscreen kiosk mode (quit chord: %s)",
                         self.config.kiosk.quit_chord)
            else:
                self.stop("window closed")
        elif event.type == pygame.KEYDOWN:
            # The modifiers held when the key went down: get_mods() is "now", and a loaded machine may
            # read the event after a fast chord (e.g. xdotool, an operator's quick press) was released.
            self.on_key(event.key, getattr(event, "mod", pygame.key.get_mods()))
        elif event.type in (pygame.VIDEORESIZE, pygame.WINDOWSIZECHANGED):
            self.screen = pygame.display.get_surface()
            self.touch.resize(self.screen.get_size())
            grab_input(self.mode, self.config.display.hide_cursor, self.config.kiosk.grab_keyboard)  # cursor may return
        else:
            self.touch.handle(event)

    def on_key(self, key: int, mods: int) -> None:
        if self.quit_chord.matches(key, mods):
            self.stop("quit chord pressed")
        elif self.kiosk_lock.on_admin_key(key, mods):
            self.hud_visible = self.kiosk_lock.unlocked
        elif key in (pygame.K_F1, pygame.K_h):
            if self.kiosk_lock.allows_hud():  # fullscreen: only once an operator unlocked it
                self.hud_visible = not self.hud_visible
        elif key in (pygame.K_ESCAPE, pygame.K_q) and self.mode != "fullscreen":
            self.stop(f"{pygame.key.name(key)} pressed")

    def stop(self, reason: str) -> None:
        if self.running:
            log.info("stopping: %s", reason)
        self.running = False

    def fail(self, exit_code: int, reason: str) -> None:
        """Stop with a non-zero exit code, so a supervisor restarts the show."""
        self.exit_code = exit_code
        self.stop(reason)

    def restart_generator(self, reason: str) -> None:
        """In-process recovery: a fresh generator thread with the built-in model (needs no file)."""
        log.warning("restarting the generator with the built-in %r: %s", FALLBACK_MODEL, reason)
        old = self.worker
        old.close(timeout_s=1.0)  # a hung render keeps its (daemon) thread; the new one does not wait for it
        model, self.model_entry = load_model(FALLBACK_MODEL, old.device)
        self.worker = GeneratorWorker(model, old.device, self.config.generator.render_size)
        if self.worker.z_dim != self.mapping.z_dim:
            self.mapping = LatentWalk(self.worker.z_dim, self.config.mapping)
        self._seen_result = 0
        self.worker.start()

    # ---------------------------------------------------------------- update
    def update(self, dt_s: float) -> None:
        for event in pygame.event.get():
            self.handle_event(event)
        assert self.care is not None
        if self.care.black_closed:
            return  # closed hours, black screen: the generator idles
        if self.care.calm_closed:
            dt_s *= CALM_SPEED
        t_input_s = time.perf_counter()
        self.features = self.senses.read(dt_s)
        self.state = self.mapping.update(dt_s, self.features, self.touch.frame())
        self._speed_sum += self.state.latent_speed * dt_s
        self._speed_time += dt_s
        self._stamp += 1
        self.worker.submit(RenderRequest(self.state.z, self.care.padded(self.screen.get_size()),
                                         self.config.display.fit, t_input_s, self._stamp))
        result, self._seen_result = self.worker.results.get_newer(self._seen_result)
        if result is None or result.epoch != self.worker.epoch:
            return  # nothing new, or rendered by a model that has since been swapped out
        self._gen_fps.tick(t_input_s)
        self._render_ms.add(result.render_ms)
        if result.error:
            self.last_error = result.error  # keep showing the previous frame
            return
        if self.frame is not None and result.stamp <= self.frame.stamp:
            return  # stale
        self._show(result)

    # ---------------------------------------------------------------- draw
    def draw(self, dt_s: float) -> None:
        screen = self.screen
        assert self.care is not None
        if self._frame_surface is None or self.care.black_closed:
            screen.fill((0, 0, 0))
        else:
            sw, sh = screen.get_size()
            fw, fh = self._frame_surface.get_size()
            dx, dy = self.care.drift_px(time.monotonic())  # the frame is rendered that much larger: no edge shows
            if (fw, fh) != self.care.padded((sw, sh)):
                screen.fill((0, 0, 0))  # letterbox bars, or the moment after a resize
            screen.blit(self._frame_surface, ((sw - fw) // 2 + dx, (sh - fh) // 2 + dy))
            if self.care.calm_closed:
                screen.fill(CALM_DIM, special_flags=pygame.BLEND_MULT)
        if self.hud_visible:
            self.hud.draw(screen, dt_s, self.hud_lines(), self.hud_meters())
        pygame.display.flip()
        now = time.perf_counter()
        self.frames_presented += 1
        self._fps.tick(now)
        self._frame_ms.add(dt_s * 1e3)
        if self._new_frame and self.frame is not None:
            self._latency_ms.add((now - self.frame.t_input_s) * 1e3)
            self._new_frame = False
        if self.recorder is not None:
            self._record(screen, now)

    def _record(self, screen: pygame.Surface, t_s: float) -> None:
        assert self.recorder is not None
        if self.recorder.due(t_s) <= 0:
            return  # display is faster than the file's frame rate: this frame is not needed
        if screen.get_size() != self.recorder.size:
            screen = pygame.transform.scale(screen, self.recorder.size)  # resized window: keep the file's size
        self.recorder.add(pygame.image.tobytes(screen, "RGB"), t_s)

    def hud_lines(self) -> list[str]:
        now = time.perf_counter()
        status = self.senses.status()
        lines = [
            f"display {self._fps.rate(now):5.1f} fps   generator {self._gen_fps.rate(now):5.1f} fps   "
            f"render {self._render_ms.percentile(50):5.1f} ms",
            f"input->photon p50 {self._latency_ms.percentile(50):5.1f} ms  p95 {self._latency_ms.percentile(95):5.1f} ms",
            f"model {self.model_entry.name} [{self.model_entry.arch}]   preset {self.config.run.preset}",
            f"camera: {status['camera'].state} - {status['camera'].detail}",
            f"microphone: {status['microphone'].state} - {status['microphone'].detail}",
        ]
        if self.recorder is not None:
            lines.append(f"recording {self.recorder.path.name}: {self.recorder.frames_written} frames")
        if self.last_error:
            lines.append(f"generator error: {self.last_error[:90]}")
        return lines

    def hud_meters(self) -> list[tuple[str, float]]:
        f = self.features
        speed = self.state.walk_speed / max(self.config.mapping.walk_speed, 1e-6) if self.state else 0.0
        return [("motion", f.get("motion", 0.0)), ("loudness", f.get("loudness", 0.0)),
                ("walk speed", min(1.0, speed / 10.0))]

    # ---------------------------------------------------------------- stats
    def stats_record(self) -> dict[str, Any]:
        now = time.perf_counter()
        state = self.state
        mean_speed = self._speed_sum / self._speed_time if self._speed_time > 0 else 0.0
        self._speed_sum = self._speed_time = 0.0
        record: dict[str, Any] = {
            "t_s": round(now - self.t_start_s, 3),
            "frames": self.frames_presented,
            "fps": round(self._fps.rate(now), 2),
            "generator_fps": round(self._gen_fps.rate(now), 2),
            "render_ms_p50": round(self._render_ms.percentile(50), 2),
            "frame_ms_p95": round(self._frame_ms.percentile(95), 2),
            "latency_ms_p50": round(self._latency_ms.percentile(50), 2),
            "latency_ms_p95": round(self._latency_ms.percentile(95), 2),
            "features": {k: round(v, 4) for k, v in self.features.items()},
            "latent_speed": round(mean_speed, 4),
            "walk_speed": round(state.walk_speed, 4) if state else 0.0,
            "nudge": round(state.nudge, 4) if state else 0.0,
            "touch": {"events": self.touch.events_total, "fingers": self.touch.fingers_down,
                      "drag_total": round(self.touch.drag_total, 4)},
            "sources": {name: {"state": s.state, "detail": s.detail, "error": s.error}
                        for name, s in self.senses.status().items()},
            "model": self.model_entry.name,
            "preset": self.config.run.preset,
            "mode": self.mode,
            "screen": list(self.screen.get_size()),
            "generator_errors": self.worker.errors,
            "last_error": self.last_error,
        }
        if self.recorder is not None:
            record["record"] = {"path": str(self.recorder.path), "written": self.recorder.frames_written,
                                "dropped": self.recorder.frames_dropped, "error": self.recorder.error}
        return record

    # ---------------------------------------------------------------- loop
    def run(self) -> int:
        """Set up, loop until quit (or run.seconds), close. Returns the process exit code."""
        previous = {s: signal.signal(s, lambda *_: self.stop("signal")) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.setup()
            clock = pygame.time.Clock()
            end_s = self.t_start_s + self.config.run.seconds if self.config.run.seconds > 0 else float("inf")
            while self.running:
                assert self.care is not None
                self.step(clock.tick(self.care.target_fps()) / 1000.0)
                if time.perf_counter() >= end_s:
                    self.stop(f"ran for {self.config.run.seconds:g} s")
            return self.exit_code
        finally:
            self.close()
            for s, handler in previous.items():
                signal.signal(s, handler)

    def step(self, dt_s: float) -> None:
        """One loop iteration: update, draw, then stats and the caretaker's timers."""
        self.update(dt_s)
        self.draw(dt_s)
        now = time.perf_counter()
        if self.stats is not None and now >= self._stats_due_s:
            self._stats_due_s += self.config.stats.interval_s
            self.stats.write(self.stats_record())
        assert self.care is not None
        self.care.after_frame()

    def close(self) -> None:
        if self.care is not None:
            self.care.close()  # the final state save, before anything it reads is torn down
        for part in ("worker", "senses"):
            obj = getattr(self, part, None)
            if obj is not None:
                obj.close()
        if self.recorder is not None:
            self.recorder.close()
        if self.stats is not None:
            self.stats.close()
        pygame.display.quit()
