"""The chaos soak's small disk: filling it must not raise when the show filled it first. A 30-minute
soak died there (ENOSPC out of fill() itself, on opening or closing the filler while the show's
recording was writing to the same tmpfs); the test makes the opening fail for sure: no inodes left."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from installation.chaos.servers import SmallDisk


def _fill_with(path: Path) -> int:
    written = 0
    try:
        with open(path, "wb") as out:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
                written += 65536
    except OSError:
        pass
    return written


def test_fill_on_a_disk_the_recording_already_filled_writes_nothing_and_raises_nothing(tmp_path: Path) -> None:
    disk = SmallDisk(tmp_path / "disk", size_mib=1)
    why = disk.missing()
    if why:
        if os.environ.get("REVERIE_REQUIRE_SYSTEM_TESTS") == "1":
            pytest.fail(why)
        pytest.skip(why)
    assert disk.mount() == ""
    try:
        assert disk.fill() > 512 * 1024  # an empty disk fills
        disk.free()
        recording = disk.path / "recording.mp4"
        assert _fill_with(recording) > 512 * 1024  # the show's recording fills it
        assert disk.fill() == 0  # nothing left, and no exception
        disk.free()
        with open(recording, "r+b") as out:  # a few KiB free, not a whole chunk: a write half-succeeds
            out.truncate(recording.stat().st_size - 10_000)
        assert disk.fill() < 64 * 1024  # and the file's close, flushing the rest, raises ENOSPC again
        disk.free(recording)
        assert disk.fill() > 512 * 1024  # freed again
        disk.free()
        # Full to the point where creating a file fails (here: no inodes left): fill() must not raise.
        done = subprocess.run(["mount", "-o", "remount,nr_inodes=8", str(disk.path)], capture_output=True, check=False)
        assert done.returncode == 0, done.stderr
        made = 0
        with pytest.raises(OSError, match="No space left"):
            while True:
                (disk.path / f"state-{made}.json").write_text("{}")
                made += 1
        assert made > 0
        assert disk.fill() == 0
        disk.free(*(disk.path / f"state-{i}.json" for i in range(made)))
    finally:
        disk.unmount()
    assert not disk.mounted
