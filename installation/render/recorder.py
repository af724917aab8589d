"""MP4 recorder: H.264 through imageio-ffmpeg on its own thread, fed by a bounded queue.

The file has a constant frame rate that follows the wall clock: a presented frame fills every
frame slot that has come due since the last one (repeated when the display runs slower than the
file, skipped when faster), so a 20 s show gives a 20 s video. The show never waits for the encoder: when the queue is full the new frame is dropped and
counted. A write error (disk full, ffmpeg gone) stops the recording with one logged error; the
show goes on. Fragmented MP4 keeps everything written so far playable even after a crash.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

import imageio_ffmpeg

log = logging.getLogger(__name__)

_DONE = object()


class Recorder:
    def __init__(self, path: str | Path, size: tuple[int, int], fps: int, max_queue: int = 8, crf: int = 20) -> None:
        self.path = Path(path)
        self.size = (size[0] - size[0] % 2, size[1] - size[1] % 2)  # yuv420p needs even sides
        self.fps = fps
        self.crf = crf
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self.frames_written = 0
        self.frames_dropped = 0
        self.error = ""
        self._last_drop_log_s = 0.0
        self._t0_s: float | None = None
        self._slots = 0  # frame slots filled (or dropped) so far

    @property
    def active(self) -> bool:
        return self._thread.is_alive() and not self.error

    def start(self) -> None:
        """Start ffmpeg now, on the calling thread, then the writer thread.

        Call this before other threads run BLAS, torch or OpenCV work: forking while they do can
        deadlock in the libraries' fork handlers (seen here: OpenBLAS during an SVD)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = imageio_ffmpeg.write_frames(
            str(self.path), self.size, fps=self.fps, codec="libx264", quality=None, macro_block_size=1,
            # A keyframe (so an MP4 fragment reaches the disk) every 2 s: a killed show loses at most that.
            # -xerror: ffmpeg exits on a write error (disk full) instead of carrying on silently,
            # so the next send fails and the recording stops with one logged error.
            output_params=["-crf", str(self.crf), "-preset", "veryfast", "-g", str(2 * self.fps), "-xerror",
                           "-movflags", "+frag_keyframe+empty_moov"],
        )
        self._writer.send(None)  # spawns ffmpeg
        self._thread.start()
        log.info("recording %dx%d @ %d fps to %s", self.size[0], self.size[1], self.fps, self.path)

    def due(self, t_s: float) -> int:
        """How many frame slots a frame presented at t_s (perf_counter) must fill; 0 = none due."""
        if self._t0_s is None:
            self._t0_s = t_s
        return int((t_s - self._t0_s) * self.fps) + 1 - self._slots

    def add(self, frame_rgb: bytes, t_s: float) -> None:
        """Queue one presented frame (RGB bytes of the recorder's size) without blocking the caller."""
        if self.error:
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
                log.warning("recorder is behind: %d frame(s) dropped from %s so far (the show is not slowed)",
                            self.frames_dropped, self.path.name)

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush queued frames and finish the file."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(_DONE, timeout=timeout_s)
        except queue.Full:
            pass
        self._thread.join(timeout_s)
        log.info("recording finished: %s, %d frames written, %d dropped", self.path, self.frames_written,
                 self.frames_dropped)

    def _run(self) -> None:
        writer = self._writer
        try:
            while True:
                item = self._queue.get()
                if item is _DONE:
                    break
                writer.send(item)
                self.frames_written += 1
        except Exception as exc:  # disk full, ffmpeg died: stop recording, never the show
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("recording to %s stopped after %d frames: %s", self.path, self.frames_written, self.error)
            self._drain()
        finally:
            try:
                writer.close()
            except Exception as exc:
                if not self.error:
                    self.error = f"{type(exc).__name__}: {exc}"
                    log.error("finishing %s failed: %s", self.path, self.error)

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
