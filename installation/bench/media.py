"""Bench inputs written on the fly: a video for the camera and a sound file for the microphone (the
writers are shared with the soaks: installation/testmedia.py)."""

from __future__ import annotations

from pathlib import Path

from installation.testmedia import BENCH_ROOM
from installation.testmedia import write_video as write_video  # the bench's size and rate are its defaults
from installation.testmedia import write_wav as _write_wav


def write_wav(path: Path, samplerate: int = 44100) -> Path:
    """2 s of a room: 1 s near-silence, 1 s loud 220 Hz tone (the file loops)."""
    return _write_wav(path, BENCH_ROOM, samplerate)
