"""Video out: the show's picture for other apps, as an NDI source or a virtual camera.

`send()` never blocks the show: the newest frame goes into a latest-value slot and the "video-out"
thread resizes, converts and sends it, at most `fps` times a second. A frame replaced before the
thread took it is counted in `frames_skipped`, never queued. An unusable backend is one warning at
start; a send error stops video out with one logged error. Either way the show goes on.

Both backends are optional extras (requirements-extras.txt): ndi-python (NDI SDK runtime bundled)
and pyvirtualcam (v4l2loopback on Linux, OBS's virtual camera on Windows and macOS).
See docs/video-out.md.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from installation.slot import LatestSlot

log = logging.getLogger(__name__)

BACKENDS = ("ndi", "virtualcam")  # "auto" picks the first usable one, in this order
_MODPROBE_HINT = "sudo modprobe v4l2loopback exclusive_caps=1 card_label=Reverie"
_RECEIVERS_EVERY_S = 1.0  # how often the NDI receiver count for the HUD is refreshed


# ---------------------------------------------------------------- what is usable here
def available_backends() -> dict[str, str]:
    """For each backend, "" when usable here, else one line saying why not and what to do.

    Cheap: imports the (already installed) modules and looks for devices; opens nothing."""
    return {"ndi": _ndi_reason(), "virtualcam": _virtualcam_reason()}


def _ndi_reason() -> str:
    try:
        import NDIlib as ndi
    except ModuleNotFoundError:
        return "the NDI module is missing: pip install ndi-python"
    except Exception as exc:  # the package is there but its native NDI runtime is not loadable
        return f"the NDI runtime cannot be loaded ({type(exc).__name__}: {exc}); reinstall ndi-python"
    try:
        if not ndi.is_supported_CPU():
            return "NDI does not support this CPU (it needs SSE4.2)"
    except Exception as exc:
        return f"NDI cannot check this CPU ({type(exc).__name__}: {exc})"
    return ""


def _virtualcam_reason() -> str:
    try:
        import pyvirtualcam  # noqa: F401
    except ModuleNotFoundError:
        return "the virtual camera module is missing: pip install pyvirtualcam"
    except Exception as exc:
        return f"pyvirtualcam cannot be loaded ({type(exc).__name__}: {exc})"
    if sys.platform.startswith("linux") and not _v4l2loopback_devices():
        return f"no v4l2loopback device (/dev/video*) for a virtual camera: {_MODPROBE_HINT}"
    return ""  # Windows/macOS: OBS's virtual camera; whether it is installed shows at start()


def _v4l2loopback_devices() -> list[str]:
    # v4l2loopback's devices are the virtual ones among the video4linux devices.
    return sorted(f"/dev/{p.name}" for p in Path("/sys/devices/virtual/video4linux").glob("video*"))


# ---------------------------------------------------------------- backends
class _Sink(Protocol):
    label: str  # for the log and the HUD, e.g. "NDI 'host (Reverie)'"

    def send(self, frame_rgb: np.ndarray) -> None:
        """One frame, (H, W, 3) uint8 RGB of the output size; may block (this is the video-out thread)."""

    def receivers(self) -> int | None:
        """How many apps are watching, where the backend knows (None: unknown)."""

    def close(self) -> None: ...


_ndi_lock = threading.Lock()
_ndi_users = 0  # NDIlib initialize/destroy are process-wide: destroy only when the last user is done


def _ndi_acquire() -> Any:
    global _ndi_users
    import NDIlib as ndi

    with _ndi_lock:
        if _ndi_users == 0 and not ndi.initialize():
            raise RuntimeError("NDIlib.initialize() failed (unsupported CPU?)")
        _ndi_users += 1
    return ndi


def _ndi_release() -> None:
    global _ndi_users
    import NDIlib as ndi

    with _ndi_lock:
        _ndi_users -= 1
        if _ndi_users == 0:
            ndi.destroy()


class _NdiSink:
    """An NDI source on the network. Receivers find it by mDNS, or by this machine's address in their
    extra IPs (the NDI SDK has no sender-side setting for that)."""

    def __init__(self, name: str, size: tuple[int, int], fps: int) -> None:
        ndi = self._ndi = _ndi_acquire()
        try:
            create = ndi.SendCreate()
            create.ndi_name = name
            create.clock_video = False  # the video-out thread paces the frames; the sender never sleeps
            self._send = ndi.send_create(create)
            if self._send is None:
                raise RuntimeError(f"NDIlib.send_create failed for the source name {name!r}")
        except BaseException:
            _ndi_release()
            raise
        self._frame = ndi.VideoFrameV2()
        self._frame.FourCC = ndi.FOURCC_VIDEO_TYPE_BGRX
        self._frame.frame_rate_N, self._frame.frame_rate_D = fps, 1
        self._bgrx = np.empty((size[1], size[0], 4), np.uint8)  # reused: NDI copies it on the synchronous send
        self.source_name = ndi.send_get_source_name(self._send).ndi_name  # "HOST (name)", as receivers list it
        self.label = f"NDI {self.source_name!r}"

    def send(self, frame_rgb: np.ndarray) -> None:
        cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGRA, dst=self._bgrx)  # alpha 255: BGRX
        self._frame.data = self._bgrx
        self._ndi.send_send_video_v2(self._send, self._frame)

    def receivers(self) -> int | None:
        return int(self._ndi.send_get_no_connections(self._send, 0))

    def close(self) -> None:
        self._ndi.send_destroy(self._send)
        _ndi_release()


class _VirtualCamSink:
    """A webcam other apps can open: v4l2loopback on Linux, OBS's virtual camera on Windows/macOS."""

    def __init__(self, size: tuple[int, int], fps: int) -> None:
        import pyvirtualcam

        self._cam = pyvirtualcam.Camera(width=size[0], height=size[1], fps=fps, fmt=pyvirtualcam.PixelFormat.RGB)
        self.label = f"virtual camera {self._cam.device}"

    def send(self, frame_rgb: np.ndarray) -> None:
        self._cam.send(frame_rgb)

    def receivers(self) -> int | None:
        return None

    def close(self) -> None:
        self._cam.close()


