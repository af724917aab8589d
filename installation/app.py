"""The App: owns pygame and the loop. setup / update(dt_s) / draw(dt_s) / close.

The main thread senses, maps, submits a render request and composes whatever frame the generator
finished last; it never waits on the generator, so the display stays smooth when inference is slow.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pygame
import torch

from installation.care import CALM_DIM, CALM_SPEED, Caretaker
from installation.config import Config, ConfigError
from installation.control.commands import SwitchPreset
from installation.control.live import LiveControl
from installation.keys import Chord, parse_chord
from installation.kiosk import KioskLock, grab_input, prepare_kiosk_env
from installation.mapping.directions import find_directions_async
from installation.mapping.engine import MappingOutput, PresetMapping
from installation.mapping.learn import Demonstrations, LearnedMapping
from installation.mapping.mirror import MirrorEncoder
from installation.mapping.presets import PRESET_DIR, Preset, list_presets, load_preset
from installation.render.display import open_display
from installation.render.hud import Hud
from installation.render.loading import (
    FALLBACK_MODEL,
    ModelLoader,
    find_encoder,
    load_model,
    pick_device,
    set_torch_threads,
)
from installation.render.model_watch import ModelFileWatch
from installation.render.picture import Picture
from installation.render.quality import Measurements, QualityController, QualityLevel, build_ladder, latch_timeout_s
from installation.render.recorder import Recorder
from installation.render.snapshot import save_snapshot_async
from installation.render.superres import load_superres
from installation.render.worker import GeneratorWorker, RenderRequest, RenderResult, result_for
from installation.senses import Senses
from installation.slot import LatestSlot
from installation.sources.touch import TouchTracker
from installation.stats import RateCounter, Rolling, StatsWriter
from installation.web.feed import PanelFeed, engagement_map, model_names
from models.registry import BUILTINS

log = logging.getLogger(__name__)

PRESET_KEYS = {getattr(pygame, f"K_{i}"): i - 1 for i in range(1, 10)}
PERFORMER_KEYS = {pygame.K_r, pygame.K_t, pygame.K_LEFTBRACKET, pygame.K_RIGHTBRACKET, pygame.K_F5}
OPERATOR_KEYS = {pygame.K_F2, pygame.K_F3, pygame.K_F4, *PRESET_KEYS, *PERFORMER_KEYS}  # locked in a fullscreen kiosk
LEARN_KEYS = {pygame.K_UP: "up", pygame.K_DOWN: "down", pygame.K_RETURN: "return", pygame.K_DELETE: "delete"}


class App:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.running = False
        self.frame: RenderResult | None = None  # newest generator frame received
        self._surface: pygame.Surface | None = None  # composed picture for the screen
        self._composed: np.ndarray | None = None
        self._new_frame = False
        self._stamp = 0
        self._seen_result = 0
        self.out: MappingOutput | None = None
        self.features: dict[str, float] = {}
        self.hud_visible = config.hud.visible
        self.hud_page = "status"  # status | calibration | learn
        self.last_error = ""
        self.frames_presented = 0
        self.t_start_s = 0.0
        self.mirror: MirrorEncoder | None = None
        self.demos = Demonstrations()
        self._directions: LatestSlot[np.ndarray] = LatestSlot()
        self._directions_seen = 0
        self._directions_thread: threading.Thread | None = None
        self._mirror_seen = 0
        self.loader = ModelLoader()
        self._watch_due_s = 0.0
        self._preset_mtime_ns: int | None = None
        self._model_watch = ModelFileWatch()
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
        self.live: LiveControl | None = None  # OSC, MIDI, tempo, recording toggle, video out, sync
        self.panel: PanelFeed | None = None  # the web panel's feed (installation/web)
        self.exit_code = 0

    # ---------------------------------------------------------------- setup
    def setup(self) -> None:
        c = self.config
        self.preset = load_preset(c.run.preset)  # a broken preset at start is a config error
        self._default_preset_path = self.preset.path
        prepare_kiosk_env(c.kiosk.grab_keyboard)
        self.screen, self.mode = open_display(c.display)
        grab_input(self.mode, c.display.hide_cursor, c.kiosk.grab_keyboard)
        self.kiosk_lock = KioskLock(c.kiosk, self.mode)
        try:
            self.quit_chord: Chord = parse_chord(c.kiosk.quit_chord)
        except ValueError as exc:
            raise ConfigError(f"kiosk.quit_chord: {exc}; expected e.g. 'ctrl+shift+alt+q'") from None
        if c.record.path:  # --record: from the first frame (R starts and stops more while running)
            self.recorder = Recorder(
                c.record.path, self.screen.get_size(), c.record.fps or c.display.fps, c.record.max_queue, c.record.crf
            )
            self.recorder.start()
        threads = set_torch_threads(c.generator.torch_threads)
        self.device = pick_device(c.generator.device)
        self.model_spec = self._model_spec(self.preset)
        model, self.model_entry = load_model(self.model_spec, self.device)
        untrained = " (untrained, seeded weights)" if self.model_entry.name in BUILTINS else ""
        log.info(
            "generator: %s%s [%s] on %s, %d torch thread(s); preset %s",
            self.model_entry.name,
            untrained,
            self.model_entry.arch,
            self.device,
            threads,
            self.preset.name,
        )
        self.worker = GeneratorWorker(model, self.device, c.generator.render_size)
        self.worker.configure_accel(c.accel)
        self.worker.configure_superres(load_superres(c.generator.superres))
        self.touch = TouchTracker(self.screen.get_size())
        self.t_start_s = time.perf_counter()
        self.care = Caretaker(self)
        # Burn-in drift: compose a margin larger than the screen, so the slow orbit never shows an edge.
        self.compositor = Picture(self.care.padded(self.screen.get_size()), c.display.fit, c.display.effects_height)
        self._setup_quality(model)
        self._use_model(model)
        # Restored in this order after a restart: the preset first, then where the walk was in it.
        self.care.store.register("preset", self._preset_spec, self._restore_preset)
        self.care.store.register("latent", lambda: self.mapping.export_state(), lambda s: self.mapping.import_state(s))
        self.care.restore()  # before the first frame, so a restarted show continues where it was
        self._first_frame(model)
        self.worker.start()
        self.senses = Senses(c.camera, c.microphone)
        self.senses.start()
        self._apply_preset_extras()
        self.live = LiveControl(self)
        self.live.start()
        self.panel = PanelFeed.create(self, self.live.queue, c.web)  # web panel (docs/web.md); None when off
        self.hud = Hud(c.hud.font_px)
        if c.stats.path:
            self.stats = StatsWriter(c.stats.path)
        self._stats_due_s = time.perf_counter() + c.stats.interval_s
        self.care.start()
        self.running = True

    def _preset_spec(self) -> str:
        """How to find the running preset again: its name if shipped, else its path."""
        path = Path(self.preset.path)
        return path.stem if path.parent == PRESET_DIR else str(path)

    def _restore_preset(self, spec: object) -> None:
        """State restore after a restart: continue with the preset that was running."""
        if not isinstance(spec, str) or not spec:
            raise ValueError(f"preset must be a name or path, got {spec!r}")
        if spec in (self.preset.path, self._preset_spec()):
            return
        try:
            preset = load_preset(spec)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        log.info("continuing with preset %s from before the restart", preset.name)
        self.preset = preset
        self.mapping.set_preset(preset, 0.0)
        if self.live is not None:
            self.live.load_bindings()
        if self._model_spec(preset) != self.model_spec:
            self.model_spec = self._model_spec(preset)
            self.loader.request(self.model_spec, self.device)

    def _model_spec(self, preset: Preset) -> str:
        """The config's model wins over the preset's, so an operator can pin one."""
        return self.config.generator.model if self.config.generator.model != "auto" else preset.model

    def _use_model(self, model: torch.nn.Module) -> None:
        """A fresh mapping for this model's latent space, and its principal directions in the background."""
        w, h = self.screen.get_size()
        self.mapping = PresetMapping(
            int(model.z_dim), self.preset, self.config.mapping.seed, time.perf_counter() - self.t_start_s, aspect=w / h
        )
        self._directions_thread = find_directions_async(model, self._directions)

    def _first_frame(self, model: torch.nn.Module) -> None:
        """Render frame one before the loop starts, so the screen never opens on black."""
        out = self.mapping.update(0.0, 0.0, {}, self.touch.frame())
        request = RenderRequest(out.state.z, self.compositor.work_size, self.config.display.fit, time.perf_counter(), 0)
        try:
            picture = self.worker.render(model, request)
        except Exception as exc:  # the worker will report it again; start on black meanwhile
            log.error("first frame failed: %s", exc)
            return
        self._show(result_for(picture, model, 0, self.worker.epoch, request.t_input_s, 0.0))

    def _show(self, result: RenderResult) -> None:
        assert result.frame_rgb is not None or result.field is not None
        self.frame = result
        self.compositor.add_result(result, time.perf_counter())
        self._new_frame = True

    # ---------------------------------------------------------------- automatic quality
    def _setup_quality(self, model: torch.nn.Module) -> None:
        q, c = self.config.quality, self.config
        self.quality: QualityController | None = None
        self._quality_due_s = time.perf_counter() + 3.0  # let start-up settle before judging the frame rate
        if not q.enabled:
            return
        levels = build_ladder(
            c.generator.render_size,
            min(q.min_render_size, c.generator.render_size),
            hasattr(model, "coordinates"),
            bool(q.light_model),
        )
        self.quality = QualityController(
            levels, c.display.fps, q.generator_fps or c.display.fps, q.down_after_s, q.up_after_s
        )

    def _quality_tick(self, now_s: float) -> None:
        """Once a second: measured rates in, a quality level out (one log line per change)."""
        if self.quality is None or now_s < self._quality_due_s:
            return
        self._quality_due_s = now_s + 1.0
        measured = Measurements(self._fps.rate(now_s), self._gen_fps.rate(now_s), self._render_ms.percentile(50))
        decision = self.quality.update(now_s, measured)
        if decision is not None:
            self._apply_quality(decision.level)

    def _newest_result(self) -> tuple[RenderResult | None, int]:
        """The newest finished frame. When renders are fast enough to fit this frame's slack, wait
        (bounded) for the one just requested, saving a frame of latency; never for a slow generator."""
        timeout_s = latch_timeout_s(
            self._render_ms.percentile(50), self.config.display.fps, self.config.quality.latch_fraction
        )
        result, seen = self.worker.results.get_newer(self._seen_result)
        deadline_s = time.perf_counter() + timeout_s
        while timeout_s > 0 and (result is None or result.stamp < self._stamp):  # not this frame's yet
            remaining_s = deadline_s - time.perf_counter()
            newer, newer_seen = self.worker.results.wait_newer(seen, remaining_s) if remaining_s > 0 else (None, seen)
            if newer is None:
                break
            result, seen = newer, newer_seen
        return result, seen

    def _apply_quality(self, level: QualityLevel) -> None:
        self.worker.set_render_size(level.render_size)
        self.compositor.effects_enabled = level.effects
        spec = self.config.quality.light_model if level.light_model else self._model_spec(self.preset)
        if spec != self.model_spec:
            self.model_spec = spec
            self.loader.request(spec, self.device)

    # ---------------------------------------------------------------- presets
    def switch_preset(self, spec: str) -> None:
        """Crossfade to another preset (and its model, loaded in the background). A broken preset
        file is reported and the current one stays."""
        try:
            preset = load_preset(spec)
        except ConfigError as exc:
            log.error("preset not switched: %s; staying with %s", exc, self.preset.name)
            self.last_error = f"preset error: {exc}"
            return
        now = time.perf_counter()
        if preset.path != self.preset.path:
            self._preset_mtime_ns = None
        log.info("preset: %s -> %s (crossfade %.1f s)", self.preset.name, preset.name, preset.crossfade_s)
        self.preset = preset
        self.compositor.start_transition(now, preset.crossfade_s)
        self.mapping.set_preset(preset, now - self.t_start_s)
        spec_model = self._model_spec(preset)
        if spec_model != self.model_spec:
            self.model_spec = spec_model
            self.loader.request(spec_model, self.device)
        self._apply_preset_extras()
        if self.live is not None:
            self.live.load_bindings()

    def _apply_preset_extras(self) -> None:
        """Mirror encoder and learned mapping, as the current preset asks."""
        if self.mirror is not None:
            self.mirror.close()
            self.mirror = None
        self.mapping.mirror_target = None
        if self.preset.mirror.enabled:
            encoder = find_encoder(self.worker.model, self.device)
            if encoder is None:
                log.warning(
                    "preset %s wants mirror mode, but no shipped encoder shares %s's latent space; mirror is off",
                    self.preset.name,
                    self.model_entry.name,
                )
            else:
                self.mirror = MirrorEncoder(
                    encoder, self._mirror_frame, self.preset.mirror.rate_hz, self.preset.mirror.mask
                )
                self.mirror.start()
                self._mirror_seen = 0
        self.mapping.learned = None
        learned_path = self._learned_path()
        if learned_path is not None and learned_path.is_file():
            try:
                learned = LearnedMapping.load(learned_path)
                if learned.z_dim == self.mapping.z_dim:
                    self.mapping.learned = learned
                    log.info("learned mapping loaded: %s (%d examples)", learned_path.name, learned.examples)
                else:
                    log.warning("%s was learned for another model (z_dim %d); not used", learned_path, learned.z_dim)
            except ValueError as exc:
                log.error("%s; the preset runs without it", exc)

    def _watch_preset(self, now: float) -> None:
        """Once a second: if the preset file was edited, reload it; a broken edit is reported once
        and the running preset stays."""
        if now < self._watch_due_s or not self.preset.path:
            return
        self._watch_due_s = now + 1.0
        try:
            mtime_ns = Path(self.preset.path).stat().st_mtime_ns
        except OSError:
            return  # deleted or unreadable: keep running what is loaded
        if self._preset_mtime_ns is None:
            self._preset_mtime_ns = mtime_ns
        elif mtime_ns != self._preset_mtime_ns:
            self._preset_mtime_ns = mtime_ns
            log.info("preset file %s changed: reloading", self.preset.path)
            self.switch_preset(self.preset.path)

    def _learned_path(self) -> Path | None:
        return Path(self.preset.path).with_suffix(".learned.json") if self.preset.path else None

    def _mirror_frame(self) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Mirror thread: the newest small camera frame and silhouette mask (memory only)."""
        snapshot = getattr(self.senses, "snapshot", None)
        if snapshot is not None:
            snap = snapshot()
            frame = getattr(snap, "camera_frame_rgb", None)
            return (frame, getattr(snap, "silhouette_mask", None)) if frame is not None else None
        latest = self.senses.camera.latest()
        return (latest.frame_rgb, None) if latest is not None else None

    # ---------------------------------------------------------------- events
    def handle_event(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT:
            if self.mode == "fullscreen":
                log.info(
                    "window close request ignored in fullscreen kiosk mode (quit chord: %s)",
                    self.config.kiosk.quit_chord,
                )
            else:
                self.stop("window closed")
        elif event.type == pygame.KEYDOWN:
            # The modifiers held when the key went down: get_mods() is "now", and a loaded machine may
            # read the event after a fast chord (e.g. xdotool, an operator's quick press) was released.
            self.on_key(event.key, getattr(event, "mod", pygame.key.get_mods()))
        elif event.type in (pygame.VIDEORESIZE, pygame.WINDOWSIZECHANGED):
            self.screen = pygame.display.get_surface()
            self.touch.resize(self.screen.get_size())
            assert self.care is not None
            self.compositor.resize(self.care.padded(self.screen.get_size()))
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
        elif key in OPERATOR_KEYS and not self.kiosk_lock.allows_hud():
            pass  # locked fullscreen kiosk: operator keys do nothing for visitors
        elif key == pygame.K_F2:
            self._toggle_page("learn")
        elif key == pygame.K_F3:
            self._toggle_page("calibration")
        elif key == pygame.K_F5:
            self._toggle_page("midi")
        elif self.hud_page == "midi" and self.hud_visible and key in LEARN_KEYS:
            assert self.live is not None
            self.live.learn_key(LEARN_KEYS[key])
        elif key in PERFORMER_KEYS:
            self._performer_key(key)
        elif key == pygame.K_F4:
            self.mapping.engagement.reset()
            log.info("engagement statistics reset")
        elif key in PRESET_KEYS:
            if PRESET_KEYS[key] < len(list_presets()):  # on the next bar when tempo.quantise says so
                assert self.live is not None
                self.live.switch(SwitchPreset(str(PRESET_KEYS[key] + 1)), time.perf_counter())
        elif self.hud_page == "learn" and self.hud_visible:
            self._learn_key(key)
        elif key in (pygame.K_ESCAPE, pygame.K_q) and self.mode != "fullscreen":
            self.stop(f"{pygame.key.name(key)} pressed")

    def _performer_key(self, key: int) -> None:
        """R records, T taps the tempo, [ and ] nudge the beat grid."""
        live = self.live
        assert live is not None
        if key == pygame.K_r:
            live.set_recording(None)
        elif key == pygame.K_t:
            live.tempo.tap(time.perf_counter())
        elif key in (pygame.K_LEFTBRACKET, pygame.K_RIGHTBRACKET):
            step = self.config.tempo.nudge_beats
            live.tempo.nudge(step if key == pygame.K_RIGHTBRACKET else -step)

    def _toggle_page(self, page: str) -> None:
        if self.hud_visible and self.hud_page == page:
            self.hud_page, self.hud_visible = "status", False
        else:
            self.hud_page, self.hud_visible = page, True

    def _learn_key(self, key: int) -> None:
        """Setup mode: Space records (features -> current latent), Return fits and saves, Backspace clears."""
        if key == pygame.K_SPACE:
            n = self.demos.record(self.features, self.mapping.walk.z)
            log.info("learn: example %d recorded", n)
        elif key == pygame.K_RETURN:
            try:
                learned = self.demos.fit()
            except ValueError as exc:
                log.warning("learn: %s", exc)
                return
            self.mapping.learned = learned
            path = self._learned_path()
            if path is not None:
                try:
                    learned.save(path)
                    log.info("learn: fitted on %d examples, saved to %s", learned.examples, path)
                except OSError as exc:
                    log.error("learn: fitted, but not saved to %s (%s)", path, exc)
        elif key == pygame.K_BACKSPACE:
            self.demos.clear()
            self.mapping.learned = None
            log.info("learn: examples cleared")

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
        self.worker.configure_superres(old.superres)  # a colour model chosen later is enlarged as before
        if self.worker.z_dim != self.mapping.z_dim:
            self._use_model(model)
        self.model_spec = FALLBACK_MODEL
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
        self._watch_preset(t_input_s)
        if self._model_watch.changed(self.model_spec, t_input_s):  # hot swap of a replaced model file
            self.loader.request(self.model_spec, self.device, keep_on_failure=True)
        self._quality_tick(t_input_s)
        self._poll_background()
        assert self.live is not None
        self.live.apply(t_input_s)  # OSC/MIDI commands, quantised switches that are due
        self.features = self.live.features(t_input_s, self.senses.read(dt_s))
        out = self.mapping.update(dt_s, t_input_s - self.t_start_s, self.features, self.touch.frame())
        out = self.live.follow(t_input_s, out)  # a sync follower renders its leader's picture
        self.out = out
        if out.attract.reset and self.preset.path != self._default_preset_path:
            log.info("nobody interacted for %.0f s: back to the default preset", out.attract.idle_s)
            self.switch_preset(self.config.run.preset)
        if out.snapshot and self._composed is not None:
            save_snapshot_async(self._visible_picture(self._composed), Path(self.config.run.snapshot_dir))
        self._speed_sum += out.state.latent_speed * dt_s
        self._speed_time += dt_s
        self._stamp += 1
        self.worker.submit(
            RenderRequest(out.state.z, self.compositor.work_size, self.config.display.fit, t_input_s, self._stamp)
        )
        result, self._seen_result = self._newest_result()
        if result is None or result.epoch != self.worker.epoch:
            return  # nothing new, or rendered by a model that has since been swapped out
        self._gen_fps.tick(t_input_s)
        self._render_ms.add(result.render_ms)
        if result.error:
            self.last_error = f"generator error: {result.error}"  # keep showing the previous frame
            return
        if self.frame is not None and result.stamp <= self.frame.stamp and result.epoch == self.frame.epoch:
            return  # stale
        self._show(result)

    # ---------------------------------------------------------------- web panel (installation/web/feed.py)
    def panel_status(self) -> dict[str, Any]:
        now, s = time.perf_counter(), self.senses.status()
        assert self.care is not None
        e, walk = self.mapping.engagement, self.mapping.walk
        return {
            "fps": round(self._fps.rate(now), 2),
            "generator_fps": round(self._gen_fps.rate(now), 2),
            "latency_ms_p95": round(self._latency_ms.percentile(95), 2),
            "preset": self.preset.name,
            "preset_file": Path(self.preset.path).stem,
            "model": self.model_entry.name,
            "sources": {k: {"state": v.state, "detail": v.detail} for k, v in s.items()},
            "uptime_s": round(now - self.t_start_s, 1),
            "restarts": self.care.restarts,
            "last_error": self.last_error,
            "open": self.care.open,
            "schedule": self.config.schedule.open,
            "closed_mode": self.config.schedule.closed_mode,
            "recording": self.recorder is not None and self.recorder.active,
            "presets": list_presets(),
            "models": model_names(),
            "engagement": engagement_map(e.anchors, e.dwell_s, e.touches, walk.principal, walk.z),
        }

    def panel_picture(self) -> np.ndarray | None:
        """The generated picture as the screen shows it (never the camera); None while black-closed."""
        return (
            None
            if self._composed is None or self.care is None or self.care.black_closed
            else self._visible_picture(self._composed)
        )

    def _visible_picture(self, composed: np.ndarray) -> np.ndarray:
        """The part of the composed frame the screen shows (it is composed with a burn-in margin)."""
        sw, sh = self.screen.get_size()
        h, w = composed.shape[:2]
        y, x = max(0, (h - sh) // 2), max(0, (w - sw) // 2)
        return composed[y : y + sh, x : x + sw]

    def _poll_background(self) -> None:
        loaded = self.loader.poll()
        if loaded is not None:
            model, entry, spec = loaded
            if spec == self.model_spec:
                self.compositor.start_transition(time.perf_counter(), self.preset.crossfade_s)
                self.worker.swap_model(model)
                self.model_entry = entry
                if int(model.z_dim) != self.mapping.z_dim:
                    self._use_model(model)
                else:
                    self._directions_thread = find_directions_async(model, self._directions)
                self._apply_preset_extras()
                log.info("generator: now %s [%s]", entry.name, entry.arch)
        directions, self._directions_seen = self._directions.get_newer(self._directions_seen)
        if directions is not None:
            self.mapping.set_principal(directions)
        if self.mirror is not None:
            latent, self._mirror_seen = self.mirror.latent.get_newer(self._mirror_seen)
            if latent is not None and latent.shape == (self.mapping.z_dim,):
                self.mapping.mirror_target = latent

    # ---------------------------------------------------------------- draw
    def draw(self, dt_s: float) -> None:
        screen = self.screen
        assert self.care is not None
        now = time.perf_counter()
        params = self.out.params if self.out is not None else {}
        composed = None if self.care.black_closed else self.compositor.compose(now, params, self.preset.effects)
        if composed is None:
            screen.fill((0, 0, 0))
        else:
            self._composed = composed
            self._surface = pygame.image.frombuffer(composed, (composed.shape[1], composed.shape[0]), "RGB")
            sw, sh = screen.get_size()
            fw, fh = self._surface.get_size()
            dx, dy = self.care.drift_px(time.monotonic())  # composed that much larger: no edge shows
            if (fw, fh) != self.care.padded((sw, sh)):
                screen.fill((0, 0, 0))  # letterbox bars, or the moment after a resize
            screen.blit(self._surface, ((sw - fw) // 2 + dx, (sh - fh) // 2 + dy))
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
        if self.live is not None:
            self.live.after_draw(now, composed)

    def _record(self, screen: pygame.Surface, t_s: float) -> None:
        assert self.recorder is not None
        if self.recorder.due(t_s) <= 0:
            return  # display is faster than the file's frame rate: this frame is not needed
        if screen.get_size() != self.recorder.size:
            screen = pygame.transform.scale(screen, self.recorder.size)  # resized window: keep the file's size
        self.recorder.add(pygame.image.tobytes(screen, "RGB"), t_s)

    # ---------------------------------------------------------------- HUD
    def hud_lines(self) -> list[str]:
        if self.hud_page == "calibration":
            return ["CALIBRATION (F3 closes): feature  raw  normalised  [range]"]
        if self.hud_page == "midi" and self.live is not None:
            return self.live.learn_lines()
        if self.hud_page == "learn":
            fitted = f"fitted on {self.mapping.learned.examples}" if self.mapping.learned else "not fitted"
            return [
                "LEARN (F2 closes): move to a picture you like, make the sound/gesture, press Space",
                f"examples: {len(self.demos.inputs)}   mapping: {fitted}",
                "Space record   Return fit + save with the preset   Backspace clear",
            ]
        now = time.perf_counter()
        status = self.senses.status()
        attract = self.out.attract.mode if self.out else "active"
        lines = [
            f"display {self._fps.rate(now):5.1f} fps   generator {self._gen_fps.rate(now):5.1f} fps   "
            f"render {self._render_ms.percentile(50):5.1f} ms",
            f"input->photon p50 {self._latency_ms.percentile(50):5.1f} ms  p95 {self._latency_ms.percentile(95):5.1f} ms",
            f"model {self.model_entry.name} [{self.model_entry.arch}]   preset {self.preset.name} ({attract})",
            f"camera: {status['camera'].state} - {status['camera'].detail}",
            f"microphone: {status['microphone'].state} - {status['microphone'].detail}",
            "keys: 1-9 presets  F2 learn  F3 calibration  F4 reset engagement  F5 MIDI learn",
        ]
        if self.live is not None:
            lines.extend(self.live.hud_lines())
        if self.quality is not None:
            lines.append(
                f"quality {self.quality.index}/{len(self.quality.levels) - 1}: {self.quality.level.describe()}"
            )
        if self.recorder is not None:
            lines.append(f"recording {self.recorder.path.name}: {self.recorder.frames_written} frames")
        if self.last_error:
            lines.append(self.last_error[:110])
        return lines

    def hud_meters(self) -> list[tuple[str, float]]:
        if self.hud_page == "calibration":
            calibration = getattr(self.senses, "calibration", None)
            if calibration is not None:
                return [
                    (f"{name} {raw:8.3f} {norm:4.2f} [{lo:.2f}..{hi:.2f}]", norm)
                    for name, raw, norm, lo, hi in calibration()
                ]
            return [(f"{k} {v:8.3f}", min(1.0, max(0.0, v))) for k, v in self.features.items()]
        f = self.features
        speed = self.out.params.get("speed", 1.0) / 10.0 if self.out else 0.0
        return [
            ("motion", f.get("motion", 0.0)),
            ("loudness", f.get("loudness", 0.0)),
            ("presence", f.get("presence", 0.0)),
            ("speed", speed),
        ]

    # ---------------------------------------------------------------- stats
    def stats_record(self) -> dict[str, Any]:
        now = time.perf_counter()
        out = self.out
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
            "params": {k: round(v, 4) for k, v in out.params.items()} if out else {},
            "nudge": round(out.state.nudge, 4) if out else 0.0,
            "attract": out.attract.mode if out else "active",
            "touch": {
                "events": self.touch.events_total,
                "fingers": self.touch.fingers_down,
                "drag_total": round(self.touch.drag_total, 4),
            },
            "sources": {
                name: {"state": s.state, "detail": s.detail, "error": s.error}
                for name, s in self.senses.status().items()
            },
            "model": self.model_entry.name,
            "preset": self.preset.name,
            "mirror": self.mirror is not None,
            "mode": self.mode,
            "screen": list(self.screen.get_size()),
            "generator_errors": self.worker.errors,
            "last_error": self.last_error,
            "quality": self.quality.level.index if self.quality is not None else None,
        }
        if self.live is not None:
            record["live"] = self.live.stats()
        if self.recorder is not None:
            record["record"] = {
                "path": str(self.recorder.path),
                "written": self.recorder.frames_written,
                "dropped": self.recorder.frames_dropped,
                "error": self.recorder.error,
            }
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
        if self.panel is not None:
            self.panel.tick(now)

    def close(self) -> None:
        if self.care is not None:
            self.care.close()  # the final state save, before anything it reads is torn down
        if self._directions_thread is not None:
            self._directions_thread.join(10.0)  # torch work still running at interpreter exit can abort it
        for part in ("panel", "live", "mirror", "worker", "senses", "loader"):
            obj = getattr(self, part, None)
            if obj is not None:
                obj.close()
        if self.recorder is not None:
            self.recorder.close()
        if self.stats is not None:
            self.stats.close()
        pygame.display.quit()
