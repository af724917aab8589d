"""Stand-in inputs for when no camera or microphone is there: pure functions of (time, seed).

The pictures drift slowly so the motion feature stays alive but calm; the sound is a soft drone
with regular percussive hits so loudness and onset features have something to react to.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SHAPE_COUNT = 4
BEAT_S = 0.5  # one hit every half second (120 bpm)
HIT_S = 0.25  # length of one hit's noise + thump envelope
DRONE_HZ = (55.0, 82.5, 110.0, 165.0)


@lru_cache(maxsize=8)
def _shape_params(seed: int) -> np.ndarray:
    """(SHAPE_COUNT, 9): centre, drift amplitude, drift period, phase, radius, and hue per shape."""
    rng = np.random.default_rng(seed)
    params = np.empty((SHAPE_COUNT, 9))
    params[:, 0:2] = rng.uniform(0.3, 0.7, (SHAPE_COUNT, 2))  # centre x, y as a fraction of the size
    params[:, 2:4] = rng.uniform(0.15, 0.3, (SHAPE_COUNT, 2))  # drift amplitude x, y
    params[:, 4:6] = rng.uniform(9.0, 23.0, (SHAPE_COUNT, 2))  # drift period x, y in seconds
    params[:, 6] = rng.uniform(0.0, 2 * np.pi, SHAPE_COUNT)  # phase
    params[:, 7] = rng.uniform(0.12, 0.22, SHAPE_COUNT)  # radius as a fraction of the height
    params[:, 8] = rng.uniform(0.0, 1.0, SHAPE_COUNT)  # hue in [0, 1)
    return params


@lru_cache(maxsize=8)
def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return xx, yy


def _hue_rgb(hue: float) -> np.ndarray:
    """A soft, not fully saturated colour for a hue in [0, 1); (3,) float in [0, 1]."""
    angles = 2 * np.pi * (hue + np.array([0.0, 1 / 3, 2 / 3]))
    return 0.55 + 0.45 * np.cos(angles)


def drifting_shapes_rgb(t_s: float, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Softly drifting coloured blobs on a dark background at time t_s; (H, W, 3) uint8.

    size is (width, height), like cv2. The same (t_s, size, seed) always gives the same image.
    """
    width, height = size
    xx, yy = _grid(width, height)
    image = np.full((height, width, 3), 0.06, np.float32)
    for cx, cy, ax, ay, px, py, phase, radius, hue in _shape_params(seed):
        x = (cx + ax * np.sin(2 * np.pi * t_s / px + phase)) * width
        y = (cy + ay * np.sin(2 * np.pi * t_s / py + 1.7 * phase)) * height
        r = radius * height
        alpha = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2.0 * r * r))
        colour = _hue_rgb(hue + t_s / 120.0).astype(np.float32)  # colours wander over minutes
        image += 0.8 * alpha[..., None] * colour
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@lru_cache(maxsize=8)
def _hit_wave(samplerate: int, seed: int) -> np.ndarray:
    """One percussive hit, (HIT_S * samplerate,) float32: a noise click over a low thump."""
    n = int(HIT_S * samplerate)
    t = np.arange(n) / samplerate
    noise = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
    thump = np.sin(2 * np.pi * 60.0 * t)
    return (0.35 * noise * np.exp(-t / 0.02) + 0.45 * thump * np.exp(-t / 0.08)).astype(np.float32)


def synthetic_signal(start_sample: int, n_samples: int, samplerate: int, seed: int = 0) -> np.ndarray:
    """Samples [start_sample, start_sample + n_samples) of the test signal; (n,) float32 in [-1, 1].

    A quiet drone whose loudness breathes over ~8 s, plus a hit every BEAT_S (every 4th accented).
    """
    k = np.arange(start_sample, start_sample + n_samples, dtype=np.int64)
    t = k / samplerate
    drone = sum(np.sin(2 * np.pi * hz * t) for hz in DRONE_HZ) / len(DRONE_HZ)
    breath = 0.06 + 0.04 * np.sin(2 * np.pi * t / 8.0)
    signal = (breath * drone).astype(np.float32)

    hit = _hit_wave(samplerate, seed)
    beat_n = int(BEAT_S * samplerate)
    pos_in_beat = k % beat_n
    in_hit = pos_in_beat < hit.shape[0]
    accent = np.where((k // beat_n) % 4 == 0, 1.0, 0.55).astype(np.float32)
    signal[in_hit] += accent[in_hit] * hit[pos_in_beat[in_hit]]
    return np.clip(signal, -1.0, 1.0)
