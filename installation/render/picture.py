"""Picture: the App's compositor, run on a compose thread so the main thread presents early.

The compositing itself is `PictureCore` (render/composite.py): colour frames or fields, morphs,
transitions, and for fields one full-screen pass at 1920x1080 (render/field.py). That pass was
the main thread's largest cost, paid before every present. Here it runs on a "compose" thread:

    generator thread --RenderResult--> compose thread --composed frame--> main thread (blit, flip)

Only frozen dataclasses (Incoming, ComposeJob) and numpy arrays cross threads, through latest-value
slots. The main thread posts the newest result and, every frame, a ComposeJob (time, parameters,
effects); it returns the newest composed frame. When composing usually takes at most half a display
frame it waits (bounded) for this frame's own compose, as the render latch does for renders, so the
show's 60 fps keeps its latency; when it is slower (an uncapped loop, a loaded machine) it presents
the previous composed frame and never waits.

Composed frames live in a small ring of buffers: the thread never writes the one the main thread
holds (being blitted, recorded, snapshotted) nor the newest posted one. The thread starts on the
first compose and ends after COMPOSE_IDLE_S without a job (a closed-hours black screen) or on
close(); `threaded=False` composes on the caller's thread (the synchronous bench baseline, tests).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from installation.mapping.presets import EffectsPreset
from installation.render.composite import PictureCore
from installation.render.effects import Compositor
from installation.render.morph import FieldCompositor
from installation.render.quality import latch_timeout_s
from installation.render.worker import RenderResult
from installation.slot import LatestSlot

log = logging.getLogger(__name__)

COMPOSE_LATCH_FRACTION = 0.5  # wait for this frame's compose only when it usually takes <= this share of a frame
COMPOSE_IDLE_S = 2.0  # the thread ends after this long without a job (restarted by the next compose)
FIRST_FRAME_WAIT_S = 1.0  # nothing composed yet: wait this long for the first frame rather than show black
RING = 3  # composed-frame buffers: one held by the main thread, one posted, one being written


@dataclass(frozen=True)
class Incoming:
    """A picture for the compositor: a RenderResult, or a bare colour frame (add_frame)."""

    t_s: float
    jump: float  # bare frames only: how far the latent moved (a RenderResult carries its latent)
    result: RenderResult | None = None
    frame_rgb: np.ndarray | None = None


@dataclass(frozen=True)
class ComposeJob:
    t_s: float
    params: tuple[tuple[str, float], ...]
    effects: EffectsPreset
    frame: int  # the caller's compose() count: which call this job answers


@dataclass(frozen=True)
class Composed:
    frame: np.ndarray | None  # a ring buffer (or None: nothing to show yet)
    job: int  # ComposeJob.frame of the job it answers
    index: int  # which ring buffer (-1: none)
    compose_ms: float


class Picture:
    def __init__(
        self,
        screen_size: tuple[int, int],
        fit: str = "cover",
        work_height: int = 360,
        seed: int = 0,
        threaded: bool = True,
    ) -> None:
        self.core = PictureCore(screen_size, fit, work_height, seed)
        self.threaded = threaded
        self.kind = "colour"  # the kind of the newest picture handed in (the main thread's view)
        self._lock = threading.Lock()  # the core's state: the compose thread, or a rare control call
        self._incoming: LatestSlot[Incoming] = LatestSlot()
        self._applied = 0  # newest Incoming version applied to the core (compose thread)
        self._jobs: LatestSlot[ComposeJob] = LatestSlot()
        self._composed: LatestSlot[Composed] = LatestSlot()
        self._ring: list[np.ndarray] = []
        self._ring_lock = threading.Lock()  # which ring buffers are taken: held by the main thread, posted
        self._held = -1  # ring index the main thread holds
        self._posted = -1  # ring index of the newest posted frame
        self._compose_ms: deque[float] = deque(maxlen=60)
        self._t_last_call_s: float | None = None
        self._period_s = 1.0 / 60.0  # the caller's frame period (moving average)
        self._composed_up_to = 0  # newest ComposeJob.frame composed (under self._lock)
        self._calls = 0  # compose() calls (ComposeJob.frame)
        self.composed_frames = 0  # frames composed (the bench's honest count of distinct frames)
        self._stop = threading.Event()
        self._life = threading.Lock()  # the thread's start and idle exit
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ what the App reads and sets
    @property
    def colour(self) -> Compositor:
        return self.core.colour

    @property
    def field(self) -> FieldCompositor:
        return self.core.field

    @property
    def work_size(self) -> tuple[int, int]:
        return self.core.work_size

    @property
    def screen_size(self) -> tuple[int, int]:
        return self.core.screen_size

    @property
    def effects_enabled(self) -> bool:
        return self.core.effects_enabled

    @effects_enabled.setter
    def effects_enabled(self, enabled: bool) -> None:
        with self._lock:
            self.core.effects_enabled = enabled

    def resize(self, screen_size: tuple[int, int]) -> None:
        with self._lock:
            self._apply_incoming()
            self.core.resize(screen_size)

    def start_transition(self, t_s: float, duration_s: float) -> None:
        with self._lock:
            self._apply_incoming()  # pictures handed in before the transition belong before it
            self.core.start_transition(t_s, duration_s)

    def add_frame(self, frame_rgb: np.ndarray, t_s: float, jump: float = 0.0) -> None:
        """A colour frame (kept for callers that only have pixels)."""
        self.kind = "colour"
        self._incoming.put(Incoming(t_s, jump, frame_rgb=frame_rgb))
        self._compose_inline_if_unthreaded()

    def add_result(self, result: RenderResult, t_s: float) -> None:
        """A finished render: a field or a colour frame. A big latent step shows in the next frame."""
        if result.field is None and result.frame_rgb is None:
            return
        self.kind = "field" if result.field is not None else "colour"
        self._incoming.put(Incoming(t_s, 0.0, result=result))  # the core weighs the latent jump itself
        self._compose_inline_if_unthreaded()

    def wants_render(self) -> bool:
        """False while the compose thread has not yet taken in the last picture handed over: another
        render now would only be overwritten unseen, and on two cores it takes the compose thread's CPU.
        Always True when composing inline (the show at 60 Hz, the synchronous loop)."""
        return self._incoming.get()[1] <= self._applied

    def compose(self, t_s: float, params: dict[str, float], effects: EffectsPreset) -> np.ndarray | None:
        """The newest composed frame for time t_s (a ring buffer: valid until the next call)."""
        now_s = time.perf_counter()
        if self._t_last_call_s is not None:
            self._period_s += (min(0.1, max(1e-4, now_s - self._t_last_call_s)) - self._period_s) * 0.1
        self._t_last_call_s = now_s
        if not self.threaded:
            with self._lock:
                self._apply_incoming()
                out = self.core.compose(t_s, params, effects)
            self.composed_frames += out is not None
            return out
        self._calls += 1
        job = ComposeJob(t_s, tuple(params.items()), effects, self._calls)
        composed, seen = self._composed.get()
        have_frame = composed is not None and composed.frame is not None
        if have_frame and self._latch_s() > 0:
            # It fits this frame: the main thread would only wait for the thread, so compose right here
            # (no handover: the picture is presented as early as it can be).
            self._compose_job(job)
        else:  # too slow for this frame (or the first one): the compose thread, and show what is ready
            self._jobs.put(job)
            self._ensure_thread()
        deadline_s = now_s + (FIRST_FRAME_WAIT_S if not have_frame else 0.0)
        composed, seen = self._composed.get()
        while composed is None or composed.job < job.frame:  # the first frame: wait for it
            remaining_s = deadline_s - time.perf_counter()
            if remaining_s <= 0:
                break
            newer, seen = self._composed.wait_newer(seen, remaining_s)
            if newer is None:
                break
            composed = newer
        with self._ring_lock:  # the newest frame (this one, or one composed since) is now the main thread's
            composed, _ = self._composed.get()
            if composed is None or composed.frame is None:
                return None
            self._held = composed.index
        return composed.frame

    def _latch_s(self) -> float:
        if not self._compose_ms:
            return 0.0
        return latch_timeout_s(float(np.median(self._compose_ms)), round(1.0 / self._period_s), COMPOSE_LATCH_FRACTION)

    def run_inline(self) -> None:
        """From now on compose on the caller's thread (the synchronous baseline): ends the thread."""
        self.close()
        self.threaded = False

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._jobs.wake()
        with self._life:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    # ------------------------------------------------------------------ the compose thread
    def _compose_inline_if_unthreaded(self) -> None:
        if not self.threaded:  # keep the core's view current for synchronous callers (kind, blends)
            with self._lock:
                self._apply_incoming()

    def _apply_incoming(self) -> None:
        """Hand the newest unapplied picture to the core (under self._lock)."""
        incoming, version = self._incoming.get_newer(self._applied)
        if incoming is None:
            return
        self._applied = version
        if incoming.result is not None:
            self.core.add_result(incoming.result, incoming.t_s)
        elif incoming.frame_rgb is not None:
            self.core.add_frame(incoming.frame_rgb, incoming.t_s, incoming.jump)

    def _ensure_thread(self) -> None:
        with self._life:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="compose", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        seen = 0
        idle_since_s = time.perf_counter()
        while not self._stop.is_set():
            job, seen = self._jobs.wait_newer(seen, timeout_s=0.5)
            if job is None:
                with self._life:  # idle: end, unless a job came in meanwhile (then the next wait sees it)
                    if time.perf_counter() - idle_since_s > COMPOSE_IDLE_S and self._jobs.get()[1] == seen:
                        self._thread = None
                        return
                continue
            idle_since_s = time.perf_counter()
            try:
                self._compose_job(job)
            except Exception:  # a compositing bug must not end the show's pictures for good
                log.exception("compose failed; showing the previous frame")
                previous, _ = self._composed.get()
                if previous is not None:  # answers this job, so the main thread does not wait for it
                    self._composed.put(replace(previous, job=job.frame))
        with self._life:
            self._thread = None

    def _compose_job(self, job: ComposeJob) -> None:
        """Compose one job into a free ring buffer and post it (the compose thread, or the main thread
        when composing fits its frame)."""
        t0 = time.perf_counter()
        with self._lock:
            if job.frame < self._composed_up_to:  # the main thread composed a later one itself meanwhile
                return
            self._composed_up_to = job.frame
            self._apply_incoming()
            out = self.core.compose(job.t_s, dict(job.params), job.effects)
            if out is None:
                self._composed.put(Composed(None, job.frame, -1, 0.0))
                return
            with self._ring_lock:
                index = next(i for i in range(RING) if i not in (self._held, self._posted))
            if len(self._ring) != RING or self._ring[index].shape != out.shape:
                self._ring = [np.empty_like(out) for _ in range(RING)]
            renderer = self.core.field.renderer
            if out is renderer.frame:  # a field: no 6 MB copy, the renderer draws the next one into a free buffer
                self._ring[index] = renderer.take_frame(self._ring[index])
            else:  # the colour compositor reuses its output buffer for the next compose
                np.copyto(self._ring[index], out)
            frame = self._ring[index]
        compose_ms = (time.perf_counter() - t0) * 1e3
        self._compose_ms.append(compose_ms)
        with self._ring_lock:
            self._posted = index
            self._composed.put(Composed(frame, job.frame, index, compose_ms))
        self.composed_frames += 1
