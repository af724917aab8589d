"""What the show plays: the preset, the model and its worker, and how they change while it runs.

Preset and model switches, hot reload of an edited preset or a replaced model file, the automatic
quality ladder and in-process recovery all live here, on the main thread. Models load in the
background (render/loading.py); `request_model` is the one way to ask for another, and `make_worker`
the one way to build a generator worker, so setup and recovery configure it alike.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from installation.config import Config, ConfigError
from installation.mapping.directions import find_directions_async
from installation.mapping.engine import PresetMapping
from installation.mapping.learn import LearnedMapping
from installation.mapping.mirror import MirrorEncoder
from installation.mapping.presets import PRESET_DIR, Preset, load_preset
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
from installation.render.quality import Measurements, QualityController, QualityLevel, build_ladder
from installation.render.superres import SuperResolver, load_superres
from installation.render.worker import GeneratorWorker
from installation.senses import Senses
from installation.slot import LatestSlot
from installation.telemetry import Telemetry
from models.protocol import resolution_free
from models.registry import BUILTINS, ModelEntry

log = logging.getLogger(__name__)

MirrorFrame = Callable[[], tuple[np.ndarray, np.ndarray | None] | None]


def _z_dim(model: torch.nn.Module) -> int:
    z_dim: Any = model.z_dim  # a plain int attribute (torch's typing says Tensor | Module)
    return int(z_dim)


def mirror_frame(senses: Senses) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Mirror thread: the newest small camera frame and silhouette mask (memory only)."""
    snapshot = getattr(senses, "snapshot", None)
    if snapshot is not None:
        snap = snapshot()
        frame = getattr(snap, "camera_frame_rgb", None)
        return (frame, getattr(snap, "silhouette_mask", None)) if frame is not None else None
    latest = senses.camera.latest()
    return (latest.frame_rgb, None) if latest is not None else None


