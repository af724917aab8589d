"""The camera input: a capture thread that always has a picture to offer.

A real device, video file or stream feeds a LatestSlot of small RGB frames. When the real thing is
missing or drops out, synthetic drifting shapes stand in while the thread keeps retrying, so a
camera plugged in after start is picked up without a restart.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

import cv2
import numpy as np

from installation.slot import LatestSlot
from installation.sources.base import Backoff, SourceStatus, VideoFrame
from installation.sources.synthetic import drifting_shapes_rgb

log = logging.getLogger(__name__)

FALLBACK_FPS = 20.0  # synthetic frames: smooth enough for the motion feature, cheap on 2 cores
DEFAULT_FILE_FPS = 30.0  # when a file does not say its own rate
STREAM_TIMEOUT_MS = 5000  # open/read timeout for URLs, so a dead stream cannot hang the thread
JOIN_TIMEOUT_S = 2.0


class CameraSource:
    """spec: "auto" | "0"/"1"... (device index) | video file path | rtsp/http URL | "none"."""

    def __init__(
        self,
        spec: str,
        size: tuple[int, int] = (160, 120),
        retry_s: float = 2.0,
        max_retry_s: float = 30.0,
    ) -> None:
        self.spec = spec.strip()
        self.size = size  # (width, height) of delivered frames
        self._backoff = Backoff(retry_s, max_retry_s)
        self._frames: LatestSlot[VideoFrame] = LatestSlot()
        self._status: LatestSlot[SourceStatus] = LatestSlot()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._index = 0  # frames published so far; only the capture thread writes it
        self._in_outage = False  # one warning per outage, not per retry

        self._device: int | None = None
        self._path: str | None = None
        self._url: str | None = None
        spec_lower = self.spec.lower()
        if spec_lower == "none":
            self._label = "no camera"
            self._status.put(SourceStatus("camera", "off", "camera off (spec 'none')"))
            return
        if spec_lower == "auto":
            self._device = 0
        elif self.spec.isdigit():
            self._device = int(self.spec)
        elif "://" in self.spec:
            self._url = self.spec
        else:
            self._path = self.spec
        self._label = self._describe_target()
        self._status.put(SourceStatus("camera", "off", f"{self._label}: not started yet"))

    # --- public API -------------------------------------------------------------------------

    def start(self) -> None:
        if self.spec.lower() == "none" or self._thread is not None:
            return
        cv2.setNumThreads(1)  # 2-core machine: OpenCV's pool fights torch and the other threads
        # FFmpeg would print "connection refused" etc. on every retry; we report failures ourselves.
        # Read by OpenCV when it first uses FFmpeg; 8 = AV_LOG_FATAL. Set it yourself to debug.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")
        self._thread = threading.Thread(target=self._run, name="camera-capture", daemon=True)
        self._thread.start()

    def latest(self) -> VideoFrame | None:
        """The newest frame, never blocks; None before the first frame or when off."""
        return self._frames.get()[0]

    def wait_newer(self, seen_index: int, timeout_s: float) -> VideoFrame | None:
        """Block up to timeout_s for a frame with index above seen_index (None on timeout)."""
        frame, _ = self._frames.wait_newer(seen_index, timeout_s)
        return frame

    def status(self) -> SourceStatus:
        status, _ = self._status.get()
        assert status is not None  # put in __init__
        return status

    def close(self) -> None:
        """Stop the thread (which releases the VideoCapture) and join it."""
        self._stop.set()
        self._frames.wake()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("camera: capture thread did not stop within %.0f s", JOIN_TIMEOUT_S)
            self._thread = None

    # --- capture thread ---------------------------------------------------------------------

    def _run(self) -> None:
        cap: cv2.VideoCapture | None = None
        period_s = 1.0 / FALLBACK_FPS
        next_try_s = 0.0
        next_frame_s = time.perf_counter()
        try:
            while not self._stop.is_set():
                now_s = time.perf_counter()
                if cap is None and now_s >= next_try_s:
                    cap, period_s, error = self._open()
                    if cap is None:
                        self._fall_back(error)
                        next_try_s = now_s + self._backoff.next_delay_s()
                        period_s = 1.0 / FALLBACK_FPS
                    next_frame_s = time.perf_counter()

                if cap is not None:
                    frame_bgr = self._read(cap)
                    if frame_bgr is None:
                        cap.release()
                        cap = None
                        self._fall_back(f"{self._label} stopped delivering frames")
                        next_try_s = time.perf_counter() + self._backoff.next_delay_s()
                        period_s = 1.0 / FALLBACK_FPS
                        continue
                    self._publish_bgr(frame_bgr)
                    if self._device is not None or self._url is not None:
                        continue  # read() blocks at the device's own rate
                else:
                    self._publish(drifting_shapes_rgb(now_s, self.size))
                next_frame_s = self._pace(next_frame_s, period_s)
        except Exception:  # a crash here would freeze the picture silently; say why instead
            log.exception("camera: capture thread crashed")
            self._status.put(SourceStatus("camera", "off", f"{self._label}: crashed", "see log"))
        finally:
            if cap is not None:
                cap.release()

    def _pace(self, next_frame_s: float, period_s: float) -> float:
        """Sleep to a monotonic deadline (no drift); when far behind, start counting from now."""
        next_frame_s += period_s
        delay_s = next_frame_s - time.perf_counter()
        if delay_s > 0:
            self._stop.wait(delay_s)
        elif delay_s < -period_s:
            next_frame_s = time.perf_counter()
        return next_frame_s

    def _open(self) -> tuple[cv2.VideoCapture | None, float, str]:
        """(capture, frame period for files, error text). Logs INFO on success."""
        if self._path is not None and not os.path.isfile(self._path):
            return None, 0.0, f"no such video file: {self._path}"
        if self._device is not None and sys.platform.startswith("linux"):
            if not os.path.exists(f"/dev/video{self._device}"):
                return None, 0.0, f"no camera at index {self._device} (no /dev/video{self._device})"

        previous_level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # we report failures
        try:
            if self._device is not None:
                cap = cv2.VideoCapture(self._device)
            elif self._url is not None:
                params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
                params += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
                cap = cv2.VideoCapture(self._url, cv2.CAP_FFMPEG, params)
            elif self._path is not None:
                cap = cv2.VideoCapture(self._path)
            else:  # spec "none": the capture thread is never started
                return None, 0.0, "camera off"
        finally:
            cv2.utils.logging.setLogLevel(previous_level)
        if not cap.isOpened():
            cap.release()
            return None, 0.0, f"cannot open {self._label}"

        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not (0.0 < fps <= 240.0):  # NaN, 0 or nonsense from some containers
            fps = DEFAULT_FILE_FPS
        detail = f"{self._label} {width}x{height} @{fps:.0f}fps"
        if self._path is not None:
            detail += " (looping)"
        if self._in_outage:
            log.info("%s is back: %dx%d", self._label, width, height)
        else:
            log.info("camera: %s", detail)
        self._in_outage = False
        self._backoff.reset()
        self._status.put(SourceStatus("camera", "live", detail))
        return cap, 1.0 / fps, ""

    def _read(self, cap: cv2.VideoCapture) -> np.ndarray | None:
        """The next BGR frame; a file rewinds at its end. None when the source stopped delivering."""
        ok, frame_bgr = cap.read()
        if ok:
            return frame_bgr
        if self._path is None:
            return None
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, frame_bgr = cap.read()
        return frame_bgr if ok else None

    def _fall_back(self, error: str) -> None:
        detail = f"{error} -> synthetic drifting shapes; {self._backoff.describe()}"
        if not self._in_outage:
            log.warning("camera: %s", detail)
            self._in_outage = True
        else:
            log.debug("camera: retry failed: %s", error)
        self._status.put(SourceStatus("camera", "fallback", detail, error))

    def _publish_bgr(self, frame_bgr: np.ndarray) -> None:
        height, width = frame_bgr.shape[:2]
        if (width, height) != self.size:  # shrink first: converting the small image is cheaper
            frame_bgr = cv2.resize(frame_bgr, self.size, interpolation=cv2.INTER_AREA)
        code = cv2.COLOR_GRAY2RGB if frame_bgr.ndim == 2 else cv2.COLOR_BGR2RGB
        self._publish(cv2.cvtColor(frame_bgr, code))

    def _publish(self, frame_rgb: np.ndarray) -> None:
        self._index += 1
        self._frames.put(VideoFrame(frame_rgb, time.perf_counter(), self._index))

    def _describe_target(self) -> str:
        if self._device is not None:
            return f"camera {self._device}"
        if self._url is not None:
            return f"stream {self._url}"
        return f"video file {os.path.basename(self._path or '')}"
