"""What a chaos soak sees of the supervised show: its stats lines, health file and log, read as they
grow (by the soak's own clock), and the resources of the supervisor and the current show process."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


@dataclass(frozen=True)
class StatsLine:
    t_s: float  # soak clock (monotonic) when read
    pid: int  # the show that wrote it (from the health file when read)
    record: dict[str, Any]


@dataclass(frozen=True)
class Resources:
    t_s: float
    show_pid: int
    show_rss_mb: float
    show_fds: int
    show_threads: int
    supervisor_rss_mb: float
    supervisor_fds: int
    supervisor_threads: int
    quiet: bool = True  # no fault in progress (set by the soak): only these measure growth


class Observer:
    def __init__(self, stats_path: Path, health_path: Path, log_path: Path, supervisor_pid: int) -> None:
        self.stats_path = stats_path
        self.health_path = health_path
        self.log_path = log_path
        self.supervisor = psutil.Process(supervisor_pid)
        self.lines: list[StatsLine] = []
        self._stats_offset = 0
        self._partial = b""
        self._log_offset = 0
        self._log_text: list[str] = []  # every log line seen, in order
        self._health: dict[str, Any] = {}

    # ------------------------------------------------------------ reading
    def poll(self) -> None:
        self._read_health()
        self._read_stats()
        self._read_log()

    def _read_health(self) -> None:
        try:
            self._health = json.loads(self.health_path.read_text())
        except (OSError, ValueError):
            pass  # being replaced, or not there yet: keep the last one

    def _read_stats(self) -> None:
        try:
            with open(self.stats_path, "rb") as f:
                f.seek(self._stats_offset)
                data = f.read()
        except OSError:
            return
        self._stats_offset += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        now = time.monotonic()
        pid = int(self._health.get("pid", 0))
        for raw in complete:
            try:
                self.lines.append(StatsLine(now, pid, json.loads(raw)))
            except ValueError:
                continue  # a line cut by a kill -9

    def _read_log(self) -> None:
        try:
            size = self.log_path.stat().st_size
        except OSError:
            return
        if size < self._log_offset:  # rotated: the new file starts from the top
            self._log_offset = 0
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        self._log_offset += cut
        self._log_text.extend(data[:cut].decode("utf-8", "replace").splitlines())

    # ------------------------------------------------------------ asking
    @property
    def health(self) -> dict[str, Any]:
        return self._health

    @property
    def show_pid(self) -> int:
        return int(self._health.get("pid", 0))

    def latest(self) -> dict[str, Any]:
        return self.lines[-1].record if self.lines else {}

    def log_mark(self) -> int:
        return len(self._log_text)

    def log_since(self, mark: int, text: str) -> str:
        """The first log line after mark that contains text, or ""."""
        for line in self._log_text[mark:]:
            if text in line:
                return line
        return ""

    def log_count(self, text: str) -> int:
        return sum(text in line for line in self._log_text)

    def frames_between(self, t0_s: float, t1_s: float) -> int:
        """Frames the show(s) presented between two soak times (frame counters restart with each show)."""
        total = 0
        previous: StatsLine | None = None
        for line in self.lines:
            if line.t_s > t1_s:
                break
            if previous is not None and line.t_s > t0_s:
                delta = line.record.get("frames", 0) - previous.record.get("frames", 0)
                total += delta if delta >= 0 else line.record.get("frames", 0)  # a new show started at 0
            previous = line
        return total

    def fps_between(self, t0_s: float, t1_s: float) -> list[float]:
        return [float(line.record.get("fps", 0.0)) for line in self.lines if t0_s <= line.t_s <= t1_s]

    def resources(self) -> Resources | None:
        pid = self.show_pid
        try:
            show = psutil.Process(pid)
            with show.oneshot():
                if show.status() == psutil.STATUS_ZOMBIE:
                    return None  # killed, not yet reaped: no memory, no descriptors, one thread
                show_figures = (round(show.memory_info().rss / 2**20, 2), show.num_fds(), show.num_threads())
            with self.supervisor.oneshot():
                sup = (
                    round(self.supervisor.memory_info().rss / 2**20, 2),
                    self.supervisor.num_fds(),
                    self.supervisor.num_threads(),
                )
        except (psutil.Error, ValueError):
            return None  # between two shows
        return Resources(round(time.monotonic(), 2), pid, *show_figures, *sup)
