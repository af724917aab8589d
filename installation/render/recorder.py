"""MP4 recorder: H.264 through ffmpeg on its own thread, fed by a bounded queue.

The file has a constant frame rate that follows the wall clock: a presented frame fills every
frame slot that has come due since the last one (repeated when the display runs slower than the
file, skipped when faster), so a 20 s show gives a 20 s video. The show never waits for the
encoder: when the queue is full the new frame is dropped and counted. A write error (disk full,
ffmpeg gone) stops the recording with one logged error; the show goes on. Fragmented MP4 keeps
everything written so far playable even after a crash.

A recording can start and stop while the show runs (the R key): ffmpeg is started with
posix_spawn, never fork(). A fork while other threads run OpenBLAS, torch or OpenCV work can
deadlock in the libraries' fork handlers (seen here: OpenBLAS during an SVD); posix_spawn runs no
fork handlers. `close_async()` lets the writer thread finish the file so the show does not wait.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import imageio_ffmpeg

from installation.descriptors import close_on_exec_all

log = logging.getLogger(__name__)

_DONE = object()
_STDERR_TAIL_CHARS = 600  # how much of ffmpeg's own error output goes into our one error line


def new_recording_path(directory: str | Path, now: dt.datetime | None = None) -> Path:
    """A new file name like recordings/reverie-20261129-101500.mp4, created empty so it is ours.

    Never an existing file: a second recording in the same second gets "-2", "-3", ...
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"reverie-{(now or dt.datetime.now()).strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 10_000):
        path = directory / (f"{stem}.mp4" if n == 1 else f"{stem}-{n}.mp4")
        try:
            with open(path, "xb"):  # exclusive create: two recorders can never pick the same name
                return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free recording name for {stem} in {directory}")


def ffmpeg_command(path: Path, size: tuple[int, int], fps: int, crf: int) -> list[str]:
    """ffmpeg reading raw RGB frames on stdin and writing a fragmented H.264 MP4."""
    return [
        _ffmpeg_exe(),
        "-loglevel",
        "error",
        "-nostdin",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{size[0]}x{size[1]}",
        "-r",
        str(fps),
        "-i",
        "-",
        "-an",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-crf",
        str(crf),
        "-preset",
        "veryfast",
        # A keyframe (so an MP4 fragment reaches the disk) every 2 s: a killed show loses at most that.
        "-g",
        str(2 * fps),
        # -xerror: ffmpeg exits on a write error (disk full) instead of carrying on silently,
        # so the next write fails and the recording stops with one logged error.
        "-xerror",
        "-movflags",
        "+frag_keyframe+empty_moov",
        str(path),
    ]


def _ffmpeg_exe() -> str:
    """ffmpeg's absolute path (posix_spawn does not search PATH).

    imageio-ffmpeg checks its binary once per process by running `ffmpeg -version` through
    subprocess without a preexec_fn, which CPython does with vfork (no fork handlers run)."""
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    return exe if os.path.dirname(exe) else shutil.which(exe) or exe


