"""Media written on the fly for the soaks, the chaos soak and the bench: a video for the camera and a
sound file for the microphone, so none of them needs binary files in the repository.

One picture for all of them (a bright square crossing a dark room: steady motion for the camera
features); each caller picks its size, rate and sound (`BENCH_ROOM`, `SOAK_ROOM`).
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

# (seconds, amplitude 0..1, frequency Hz) segments of a sine; the files loop.
BENCH_ROOM = ((1.0, 0.001, 220.0), (1.0, 0.6, 220.0))  # 1 s near-silence, 1 s loud
SOAK_ROOM = ((2.0, 0.02, 330.0), (2.0, 0.6, 330.0), (2.0, 0.02, 330.0))  # the speed goes up and down


def write_video(path: Path, seconds: float = 4.0, fps: float = 30.0, size: tuple[int, int] = (320, 240)) -> Path:
    """A bright square crossing a dark room, as MJPG .avi (every OpenCV build reads it). size is (w, h)."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MJPG video to {path}")
    side = max(4, height // 4)
    n = max(2, round(seconds * fps))
    try:
        for i in range(n):
            frame_bgr = np.full((height, width, 3), 20, np.uint8)
            x = int((width - side) * i / (n - 1))
            frame_bgr[(height - side) // 2 : (height + side) // 2, x : x + side] = (60, 220, 250)
            writer.write(frame_bgr)
    finally:
        writer.release()
    return path


def write_wav(path: Path, segments: Sequence[tuple[float, float, float]], samplerate: int = 44100) -> Path:
    """16-bit mono PCM WAV of sine segments (seconds, amplitude, frequency), one after the other."""
    parts = [np.zeros(0)]
    for seconds, amplitude, freq_hz in segments:
        t = np.arange(round(seconds * samplerate)) / samplerate
        parts.append(amplitude * np.sin(2 * np.pi * freq_hz * t))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(samplerate)
        out.writeframes((np.concatenate(parts) * 32767).astype("<i2").tobytes())
    return path


def write_soak_room(folder: Path) -> tuple[Path, Path]:
    """The soaks' camera video (160x120 at 15 fps, 4 s) and microphone sound (6 s), in folder."""
    return write_video(folder / "room.avi", fps=15.0, size=(160, 120)), write_wav(folder / "room.wav", SOAK_ROOM)
