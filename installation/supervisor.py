"""Supervisor: `python main.py --supervise ...` keeps the show running for weeks.

It starts the show (main.py without --supervise) as a child process and watches it:
- the child writes one byte a second into a heartbeat pipe (installation.health.Heartbeat); no
  heartbeat for `hang_s` (or none within `startup_s` of a start) means hung: the child is killed;
- a child that dies (crash, kill -9, OOM killer, hang) is restarted: at once after a stable run,
  with doubling back-off (`backoff_s` .. `max_backoff_s`) while it keeps dying young;
- exit code 0 (quit chord, --seconds) ends the supervisor too; exit code 2 (config error) as well,
  since restarting cannot fix a config;
- SIGTERM/SIGINT are passed on to the child, which saves its state and exits; then the supervisor exits;
- a warm standby (a second show process that has imported torch and waits on a pipe) takes over at
  once after a failure, so the picture is back within about a second (`standby = false` saves its
  ~250 MB of memory).
The child's state and health files default into `log_dir`, so a restarted show continues where the
last one was. Everything (the supervisor's lines and the child's log) goes to a rotating log file.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from installation.config import Config, SupervisorConfig
from installation.health import HEARTBEAT_ENV
from installation.standby import GO_ENV

log = logging.getLogger("reverie.supervisor")
show_log = logging.getLogger("reverie.show")  # the child's own lines, passed through unchanged

EXIT_CONFIG = 2

# The show's environment unless the operator set these: glibc's heap kept what model swaps freed.
# Each swap loads on a new thread and finds the principal directions on another (a batch of 96
# pictures: allocations of 6-50 MB). glibc gives each allocating thread its own arena (up to 8 per
# core), and after such a block is freed it raises its mmap threshold, so the next ones come from
# the heap and stay there: a show stepped up by 16-50 MB at a swap in the chaos soak, and in-process
# malloc_trim gave 140 MB back. Two arenas and a fixed 4 MiB mmap threshold (big blocks go back to
# the OS when freed; per-frame buffers stay below it): in-process, 6 corrupt-and-restore swaps keep
# RSS at 335-337 MB (malloc_trim then finds 3 MB) instead of 495-537 MB, same fps, and a 1080p show
# uses 138 % CPU instead of 136 % (1 MiB: 144 %).
SHOW_ENV_DEFAULTS = {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": str(4 * 2**20)}
MAIN_PY = Path(__file__).resolve().parent.parent / "main.py"
TERM_WAIT_S = 10.0  # after passing SIGTERM on: time for the show to save its state


class _Formatter(logging.Formatter):
    """The child's lines already carry a timestamp and level: keep them as they are."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == show_log.name:
            return record.getMessage()
        return super().format(record)


def setup_logging(log_dir: Path, config: SupervisorConfig, level: str) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "reverie.log"
    formatter = _Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(
            path, maxBytes=config.log_max_bytes, backupCount=config.log_backups, encoding="utf-8"
        ),
        logging.StreamHandler(sys.stderr),
    ]
    root = logging.getLogger()
    root.setLevel(level)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    return path


def child_command(argv: list[str], config: Config, log_dir: Path) -> list[str]:
    """main.py with the same arguments minus --supervise, plus state/health paths unless already set."""
    cmd = [sys.executable, str(MAIN_PY), *(a for a in argv if a != "--supervise")]
    if not config.state.path:
        cmd += ["--set", f'state.path="{log_dir / "state.json"}"']
    if not config.health.path:
        cmd += ["--set", f'health.path="{log_dir / "health.json"}"']
    return cmd