class _Ffmpeg:
    """One ffmpeg process reading frames on its stdin, started without fork().

    POSIX: os.posix_spawn (glibc and macOS spawn with vfork semantics and run no atfork handlers),
    in its own process group so Ctrl+C in the show's terminal does not end the file early; the
    show stops the recording itself. Elsewhere (Windows has no fork): subprocess.Popen.
    """

    def __init__(self, cmd: list[str]) -> None:
        self._stderr = _stderr_file()
        self._popen: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        if hasattr(os, "posix_spawn"):
            read_fd, write_fd = os.pipe()  # both close-on-exec; the child gets read_fd as its stdin
            read_fd, write_fd = _above_stdio(read_fd), _above_stdio(write_fd)
            err_fd = _above_stdio_dup(self._stderr.fileno())
            extra_fd = err_fd != self._stderr.fileno()
            close_on_exec_all()  # C libraries' descriptors stay with the show (docs/reliability.md)
            try:
                self.pid = os.posix_spawn(
                    cmd[0],
                    cmd,
                    os.environ,
                    file_actions=[
                        (os.POSIX_SPAWN_DUP2, read_fd, 0),
                        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                        (os.POSIX_SPAWN_DUP2, err_fd, 2),
                    ],
                    setpgroup=0,
                    setsigdef=_default_signals(),
                )
            except BaseException:
                os.close(write_fd)
                self._stderr.close()
                raise
            finally:
                os.close(read_fd)
                if extra_fd:
                    os.close(err_fd)
            self.stdin: IO[bytes] = open(write_fd, "wb")  # noqa: SIM115 - closed in finish()
        else:
            self._popen = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                close_fds=False,
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            )
            self.pid = self._popen.pid
            assert self._popen.stdin is not None
            self.stdin = self._popen.stdin

    def write(self, frame: bytes) -> None:
        self.stdin.write(frame)
        self.stdin.flush()

    def finish(self) -> int:
        """Close stdin (ffmpeg then writes the rest of the file) and wait for ffmpeg to exit."""
        try:
            self.stdin.close()
        except OSError:
            pass  # a broken pipe: ffmpeg is gone already
        if self._popen is not None:
            self.returncode = self._popen.wait()
        elif self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        """Stop a stuck ffmpeg (the thread in finish() or write() then returns)."""
        if self.returncode is not None:
            return
        try:
            if self._popen is not None:
                self._popen.kill()
            else:
                os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass

    def stderr_tail(self) -> str:
        """The end of what ffmpeg wrote to its stderr, on one line."""
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        return " | ".join(line.strip() for line in text.strip().splitlines())[-_STDERR_TAIL_CHARS:]

    def close_log(self) -> None:
        self._stderr.close()


def _stderr_file() -> IO[bytes]:
    # In memory where possible: a full disk must not also swallow ffmpeg's "No space left" message.
    if hasattr(os, "memfd_create"):
        try:
            return open(_above_stdio(os.memfd_create("reverie-ffmpeg-stderr", os.MFD_CLOEXEC)), "w+b")
        except OSError:
            pass
    return tempfile.TemporaryFile()


def _above_stdio(fd: int) -> int:
    """The same file on a descriptor above 2 (when the show runs with a closed stdin/out/err, a new
    pipe can land on 0-2 and the child's dup2 actions would clobber each other)."""
    if fd > 2:
        return fd
    new_fd = _above_stdio_dup(fd)
    os.close(fd)
    return new_fd


def _above_stdio_dup(fd: int) -> int:
    if fd > 2:
        return fd
    import fcntl  # POSIX only, like posix_spawn

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _default_signals() -> tuple[int, ...]:
    # As subprocess's restore_signals: Python ignores these, ffmpeg should not inherit that.
    return tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name))


