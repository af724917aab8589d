"""Sound files as the room: decoded whole into memory as mono float32 at the show's sample rate."""

from __future__ import annotations

import os
import subprocess
import wave

import numpy as np

MAX_FILE_S = 600.0  # files are decoded whole into memory; 10 min mono float32 at 44.1 kHz ~ 106 MB


def load_sound_file(path: str, samplerate: int) -> tuple[np.ndarray | None, str]:
    """The whole file (up to MAX_FILE_S) as mono float32 at samplerate, or (None, error text)."""
    if not os.path.isfile(path):
        return None, f"no such sound file: {path}"
    try:
        if os.path.splitext(path)[1].lower() in (".wav", ".wave"):
            try:
                samples, file_rate = read_wav_mono(path)
            except (wave.Error, EOFError):  # e.g. float or compressed WAV: let ffmpeg try
                pass
            else:
                samples = resample_linear(samples, file_rate, samplerate)
                return (samples, "") if samples.size else (None, f"empty sound file: {path}")
        samples = decode_with_ffmpeg(path, samplerate)
    except Exception as exc:  # noqa: BLE001 - any decoding failure means the same: silence
        return None, f"cannot decode {path}: {exc}"
    return (samples, "") if samples.size else (None, f"empty sound file: {path}")


def read_wav_mono(path: str) -> tuple[np.ndarray, int]:
    """PCM WAV (8/16/24/32-bit) via the stdlib as (n,) float32 mono, and the file's sample rate."""
    with wave.open(path, "rb") as wav:
        channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
        raw = wav.readframes(min(wav.getnframes(), int(MAX_FILE_S * rate)))
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8  # sign-extend 24 bits
        samples = ints.astype(np.float32) / float(1 << 23)
    elif width == 4:
        samples = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    else:
        raise wave.Error(f"unsupported sample width {width}")
    return samples.reshape(-1, channels).mean(axis=1, dtype=np.float32), rate


def resample_linear(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Linear-interpolation resampling: plenty for loudness/onset features."""
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    n_out = round(samples.shape[0] * to_rate / from_rate)
    t_out = np.arange(n_out) * (from_rate / to_rate)
    return np.interp(t_out, np.arange(samples.shape[0]), samples).astype(np.float32)


def decode_with_ffmpeg(path: str, samplerate: int) -> np.ndarray:
    """Any format ffmpeg reads, as (n,) float32 mono at samplerate.

    ffmpeg does the resampling and the mixdown; its stereo mixdown is (L+R)/sqrt(2), which keeps the
    loudness of uncorrelated channels (the WAV path averages, 3 dB quieter for identical channels).
    """
    import imageio_ffmpeg  # only needed for non-WAV files

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", path]
    command += ["-t", str(MAX_FILE_S), "-f", "f32le", "-ac", "1", "-ar", str(samplerate), "pipe:1"]
    # CPython starts this with vfork (no preexec_fn), which runs no fork handlers: forking while other
    # threads run BLAS/OpenCV work could deadlock in them. close_fds: ffmpeg inherits no descriptor
    # a C library opened without close-on-exec.
    result = subprocess.run(command, capture_output=True, timeout=120, check=False, close_fds=True)
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"ffmpeg exited with {result.returncode}")
    return np.frombuffer(result.stdout, np.float32).copy()
