"""Video out: a real NDI loopback, an unavailable virtual camera, and a send() that never blocks the show."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from installation.render import video_out
from installation.render.video_out import VideoOut, available_backends
from tests.system import require_module


def two_halves(left: tuple[int, int, int], right: tuple[int, int, int], size: tuple[int, int]) -> np.ndarray:
    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    img[:, : w // 2] = left
    img[:, w // 2 :] = right
    return img


RED, BLUE = (230, 20, 20), (20, 20, 230)


# ---------------------------------------------------------------- a real NDI loopback
@contextmanager
def ndi_receiver(source_part: str, timeout_s: float = 5.0) -> Iterator[tuple[Any, Any]]:
    """Find the NDI source whose name contains source_part (extra IPs 127.0.0.1: no mDNS here) and connect."""
    ndi = require_module("NDIlib", "ndi-python is not installed (requirements-extras.txt)")
    assert ndi.initialize()
    create = ndi.FindCreate()
    create.extra_ips = "127.0.0.1"
    create.show_local_sources = True
    finder = ndi.find_create_v2(create)
    receiver = None
    try:
        deadline = time.monotonic() + timeout_s
        source = None
        while source is None and time.monotonic() < deadline:
            ndi.find_wait_for_sources(finder, 100)
            source = next((s for s in ndi.find_get_current_sources(finder) if source_part in s.ndi_name), None)
        assert source is not None, f"no NDI source named *{source_part}* found within {timeout_s} s"
        rc = ndi.RecvCreateV3()
        rc.color_format = ndi.RECV_COLOR_FORMAT_BGRX_BGRA
        receiver = ndi.recv_create_v3(rc)
        ndi.recv_connect(receiver, source)
        yield ndi, receiver
    finally:
        if receiver is not None:
            ndi.recv_destroy(receiver)
        ndi.find_destroy(finder)


def receive_until(ndi: Any, receiver: Any, out: VideoOut, frame: np.ndarray, ok, timeout_s: float = 5.0) -> np.ndarray:
    """Keep offering `frame` (as the show would, every display frame) until a received BGRX picture passes ok()."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        out.send(frame.copy())
        kind, video, _, _ = ndi.recv_capture_v2(receiver, 30)
        if kind == ndi.FRAME_TYPE_VIDEO:
            last = np.copy(video.data)
            ndi.recv_free_video_v2(receiver, video)
            if ok(last):
                return last
    pytest.fail(
        f"no matching NDI frame within {timeout_s} s; last received: "
        f"{None if last is None else (last.shape, last[60, 40], last[60, 120])}"
    )