class Programme:
    """Main thread only. Build it, `load_first()`, then `begin(model, compositor)` once the
    compositor exists; `bindings_changed` is called after every preset change (live control's MIDI
    bindings follow the preset)."""

    def __init__(
        self,
        config: Config,
        preset: Preset,
        telemetry: Telemetry,
        screen_size: Callable[[], tuple[int, int]],
        mirror_frame: MirrorFrame,
    ) -> None:
        self.config = config
        self.preset = preset
        self.default_preset_path = preset.path
        self.telemetry = telemetry
        self._screen_size = screen_size
        self._mirror_frame = mirror_frame
        self.bindings_changed: Callable[[], None] = lambda: None
        self.loader = ModelLoader()
        self.model_spec = ""
        self.device: torch.device
        self.model_entry: ModelEntry
        self.worker: GeneratorWorker
        self.mapping: PresetMapping
        self.compositor: Picture
        self.mirror: MirrorEncoder | None = None
        self.quality: QualityController | None = None
        self._superres: SuperResolver | None = None
        self._directions: LatestSlot[np.ndarray] = LatestSlot()
        self._directions_seen = 0
        self._directions_thread: threading.Thread | None = None
        self._mirror_seen = 0
        self._watch_due_s = 0.0
        self._preset_mtime_ns: int | None = None
        self._model_watch = ModelFileWatch()
        self._quality_due_s = 0.0

    # ---------------------------------------------------------------- start
    def load_first(self) -> torch.nn.Module:
        """The preset's model, loaded now (start-up waits for it), and its worker (not started)."""
        c = self.config
        threads = set_torch_threads(c.generator.torch_threads)
        self.device = pick_device(c.generator.device)
        self.model_spec = self.model_spec_for(self.preset)
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
        self._superres = load_superres(c.generator.superres)
        self.worker = self.make_worker(model, self.device)
        return model

    def begin(self, model: torch.nn.Module, compositor: Picture) -> None:
        self.compositor = compositor
        self._setup_quality(model)
        self.use_model(model)

    def make_worker(self, model: torch.nn.Module, device: torch.device) -> GeneratorWorker:
        """A generator worker with the show's [accel] and super-resolution settings (not started)."""
        worker = GeneratorWorker(model, device, self.config.generator.render_size)
        worker.configure_accel(self.config.accel)
        worker.configure_superres(self._superres)  # a colour model chosen later is enlarged as well
        return worker

    def use_model(self, model: torch.nn.Module) -> None:
        """A fresh mapping for this model's latent space, and its principal directions in the background."""
        w, h = self._screen_size()
        t_s = time.perf_counter() - self.telemetry.t_start_s
        self.mapping = PresetMapping(_z_dim(model), self.preset, self.config.mapping.seed, t_s, aspect=w / h)
        self._directions_thread = find_directions_async(model, self._directions)

    # ---------------------------------------------------------------- models
    @property
    def model_name(self) -> str:
        return self.model_entry.name

    def model_spec_for(self, preset: Preset) -> str:
        """The config's model wins over the preset's, so an operator can pin one."""
        return self.config.generator.model if self.config.generator.model != "auto" else preset.model

    def request_model(self, spec: str, keep_on_failure: bool = False) -> None:
        """Load `spec` in the background; it is swapped in by poll_background when ready."""
        self.model_spec = spec
        self.loader.request(spec, self.device, keep_on_failure=keep_on_failure)

    def restart_generator(self, reason: str) -> None:
        """In-process recovery: a fresh generator thread with the built-in model (needs no file)."""
        log.warning("restarting the generator with the built-in %r: %s", FALLBACK_MODEL, reason)
        old = self.worker
        old.close(timeout_s=1.0)  # a hung render keeps its (daemon) thread; the new one does not wait for it
        model, self.model_entry = load_model(FALLBACK_MODEL, old.device)
        self.worker = self.make_worker(model, old.device)
        if self.worker.z_dim != self.mapping.z_dim:
            self.use_model(model)
        self.model_spec = FALLBACK_MODEL
        self.worker.start()

    def poll_background(self) -> None:
        """Swap in a model that finished loading; take new principal directions and mirror latents."""
        loaded = self.loader.poll()
        if loaded is not None:
            model, entry, spec = loaded
            if spec == self.model_spec:
                self.compositor.start_transition(time.perf_counter(), self.preset.crossfade_s)
                self.worker.swap_model(model)
                self.model_entry = entry
                if _z_dim(model) != self.mapping.z_dim:
                    self.use_model(model)
                else:
                    self._directions_thread = find_directions_async(model, self._directions)
                self.apply_preset_extras()
                log.info("generator: now %s [%s]", entry.name, entry.arch)
        directions, self._directions_seen = self._directions.get_newer(self._directions_seen)
        if directions is not None:
            self.mapping.set_principal(directions)
        if self.mirror is not None:
            latent, self._mirror_seen = self.mirror.latent.get_newer(self._mirror_seen)
            if latent is not None and latent.shape == (self.mapping.z_dim,):
                self.mapping.mirror_target = latent

    # ---------------------------------------------------------------- presets
    def preset_spec(self) -> str:
        """How to find the running preset again: its name if shipped, else its path."""
        path = Path(self.preset.path)
        return path.stem if path.parent == PRESET_DIR else str(path)

    def restore_preset(self, spec: object) -> None:
        """State restore after a restart: continue with the preset that was running."""
        if not isinstance(spec, str) or not spec:
            raise ValueError(f"preset must be a name or path, got {spec!r}")
        if spec in (self.preset.path, self.preset_spec()):
            return
        try:
            preset = load_preset(spec)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        log.info("continuing with preset %s from before the restart", preset.name)
        self.preset = preset
        self.mapping.set_preset(preset, 0.0)
        self.bindings_changed()
        if self.model_spec_for(preset) != self.model_spec:
            self.request_model(self.model_spec_for(preset))

    def switch_preset(self, spec: str) -> None:
        """Crossfade to another preset (and its model, loaded in the background). A broken preset
        file is reported and the current one stays."""
        try:
            preset = load_preset(spec)
        except ConfigError as exc:
            log.error("preset not switched: %s; staying with %s", exc, self.preset.name)
            self.telemetry.last_error = f"preset error: {exc}"
            return
        now = time.perf_counter()
        if preset.path != self.preset.path:
            self._preset_mtime_ns = None
        log.info("preset: %s -> %s (crossfade %.1f s)", self.preset.name, preset.name, preset.crossfade_s)
        self.preset = preset
        self.compositor.start_transition(now, preset.crossfade_s)
        self.mapping.set_preset(preset, now - self.telemetry.t_start_s)
        if self.model_spec_for(preset) != self.model_spec:
            self.request_model(self.model_spec_for(preset))
        self.apply_preset_extras()
        self.bindings_changed()

    def apply_preset_extras(self) -> None:
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
                m = self.preset.mirror
                self.mirror = MirrorEncoder(encoder, self._mirror_frame, m.rate_hz, m.mask)
                self.mirror.start()
                self._mirror_seen = 0
        self.mapping.learned = None
        learned_path = self.learned_path()
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

    def learned_path(self) -> Path | None:
        return Path(self.preset.path).with_suffix(".learned.json") if self.preset.path else None

    def watch_files(self, now_s: float) -> None:
        """Hot reload: an edited preset file (checked once a second), a replaced model file."""
        self._watch_preset(now_s)
        if self._model_watch.changed(self.model_spec, now_s):  # a broken new file keeps the current model
            self.request_model(self.model_spec, keep_on_failure=True)

    def _watch_preset(self, now_s: float) -> None:
        """A broken edit is reported once and the running preset stays."""
        if now_s < self._watch_due_s or not self.preset.path:
            return
        self._watch_due_s = now_s + 1.0
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

    # ---------------------------------------------------------------- automatic quality
    def _setup_quality(self, model: torch.nn.Module) -> None:
        q, c = self.config.quality, self.config
        self._quality_due_s = time.perf_counter() + 3.0  # let start-up settle before judging the frame rate
        if not q.enabled:
            return
        levels = build_ladder(
            c.generator.render_size,
            min(q.min_render_size, c.generator.render_size),
            resolution_free(model),
            bool(q.light_model),
        )
        self.quality = QualityController(
            levels, c.display.fps, q.generator_fps or c.display.fps, q.down_after_s, q.up_after_s
        )

    def quality_tick(self, now_s: float) -> None:
        """Once a second: measured rates in, a quality level out (one log line per change)."""
        if self.quality is None or now_s < self._quality_due_s:
            return
        self._quality_due_s = now_s + 1.0
        t = self.telemetry
        measured = Measurements(t.fps.rate(now_s), t.gen_fps.rate(now_s), t.render_ms.percentile(50))
        decision = self.quality.update(now_s, measured)
        if decision is not None:
            self.apply_quality(decision.level)

    def apply_quality(self, level: QualityLevel) -> None:
        self.worker.set_render_size(level.render_size)
        self.compositor.effects_enabled = level.effects
        spec = self.config.quality.light_model if level.light_model else self.model_spec_for(self.preset)
        if spec != self.model_spec:
            self.request_model(spec)

    # ---------------------------------------------------------------- close
    def close(self) -> None:
        if self._directions_thread is not None:
            self._directions_thread.join(10.0)  # torch work still running at interpreter exit can abort it
        for part in (self.mirror, getattr(self, "worker", None), self.loader):
            if part is not None:
                part.close()
