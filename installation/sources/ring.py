"""SampleRing: the microphone's mono float32 ring, allocated once, written by the audio callback.

Copy-in on the callback (no allocation), copy-out for readers, and a condition that wakes a reader
on every block, so analysis follows the sound card's blocks instead of a timer.
"""

from __future__ import annotations

import threading

import numpy as np


class SampleRing:
    """Mono float32 ring buffer, allocated once. One writer at a time, any number of readers."""

    def __init__(self, n_samples: int) -> None:
        self._buf = np.zeros(n_samples, np.float32)
        self._pos = 0  # where the next sample goes
        self._written = 0  # samples written since the last clear
        self._t_newest_s = 0.0  # perf_counter() of the newest sample
        self._lock = threading.Condition()  # notified on every write: readers wake per block

    def write(self, block: np.ndarray, t_newest_s: float) -> None:
        """Copy block (n,) in. Runs on the audio callback: slicing and copying only, no allocation."""
        size = self._buf.shape[0]
        n = block.shape[0]
        with self._lock:
            if n >= size:
                self._buf[:] = block[n - size :]
                self._pos = 0
            else:
                end = self._pos + n
                if end <= size:
                    self._buf[self._pos : end] = block
                else:
                    split = size - self._pos
                    self._buf[self._pos :] = block[:split]
                    self._buf[: end - size] = block[split:]
                self._pos = end % size
            self._written += n
            self._t_newest_s = t_newest_s
            self._lock.notify_all()

    def read(self, n: int) -> tuple[np.ndarray, int, float]:
        """(newest n samples, zeros before anything arrived; samples written so far; newest time)."""
        out = np.zeros(n, np.float32)
        with self._lock:
            size = self._buf.shape[0]
            m = min(n, size, self._written)
            start = (self._pos - m) % size
            if start + m <= size:
                out[n - m :] = self._buf[start : start + m]
            else:
                split = size - start
                out[n - m : n - m + split] = self._buf[start:]
                out[n - m + split :] = self._buf[: m - split]
            return out, self._written, self._t_newest_s

    @property
    def size(self) -> int:
        return self._buf.shape[0]

    def newest(self) -> tuple[int, float]:
        """(samples written since the last clear, perf_counter() of the newest sample)."""
        with self._lock:
            return self._written, self._t_newest_s

    def wait_written(self, seen: int, timeout_s: float) -> int:
        """Block until the samples-written count differs from `seen` (a block arrived, or a clear),
        at most timeout_s; returns the count. The hearing thread wakes per block this way."""
        with self._lock:
            self._lock.wait_for(lambda: self._written != seen, timeout=timeout_s)
            return self._written

    def clear(self) -> None:
        with self._lock:
            self._buf[:] = 0.0
            self._pos = 0
            self._written = 0
