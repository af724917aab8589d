"""What a chaos soak reports: one record per fault, the growth figures, and the bounds it is judged by."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from installation.chaos.growth import Lifetime
from installation.chaos.observe import Resources


@dataclass
class FaultRecord:
    kind: str
    t_s: float  # seconds after the chaos began
    detected: str  # how ("" = never)
    recovered: bool
    recover_s: float | None  # from removing the cause (or injection, where nothing is removed) to recovered
    detect_s: float | None
    frames_lost: int  # frames short of the pre-fault fps over the fault's window
    note: str = ""


@dataclass
class Bounds:
    # Each show process against its own warmed-up RSS (installation/chaos/growth.py), the supervisor
    # against itself: 20 MB, as the plain soak holds its one process.
    rss_growth_mb: float = 20.0
    supervisor_rss_growth_mb: float = 20.0
    # Every show's descriptors and threads against the first show's warmed baseline; the supervisor's
    # against its own. Exactly: a healthy show holds the same ones, whatever ran before it.
    fd_growth: int = 0
    thread_growth: int = 0
    min_fps_mean: float = 5.0  # over the chaos phase, faults included (a loaded 2-core machine: see docs)


@dataclass
class ChaosReport:
    minutes: float
    model: str
    preset: str
    crashes: int
    show_restarts: int
    faults: list[FaultRecord]
    skipped: dict[str, str]
    rss_growth_mb: float  # the worst show lifetime: its end minus its own warmed-up baseline (medians)
    rss_growth_pid: int  # ... which show that was
    fd_growth: int  # the worst show: its last quiet floor minus the first show's warmed baseline floor
    thread_growth: int
    shows_judged: int  # show lifetimes long enough for a baseline and a separate end window
    supervisor_rss_growth_mb: float
    supervisor_fd_growth: int
    supervisor_thread_growth: int
    shows: list[Lifetime]  # every show process, with its own figures
    fps_mean: float
    fps_p5: float
    stderr_limit_reports: int  # "dropped N line(s) from stderr" lines in the log (C library floods)
    osc_traffic: int  # OSC messages of the performer's traffic (drag storms, pulses)
    bounds: Bounds
    failures: list[str] = field(default_factory=list)
    samples: list[Resources] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def judge(self, supervisor_alive: bool, returncode: int | None) -> None:
        """Fill failures: a fault not detected or not recovered, a dead supervisor, growth past a bound."""
        failures = [] if supervisor_alive else [f"the supervisor exited with {returncode}"]
        for r in self.faults:
            if not r.detected:
                failures.append(f"{r.kind} at {r.t_s:.0f} s was not detected")
            elif not r.recovered:
                failures.append(f"{r.kind} at {r.t_s:.0f} s did not recover")
        b = self.bounds
        for name, value, bound in (
            (f"show {self.rss_growth_pid} RSS growth (MB)", self.rss_growth_mb, b.rss_growth_mb),
            ("show descriptor growth", self.fd_growth, b.fd_growth),
            ("show thread growth", self.thread_growth, b.thread_growth),
            ("supervisor RSS growth (MB)", self.supervisor_rss_growth_mb, b.supervisor_rss_growth_mb),
            ("supervisor descriptor growth", self.supervisor_fd_growth, b.fd_growth),
            ("supervisor thread growth", self.supervisor_thread_growth, b.thread_growth),
        ):
            if value > bound:
                failures.append(f"{name} {value} > {bound}")
        if not self.shows_judged:
            failures.append("no show lived long enough to measure its RSS growth")
        if self.fps_mean < b.min_fps_mean:
            failures.append(f"fps mean {self.fps_mean} < {b.min_fps_mean}")
        self.failures = failures

    def line(self) -> str:
        recovered = sum(f.recovered for f in self.faults)
        times = [f.recover_s for f in self.faults if f.recover_s is not None]
        return (
            f"chaos soak {'PASS' if self.passed else 'FAIL'}: {self.minutes:g} min, {len(self.faults)} faults "
            f"({len({f.kind for f in self.faults})} kinds, {recovered} recovered, recovery median "
            f"{statistics.median(times) if times else 0:.1f} s, max {max(times, default=0):.1f} s), "
            f"crashes {self.crashes}, show restarts {self.show_restarts}, worst show RSS growth "
            f"{self.rss_growth_mb:+.1f} MB ({self.shows_judged} of {len(self.shows)} shows measured), "
            f"fds {self.fd_growth:+d}, threads {self.thread_growth:+d}, supervisor RSS "
            f"{self.supervisor_rss_growth_mb:+.1f} MB, fps mean {self.fps_mean:.1f} p5 {self.fps_p5:.1f}"
            + (f"; skipped: {', '.join(self.skipped)}" if self.skipped else "")
            + (f"; FAILED: {'; '.join(self.failures)}" if self.failures else "")
        )

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = self.passed
        return out