@dataclass
class _Child:
    proc: subprocess.Popen[bytes]
    heartbeat_fd: int  # read end of the heartbeat pipe
    go_fd: int  # write end of the go pipe; -1 once the show was told to start
    pump: threading.Thread

    def alive(self) -> bool:
        return self.proc.poll() is None

    def release(self) -> None:
        """Close our pipe ends (a waiting standby sees EOF on its go pipe and exits quietly)."""
        for fd in (self.heartbeat_fd, self.go_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.heartbeat_fd = self.go_fd = -1


class Supervisor:
    def __init__(self, cmd: list[str], config: SupervisorConfig, env: dict[str, str] | None = None) -> None:
        self.cmd = cmd
        self.config = config
        self.env = dict(os.environ if env is None else env)
        self.restarts = 0
        self.delays_s: list[float] = []  # back-off delays used so far (tests and the log read them)
        self._stop = threading.Event()
        self._child: _Child | None = None
        self._standby: _Child | None = None
        self._backoff_s = config.backoff_s

    def stop(self, reason: str) -> None:
        """Ask the show to quit (it saves its state) and end the supervisor."""
        if not self._stop.is_set():
            log.info("supervisor stopping: %s", reason)
        self._stop.set()
        child = self._child
        if child is not None and child.alive():
            child.proc.send_signal(signal.SIGTERM)

    def run(self, max_starts: int | None = None) -> int:
        try:
            return self._loop(max_starts)
        finally:
            self._drop_standby()

    def _loop(self, max_starts: int | None) -> int:
        starts = 0
        while not self._stop.is_set():
            starts += 1
            code, ran_s, why = self._run_child()
            if self._stop.is_set():
                return 0
            if code == 0:
                log.info("the show ended cleanly (exit code 0); supervisor exits")
                return 0
            if code == EXIT_CONFIG:
                log.error("the show exited with a config error (exit code 2); not restarting")
                return EXIT_CONFIG
            if max_starts is not None and starts >= max_starts:
                return 1
            delay_s = self._next_delay_s(ran_s)
            self.restarts += 1
            log.error("the show %s after %.1f s; restart %d in %.1f s", why, ran_s, self.restarts, delay_s)
            if self._stop.wait(delay_s):
                return 0
        return 0

    def _next_delay_s(self, ran_s: float) -> float:
        """At once after a stable run; doubling delays while the show keeps dying young."""
        if ran_s >= self.config.stable_s:
            self._backoff_s = self.config.backoff_s
            delay_s = 0.0
        else:
            delay_s = self._backoff_s
            self._backoff_s = min(max(self._backoff_s * 2.0, 0.1), self.config.max_backoff_s)
        self.delays_s.append(delay_s)
        return delay_s

    def _spawn(self) -> _Child | None:
        """A show process that imports everything, then waits on its go pipe."""
        heartbeat_r, heartbeat_w = os.pipe()
        go_r, go_w = os.pipe()
        env = {**SHOW_ENV_DEFAULTS, **self.env, HEARTBEAT_ENV: str(heartbeat_w), GO_ENV: str(go_r)}
        try:
            proc = subprocess.Popen(
                self.cmd,
                env=env,
                pass_fds=(heartbeat_w, go_r),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            log.error("cannot start the show: %s", exc)
            for fd in (heartbeat_r, heartbeat_w, go_r, go_w):
                os.close(fd)
            return None
        os.close(heartbeat_w)  # only the child holds the write end: EOF on the pipe = the child is gone
        os.close(go_r)
        pump = threading.Thread(target=_pump, args=(proc.stdout,), name="log-pump", daemon=True)
        pump.start()
        return _Child(proc, heartbeat_r, go_w, pump)

    def _drop_standby(self) -> None:
        standby, self._standby = self._standby, None
        if standby is None:
            return
        standby.release()  # EOF on its go pipe: it exits by itself
        try:
            standby.proc.wait(5.0)
        except subprocess.TimeoutExpired:
            standby.proc.kill()
            standby.proc.wait()

    def _run_child(self) -> tuple[int, float, str]:
        """Start the show and watch it until it exits or hangs: (exit code, seconds it ran, what happened)."""
        child, self._standby = self._standby, None
        if child is None or not child.alive():
            if child is not None:
                child.release()
            child = self._spawn()
            if child is None:
                return -1, 0.0, "could not start"
        t0 = time.monotonic()
        try:
            os.write(child.go_fd, f"{self.restarts}\n".encode())
        except OSError:
            pass  # it died meanwhile: the watch below sees that
        os.close(child.go_fd)
        child.go_fd = -1
        self._child = child
        proc = child.proc
        log.info("started the show, pid %d (restart %d)", proc.pid, self.restarts)
        why = ""
        try:
            last_beat_s: float | None = None
            while proc.poll() is None:
                ready, _, _ = select.select([child.heartbeat_fd], [], [], 0.25)
                now = time.monotonic()
                if ready:
                    try:
                        data = os.read(child.heartbeat_fd, 4096)
                    except OSError:
                        data = b""
                    if not data:
                        proc.wait()  # EOF: the child closed its end, i.e. it is exiting
                        break
                    if last_beat_s is None and self.config.standby and not self._stop.is_set():
                        self._standby = self._spawn()  # now, not earlier: two starts would share the CPU
                    last_beat_s = now
                if self._stop.is_set():
                    try:
                        proc.wait(TERM_WAIT_S)
                    except subprocess.TimeoutExpired:
                        log.error("the show did not stop within %.0f s of SIGTERM; killing it", TERM_WAIT_S)
                        proc.kill()
                        proc.wait()
                    break
                silent_s = now - (last_beat_s if last_beat_s is not None else t0)
                limit_s = self.config.hang_s if last_beat_s is not None else self.config.startup_s
                if silent_s > limit_s:
                    why = (
                        f"hung (no heartbeat for {silent_s:.1f} s)"
                        if last_beat_s is not None
                        else f"gave no heartbeat within {limit_s:g} s of starting"
                    )
                    log.error("the show (pid %d) %s; killing it", proc.pid, why)
                    proc.kill()  # SIGKILL also ends a stopped (SIGSTOP) process
                    proc.wait()
                    break
        finally:
            child.release()
            self._child = None
        child.pump.join(2.0)
        code = proc.returncode
        if not why:
            why = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return code, time.monotonic() - t0, why


def _pump(stream: IO[bytes] | None) -> None:
    """The child's output, line by line, into the supervisor's log (file and stderr)."""
    if stream is None:
        return
    for raw in iter(stream.readline, b""):
        show_log.info("%s", raw.decode("utf-8", "replace").rstrip())
    stream.close()


def supervise(argv: list[str], config: Config) -> int:
    """Entry point for main.py --supervise."""
    log_dir = Path(config.supervisor.log_dir).expanduser()
    try:
        log_path = setup_logging(log_dir, config.supervisor, config.run.log_level)
    except OSError as exc:
        print(f"reverie: cannot write logs to {log_dir} ({exc}); set supervisor.log_dir", file=sys.stderr)
        return EXIT_CONFIG
    panel = None
    if config.web.enabled:  # the web panel lives here, so it outlives show restarts (docs/web.md)
        from installation.web.link import start_supervisor_panel

        panel = start_supervisor_panel(config.web)
    env = {**os.environ, **panel.env()} if panel is not None else None
    supervisor = Supervisor(child_command(argv, config, log_dir), config.supervisor, env=env)
    previous = {
        s: signal.signal(s, lambda signum, _: supervisor.stop(signal.Signals(signum).name))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    log.info("supervising the show; log %s, state and health in %s", log_path, log_dir)
    try:
        return supervisor.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if panel is not None:
            panel.close()
