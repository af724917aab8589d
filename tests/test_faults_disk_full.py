"""Fault: the disk fills up while the show records video and saves its state.

Log: one ERROR "recording to ... stopped after N frames: ... No space left on device" and one ERROR
"cannot write .../state.json (...No space left...); the show goes on, the last good copy is kept".
Visitor: the show goes on (frames keep coming, exit code 0). Saved: state.json keeps the last
complete copy; the MP4 written so far stays playable (fragmented MP4).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from installation.state import write_json_atomic
from tests.runner import read_stats, run_main


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (root only); skipped where mounting is not allowed."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_while_recording_and_saving_state(tmp_path, tiny_disk: Path):
    state = tiny_disk / "state.json"
    write_json_atomic(state, {"format": "reverie-state/1", "preset": "default"})  # the last good copy
    free = shutil.disk_usage(tiny_disk).free
    (tiny_disk / "filler").write_bytes(b"\0" * (free - 60_000))  # someone else's files fill the disk
    stats = tmp_path / "stats.jsonl"
    out = tiny_disk / "show.mp4"
    proc = run_main(
        "--headless",
        "--seconds",
        "8",
        "--camera",
        "none",
        "--mic",
        "none",
        "--record",
        str(out),
        "--stats",
        str(stats),
        "--set",
        f'state.path="{state}"',
        "--set",
        "state.interval_s=0.5",
        "--set",
        "record.crf=0",
        "--set",
        "display.size=[320, 180]",
        "--set",
        "display.fps=20",
        "--set",
        "stats.interval_s=0.5",
        timeout_s=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stderr
    assert log.count("recording to") == 1 and "stopped after" in log and "No space left" in log, log[-3000:]
    assert log.count("cannot write") == 1 and "state.json" in log and "the last good copy is kept" in log
    frames = [s["frames"] for s in read_stats(stats)]
    assert len(frames) >= 10 and frames[-1] > frames[len(frames) // 2] > 0  # the show went on
    saved = json.loads(state.read_text())  # complete JSON, never a half file
    assert saved["format"] == "reverie-state/1"
    assert out.stat().st_size > 10_000
