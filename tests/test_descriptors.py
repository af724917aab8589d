"""Children get no inherited descriptors (issue #15): ffmpeg, started while the show runs, holds only
its stdin, stdout and stderr, not the pipes and devices C libraries opened without close-on-exec."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import psutil

from installation.descriptors import close_on_exec_all, open_descriptors
from installation.render.recorder import Recorder
from tests.runner import wait_for


def _targets(pid: int) -> dict[int, str]:
    """fd -> what it points at ("pipe:[1234]", a path, ...) for a process."""
    folder = Path(f"/proc/{pid}/fd")
    out = {}
    for entry in folder.iterdir():
        try:
            out[int(entry.name)] = os.readlink(entry)
        except OSError:
            continue
    return out


def test_ffmpeg_for_a_recording_inherits_no_c_library_descriptors(tmp_path: Path) -> None:
    # What a C library does: a pipe (or socket, device) without O_CLOEXEC, e.g. ALSA, libjack, or the
    # supervisor's heartbeat pipe, which the show receives inheritable.
    leak_r, leak_w = os.pipe()
    os.set_inheritable(leak_r, True)
    os.set_inheritable(leak_w, True)
    leaked = {_targets(os.getpid())[leak_r]}
    recorder = Recorder(tmp_path / "out.mp4", (64, 48), 10)
    try:
        recorder.start()
        children = []
        assert wait_for(
            lambda: bool(children.extend(c for c in psutil.Process().children() if "ffmpeg" in c.name()) or children),
            10.0,
        ), "ffmpeg did not start"
        targets = _targets(children[0].pid)
        recorder.add(np.zeros((48, 64, 3), np.uint8).tobytes(), 0.0)
    finally:
        recorder.close()
        os.close(leak_r)
        os.close(leak_w)
    assert targets, "could not read ffmpeg's descriptors"  # the check ran
    assert set(targets) == {0, 1, 2}, targets  # stdin (frames), stdout (/dev/null), stderr (memfd)
    assert not leaked & set(targets.values())
    assert recorder.frames_written == 1 and not recorder.error


def test_close_on_exec_all_marks_inheritable_descriptors_only() -> None:
    fd = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(fd, True)
    try:
        assert fd in open_descriptors()
        assert close_on_exec_all() >= 1
        assert not os.get_inheritable(fd)
        assert close_on_exec_all() == 0  # nothing left to mark
    finally:
        os.close(fd)
