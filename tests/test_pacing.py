"""The display loop's pacer and the hearing outbox's jump signal (issue #12: a sound step should not
wait for the loop's next fixed tick). No speed goals here: only order and lower bounds."""

from __future__ import annotations

import threading
import time

import numpy as np

from installation.features.listen import AudioAnalyser, AudioResult
from installation.pacing import MIN_FRACTION, FramePacer
from installation.senses import AudioOutbox
from installation.slot import LatestSlot

RATE = 44100


def test_without_a_wake_each_frame_waits_its_whole_period() -> None:
    pacer = FramePacer()
    assert pacer.wait(20.0) == 0.0  # the first call starts the clock
    dts = [pacer.wait(20.0) for _ in range(3)]
    assert all(dt >= 0.05 - 1e-3 for dt in dts), dts  # time.sleep never returns early
    assert pacer.early_frames == 0


def test_a_wake_starts_the_frame_early_but_not_before_half_a_period() -> None:
    asked: list[float] = []
    jumped = threading.Event()

    def wake(timeout_s: float) -> bool:
        asked.append(timeout_s)
        return jumped.wait(timeout_s)

    pacer = FramePacer(wake)
    pacer.wait(10.0)
    jumped.set()  # a jump already waiting when the frame ends: the next frame starts at the earliest
    dt_s = pacer.wait(10.0)
    assert pacer.early_frames == 1
    assert dt_s >= MIN_FRACTION * 0.1 - 1e-3  # never faster than twice the display rate
    assert asked and asked[0] <= (1 - MIN_FRACTION) * 0.1 + 1e-3  # the wake waited only the rest of the period
    jumped.clear()
    dt_s = pacer.wait(10.0)  # no jump: the next slot of the grid, so the rate never rises
    assert pacer.early_frames == 1 and dt_s >= 0.1 - 1e-3


def test_jumps_on_every_frame_do_not_raise_the_frame_rate() -> None:
    pacer = FramePacer(lambda timeout_s: True)  # a sound that jumps all the time
    pacer.wait(20.0)
    t0_s = time.perf_counter()
    for _ in range(6):
        pacer.wait(20.0)
    assert pacer.early_frames == 6
    assert time.perf_counter() - t0_s >= 5 * 0.05 + MIN_FRACTION * 0.05 - 2e-3  # six slots of the grid


def hops(signal: np.ndarray) -> list[AudioResult]:
    analyser = AudioAnalyser(RATE)
    padded = np.concatenate([np.zeros(analyser.window, np.float32), signal.astype(np.float32)])
    return [
        analyser.update(padded[end - analyser.window : end], end / RATE)
        for end in range(analyser.window + analyser.hop, padded.shape[0] + 1, analyser.hop)
    ]


def tone(seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * 440.0 * t)


def test_the_outbox_signals_a_level_step_and_not_a_steady_sound() -> None:
    steady = hops(np.concatenate([tone(0.4, 0.05), tone(0.2, 0.5)]))  # -29 dBFS, then a 20 dB step up
    step_at = next(i for i, r in enumerate(steady) if r.features["loudness_db"] > -15.0)
    outbox = AudioOutbox(LatestSlot[AudioResult]())
    signalled = []
    for i, result in enumerate(steady[:step_at]):
        outbox.publish(result)
        if i % 3 == 2:  # a 60 Hz reader
            outbox.take()
        signalled.append(outbox.jumped.is_set())
    settled = signalled[len(signalled) // 2 :]  # the tone's start (an onset) is in the first half
    assert len(settled) > 10 and not any(settled), "a steady tone must not wake the loop"
    outbox.take()
    outbox.publish(steady[step_at])
    assert outbox.jumped.is_set(), "a 20 dB step must wake the loop"
    outbox.take()
    assert not outbox.jumped.is_set()  # reading it is the answer


def test_the_outbox_signals_an_onset_and_the_sound_stopping() -> None:
    results = hops(np.concatenate([np.zeros(round(0.3 * RATE)), tone(0.2, 0.5), np.zeros(round(0.2 * RATE))]))
    outbox = AudioOutbox(LatestSlot[AudioResult]())
    wakes = 0
    for result in results:
        outbox.publish(result)
        if outbox.jumped.is_set():
            wakes += 1
        outbox.take()  # a reader as fast as the hops: every wake is a fresh jump
    assert 2 <= wakes <= 6, wakes  # the start (level and onset) and the stop, not every hop
