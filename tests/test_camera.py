"""CameraSource against real OpenCV capture: video files, missing devices, late plug-in."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from installation.sources.base import VideoFrame
from installation.sources.camera import CameraSource
from tests.media import write_test_video
from tests.runner import wait_for

LOGGER = "installation.sources.camera"


def collect_frames(source: CameraSource, seconds: float) -> list[VideoFrame]:
    frames: list[VideoFrame] = []
    seen_index = 0
    deadline_s = time.monotonic() + seconds
    while time.monotonic() < deadline_s:
        frame = source.wait_newer(seen_index, timeout_s=0.1)
        if frame is not None:
            frames.append(frame)
            seen_index = frame.index
    return frames


def square_x(frame: VideoFrame) -> float:
    """Mean column of the bright square (the test video's only bright thing)."""
    bright = frame.frame_rgb.max(axis=2) > 128
    return float(np.nonzero(bright)[1].mean()) if bright.any() else float("nan")


@pytest.fixture
def close_later() -> list[CameraSource]:
    sources: list[CameraSource] = []
    yield sources
    for source in sources:
        source.close()


def test_video_file_delivers_resized_moving_frames_and_loops(tmp_path: Path, close_later: list[CameraSource]) -> None:
    video = write_test_video(tmp_path / "clip.avi", seconds=1.0, fps=20.0, size=(320, 240))
    source = CameraSource(str(video), size=(80, 60))
    close_later.append(source)
    source.start()
    assert wait_for(lambda: source.latest() is not None)

    frames = collect_frames(source, 1.6)
    status = source.status()
    assert status.state == "live", status
    assert "320x240" in status.detail
    assert all(f.frame_rgb.shape == (60, 80, 3) and f.frame_rgb.dtype == np.uint8 for f in frames)
    indices = [f.index for f in frames]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    # Paced at the file's 20 fps: ~32 frames in 1.6 s; more than the file's 20 means it looped.
    assert 22 <= len(frames) <= 45, len(frames)
    xs = [square_x(f) for f in frames]
    assert max(xs) - min(xs) > 30  # the square moves across the frame
    assert any(b < a - 30 for a, b in itertools.pairwise(xs))  # ...and jumps back left at the loop


def test_none_is_off(close_later: list[CameraSource]) -> None:
    source = CameraSource("none")
    close_later.append(source)
    source.start()
    time.sleep(0.1)
    assert source.latest() is None
    assert source.status().state == "off"


def test_missing_device_falls_back_with_one_warning(
    caplog: pytest.LogCaptureFixture, close_later: list[CameraSource]
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    source = CameraSource("63", size=(64, 48), retry_s=0.05, max_retry_s=0.1)
    close_later.append(source)
    source.start()
    first = collect_frames(source, 0.2)
    time.sleep(0.5)  # several retries at 0.05-0.1 s
    later = source.latest()

    status = source.status()
    assert status.state == "fallback" and "63" in status.detail and status.error
    assert first and later is not None
    assert later.frame_rgb.shape == (48, 64, 3)
    assert not np.array_equal(first[0].frame_rgb, later.frame_rgb)  # synthetic shapes drift
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    retries = [r for r in caplog.records if r.name == LOGGER and "retry failed" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert len(retries) >= 3


def test_file_that_appears_later_is_picked_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, close_later: list[CameraSource]
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    path = tmp_path / "later.avi"
    source = CameraSource(str(path), size=(80, 60), retry_s=0.05, max_retry_s=0.2)
    close_later.append(source)
    source.start()
    assert wait_for(lambda: source.latest() is not None)  # synthetic frames meanwhile
    assert source.status().state == "fallback"

    # Write elsewhere, then rename: the source must never see a half-written file.
    write_test_video(tmp_path / "writing.avi", seconds=0.5, fps=20.0, size=(160, 120))
    os.replace(tmp_path / "writing.avi", path)
    assert wait_for(lambda: source.status().state == "live", timeout_s=3.0), source.status()
    assert any("is back" in r.getMessage() for r in caplog.records if r.name == LOGGER)
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1


def test_close_joins_the_capture_thread(tmp_path: Path) -> None:
    video = write_test_video(tmp_path / "clip.avi", seconds=0.5, fps=20.0, size=(160, 120))
    source = CameraSource(str(video))
    source.start()
    assert wait_for(lambda: source.latest() is not None)
    t0_s = time.monotonic()
    source.close()
    assert time.monotonic() - t0_s < 2.0
    assert not any(t.name == "camera-capture" for t in threading.enumerate())
