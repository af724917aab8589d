"""Recorder: start and stop while other threads compute, drop instead of block, finish off the main thread.

Issue #7: the performer toggles recording (R) while the show runs. Starting ffmpeg with fork() while
OpenBLAS/torch threads work can deadlock in their fork handlers; the recorder must never fork.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

import imageio_ffmpeg
import numpy as np
import pytest

from installation.render.recorder import Recorder, new_recording_path

W, H, FPS = 128, 96, 25


def pattern(i: int) -> np.ndarray:
    """A bright bar moving right 4 px per frame on a dark-blue ground: frames differ and are never black."""
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 2] = 60
    x = (4 * i) % (W - 16)
    img[:, x : x + 16] = (250, 220, 40)
    return img


def bar_x(frame: np.ndarray) -> int:
    """Where the bright bar starts in a decoded frame."""
    return int(np.argmax(frame[..., 0].mean(axis=0) > 128))


def decode(path: Path) -> tuple[tuple[int, int], list[np.ndarray]]:
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    frames = [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]
    return (w, h), frames


def slot_time_s(i: int) -> float:
    """Frame i's presentation time: a quarter slot late, so float rounding never moves it to another slot."""
    return (i + 0.25) / FPS if i else 0.0


class BlasLoad:
    """Threads running SVDs (NumPy's OpenBLAS and torch) as the generator and feature threads would."""

    def __init__(self) -> None:
        import torch  # noqa: F401 - loaded before the threads start, as in the show

        self.stop = threading.Event()
        self.rounds = {"numpy": 0, "torch": 0}
        self.threads = [
            threading.Thread(target=self._numpy, name="blas-numpy", daemon=True),
            threading.Thread(target=self._torch, name="blas-torch", daemon=True),
        ]

    def _numpy(self) -> None:
        a = np.random.default_rng(0).standard_normal((512, 512))
        while not self.stop.is_set():
            np.linalg.svd(a)
            self.rounds["numpy"] += 1

    def _torch(self) -> None:
        import torch

        a = torch.randn(512, 512)
        while not self.stop.is_set():
            torch.linalg.svd(a)
            self.rounds["torch"] += 1

    def __enter__(self) -> Self:
        for t in self.threads:
            t.start()
        deadline = time.monotonic() + 30
        while min(self.rounds.values()) < 1 and time.monotonic() < deadline:  # both libraries' pools are busy
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()


TAKES, TAKE_FRAMES, TAKE_LIMIT_S = 5, 40, 20.0
BLAS_PROGRESS_S = 30.0  # one 512x512 SVD takes ~2 s on 2 busy cores


def record_under_load(out_dir: str, recorder_cls: type[Recorder] = Recorder) -> None:
    """Child process: 5 recordings started and stopped on the main thread while BLAS threads work.

    One JSON line per take on stdout. A take that hangs ends the process (exit 1) after
    TAKE_LIMIT_S with every thread's traceback on stderr: a fork deadlock holds the GIL, so no
    Python-level watchdog in the same process could report it.
    """
    with BlasLoad() as load:
        for n in range(TAKES):
            print(json.dumps({"starting": n}), flush=True)
            faulthandler.dump_traceback_later(TAKE_LIMIT_S, exit=True)
            t0 = time.perf_counter()
            rec = recorder_cls(Path(out_dir) / f"take-{n}.mp4", (W, H), FPS, max_queue=64)
            rec.start()
            for i in range(TAKE_FRAMES):
                rec.add(pattern(i).tobytes(), slot_time_s(i))
                if i % 16 == 15:
                    time.sleep(0.02)  # let the encoder keep up, as the display's pace would
            rec.close(timeout_s=TAKE_LIMIT_S)
            faulthandler.cancel_dump_traceback_later()
            print(
                json.dumps(
                    {
                        "take": n,
                        "seconds": time.perf_counter() - t0,
                        "written": rec.frames_written,
                        "dropped": rec.frames_dropped,
                        "error": rec.error,
                        "active": rec.active,
                        "blas_rounds": dict(load.rounds),
                    }
                ),
                flush=True,
            )
        # A fork can also leave a BLAS thread stuck rather than the forking one: both must still progress.
        before, t0 = dict(load.rounds), time.perf_counter()
        while any(load.rounds[k] <= before[k] for k in before) and time.perf_counter() - t0 < BLAS_PROGRESS_S:
            time.sleep(0.05)
        print(
            json.dumps({"blas_before": before, "blas_after": dict(load.rounds), "seconds": time.perf_counter() - t0}),
            flush=True,
        )
    os._exit(0)  # torch's threads are still inside an SVD; they need no orderly exit


