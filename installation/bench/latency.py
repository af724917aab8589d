"""Input-to-photon latency: a step injected into the microphone, found in the presented frames.

The bench preset (step.toml) maps the unsmoothed loudness (loudness_db) through a step curve onto
the latent's diversity, with the walk standing still: silence shows one still picture, sound
another, strongly different one. A `StepMicrophone` switches between silence and a loud tone at
chosen perf_counter times (as a real sound would arrive, between two frames); the harness keeps a
small thumbnail of every presented frame, and `detect_steps` finds, for each step, the first
presented frame that differs from the last frame before the step by more than a threshold
calibrated from the frame-to-frame variation of a stretch with no steps.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from installation.sources.base import SourceStatus

TONE_HZ = 220.0
TONE_AMPLITUDE = 0.5  # about -9 dBFS: far above the preset's -40 dBFS step
BLOCK = 256  # samples per block, as the microphone's PortAudio stream delivers them


class StepMicrophone:
    """Drop-in for MicrophoneSource: silence, with loud stretches between step times, delivered in
    256-sample blocks on a sample clock (a block exists once its last sample is due), like a device."""

    def __init__(self, samplerate: int = 44100) -> None:
        self.samplerate = samplerate
        self._edges_s: np.ndarray = np.zeros(0)  # perf_counter times; the level toggles at each one
        self._t0_s = time.perf_counter()  # the block clock's origin
        self._stop = threading.Event()

    def schedule(self, edges_s: list[float]) -> None:
        """Sorted toggle times: silent before the first, loud until the second, and so on."""
        self._edges_s = np.asarray(sorted(edges_s), dtype=np.float64)

    def loud_at(self, t_s: np.ndarray) -> np.ndarray:
        return (np.searchsorted(self._edges_s, t_s, side="right") % 2) == 1

    def _blocks(self, t_s: float) -> int:
        """Whole blocks delivered by time t_s."""
        return int((t_s - self._t0_s) * self.samplerate) // BLOCK

    def wait_block(self, seen: int, timeout_s: float) -> int:
        """Sleep until the next block is delivered (as the ring's notify wakes hearing); samples so far."""
        blocks = self._blocks(time.perf_counter())
        if blocks * BLOCK == seen:
            due_s = self._t0_s + (blocks + 1) * BLOCK / self.samplerate
            self._stop.wait(min(timeout_s, max(0.0, due_s - time.perf_counter())))
            blocks = self._blocks(time.perf_counter())
        return blocks * BLOCK

    def read_latest(self, n_samples: int) -> tuple[np.ndarray, float]:
        newest_s = self._t0_s + self._blocks(time.perf_counter()) * BLOCK / self.samplerate  # last block's end
        t_s = newest_s - np.arange(n_samples - 1, -1, -1) / self.samplerate  # time of each sample
        tone = TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t_s)
        return np.where(self.loud_at(t_s), tone, 0.0).astype(np.float32), newest_s

    def status(self) -> SourceStatus:
        return SourceStatus("microphone", "live", "bench step source")

    def stuck_s(self, now_s: float | None = None) -> float:
        """Seconds stuck inside PortAudio (the caretaker asks every source): a generated tone never is."""
        return 0.0

    def start(self) -> None:
        pass

    def close(self) -> None:
        self._stop.set()


@dataclass(frozen=True)
class StepResult:
    latencies_ms: list[float]  # one per detected step
    missed: int  # steps with no frame over the threshold before the next step
    threshold: float  # mean absolute thumbnail difference (0-255) that counts as "changed"
    frames: list[int | None] = field(default_factory=list)  # per step: index of the frame that showed it


def calibrate_threshold(thumbs: list[np.ndarray], floor: float = 2.0, factor: float = 4.0) -> float:
    """A change threshold from consecutive frames with no step: factor x their largest difference."""
    if len(thumbs) < 2:
        return floor
    diffs = [float(np.abs(b.astype(np.int16) - a.astype(np.int16)).mean()) for a, b in itertools.pairwise(thumbs)]
    return max(floor, factor * max(diffs))


def detect_steps(times_s: list[float], thumbs: list[np.ndarray], steps_s: list[float], threshold: float) -> StepResult:
    """For each step time, the delay to the first presented frame that differs from the last frame
    presented before the step by more than `threshold` (searching up to the next step)."""
    times = np.asarray(times_s)
    latencies: list[float] = []
    frames: list[int | None] = []
    missed = 0
    bounds = list(steps_s[1:]) + [float("inf")]
    for step_s, until_s in zip(steps_s, bounds):
        before = int(np.searchsorted(times, step_s, side="left")) - 1  # last frame presented before the step
        if before < 0:
            missed += 1
            frames.append(None)
            continue
        ref = thumbs[before].astype(np.int16)
        found = None
        for i in range(before + 1, len(times)):
            if times[i] >= until_s:
                break
            if float(np.abs(thumbs[i].astype(np.int16) - ref).mean()) > threshold:
                found = i
                break
        frames.append(found)
        if found is None:
            missed += 1
        else:
            latencies.append((times[found] - step_s) * 1e3)
    return StepResult(latencies, missed, threshold, frames)
