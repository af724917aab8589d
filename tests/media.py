"""Test media written on the fly, so the tests need no binary fixtures in the repository."""

from __future__ import annotations

import wave
from pathlib import Path

import cv2
import numpy as np


def write_test_video(
    path: str | Path, seconds: float = 2.0, fps: float = 20.0, size: tuple[int, int] = (320, 240)
) -> Path:
    """A bright square sliding across a dark background; .mp4 (mp4v) or .avi (MJPG).

    size is (width, height). Returns the path. Raises RuntimeError if OpenCV cannot write it.
    """
    path = Path(path)
    fourcc = "MJPG" if path.suffix.lower() == ".avi" else "mp4v"
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} video to {path}")
    n_frames = max(1, round(seconds * fps))
    side = max(4, height // 4)
    try:
        for i in range(n_frames):
            frame_bgr = np.full((height, width, 3), 20, np.uint8)
            x = int((width - side) * i / max(1, n_frames - 1))
            y = (height - side) // 2
            frame_bgr[y : y + side, x : x + side] = (60, 220, 250)
            writer.write(frame_bgr)
    finally:
        writer.release()
    return path


def write_test_wav(
    path: str | Path,
    seconds: float | None = None,
    samplerate: int = 44100,
    segments: list[tuple[float, float, float]] | None = None,
    channels: int = 1,
) -> Path:
    """16-bit PCM WAV from (duration_s, amplitude 0..1, freq_hz) sine segments, e.g. silent then loud.

    Without segments: one 440 Hz tone at amplitude 0.5. With seconds: the file is cut or padded
    with silence to that length (else it is as long as the segments). Each channel is the same.
    """
    if segments is None:
        segments = [(seconds if seconds is not None else 1.0, 0.5, 440.0)]
    parts = [np.zeros(0)]
    for duration_s, amplitude, freq_hz in segments:
        t = np.arange(round(duration_s * samplerate)) / samplerate
        parts.append(amplitude * np.sin(2 * np.pi * freq_hz * t))
    mono = np.concatenate(parts)
    if seconds is not None:
        n = round(seconds * samplerate)
        mono = np.pad(mono[:n], (0, max(0, n - mono.shape[0])))
    pcm = (np.clip(mono, -1.0, 1.0) * 32767).astype("<i2")
    interleaved = np.repeat(pcm[:, None], channels, axis=1)  # (n, channels)
    path = Path(path)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(samplerate)
        out.writeframes(interleaved.tobytes())
    return path


def write_still_then_moving(path: str | Path, fps: int = 20, size: tuple[int, int] = (160, 120)) -> Path:
    """A 4 s MJPG loop: a square stands still for 2 s, then slides across for 2 s."""
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    w, h = size
    for i in range(4 * fps):
        frame = np.full((h, w, 3), 30, np.uint8)
        x = 10 if i < 2 * fps else 10 + int((w - 50) * (i - 2 * fps) / (2 * fps))
        frame[40:80, x : x + 40] = (40, 200, 250)
        writer.write(frame)
    writer.release()
    return path


def write_photo_video(
    photo: str | Path,
    path: str | Path,
    size: tuple[int, int] = (160, 120),
    seconds: float = 4.0,
    fps: int = 10,
    seed: int = 0,
) -> Path:
    """A real photo filmed by a hand-held camera: each frame the photo at `size`, shaken by about a
    pixel and with sensor noise (sigma 2 grey levels), MJPG .avi. The picture itself is untouched."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(cv2.imread(str(photo)), size, interpolation=cv2.INTER_AREA)
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for _ in range(round(seconds * fps)):
        dx, dy = rng.normal(0.0, 0.8, 2)
        frame = cv2.warpAffine(base, np.float32([[1, 0, dx], [0, 1, dy]]), size, borderMode=cv2.BORDER_REFLECT)
        writer.write(np.clip(frame + rng.normal(0.0, 2.0, frame.shape), 0, 255).astype(np.uint8))
    writer.release()
    return path
