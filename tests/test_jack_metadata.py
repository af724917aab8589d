"""A JACK metadata database left locked by a killed program: found, cleared when unused, and the
show's microphone opens anyway (before, PortAudio's initialisation waited on the lock forever).

tests/data/jack_db_locked.tgz is such a database, as a chaos soak left it in /dev/shm here."""

from __future__ import annotations

import mmap
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from installation.sources import jack_metadata
from tests.runner import ROOT, main_cmd, read_stats, read_stderr, stderr_file, wait_for
from tests.system import require_tools, start_pulseaudio

LOCKED = Path(__file__).parent / "data" / "jack_db_locked.tgz"
HOLD_MAP = """
import mmap, sys
with open(sys.argv[1], "rb") as f:
    region = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
print("mapped", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def locked_database() -> Iterator[Path]:
    """The locked database in libjack's own place (/dev/shm/jack_db-<uid>); whatever was there
    before (unused, or the test fails) is put back afterwards."""
    require_tools("jackd")  # libjack comes with it
    folder = jack_metadata.metadata_dir()
    if folder.exists() and jack_metadata.users(folder):
        pytest.fail(f"{folder} is in use by JACK programs {jack_metadata.users(folder)}: stop them to run this test")
    aside = Path(tempfile.mkdtemp(prefix="jack-db-aside-"))
    if folder.exists():
        shutil.move(str(folder), aside / folder.name)
    with tarfile.open(LOCKED) as tar, tempfile.TemporaryDirectory() as unpack:
        tar.extractall(unpack, filter="data")
        shutil.copytree(Path(unpack) / "jack_db-0", folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if (aside / folder.name).exists():
            shutil.move(str(aside / folder.name), folder)
        shutil.rmtree(aside, ignore_errors=True)


def test_users_are_the_processes_that_map_a_file_of_the_folder(tmp_path: Path) -> None:
    data = tmp_path / "region"
    data.write_bytes(b"\0" * mmap.PAGESIZE)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_MAP, str(data)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        assert child.stdout.readline().strip() == "mapped"
        assert child.pid in jack_metadata.users(tmp_path)
        assert jack_metadata.users(tmp_path / "other") == []
    finally:
        child.stdin.close()
        child.wait(10)
    assert child.pid not in jack_metadata.users(tmp_path)


def test_a_locked_unused_database_is_found_and_removed(locked_database: Path) -> None:
    assert jack_metadata.probe_hangs(timeout_s=3.0) is True  # the defect is really there
    why = jack_metadata.repair(timeout_s=3.0)
    assert "removed it" in why and str(locked_database) in why
    assert not locked_database.exists()
    assert jack_metadata.probe_hangs() is False  # libjack made a new, healthy one
    assert jack_metadata.repair() == ""  # and a healthy one is left alone


def test_a_locked_database_still_mapped_by_a_program_is_reported_not_removed(locked_database: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_MAP, str(locked_database / "__db.001")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        assert child.stdout.readline().strip() == "mapped"
        why = jack_metadata.repair(timeout_s=3.0)
        assert f"still mapped by process(es) {child.pid}" in why
        assert (locked_database / "__db.001").exists()
    finally:
        child.stdin.close()
        child.wait(10)
    assert "removed it" in jack_metadata.repair(timeout_s=3.0)  # once the program ended


def test_the_show_hears_its_microphone_although_a_killed_program_left_jack_locked(
    locked_database: Path, tmp_path: Path
) -> None:
    stats_path = tmp_path / "stats.jsonl"
    with start_pulseaudio() as env:
        proc = subprocess.Popen(
            main_cmd(
                "--headless",
                "--camera",
                "none",
                "--stats",
                str(stats_path),
                "--set",
                "display.size=[160, 90]",
                "--set",
                "stats.interval_s=0.25",
                "--seconds",
                "60",
            ),
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.DEVNULL,
            stderr=stderr_file(tmp_path / "show.stderr"),
            text=True,
        )
        proc.stderr_path = tmp_path / "show.stderr"  # type: ignore[attr-defined]

        def live() -> bool:
            lines = read_stats(stats_path)
            return proc.poll() is not None or bool(lines and lines[-1]["sources"]["microphone"]["state"] == "live")

        try:
            wait_for(live, timeout_s=40.0, interval_s=0.2)  # PulseAudio's first block can take ~2 s
            lines = read_stats(stats_path)
            assert proc.poll() is None, read_stderr(proc)[-3000:]
            assert lines, "no stats"
            assert lines[-1]["sources"]["microphone"]["state"] == "live", (
                lines[-1]["sources"]["microphone"],
                read_stderr(proc)[-3000:],
            )
            assert "was left locked by a killed program" in read_stderr(proc)  # it said what it found and did
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert proc.returncode == 0, read_stderr(proc)[-3000:]


HELD_MIC = """
import os, sys, time
from installation.sources.microphone import MicrophoneSource
mic = MicrophoneSource("default")
mic.start()
deadline = time.monotonic() + 30
while time.monotonic() < deadline and mic.status().state != "fallback":
    time.sleep(0.05)
print(repr(mic.status()), flush=True)
os._exit(0)  # the device thread waits in libjack for good: no clean shutdown to wait for
"""


def test_a_microphone_that_cannot_start_says_which_process_holds_jack(locked_database: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_MAP, str(locked_database / "__db.001")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "mapped"
        done = subprocess.run(
            [sys.executable, "-c", HELD_MIC], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
        )
        assert "state='fallback'" in done.stdout, done.stdout + done.stderr[-2000:]
        assert f"still mapped by process(es) {holder.pid}" in done.stdout, done.stdout
        assert locked_database.exists()  # a database in use is never removed under its user
    finally:
        holder.stdin.close()
        holder.wait(10)
