"""Resource growth in a chaos soak, measured per process.

A third of the faults restart the show, and a restarted show is a new process: comparing the last
show's RSS with the first one's compares two processes (they differed by up to 200 MB in the
30-minute run, most of it the model-reload leak since fixed in render/accel.py). So each show
process is compared with itself: its RSS at the end of its life against its own RSS once warmed
up. Descriptors and threads of every show, restarted or not, must match the first show's warmed
baseline exactly: a healthy show holds the same ones whatever happened before it started.

Only quiet samples count (no fault in progress, and not in the first seconds after one recovered):
a camera that is unplugged closes its descriptors, a recording opens some; that is not growth.
RSS is compared as medians (torch's allocations swing it by tens of MB between two samples),
descriptors and threads as the lowest count of a window (reconnects open a few for a moment; a
leak raises the floor).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from installation.chaos.observe import Resources

WARM_S = 10.0  # a restarted show's first seconds: model, camera, microphone and trace come up
WINDOW_S = 10.0  # baseline and end windows of a show's life


@dataclass(frozen=True)
class Lifetime:
    """One show process as the soak saw it (times: seconds after the chaos began)."""

    pid: int
    first_s: float
    last_s: float
    samples: int
    quiet_samples: int  # warmed-up samples taken with no fault in progress
    rss_base_mb: float | None  # median of its first quiet window once warm ...
    rss_end_mb: float | None  # ... and of its last
    rss_growth_mb: float | None  # None: it did not live long enough for two separate windows
    fds_base: int | None  # floors of the same windows
    fds_end: int | None
    threads_base: int | None
    threads_end: int | None
    fd_growth: int | None  # its end floor minus the first show's warmed baseline floor
    thread_growth: int | None


def _med(samples: list[Resources], name: str) -> float:
    return round(statistics.median(getattr(s, name) for s in samples), 1)


def _low(samples: list[Resources], name: str) -> int:
    return min(int(getattr(s, name)) for s in samples)


def lifetimes(samples: list[Resources], baseline: list[Resources], t0_s: float) -> list[Lifetime]:
    """Per show process, in order of appearance. baseline: the first show's samples in the quiet
    spell before the first fault (its warmed baseline); t0_s: when the chaos began (soak clock)."""
    if not baseline:
        raise RuntimeError("no resource samples before the chaos: the show was not up")
    by_pid: dict[int, list[Resources]] = {}
    for sample in samples:
        by_pid.setdefault(sample.show_pid, []).append(sample)
    first_pid = baseline[0].show_pid
    # The spell's last window only: "ready" can come while the show still finishes starting (a JACK
    # client, a thread pool: +18 fds, +3 threads seen), and its lowest sample was then every show's
    # reference, so every show "grew".
    settled = [s for s in baseline if s.t_s >= baseline[-1].t_s - WINDOW_S]
    ref_fds, ref_threads = _low(settled, "show_fds"), _low(settled, "show_threads")
    out = []
    for pid, own in by_pid.items():
        warm_from_s = settled[0].t_s if pid == first_pid else own[0].t_s + WARM_S
        warm = [s for s in own if s.quiet and s.t_s >= warm_from_s]
        base = [s for s in warm if s.t_s < warm[0].t_s + WINDOW_S] if warm else []
        end = [s for s in warm if s.t_s > warm[-1].t_s - WINDOW_S] if warm else []
        separate = bool(warm) and warm[-1].t_s - warm[0].t_s >= 2 * WINDOW_S
        out.append(
            Lifetime(
                pid=pid,
                first_s=round(own[0].t_s - t0_s, 1),
                last_s=round(own[-1].t_s - t0_s, 1),
                samples=len(own),
                quiet_samples=len(warm),
                rss_base_mb=_med(base, "show_rss_mb") if base else None,
                rss_end_mb=_med(end, "show_rss_mb") if end else None,
                rss_growth_mb=round(_med(end, "show_rss_mb") - _med(base, "show_rss_mb"), 1) if separate else None,
                fds_base=_low(base, "show_fds") if base else None,
                fds_end=_low(end, "show_fds") if end else None,
                threads_base=_low(base, "show_threads") if base else None,
                threads_end=_low(end, "show_threads") if end else None,
                fd_growth=_low(end, "show_fds") - ref_fds if end else None,
                thread_growth=_low(end, "show_threads") - ref_threads if end else None,
            )
        )
    return out


def headline(shows: list[Lifetime], baseline: list[Resources], end: list[Resources]) -> dict[str, Any]:
    """The report's growth figures: the worst show lifetime, and the supervisor (one process all through:
    the end of the quiet spell after the chaos against the baseline before it)."""
    if not end:
        raise RuntimeError("no resource samples after the chaos: the show was not up")
    judged = [s for s in shows if s.rss_growth_mb is not None]
    worst = max(judged, key=lambda s: s.rss_growth_mb or 0.0, default=None)
    fds = [s.fd_growth for s in shows if s.fd_growth is not None]
    threads = [s.thread_growth for s in shows if s.thread_growth is not None]
    return {
        "rss_growth_mb": worst.rss_growth_mb if worst is not None else 0.0,
        "rss_growth_pid": worst.pid if worst is not None else 0,
        "fd_growth": max(fds, default=0),
        "thread_growth": max(threads, default=0),
        "shows_judged": len(judged),
        "supervisor_rss_growth_mb": round(_med(end, "supervisor_rss_mb") - _med(baseline, "supervisor_rss_mb"), 1),
        "supervisor_fd_growth": _low(end, "supervisor_fds") - _low(baseline, "supervisor_fds"),
        "supervisor_thread_growth": _low(end, "supervisor_threads") - _low(baseline, "supervisor_threads"),
    }
