"""Bench inputs written on the fly: a video for the camera and a sound file for the microphone."""

from __future__ import annotations

import wave
from pathlib import Path

import cv2
import numpy as np


def write_video(path: Path, seconds: float = 4.0, fps: float = 30.0, size: tuple[int, int] = (320, 240)) -> Path:
    """A bright square crossing a dark room (MJPG .avi): steady motion for the camera features."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MJPG video to {path}")
    side = height // 4
    n = round(seconds * fps)
    try:
        for i in range(n):
            frame_bgr = np.full((height, width, 3), 20, np.uint8)
            x = int((width - side) * i / max(1, n - 1))
            frame_bgr[(height - side) // 2 : (height + side) // 2, x : x + side] = (60, 220, 250)
            writer.write(frame_bgr)
    finally:
        writer.release()
    return path


def write_wav(path: Path, samplerate: int = 44100) -> Path:
    """2 s of a room: 1 s near-silence, 1 s loud 220 Hz tone (the file loops)."""
    t = np.arange(samplerate) / samplerate
    mono = np.concatenate([0.001 * np.sin(2 * np.pi * 220 * t), 0.6 * np.sin(2 * np.pi * 220 * t)])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(samplerate)
        out.writeframes((mono * 32767).astype("<i2").tobytes())
    return path
