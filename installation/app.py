"""The App: owns pygame and the loop. setup / update(dt_s) / draw(dt_s) / close.

The main thread senses, maps, submits a render request and composes whatever frame the generator
finished last; it never waits on the generator, so the display stays smooth when inference is slow.
The App's other jobs live beside it: what plays (programme.py), keys and HUD pages (pages.py), the
figures (telemetry.py), caretaking (care.py) and live control (control/live.py). Care and live
control see the App only through their own narrow protocols.
"""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pygame

from installation.care import CALM_DIM, CALM_SPEED, Caretaker
from installation.config import Config
from installation.control.live import LiveControl
from installation.health import thumbnail
from installation.intake import FrameIntake
from installation.kiosk import grab_input, prepare_kiosk_env
from installation.mapping.engine import MappingOutput
from installation.mapping.presets import list_presets, load_preset
from installation.pacing import FramePacer
from installation.pages import Pages
from installation.programme import Programme, mirror_frame
from installation.render.display import open_display
from installation.render.hud import Hud
from installation.render.picture import Picture
from installation.render.quality import QualityController, QualityLevel
from installation.render.recorder import Recorder
from installation.render.snapshot import save_snapshot_async
from installation.render.worker import GeneratorWorker, RenderResult
from installation.senses import Senses
from installation.sources.touch import TouchTracker
from installation.stats import StatsWriter
from installation.telemetry import Figures, Telemetry, hud_status_lines, panel_figures, record_figures
from installation.telemetry import stats_record as stats_line
from installation.web.feed import PanelFeed, engagement_map, model_names
from models.registry import ModelEntry

log = logging.getLogger(__name__)