class Recorder:
    def __init__(self, path: str | Path, size: tuple[int, int], fps: int, max_queue: int = 8, crf: int = 20) -> None:
        self.path = Path(path)
        self.size = (size[0] - size[0] % 2, size[1] - size[1] % 2)  # yuv420p needs even sides
        self.fps = fps
        self.crf = crf
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._ffmpeg: _Ffmpeg | None = None
        self._closing = threading.Event()  # no more frames accepted; the writer finishes the file
        self.frames_written = 0
        self.frames_dropped = 0
        self.error = ""
        self._last_drop_log_s = 0.0
        self._t0_s: float | None = None
        self._slots = 0  # frame slots filled (or dropped) so far

    @classmethod
    def timestamped(
        cls, directory: str | Path, size: tuple[int, int], fps: int, max_queue: int = 8, crf: int = 20
    ) -> Recorder:
        """A recorder for a new file in directory (see new_recording_path); call start() next."""
        return cls(new_recording_path(directory), size, fps, max_queue, crf)

    @property
    def active(self) -> bool:
        """Recording: started, not asked to close, no error."""
        return self._thread.is_alive() and not self.error and not self._closing.is_set()

    @property
    def finishing(self) -> bool:
        """Closed, and the writer thread is still flushing frames and finishing the file."""
        return self._closing.is_set() and self._thread.is_alive()

    def start(self) -> None:
        """Start ffmpeg and the writer thread. Safe while other threads run (no fork).

        Raises OSError when the directory cannot be made or ffmpeg cannot be started (the caller
        decides: a live R toggle should log it and carry on)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        t0_s = time.perf_counter()
        try:
            self._ffmpeg = _Ffmpeg(ffmpeg_command(self.path, self.size, self.fps, self.crf))
        except (OSError, RuntimeError) as exc:  # RuntimeError: imageio-ffmpeg found no ffmpeg
            if self.path.exists() and self.path.stat().st_size == 0:
                self.path.unlink()  # the empty file new_recording_path reserved
            raise OSError(f"cannot start ffmpeg for {self.path}: {exc}") from exc
        self._thread.start()
        log.info(
            "recording %dx%d @ %d fps to %s (ffmpeg started in %.0f ms)",
            self.size[0],
            self.size[1],
            self.fps,
            self.path,
            (time.perf_counter() - t0_s) * 1e3,
        )

    def due(self, t_s: float) -> int:
        """How many frame slots a frame presented at t_s (perf_counter) must fill; 0 = none due."""
        if self._t0_s is None:
            self._t0_s = t_s
        return int((t_s - self._t0_s) * self.fps) + 1 - self._slots

    def add(self, frame_rgb: bytes, t_s: float) -> None:
        """Queue one presented frame (RGB bytes of the recorder's size) without blocking the caller."""
        if self.error or self._closing.is_set():
            return
        copies = self.due(t_s)
        self._slots += max(copies, 0)
        for _ in range(min(copies, self.fps)):  # a stall longer than 1 s is not padded out
            self._put(frame_rgb)

    def _put(self, frame_rgb: bytes) -> None:
        try:
            self._queue.put_nowait(frame_rgb)
        except queue.Full:
            self.frames_dropped += 1
            now = time.monotonic()
            if now - self._last_drop_log_s > 5.0:
                self._last_drop_log_s = now
                log.warning(
                    "recorder is behind: %d frame(s) dropped from %s so far (the show is not slowed)",
                    self.frames_dropped,
                    self.path.name,
                )

    def close_async(self) -> None:
        """Stop taking frames and return at once; the writer thread writes what is queued, finishes the
        file and exits (see `finishing`). For stopping a recording while the show runs."""
        if self._closing.is_set():
            return
        self._closing.set()
        try:
            self._queue.put_nowait(_DONE)  # wakes a writer waiting for frames
        except queue.Full:
            pass  # the writer is busy with a full queue; it sees _closing once the queue is empty

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush queued frames and finish the file, waiting up to timeout_s (for shutdown).

        A writer still busy after timeout_s (ffmpeg stuck) is stopped by killing ffmpeg."""
        self.close_async()
        if not self._thread.is_alive():
            return
        self._thread.join(timeout_s)
        if self._thread.is_alive() and self._ffmpeg is not None:
            log.error(
                "recording to %s did not finish within %.0f s; ffmpeg is stopped (the file keeps what "
                "reached the disk)",
                self.path,
                timeout_s,
            )
            self._ffmpeg.kill()
            self._thread.join(5.0)

    def _run(self) -> None:
        ffmpeg = self._ffmpeg
        assert ffmpeg is not None
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    break
                ffmpeg.write(item)  # type: ignore[arg-type]
                self.frames_written += 1
                if self._closing.is_set() and self._queue.empty():
                    break  # close_async found the queue full and could not enqueue _DONE
        except Exception as exc:  # disk full, ffmpeg died: stop recording, never the show
            self.error = f"{type(exc).__name__}: {exc}"  # first: add() stops queueing
            self._drain()
            ffmpeg.finish()  # ffmpeg has exited or is exiting: wait, so its own message is complete
            tail = ffmpeg.stderr_tail()
            log.error(
                "recording to %s stopped after %d frames: %s%s",
                self.path,
                self.frames_written,
                self.error,
                f" (ffmpeg: {tail})" if tail else "",
            )
        finally:
            self._finish(ffmpeg)

    def _finish(self, ffmpeg: _Ffmpeg) -> None:
        try:
            code = ffmpeg.finish()
            if code != 0 and not self.error:
                self.error = f"ffmpeg exited with code {code}"
                tail = ffmpeg.stderr_tail()
                log.error("finishing %s failed: %s%s", self.path, self.error, f" (ffmpeg: {tail})" if tail else "")
        except Exception as exc:
            if not self.error:
                self.error = f"{type(exc).__name__}: {exc}"
                log.error("finishing %s failed: %s", self.path, self.error)
        finally:
            ffmpeg.close_log()
        log.info(
            "recording finished: %s, %d frames written, %d dropped", self.path, self.frames_written, self.frames_dropped
        )

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
