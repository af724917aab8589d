"""Rate-limit what C libraries write to stderr, at the file-descriptor level.

PortAudio's ALSA code prints "Expression ... failed" in a tight loop when PulseAudio dies under an
open stream (millions of lines a minute): under --supervise the log rotates, but a terminal or
journald fills. Python's own logging is rate-limited where it is written, so it keeps the real
stderr; descriptor 2 itself (which C code writes to) becomes a pipe read by one thread that passes a
burst of lines, then a few lines a second, and counts what it drops:

    WARNING reverie.stderr: C library output on stderr is rate-limited to 2 lines/s (burst 20) ...
    WARNING reverie.stderr: dropped 1843522 line(s) from stderr in the last 60 s, e.g.: Expression ...

The write end is non-blocking: a C thread printing into a full pipe loses that line instead of
stalling (the show must never wait on its stderr).
"""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
import time

log = logging.getLogger("reverie.stderr")

LINES_PER_S = 2.0  # steady rate passed through
BURST_LINES = 20  # passed at once after a quiet spell (a real error's few lines arrive whole)
REPORT_EVERY_S = 60.0  # while dropping: one line with the count this often
MAX_LINE_BYTES = 2000  # a longer "line" (no newline) is cut and counted as one
_READ_BYTES = 65536


class StderrLimiter:
    """install() replaces descriptor 2; close() puts it back and joins the reader thread."""

    def __init__(
        self, lines_per_s: float = LINES_PER_S, burst: int = BURST_LINES, report_every_s: float = REPORT_EVERY_S
    ) -> None:
        self.lines_per_s = lines_per_s
        self.burst = burst
        self.report_every_s = report_every_s
        self.passed = 0
        self.dropped = 0  # total since install
        self._tokens = float(burst)
        self._refill_s = time.monotonic()
        self._window_dropped = 0
        self._window_start_s = 0.0
        self._sample = b""
        self._real_fd = -1  # the original stderr (a terminal, journald, the supervisor's pipe)
        self._read_fd = -1
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def install(self) -> bool:
        """Route descriptor 2 through the limiter; False (and nothing changed) where that cannot be done."""
        try:
            self._real_fd = os.dup(2)  # close-on-exec (PEP 446)
        except OSError:
            return False  # no stderr at all: nothing to protect
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        sys.stderr.flush()
        os.dup2(write_fd, 2)  # inheritable, like the stderr it replaces
        os.close(write_fd)
        self._read_fd = read_fd
        # Python's writes (logging, warnings, tracebacks) go straight to the real stderr, unlimited.
        sys.stderr = open(  # noqa: SIM115 - closed in close()
            self._real_fd,
            "w",
            buffering=1,
            encoding="utf-8",
            errors="backslashreplace",
            closefd=False,
        )
        self._thread = threading.Thread(target=self._run, name="stderr-limiter", daemon=True)
        self._thread.start()
        return True

    def close(self, timeout_s: float = 2.0) -> None:
        """Descriptor 2 back to the real stderr; the reader sees EOF, reports the rest and ends.

        sys.stderr keeps writing to the real stderr's duplicate: logging handlers hold it until exit."""
        if self._thread is None:
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self._real_fd, 2)  # drops the pipe's last write end (children that inherited it aside)
        self._stop.set()
        self._thread.join(timeout_s)
        self._thread = None

    # --- the reader thread ------------------------------------------------------------------

    def _run(self) -> None:
        pending = b""
        try:
            while True:
                ready, _, _ = select.select([self._read_fd], [], [], 1.0)
                if not ready:
                    if self._stop.is_set():
                        break  # a child still holds the pipe's write end: stop anyway
                    self._maybe_report(time.monotonic())
                    continue
                chunk = os.read(self._read_fd, _READ_BYTES)
                if not chunk:
                    break
                pending += chunk
                lines = pending.split(b"\n")
                pending = lines.pop()
                if len(pending) > MAX_LINE_BYTES:
                    lines.append(pending[:MAX_LINE_BYTES])
                    pending = b""
                for line in lines:
                    self._line(line + b"\n")
                self._maybe_report(time.monotonic())
        except OSError as exc:
            log.warning("stderr limiter stopped: %s", exc)
        finally:
            if pending:
                self._line(pending + b"\n")
            if self._window_dropped:
                self._report(time.monotonic())
            os.close(self._read_fd)

    def _line(self, line: bytes) -> None:
        now_s = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now_s - self._refill_s) * self.lines_per_s)
        self._refill_s = now_s
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self.passed += 1
            try:
                os.write(self._real_fd, line)
            except OSError:
                pass  # the real stderr is gone (terminal closed): nothing to tell
            return
        if not self._window_dropped:
            self._window_start_s = now_s
            self._sample = line.strip()[:200]
            if not self.dropped:
                log.warning(
                    "C library output on stderr is rate-limited to %g lines/s (burst %d); "
                    "the rest is counted here every %g s",
                    self.lines_per_s,
                    self.burst,
                    self.report_every_s,
                )
        self.dropped += 1
        self._window_dropped += 1

    def _maybe_report(self, now_s: float) -> None:
        if self._window_dropped and now_s - self._window_start_s >= self.report_every_s:
            self._report(now_s)

    def _report(self, now_s: float) -> None:
        log.warning(
            "dropped %d line(s) from stderr in the last %.0f s (%d in all), e.g.: %s",
            self._window_dropped,
            now_s - self._window_start_s,
            self.dropped,
            self._sample.decode("utf-8", "replace"),
        )
        self._window_dropped = 0
