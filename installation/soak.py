"""Soak test: the whole show, headless, for a long time, with video + sound inputs and touch storms.

    python -m installation.soak --minutes 30        # fractions allowed: --minutes 0.5
    python -m installation.soak --minutes 2 --chaos --json out.json   # the supervised show under faults

With --chaos: the real supervised show with every fault kind injected at random times in random
order (installation/chaos/runner.py says which and how they are judged).

Runs the real App in this process (headless SDL) with a generated looping video as the camera, a
generated WAV as the microphone and random bursts of multi-finger touches, with state and health
files being written as in a gallery. Every few seconds it samples RSS, threads, open file
descriptors and fps. An exception out of the loop counts as a crash (the show is rebuilt and the soak
goes on). The last line is a one-line summary; the exit code is 1 when there was a crash, RSS grew
by more than --max-rss-growth-mb after warm-up, or threads leaked.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import pygame  # noqa: E402

from installation.app import App  # noqa: E402
from installation.config import load_config  # noqa: E402
from installation.testmedia import write_soak_room  # noqa: E402

log = logging.getLogger("reverie.soak")

MAX_THREAD_GROWTH = 4  # a few threads come and go (reconnects); a steady climb is a leak


@dataclass(frozen=True)
class Sample:
    t_s: float
    rss_mb: float
    threads: int  # OS threads (torch's pool included)
    fds: int
    fps: float
    generator_fps: float
    generator_errors: int


@dataclass(frozen=True)
class Summary:
    minutes: float
    crashes: int
    rss_growth_mb: float  # median RSS of the last quarter minus that of the first quarter after warm-up
    rss_peak_growth_mb: float
    fps_start: float  # mean fps over the first quarter after warm-up ...
    fps_end: float  # ... and over the last quarter
    fps_drift_pct: float
    threads_start: int
    threads_end: int
    fds_start: int
    fds_end: int
    generator_errors: int
    frames: int
    passed: bool

    def line(self) -> str:
        return (
            f"soak {'PASS' if self.passed else 'FAIL'}: {self.minutes:g} min, crashes {self.crashes}, "
            f"RSS growth {self.rss_growth_mb:+.1f} MB after warm-up (peak {self.rss_peak_growth_mb:+.1f}), "
            f"fps {self.fps_start:.1f} -> {self.fps_end:.1f} ({self.fps_drift_pct:+.1f}%), "
            f"threads {self.threads_start} -> {self.threads_end}, fds {self.fds_start} -> {self.fds_end}, "
            f"generator errors {self.generator_errors}, frames {self.frames}"
        )


class TouchStorms:
    """Now and then, a second or two of several fingers dragging wildly."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self._storm_until_s = 0.0
        self._next_storm_s = 2.0
        self._fingers: dict[int, tuple[float, float]] = {}
        self.storms = 0

    def events(self, t_s: float) -> list[pygame.event.Event]:
        out = []
        if t_s >= self._next_storm_s and not self._fingers:
            self.storms += 1
            self._storm_until_s = t_s + self.rng.uniform(0.5, 2.0)
            self._next_storm_s = self._storm_until_s + self.rng.uniform(1.0, 8.0)
            for fid in range(int(self.rng.integers(1, 6))):
                x, y = self.rng.uniform(0, 1, 2)
                self._fingers[fid] = (x, y)
                out.append(
                    pygame.event.Event(
                        pygame.FINGERDOWN, finger_id=fid, x=x, y=y, dx=0.0, dy=0.0, touch_id=1, pressure=1.0
                    )
                )
        for fid, (x, y) in list(self._fingers.items()):
            if t_s >= self._storm_until_s:
                out.append(
                    pygame.event.Event(
                        pygame.FINGERUP, finger_id=fid, x=x, y=y, dx=0.0, dy=0.0, touch_id=1, pressure=0.0
                    )
                )
                del self._fingers[fid]
                continue
            for _ in range(int(self.rng.integers(1, 8))):  # several motion events per frame: a flood
                dx, dy = self.rng.normal(0, 0.03, 2)
                x, y = min(1.0, max(0.0, x + dx)), min(1.0, max(0.0, y + dy))
                out.append(
                    pygame.event.Event(
                        pygame.FINGERMOTION, finger_id=fid, x=x, y=y, dx=dx, dy=dy, touch_id=1, pressure=1.0
                    )
                )
            self._fingers[fid] = (x, y)
        return out


def sample(proc: psutil.Process, app: App, t_s: float) -> Sample:
    now = time.perf_counter()
    return Sample(
        round(t_s, 1),
        round(proc.memory_info().rss / 2**20, 2),
        proc.num_threads(),
        proc.num_fds(),
        round(app._fps.rate(now), 2),
        round(app._gen_fps.rate(now), 2),
        app.worker.errors,
    )