def test_start_and_stop_five_recordings_while_blas_threads_work(tmp_path):
    pytest.importorskip("torch")
    root = Path(__file__).resolve().parent.parent
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                ("import sys; from tests.test_recorder import record_under_load; record_under_load(sys.argv[1])"),
                str(tmp_path),
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=TAKES * TAKE_LIMIT_S + 60,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the recording child process hung beyond its own watchdog: {exc.stdout!r} {exc.stderr!r}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    takes = [line for line in lines if "take" in line]
    if proc.returncode != 0 or len(takes) != TAKES:
        started = max((line["starting"] for line in lines if "starting" in line), default=-1)
        pytest.fail(
            f"recording {started + 1} of {TAKES} did not finish within {TAKE_LIMIT_S:.0f} s while BLAS "
            f"threads worked (a fork deadlock?); exit code {proc.returncode}; tracebacks:\n"
            f"{proc.stderr[-4000:]}"
        )
    for take in takes:
        logging.getLogger(__name__).info("take %(take)d: %(seconds).2f s, BLAS rounds so far %(blas_rounds)s", take)
        assert take["seconds"] < 10.0, take
        assert not take["error"] and not take["active"], take
        assert take["written"] + take["dropped"] == TAKE_FRAMES and take["written"] >= TAKE_FRAMES - 4, take
        size, decoded = decode(tmp_path / f"take-{take['take']}.mp4")
        assert size == (W, H)
        assert abs(len(decoded) - take["written"]) <= 1
        assert min(f.mean() for f in decoded) > 20, "a black frame was recorded"
        # the moving bar is where it was drawn (H.264 blurs edges: compare positions loosely)
        xs = [bar_x(f) for f in decoded[:8]]
        assert xs == sorted(xs) and abs(xs[0] - 0) <= 2 and abs(xs[5] - 20) <= 2, xs
    assert min(takes[-1]["blas_rounds"].values()) > 0  # the load really ran alongside
    progress = next(line for line in lines if "blas_after" in line)
    stuck = [k for k in progress["blas_before"] if progress["blas_after"][k] <= progress["blas_before"][k]]
    assert not stuck, (
        f"{stuck} thread(s) made no progress for {progress['seconds']:.0f} s after the recordings: "
        f"stuck in a fork handler? {progress}"
    )


def test_ffmpeg_is_started_without_fork(tmp_path):
    """Python's fork hooks run for os.fork and for subprocess with a preexec_fn (imageio's setpgrp)."""
    forks: list[str] = []
    os.register_at_fork(before=lambda: forks.append(threading.current_thread().name))
    rec = Recorder(tmp_path / "nofork.mp4", (W, H), FPS)
    rec.start()
    rec.add(pattern(0).tobytes(), slot_time_s(0))
    rec.close(timeout_s=20)
    assert not rec.error
    assert forks == [], "the recorder forked"


