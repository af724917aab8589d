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
from contextlib import contextmanager
from pathlib import Path

import pytest

from installation.sources import jack_metadata
from tests.runner import ROOT, app_env, start_main, stop_main, wait_stats
from tests.system import require_tools, start_pulseaudio

LOCKED = Path(__file__).parent / "data" / "jack_db_locked.tgz"
HOLD_MAP = """
import mmap, sys
with open(sys.argv[1], "rb") as f:
    region = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
print("mapped", flush=True)
sys.stdin.read()
"""


@contextmanager
def mapping(path: Path) -> Iterator[int]:
    """A child process that keeps `path` mapped (as libjack keeps its database) until the block ends; its pid."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_MAP, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        assert child.stdout.readline().strip() == "mapped"
        yield child.pid
    finally:
        child.stdin.close()
        child.wait(10)


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
    with mapping(data) as pid:
        assert pid in jack_metadata.users(tmp_path)
        assert jack_metadata.users(tmp_path / "other") == []
    assert pid not in jack_metadata.users(tmp_path)


def test_a_locked_unused_database_is_found_and_removed(locked_database: Path) -> None:
    assert jack_metadata.probe_hangs(timeout_s=3.0) is True  # the defect is really there
    why = jack_metadata.repair(timeout_s=3.0)
    assert "removed it" in why and str(locked_database) in why
    assert not locked_database.exists()
    assert jack_metadata.probe_hangs() is False  # libjack made a new, healthy one
    assert jack_metadata.repair() == ""  # and a healthy one is left alone


def test_a_locked_database_still_mapped_by_a_program_is_reported_not_removed(locked_database: Path) -> None:
    with mapping(locked_database / "__db.001") as pid:
        why = jack_metadata.repair(timeout_s=3.0)
        assert f"still mapped by process(es) {pid}" in why
        assert (locked_database / "__db.001").exists()
    assert "removed it" in jack_metadata.repair(timeout_s=3.0)  # once the program ended


def test_the_show_hears_its_microphone_although_a_killed_program_left_jack_locked(
    locked_database: Path, tmp_path: Path
) -> None:
    stats_path, log_path = tmp_path / "stats.jsonl", tmp_path / "show.log"
    with start_pulseaudio() as pulse_env:
        proc = start_main(
            "--headless",
            "--camera",
            "none",
            "--stats",
            str(stats_path),
            "--set",
            "display.size=[160, 90]",
            "--set",
            "stats.interval_s=0.25",
            env=app_env(**pulse_env),
            log_path=log_path,
        )
        try:  # PulseAudio's first block can take ~2 s
            wait_stats(stats_path, lambda s: s["sources"]["microphone"]["state"] == "live", 40.0, proc)
            log = log_path.read_text(errors="replace")
            assert "was left locked by a killed program" in log, log[-3000:]  # it said what it found and did
        finally:
            code = stop_main(proc)
    assert code == 0, log_path.read_text(errors="replace")[-3000:]


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
    with mapping(locked_database / "__db.001") as pid:
        done = subprocess.run(
            [sys.executable, "-c", HELD_MIC], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
        )
        assert "state='fallback'" in done.stdout, done.stdout + done.stderr[-2000:]
        assert f"still mapped by process(es) {pid}" in done.stdout, done.stdout
        assert locked_database.exists()  # a database in use is never removed under its user