class App:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.running = False
        self._surface: pygame.Surface | None = None  # composed picture for the screen
        self._composed: np.ndarray | None = None
        self.out: MappingOutput | None = None
        self.features: dict[str, float] = {}
        self.telemetry = Telemetry()
        self.intake = FrameIntake(config, self.telemetry)  # render requests out, finished frames in
        self._fps, self._gen_fps = self.telemetry.fps, self.telemetry.gen_fps  # read by the soak (soak.py)
        self._latency_ms = self.telemetry.latency_ms  # and the bench (bench/harness.py)
        self.pages = Pages(config, self)  # HUD pages, key routing, learn mode
        self.programme: Programme  # preset, model, worker, quality, recovery (after setup)
        self.stats: StatsWriter | None = None
        self._stats_due_s = 0.0
        self.recorder: Recorder | None = None
        self.care: Caretaker | None = None  # state, health, opening hours, burn-in care
        self.live: LiveControl | None = None  # OSC, MIDI, tempo, recording toggle, video out, sync
        self.panel: PanelFeed | None = None  # the web panel's feed (installation/web)
        self.exit_code = 0

    # ---------------------------------------------------------------- setup
    def setup(self) -> None:
        c = self.config
        preset = load_preset(c.run.preset)  # a broken preset at start is a config error
        prepare_kiosk_env(c.kiosk.grab_keyboard)
        self.screen, self.mode = open_display(c.display)
        grab_input(self.mode, c.display.hide_cursor, c.kiosk.grab_keyboard)
        self.pages.open(self.mode)
        if c.record.path:  # --record: from the first frame (R starts and stops more while running)
            self.recorder = Recorder(
                c.record.path, self.screen.get_size(), c.record.fps or c.display.fps, c.record.max_queue, c.record.crf
            )
            self.recorder.start()
        self.programme = Programme(c, preset, self.telemetry, self.screen_size, lambda: mirror_frame(self.senses))
        model = self.programme.load_first()
        self.touch = TouchTracker(self.screen.get_size())
        self.telemetry.t_start_s = time.perf_counter()
        self.care = Caretaker(c, self)
        # Burn-in drift: compose a margin larger than the screen, so the slow orbit never shows an edge.
        self.compositor = Picture(self.care.padded(self.screen.get_size()), c.display.fit, c.display.effects_height)
        self.programme.begin(model, self.compositor)
        # Restored in this order after a restart: the preset first, then where the walk was in it.
        p = self.programme
        self.care.store.register("preset", p.preset_spec, p.restore_preset)
        self.care.store.register("latent", lambda: p.mapping.export_state(), lambda s: p.mapping.import_state(s))
        self.care.restore()  # before the first frame, so a restarted show continues where it was
        self.intake.first_frame(
            self.worker, model, self.programme.mapping.update(0.0, 0.0, {}, self.touch.frame()).state.z, self.compositor
        )
        self.worker.start()
        self.senses = Senses(c.camera, c.microphone)
        self.senses.start()
        self.pacer = FramePacer(self.senses.wait_sound_jump if c.display.wake_on_sound else None)
        self.programme.apply_preset_extras()
        self.live = LiveControl(c, self, self.programme)
        self.live.start()
        self.programme.bindings_changed = self.live.load_bindings
        self.panel = PanelFeed.create(self, self.live.queue, c.web)  # web panel (docs/web.md); None when off
        self.hud = Hud(c.hud.font_px)
        if c.stats.path:
            self.stats = StatsWriter(c.stats.path)
        self._stats_due_s = time.perf_counter() + c.stats.interval_s
        self.care.start()
        self.running = True

    # ---------------------------------------------------------------- what plays (installation/programme.py)
    @property
    def model_entry(self) -> ModelEntry:
        return self.programme.model_entry

    @property
    def worker(self) -> GeneratorWorker:
        return self.programme.worker

    @worker.setter
    def worker(self, worker: GeneratorWorker) -> None:  # the bench's synchronous baseline swaps in its own
        self.programme.worker = worker

    @property
    def quality(self) -> QualityController | None:
        return self.programme.quality

    def _apply_quality(self, level: QualityLevel) -> None:
        self.programme.apply_quality(level)

    def restart_generator(self, reason: str) -> None:
        self.programme.restart_generator(reason)
        self.intake.new_worker()

    @property
    def frame(self) -> RenderResult | None:
        return self.intake.frame

    @property
    def _stamp(self) -> int:  # render requests submitted (the bench and tests count them)
        return self.intake.stamp

    # ---------------------------------------------------------------- figures (installation/telemetry.py)
    @property
    def frames_presented(self) -> int:
        return self.telemetry.frames_presented

    def figures(self) -> Figures:
        """One reading of the show: the stats line, health file, web panel and HUD all format this."""
        now, t, rec, out, q = time.perf_counter(), self.telemetry, self.recorder, self.out, self.quality
        entry, preset, touch = self.model_entry, self.programme.preset, self.touch
        return Figures(
            rates=t.rates(now),
            model=entry.name,
            model_arch=entry.arch,
            preset=preset.name,
            preset_file=Path(preset.path).stem,
            sources=self.senses.status(),
            last_error=t.last_error,
            generator_errors=self.worker.errors,
            recording=rec is not None and rec.active,
            record_error=rec.error if rec is not None else "",
            screen=self.screen.get_size(),
            mode=self.mode,
            hud_unlocked=self.pages.kiosk_lock.unlocked,
            features=dict(self.features),
            params=dict(out.params) if out else {},
            nudge=out.state.nudge if out else 0.0,
            attract=out.attract.mode if out else "active",
            touch={"events": touch.events_total, "fingers": touch.fingers_down, "drag_total": touch.drag_total},
            mirror=self.programme.mirror is not None,
            quality=q.level.index if q is not None else None,
            quality_line=f"quality {q.index}/{len(q.levels) - 1}: {q.level.describe()}" if q is not None else "",
            live=self.live.stats() if self.live is not None else None,
            live_lines=tuple(self.live.hud_lines()) if self.live is not None else (),
            record=record_figures(rec) if rec is not None else None,
        )

    def stats_record(self) -> dict[str, Any]:
        return stats_line(self.figures(), self.telemetry.take_mean_speed())

    def hud_lines(self) -> list[str]:
        page = self.pages.page_lines()
        return page if page is not None else hud_status_lines(self.figures())

    def hud_meters(self) -> list[tuple[str, float]]:
        return self.pages.meters(self.out, getattr(self.senses, "calibration", None))

    # ---------------------------------------------------------------- web panel (installation/web/feed.py)
    def panel_status(self) -> dict[str, Any]:
        assert self.care is not None
        e, walk = self.programme.mapping.engagement, self.programme.mapping.walk
        return {
            **panel_figures(self.figures()),
            "restarts": self.care.restarts,
            "open": self.care.open,
            "schedule": self.config.schedule.open,
            "closed_mode": self.config.schedule.closed_mode,
            "presets": list_presets(),
            "models": model_names(),
            "engagement": engagement_map(e.anchors, e.dwell_s, e.touches, walk.principal, walk.z),
        }

    def panel_picture(self) -> np.ndarray | None:
        """The generated picture as the screen shows it (never the camera); None while black-closed."""
        return None if self.care is None or self.care.black_closed else self.visible_picture()

    # ---------------------------------------------------------------- what care and live control ask
    def report_error(self, message: str) -> None:
        self.telemetry.last_error = message

    def screen_size(self) -> tuple[int, int]:
        return self.screen.get_size()

    def screen_thumbnail(self) -> np.ndarray:
        return thumbnail(self.screen)

    def microphone_stuck_s(self) -> float:
        return self.senses.microphone.stuck_s()

    def kiosk_unlocked(self, now_s: float) -> bool:
        self.pages.kiosk_lock.poll(now_s)
        return self.pages.kiosk_lock.unlocked

    def hide_hud(self) -> None:
        self.pages.visible = False

    def visible_picture(self) -> np.ndarray | None:
        return None if self._composed is None else self._visible_picture(self._composed)

    def _visible_picture(self, composed: np.ndarray) -> np.ndarray:
        """The part of the composed frame the screen shows (it is composed with a burn-in margin)."""
        sw, sh = self.screen.get_size()
        h, w = composed.shape[:2]
        y, x = max(0, (h - sh) // 2), max(0, (w - sw) // 2)
        return composed[y : y + sh, x : x + sw]

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
        self.pages.on_key(key, mods)

    def stop(self, reason: str) -> None:
        if self.running:
            log.info("stopping: %s", reason)
        self.running = False

    def fail(self, exit_code: int, reason: str) -> None:
        """Stop with a non-zero exit code, so a supervisor restarts the show."""
        self.exit_code = exit_code
        self.stop(reason)

    # ---------------------------------------------------------------- update
    def update(self, dt_s: float) -> None:
        for event in pygame.event.get():
            self.handle_event(event)
        assert self.care is not None and self.live is not None
        if self.care.black_closed:
            return  # closed hours, black screen: the generator idles
        if self.care.calm_closed:
            dt_s *= CALM_SPEED
        t_input_s = time.perf_counter()
        p = self.programme
        p.watch_files(t_input_s)  # an edited preset, a replaced model file
        p.quality_tick(t_input_s)
        p.poll_background()
        self.live.apply(t_input_s)  # OSC/MIDI commands, quantised switches that are due
        self.features = self.live.features(t_input_s, self.senses.read(dt_s))
        out = p.mapping.update(dt_s, t_input_s - self.telemetry.t_start_s, self.features, self.touch.frame())
        out = self.live.follow(t_input_s, out)  # a sync follower renders its leader's picture
        self.out = out
        if out.attract.reset and p.preset.path != p.default_preset_path:
            log.info("nobody interacted for %.0f s: back to the default preset", out.attract.idle_s)
            p.switch_preset(self.config.run.preset)
        if out.snapshot and self._composed is not None:
            save_snapshot_async(self._visible_picture(self._composed), Path(self.config.run.snapshot_dir))
        self.telemetry.walked(out.state.latent_speed, dt_s)
        self.intake.exchange(self.worker, out.state.z, self.compositor, t_input_s)

    # ---------------------------------------------------------------- draw
    def draw(self, dt_s: float) -> None:
        screen = self.screen
        assert self.care is not None
        now = time.perf_counter()
        params = self.out.params if self.out is not None else {}
        composed = (
            None if self.care.black_closed else self.compositor.compose(now, params, self.programme.preset.effects)
        )
        if composed is None:
            screen.fill((0, 0, 0))
        else:
            self._composed = composed
            self._surface = pygame.image.frombuffer(composed.data, (composed.shape[1], composed.shape[0]), "RGB")
            sw, sh = screen.get_size()
            fw, fh = self._surface.get_size()
            dx, dy = self.care.drift_px(time.monotonic())  # composed that much larger: no edge shows
            if (fw, fh) != self.care.padded((sw, sh)):
                screen.fill((0, 0, 0))  # letterbox bars, or the moment after a resize
            screen.blit(self._surface, ((sw - fw) // 2 + dx, (sh - fh) // 2 + dy))
            if self.care.calm_closed:
                screen.fill(CALM_DIM, special_flags=pygame.BLEND_MULT)
        if self.pages.visible:
            self.hud.draw(screen, dt_s, self.hud_lines(), self.hud_meters())
        pygame.display.flip()
        now = time.perf_counter()
        self.telemetry.presented(now, dt_s, self.intake.shown_input_s())
        if self.recorder is not None:
            self._record(screen, now)
        if self.live is not None:
            self.live.after_draw(now, None if composed is None else self._visible_picture(composed))

    def _record(self, screen: pygame.Surface, t_s: float) -> None:
        assert self.recorder is not None
        if self.recorder.due(t_s) <= 0:
            return  # display is faster than the file's frame rate: this frame is not needed
        if screen.get_size() != self.recorder.size:
            screen = pygame.transform.scale(screen, self.recorder.size)  # resized window: keep the file's size
        self.recorder.add(pygame.image.tobytes(screen, "RGB"), t_s)

    # ---------------------------------------------------------------- loop
    def run(self) -> int:
        """Set up, loop until quit (or run.seconds), close. Returns the process exit code."""
        previous = {s: signal.signal(s, lambda *_: self.stop("signal")) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.setup()
            end_s = self.telemetry.t_start_s + self.config.run.seconds if self.config.run.seconds > 0 else float("inf")
            while self.running:
                assert self.care is not None
                self.step(self.pacer.wait(self.care.target_fps()))
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
        for part in (self.panel, self.live):
            if part is not None:
                part.close()
        if hasattr(self, "programme"):
            self.programme.close()  # directions thread, mirror, worker, model loader
        if hasattr(self, "senses"):
            self.senses.close()
        if hasattr(self, "compositor"):
            self.compositor.close()  # the Picture's compose thread
        if self.recorder is not None:
            self.recorder.close()
        if self.stats is not None:
            self.stats.close()
        pygame.display.quit()