def find_ndi_sources(extra_ips: str = "127.0.0.1", wait_ms: int = 1000) -> list[str]:
    """NDI sources visible from here (mDNS, plus the machines in extra_ips), e.g. ['HOST (Reverie)'].

    For checking a setup: where mDNS does not work, extra_ips is how receivers find a source."""
    ndi = _ndi_acquire()
    try:
        create = ndi.FindCreate()
        create.show_local_sources = True
        create.extra_ips = extra_ips
        finder = ndi.find_create_v2(create)
        try:
            ndi.find_wait_for_sources(finder, wait_ms)
            return [s.ndi_name for s in ndi.find_get_current_sources(finder)]
        finally:
            ndi.find_destroy(finder)
    finally:
        _ndi_release()


# ---------------------------------------------------------------- the show's side
class VideoOut:
    """Sends the show's frames to one backend on a "video-out" thread; see the module docstring."""

    def __init__(self, backend: str, name: str, size: tuple[int, int], fps: int) -> None:
        if backend not in (*BACKENDS, "auto"):
            raise ValueError(f"video out backend must be one of {', '.join((*BACKENDS, 'auto'))}, got {backend!r}")
        if size[0] <= 0 or size[1] <= 0 or fps <= 0:
            raise ValueError(f"video out needs a size and frame rate, got {size} @ {fps} (resolve 0 first)")
        self.requested = backend
        self.backend = "" if backend == "auto" else backend  # the resolved one, once start() picked it
        self.name = name
        self.size = (int(size[0]), int(size[1]))
        self.fps = int(fps)
        self.frames_sent = 0
        self.frames_skipped = 0  # frames replaced by a newer one before the video-out thread took them
        self.receivers: int | None = None
        self.reason = ""  # why start() found no usable backend (a later send error is in `error`)
        self.error = ""
        self._slot: LatestSlot[np.ndarray | None] = LatestSlot()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sink: _Sink | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self.error

    def start(self) -> bool:
        """Open the backend and start the video-out thread; False (with one warning) when it cannot.

        "auto" tries the usable backends in order (ndi, virtualcam) until one opens."""
        reasons = self._reasons()
        auto = self.requested == "auto"
        failures = {b: r for b, r in reasons.items() if r} if auto else {}
        for backend in [b for b in BACKENDS if not reasons[b]] if auto else [self.requested]:
            self.backend = backend
            if reasons[backend]:
                failures[backend] = reasons[backend]
                continue
            try:
                self._sink = self._open_sink()
            except Exception as exc:
                hint = f" ({_MODPROBE_HINT}?)" if backend == "virtualcam" and sys.platform.startswith("linux") else ""
                failures[backend] = f"{type(exc).__name__}: {exc}{hint}"
                continue
            self._thread = threading.Thread(target=self._run, name="video-out", daemon=True)
            self._thread.start()
            log.info("video out: %s, %dx%d @ %d fps", self._sink.label, self.size[0], self.size[1], self.fps)
            return True
        self.reason = "; ".join(f"{b}: {r}" for b, r in failures.items()) if auto else failures[self.backend]
        log.warning(
            "video out %s is not available: %s; the show goes on without video out", self.requested, self.reason
        )
        return False

    def _reasons(self) -> dict[str, str]:
        """available_backends() (tests substitute their own, with _open_sink)."""
        return available_backends()

    def _open_sink(self) -> _Sink:
        """The backend's sender."""
        if self.backend == "ndi":
            return _NdiSink(self.name, self.size, self.fps)
        return _VirtualCamSink(self.size, self.fps)

    def send(self, frame_rgb: np.ndarray) -> None:
        """Offer the newest frame, (H, W, 3) uint8 RGB; returns at once. Do not change the array afterwards
        (hand over a fresh one): the video-out thread reads it later. A no-op when video out is not running."""
        if self.running:
            self._slot.put(frame_rgb)

    def status(self) -> str:
        """One line for the HUD."""
        if self.error:
            return f"video out stopped: {self.error}"
        if not self.running or self._sink is None:
            return f"video out off: {self.reason}" if self.reason else "video out off"
        watching = "" if self.receivers is None else f", {self.receivers} receiver{'s' * (self.receivers != 1)}"
        return (
            f"video out {self._sink.label} {self.size[0]}x{self.size[1]}@{self.fps}{watching}, "
            f"{self.frames_sent} sent, {self.frames_skipped} skipped"
        )

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._slot.put(None)  # wakes the sender at once (LatestSlot.wake() does not end a wait_newer)
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("video out: the sender did not stop within %.0f s (left to exit with the show)", timeout_s)

    # ------------------------------------------------------------ the video-out thread
    def _run(self) -> None:
        sink = self._sink
        assert sink is not None
        period_s = 1.0 / self.fps
        seen = 0
        next_receivers_s = 0.0
        try:
            while not self._stop.is_set():
                now_s = time.monotonic()
                if now_s >= next_receivers_s:
                    self.receivers = sink.receivers()
                    next_receivers_s = now_s + _RECEIVERS_EVERY_S
                frame, version = self._slot.wait_newer(seen, timeout_s=0.25)
                if version == seen:
                    continue  # nothing new: look at the receivers and the stop flag again
                self.frames_skipped += version - seen - 1
                seen = version
                if frame is None:
                    continue  # close() woke us
                t0_s = time.monotonic()
                sink.send(self._fit(frame))
                self.frames_sent += 1
                self._stop.wait(period_s - (time.monotonic() - t0_s))  # at most fps frames a second
        except Exception as exc:  # a broken device, a dead NDI runtime: stop video out, never the show
            self.error = f"{type(exc).__name__}: {exc}"
            log.error(
                "video out %s stopped after %d frames: %s; the show goes on without video out",
                sink.label,
                self.frames_sent,
                self.error,
            )
        finally:
            try:
                sink.close()
            except Exception as exc:
                log.warning("video out: closing %s failed: %s", sink.label, exc)

    def _fit(self, frame_rgb: np.ndarray) -> np.ndarray:
        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
            raise ValueError(f"video out takes (H, W, 3) uint8 RGB frames, got {frame_rgb.shape} {frame_rgb.dtype}")
        h, w = frame_rgb.shape[:2]
        if (w, h) != self.size:
            shrink = w > self.size[0] or h > self.size[1]
            frame_rgb = cv2.resize(frame_rgb, self.size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return np.ascontiguousarray(frame_rgb)