def halves_bgr(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean BGR of the middle of each half (away from the edge H.264-like codecs blur)."""
    h, w = img.shape[:2]
    return img[h // 4 : 3 * h // 4, w // 16 : 7 * w // 16, :3].mean((0, 1)), img[
        h // 4 : 3 * h // 4, 9 * w // 16 : 15 * w // 16, :3
    ].mean((0, 1))


def looks_like(left_rgb: tuple[int, int, int], right_rgb: tuple[int, int, int]):
    def ok(img: np.ndarray) -> bool:
        if img.shape[:2] != (120, 160):
            return False
        left, right = halves_bgr(img)  # NDI compresses: within 40 of what was sent
        return bool(np.abs(left[::-1] - left_rgb).max() < 40 and np.abs(right[::-1] - right_rgb).max() < 40)

    return ok


def test_ndi_loopback_sends_the_picture_and_follows_changes():
    require_module("NDIlib", "ndi-python is not installed (requirements-extras.txt)")
    name = f"reverie-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    out = VideoOut("ndi", name=name, size=(160, 120), fps=30)
    assert out.start(), out.reason
    try:
        assert out.backend == "ndi"
        with ndi_receiver(f"({name})") as (ndi, receiver):
            # the show's frames are bigger than the output: video out resizes them
            first = receive_until(ndi, receiver, out, two_halves(RED, BLUE, (320, 240)), looks_like(RED, BLUE))
            assert first.shape == (120, 160, 4)
            receive_until(ndi, receiver, out, two_halves(BLUE, RED, (320, 240)), looks_like(BLUE, RED))
            deadline = time.monotonic() + 3
            while out.receivers != 1 and time.monotonic() < deadline:
                out.send(two_halves(BLUE, RED, (320, 240)))
                ndi.recv_capture_v2(receiver, 30)
            assert out.receivers == 1
            assert name in out.status() and "1 receiver," in out.status(), out.status()
        assert out.frames_sent >= 2 and out.running
    finally:
        out.close()
    assert not out.running and not out.error


def test_find_ndi_sources_lists_a_running_source():
    require_module("NDIlib", "ndi-python is not installed (requirements-extras.txt)")
    name = f"reverie-find-{uuid.uuid4().hex[:6]}"
    out = VideoOut("ndi", name=name, size=(64, 48), fps=10)
    assert out.start()
    try:
        out.send(np.zeros((48, 64, 3), np.uint8))
        assert any(f"({name})" in s for s in video_out.find_ndi_sources("127.0.0.1", wait_ms=1000))
    finally:
        out.close()


# ---------------------------------------------------------------- virtual camera without a device
def test_virtualcam_without_v4l2loopback_says_why_and_the_show_goes_on(caplog):
    require_module("pyvirtualcam", "pyvirtualcam is not installed (requirements-extras.txt)")
    if not sys.platform.startswith("linux") or video_out._v4l2loopback_devices():
        pytest.skip("this machine has a virtual camera device")
    out = VideoOut("virtualcam", name="Reverie", size=(160, 120), fps=30)
    assert out.start() is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "virtualcam" in warnings[0] and "v4l2loopback" in warnings[0] and "modprobe" in warnings[0]
    assert "the show goes on without video out" in warnings[0]
    out.send(np.zeros((120, 160, 3), np.uint8))  # harmless no-op
    assert out.frames_sent == 0 and not out.running
    assert out.status().startswith("video out off: no v4l2loopback")
    out.close()


# ---------------------------------------------------------------- available_backends
def test_available_backends_gives_reasons_as_one_line_strings():
    reasons = available_backends()
    assert set(reasons) == {"ndi", "virtualcam"}
    for backend, reason in reasons.items():
        assert isinstance(reason, str) and "\n" not in reason, backend
    if sys.platform.startswith("linux") and not video_out._v4l2loopback_devices():
        assert reasons["virtualcam"], "no virtual camera device here, yet virtualcam is reported usable"
    try:
        import NDIlib  # noqa: F401
    except ImportError:
        assert reasons["ndi"], "NDIlib does not import, yet ndi is reported usable"


def test_missing_modules_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "NDIlib", None)  # import NDIlib -> ModuleNotFoundError
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)
    reasons = available_backends()
    assert reasons == {
        "ndi": "the NDI module is missing: pip install ndi-python",
        "virtualcam": "the virtual camera module is missing: pip install pyvirtualcam",
    }


def test_a_broken_native_library_is_a_reason_not_a_crash(monkeypatch, caplog):
    class BrokenNdi:
        def find_spec(self, name: str, *args: object) -> None:
            if name == "NDIlib":
                raise ImportError("libndi.so.6: cannot open shared object file: No such file or directory")

    monkeypatch.delitem(sys.modules, "NDIlib", raising=False)
    monkeypatch.setattr(sys, "meta_path", [BrokenNdi(), *sys.meta_path])
    reason = available_backends()["ndi"]
    assert "cannot be loaded" in reason and "libndi.so.6" in reason
    out = VideoOut("ndi", name="Reverie", size=(64, 48), fps=30)
    assert out.start() is False and "libndi.so.6" in caplog.text


# ---------------------------------------------------------------- send() never blocks
class FakeSink:
    label = "fake"

    def __init__(self, delay_s: float = 0.0, fail_at: int = 0) -> None:
        self.delay_s = delay_s
        self.fail_at = fail_at
        self.frames: list[np.ndarray] = []
        self.closed = threading.Event()

    def send(self, frame_rgb: np.ndarray) -> None:
        if self.fail_at and len(self.frames) + 1 == self.fail_at:
            raise OSError("device unplugged")
        time.sleep(self.delay_s)
        self.frames.append(frame_rgb)

    def receivers(self) -> int | None:
        return None

    def close(self) -> None:
        self.closed.set()


class FakeVideoOut(VideoOut):
    def __init__(
        self,
        sink: FakeSink,
        reasons: dict[str, str] | None = None,
        backend: str = "ndi",
        size: tuple[int, int] = (160, 120),
        fps: int = 30,
    ) -> None:
        super().__init__(backend, "Reverie", size, fps)
        self.sink = sink
        self.fake_reasons = reasons or {"ndi": "", "virtualcam": ""}

    def _reasons(self) -> dict[str, str]:
        return self.fake_reasons

    def _open_sink(self) -> FakeSink:
        return self.sink


def test_send_never_blocks_when_the_sender_is_slow():
    sink = FakeSink(delay_s=0.2)
    out = FakeVideoOut(sink)
    assert out.start()
    frame = np.zeros((120, 160, 3), np.uint8)
    durations_s = []
    for _ in range(100):
        t = time.perf_counter()
        out.send(frame)
        durations_s.append(time.perf_counter() - t)
        time.sleep(0.002)  # a fast display loop
    assert sum(durations_s) < 0.1 and max(durations_s) < 0.02, f"send() blocked: max {max(durations_s) * 1e3:.1f} ms"
    assert out.frames_skipped > 50, out.frames_skipped  # replaced in the slot, not queued
    assert out.frames_sent <= 5
    out.close()
    assert sink.closed.is_set()
    assert out.frames_sent + out.frames_skipped <= 100


def test_frames_are_resized_to_the_output_size_and_paced():
    sink = FakeSink()
    out = FakeVideoOut(sink, size=(160, 120), fps=20)
    assert out.start()
    big = two_halves(RED, BLUE, (320, 240))
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.5:
        out.send(big)
        time.sleep(0.002)
    out.close()
    assert 5 <= len(sink.frames) <= 12, f"{len(sink.frames)} frames in 0.5 s at 20 fps"
    f = sink.frames[0]
    assert f.shape == (120, 160, 3) and f.dtype == np.uint8 and f.flags.c_contiguous
    assert tuple(f[60, 20]) == RED and tuple(f[60, 140]) == BLUE


def test_a_sender_error_stops_video_out_once_and_the_show_goes_on(caplog):
    sink = FakeSink(fail_at=3)
    out = FakeVideoOut(sink)
    assert out.start()
    deadline = time.monotonic() + 5
    while out.running and time.monotonic() < deadline:
        out.send(np.zeros((120, 160, 3), np.uint8))
        time.sleep(0.01)
    assert not out.running and "device unplugged" in out.error
    for _ in range(10):
        out.send(np.zeros((120, 160, 3), np.uint8))  # still harmless
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "the show goes on" in errors[0].getMessage()
    assert sink.closed.wait(2) and out.status().startswith("video out stopped: OSError")
    out.close()


def test_auto_picks_the_first_usable_backend_or_says_why_none(caplog):
    out = FakeVideoOut(FakeSink(), reasons={"ndi": "pip install ndi-python", "virtualcam": ""}, backend="auto")
    assert out.start() and out.backend == "virtualcam"
    out.close()
    none = FakeVideoOut(FakeSink(), reasons={"ndi": "no ndi", "virtualcam": "no v4l2loopback"}, backend="auto")
    assert none.start() is False
    assert "no ndi" in caplog.text and "no v4l2loopback" in caplog.text and "goes on without video out" in caplog.text


def test_auto_falls_back_when_the_first_backend_fails_to_open():
    class FirstFails(FakeVideoOut):
        def _open_sink(self) -> FakeSink:
            if self.backend == "ndi":
                raise RuntimeError("NDIlib.send_create failed")
            return self.sink

    out = FirstFails(FakeSink(), backend="auto")
    assert out.start() and out.backend == "virtualcam"
    out.close()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        VideoOut("spout", "Reverie", (160, 120), 30)
    with pytest.raises(ValueError):
        VideoOut("ndi", "Reverie", (0, 0), 30)