def summarise(
    samples: list[Sample], warmup_s: float, minutes: float, crashes: int, frames: int, max_rss_growth_mb: float
) -> Summary:
    after = [s for s in samples if s.t_s >= warmup_s] or samples[-1:]
    quarter = max(1, len(after) // 4)
    fps_start = statistics.fmean(s.fps for s in after[:quarter])
    fps_end = statistics.fmean(s.fps for s in after[-quarter:])
    base = after[0]
    # Medians of quarters: torch and the allocator swing RSS by tens of MB frame to frame; a leak climbs.
    base_rss = statistics.median(s.rss_mb for s in after[:quarter])
    growth = statistics.median(s.rss_mb for s in after[-quarter:]) - base_rss
    peak = max(s.rss_mb for s in after) - base_rss
    errors = max(s.generator_errors for s in samples)
    passed = crashes == 0 and growth <= max_rss_growth_mb and after[-1].threads - base.threads <= MAX_THREAD_GROWTH
    return Summary(
        minutes,
        crashes,
        round(growth, 1),
        round(peak, 1),
        round(fps_start, 1),
        round(fps_end, 1),
        round(100.0 * (fps_end - fps_start) / max(fps_start, 1e-6), 1),
        base.threads,
        after[-1].threads,
        base.fds,
        after[-1].fds,
        errors,
        frames,
        passed,
    )


def build_app(workdir: Path, video: Path, wav: Path, fps: int, size: tuple[int, int]) -> App:
    config = load_config(
        None,
        [
            "display.mode=headless",
            f"display.size=[{size[0]}, {size[1]}]",
            f"display.fps={fps}",
            f'camera.source="{video}"',
            f'microphone.source="{wav}"',
            "camera.size=[160, 120]",
            f'state.path="{workdir / "state.json"}"',
            "state.interval_s=2.0",
            f'health.path="{workdir / "health.json"}"',
            "health.interval_s=1.0",
            "run.log_level=WARNING",
        ],
    )
    return App(config)


def run_soak(
    minutes: float,
    workdir: Path,
    fps: int = 30,
    size: tuple[int, int] = (480, 270),
    seed: int = 7,
    max_rss_growth_mb: float = 20.0,
    sample_s: float | None = None,
) -> tuple[Summary, list[Sample]]:
    duration_s = minutes * 60.0
    warmup_s = min(60.0, duration_s * 0.25)
    sample_s = sample_s or min(10.0, max(1.0, duration_s / 60.0))
    video, wav = write_soak_room(workdir)
    proc = psutil.Process()
    storms = TouchStorms(seed)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    samples: list[Sample] = []
    crashes = frames = 0
    t0 = time.monotonic()
    next_sample_s = 0.0
    app: App | None = None
    try:
        while not stop.is_set() and time.monotonic() - t0 < duration_s:
            if app is None:
                app = build_app(workdir, video, wav, fps, size)
                app.setup()
            try:
                assert app.care is not None
                t_s = time.monotonic() - t0
                for event in storms.events(t_s):
                    pygame.event.post(event)
                app.step(app.pacer.wait(app.care.target_fps()))
                frames += 1
                if t_s >= next_sample_s:
                    next_sample_s += sample_s
                    samples.append(sample(proc, app, t_s))
                    log.info("soak %s", json.dumps(asdict(samples[-1])))
                if not app.running:
                    raise RuntimeError(f"the show stopped by itself (exit code {app.exit_code})")
            except Exception:  # noqa: BLE001 - a crash: count it, rebuild the show, keep soaking
                crashes += 1
                log.exception("crash %d at %.1f s; rebuilding the show", crashes, time.monotonic() - t0)
                app.close()
                app = None
    finally:
        if app is not None:
            app.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if not samples:
        raise RuntimeError("the soak ended before its first sample")
    elapsed_min = round((time.monotonic() - t0) / 60.0, 2)
    log.info("touch storms: %d", storms.storms)
    return summarise(samples, warmup_s, elapsed_min, crashes, frames, max_rss_growth_mb), samples


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m installation.soak", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0, help="how long to run (fractions allowed)")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument(
        "--max-rss-growth-mb",
        type=float,
        default=None,
        help="default 20: the one show process; with --chaos each show process against its own warmed-up RSS",
    )
    p.add_argument("--json", metavar="PATH", help="also write the summary and samples as JSON here")
    p.add_argument("--workdir", metavar="DIR", help="where media, state and health go (default: a temp dir)")
    p.add_argument("--chaos", action="store_true", help="the supervised show with every fault kind injected")
    p.add_argument("--seed", type=int, default=7, help="random order and timing of touches and faults")
    args = p.parse_args(argv)
    if not args.minutes > 0 or not math.isfinite(args.minutes):
        p.error("--minutes must be a positive number")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr
    )
    if args.chaos:
        return chaos_main(args)
    with tempfile.TemporaryDirectory(prefix="reverie-soak-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        max_growth_mb = 20.0 if args.max_rss_growth_mb is None else args.max_rss_growth_mb
        summary, samples = run_soak(args.minutes, workdir, args.fps, max_rss_growth_mb=max_growth_mb)
    if args.json:
        report = {"summary": asdict(summary), "samples": [asdict(s) for s in samples]}
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    print(summary.line(), flush=True)  # the last line, for people and CI
    return 0 if summary.passed else 1


def chaos_main(args: argparse.Namespace) -> int:
    from installation.chaos.report import Bounds
    from installation.chaos.runner import ChaosSoak

    # SIGTERM (a CI timeout, Ctrl+C from a service manager) must still stop the show and unmount the tmpfs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="reverie-chaos-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            bounds = Bounds() if args.max_rss_growth_mb is None else Bounds(rss_growth_mb=args.max_rss_growth_mb)
            report = ChaosSoak(args.minutes, workdir, args.seed, args.fps, bounds).run()
        except RuntimeError as exc:  # could not set up or start the show: one line, exit 1
            print(f"chaos soak FAIL: {exc}", flush=True)
            return 1
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_json(), indent=1) + "\n")
    print(report.line(), flush=True)  # the last line, for people and CI
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
