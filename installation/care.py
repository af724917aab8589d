"""Caretaker: what keeps an unattended show healthy, called once per frame by the App.

It owns the saved state (StateStore), the health file, the output watch (frozen/black -> recovery),
the supervisor heartbeat, the opening hours and the burn-in drift. Each concern lives in its own
module; this one only schedules them, so the App needs a handful of hook lines.

Other parts of the show register their own state with `care.store.register(name, export_fn,
import_fn)` before `care.restore()` runs (the App registers the running preset there). The show is
reached only through the narrow `CareHost` protocol, so this module never imports the App and tests
drive it with a small fake.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from installation.config import Config
from installation.health import Heartbeat, OutputWatch
from installation.schedule import parse_schedule
from installation.sources.microphone import STUCK_S
from installation.standby import RESTARTS_ENV
from installation.state import AtomicFileWriter, StateStore
from installation.telemetry import Figures, health_figures

log = logging.getLogger(__name__)

SCHEDULE_CHECK_S = 1.0
RECOVERY_WINDOW_S = 600.0  # a second bad-output verdict within this after an in-process recovery -> exit
CALM_SPEED = 0.25  # the closed-hours calm loop walks at a quarter speed ...
CALM_DIM = (90, 90, 90)  # ... and at about a third of the brightness
EXIT_UNHEALTHY = 3  # exit code when the output stayed frozen/black after an in-process recovery


class CareHost(Protocol):
    """What the caretaker needs from the show."""

    def stop(self, reason: str) -> None: ...
    def fail(self, exit_code: int, reason: str) -> None: ...  # stop with a code the supervisor acts on
    def restart_generator(self, reason: str) -> None: ...
    def microphone_stuck_s(self) -> float: ...
    def kiosk_unlocked(self, now_s: float) -> bool: ...  # polls the unlock file
    def hide_hud(self) -> None: ...
    def screen_thumbnail(self) -> np.ndarray: ...  # health.thumbnail of what the screen shows
    def figures(self) -> Figures: ...


class Caretaker:
    def __init__(self, config: Config, host: CareHost, clock: Callable[[], datetime] = datetime.now) -> None:
        c = config
        self.config = config
        self.host = host
        self.clock = clock  # injectable: tests move opening hours without waiting for them
        self.schedule = parse_schedule(c.schedule.open)
        self.open = self.schedule.is_open(clock())
        self.watch = OutputWatch(c.health.frozen_s, c.health.black_s)
        self.heartbeat = Heartbeat.from_env()
        raw_restarts = os.environ.get(RESTARTS_ENV, "0")
        self.restarts = int(raw_restarts) if raw_restarts.isdigit() else 0
        self.store = StateStore(c.state.path or None)
        self._health = (
            AtomicFileWriter(c.health.path, keep_backup=False, name="health-writer") if c.health.path else None
        )
        self._frames = 0
        self._last_recovery_s = -math.inf
        self.recoveries = 0
        self.last_verdict = ""
        self._mic_stuck_reported = False
        now = time.monotonic()
        self._t0_s = now
        self._next_schedule_s = now + SCHEDULE_CHECK_S
        self._next_state_s = now + c.state.interval_s
        self._next_health_s = now  # first health file at once: the technician sees the show is up

    # ------------------------------------------------------------ lifecycle
    def restore(self) -> None:
        self.store.restore()

    def start(self) -> None:
        self.store.start()
        if self._health is not None:
            try:
                self._health.start()
            except OSError as exc:
                log.error("cannot create the folder for %s (%s); no health file", self._health.path, exc)
                self._health = None
        log.info(
            "opening hours: %s; now %s",
            self.config.schedule.open or "always open",
            "open" if self.open else f"closed ({self.config.schedule.closed_mode})",
        )

    def close(self) -> None:
        self.store.close()
        if self._health is not None:
            self._health.close()

    # ------------------------------------------------------------ per frame
    @property
    def black_closed(self) -> bool:
        return not self.open and self.config.schedule.closed_mode == "black"

    @property
    def calm_closed(self) -> bool:
        return not self.open and self.config.schedule.closed_mode == "calm"

    def target_fps(self) -> int:
        return self.config.display.fps if self.open else self.config.schedule.closed_fps

    def drift_px(self, now_s: float) -> tuple[int, int]:
        """Burn-in care: the picture orbits a few px around the centre, too slowly to notice."""
        b = self.config.burnin
        if b.drift_px == 0:
            return 0, 0
        angle = 2 * math.pi * (now_s - self._t0_s) / b.drift_period_s
        return round(b.drift_px * math.cos(angle)), round(b.drift_px * math.sin(angle))

    def padded(self, screen_size: tuple[int, int]) -> tuple[int, int]:
        """Frames are rendered drift_px larger on each side, so the drift never shows an edge."""
        pad = 2 * self.config.burnin.drift_px
        return screen_size[0] + pad, screen_size[1] + pad

    def after_frame(self, now_s: float | None = None) -> None:
        """Called after each presented frame; cheap except on the rare ticks where a timer falls due."""
        now_s = time.monotonic() if now_s is None else now_s
        c = self.config
        self.heartbeat.beat(now_s)
        if self.heartbeat.lost:  # whatever restarts the supervisor restarts us with it: never two shows
            self.host.stop("the supervisor is gone")
        self._frames += 1
        if now_s >= self._next_schedule_s:
            self._next_schedule_s = now_s + SCHEDULE_CHECK_S
            self.check_schedule()
            self._check_microphone()
            if not self.host.kiosk_unlocked(now_s):
                self.host.hide_hud()  # unlock file removed: the HUD goes with it
        if self._frames % c.health.check_every == 0:
            self._check_output(now_s)
        if now_s >= self._next_state_s:
            self._next_state_s = now_s + c.state.interval_s
            self.store.save()
        if self._health is not None and now_s >= self._next_health_s:
            self._next_health_s = now_s + c.health.interval_s
            self._health.put(json.dumps(self.health_record(), separators=(",", ":")))

    def check_schedule(self) -> None:
        is_open = self.schedule.is_open(self.clock())
        if is_open != self.open:
            self.open = is_open
            self.watch.reset()
            log.info("opening hours: now %s", "open" if is_open else f"closed ({self.config.schedule.closed_mode})")

    def _check_microphone(self) -> None:
        """A microphone stuck inside PortAudio never comes back in this process (see microphone.STUCK_S):
        supervised, exit so the supervisor starts a fresh show (warm standby: the picture is back within
        about a second, state restored); alone, say so once and go on silent."""
        stuck_s = self.host.microphone_stuck_s()
        if stuck_s < STUCK_S or self._mic_stuck_reported:
            return
        self._mic_stuck_reported = True
        what = (
            f"microphone: PortAudio has not returned for {stuck_s:.0f} s (its ALSA thread spins on a dead "
            "sound server; only a new process clears it)"
        )
        if self.heartbeat.fd is not None:
            log.error("%s; exiting with code %d so the supervisor restarts the show", what, EXIT_UNHEALTHY)
            self.host.fail(EXIT_UNHEALTHY, "microphone stuck in PortAudio")
        else:
            log.error("%s; the show goes on silent. Run it with --supervise to have it restarted", what)

    def _check_output(self, now_s: float) -> None:
        if self.black_closed:
            self.watch.reset()  # black on purpose
            return
        verdict = self.watch.observe(self.host.screen_thumbnail(), now_s)
        if not verdict:
            return
        self.last_verdict = verdict
        self.watch.reset()
        if now_s - self._last_recovery_s < RECOVERY_WINDOW_S:
            log.error(
                "output still %s after restarting the generator; exiting with code %d for the supervisor",
                verdict,
                EXIT_UNHEALTHY,
            )
            self.host.fail(EXIT_UNHEALTHY, f"output {verdict}")
            return
        self._last_recovery_s = now_s
        self.recoveries += 1
        self.host.restart_generator(f"output {verdict} for {self._limit_s(verdict):g} s")

    def _limit_s(self, verdict: str) -> float:
        h = self.config.health
        return h.frozen_s if verdict == "frozen" else h.black_s

    # ------------------------------------------------------------ health file
    def health_record(self) -> dict[str, Any]:
        c = self.config
        folder = Path(c.state.path or c.health.path or ".").expanduser().resolve().parent
        try:
            disk_free_mb = round(shutil.disk_usage(folder).free / 2**20, 1)
        except OSError:
            disk_free_mb = -1.0
        return {
            "t_wall": datetime.now().isoformat(timespec="seconds"),
            "pid": os.getpid(),
            "restarts": self.restarts,
            **health_figures(self.host.figures()),
            "open": self.open,
            "output_std": round(self.watch.last_std, 2),
            "recoveries": self.recoveries,
            "last_verdict": self.last_verdict,
            "state_error": self.store.error,
            "disk_free_mb": disk_free_mb,
        }