def test_slow_encoder_drops_frames_and_add_never_blocks(tmp_path, caplog):
    rec = Recorder(tmp_path / "slow.mp4", (640, 480), 30, max_queue=1, crf=0)
    rec.start()
    frame = np.random.default_rng(1).integers(0, 256, (480, 640, 3), np.uint8).tobytes()  # hard to encode
    durations_s = []
    for i in range(300):
        t = time.perf_counter()
        rec.add(frame, (i + 0.25) / 30 if i else 0.0)  # a new frame slot per call: 10 s of video in a tight loop
        durations_s.append(time.perf_counter() - t)
    assert rec.frames_dropped > 0, "the encoder kept up with a tight loop: no drops to see"
    mean_ms = 1e3 * sum(durations_s) / len(durations_s)
    assert mean_ms < 5.0, f"add() waited on the encoder: {mean_ms:.2f} ms per call on average"
    assert max(durations_s) < 0.5
    rec.close(timeout_s=30)
    assert not rec.error
    assert rec.frames_written + rec.frames_dropped == 300  # every slot is written or counted as dropped
    warnings = [r for r in caplog.records if "recorder is behind" in r.getMessage()]
    assert 1 <= len(warnings) <= 3, "drop warnings must be rate-limited"
    assert "the show is not slowed" in warnings[0].getMessage()
    _, decoded = decode(rec.path)
    assert abs(len(decoded) - rec.frames_written) <= 1


def test_close_async_returns_at_once_and_the_file_is_complete(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    rec = Recorder(tmp_path / "async.mp4", (W, H), FPS, max_queue=64)
    rec.start()
    for i in range(50):
        rec.add(pattern(i).tobytes(), slot_time_s(i))
    t = time.perf_counter()
    rec.close_async()
    assert time.perf_counter() - t < 0.005, "close_async waited for the encoder"
    assert not rec.active
    rec.add(pattern(99).tobytes(), slot_time_s(60))  # after close: ignored, never queued
    deadline = time.monotonic() + 20
    while rec.finishing and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not rec.finishing, "the writer thread did not finish the file"
    assert not rec.error and rec.frames_written == 50 and rec.frames_dropped == 0
    _, decoded = decode(rec.path)
    assert len(decoded) == 50
    assert any("recording finished" in r.getMessage() for r in caplog.records)
    rec.close()  # closing again (at shutdown) is harmless


def test_close_async_with_a_full_queue_still_flushes_everything(tmp_path):
    rec = Recorder(tmp_path / "full.mp4", (W, H), FPS, max_queue=4)
    rec.start()
    for i in range(4):
        rec.add(pattern(i).tobytes(), slot_time_s(i))
    rec.close_async()  # the queue may be full: no room for the end marker
    rec.close(timeout_s=20)
    assert not rec.error and rec.frames_written + rec.frames_dropped == 4
    assert len(decode(rec.path)[1]) == rec.frames_written


def test_ffmpeg_failing_stops_the_recording_with_one_error(tmp_path, caplog):
    rec = Recorder(tmp_path / "dies.mp4", (W, H), FPS, max_queue=64)
    rec.start()
    assert rec._ffmpeg is not None
    rec._ffmpeg.kill()  # as if ffmpeg crashed
    for i in range(200):
        rec.add(pattern(i).tobytes(), slot_time_s(i))
        time.sleep(0.002)
    rec.close(timeout_s=20)
    assert rec.error and not rec.active
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "stopped after" in errors[0].getMessage(), [r.getMessage() for r in errors]


def test_new_recording_paths_never_overwrite(tmp_path):
    import datetime as dt

    now = dt.datetime(2026, 11, 29, 10, 15, 0)
    a = new_recording_path(tmp_path / "recordings", now)
    b = new_recording_path(tmp_path / "recordings", now)
    assert a.name == "reverie-20261129-101500.mp4" and b.name == "reverie-20261129-101500-2.mp4"
    rec = Recorder.timestamped(tmp_path / "recordings", (W + 1, H), FPS)
    assert rec.path.parent == tmp_path / "recordings" and rec.path not in (a, b) and rec.size == (W, H)


def test_no_ffmpeg_is_an_oserror_and_leaves_no_empty_file(tmp_path, monkeypatch):
    monkeypatch.setattr("installation.render.recorder._ffmpeg_exe", lambda: str(tmp_path / "no-ffmpeg-here"))
    rec = Recorder.timestamped(tmp_path / "recordings", (W, H), FPS)
    with pytest.raises(OSError, match="cannot start ffmpeg"):
        rec.start()
    assert not rec.path.exists() and not rec.active
    rec.add(pattern(0).tobytes(), 0.0)  # harmless
    rec.close()
