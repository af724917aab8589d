"""MicrophoneSource against real inputs: WAV files, the synthetic signal, and a real PulseAudio
server recorded through ALSA -> PortAudio -> sounddevice."""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from installation.sources.microphone import MicrophoneSource, load_sound_file, read_wav_mono
from tests.media import write_test_wav
from tests.system import NULL_SINK, start_pulseaudio

LOGGER = "installation.sources.microphone"
REPO = Path(__file__).resolve().parents[1]


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def wait_for(predicate: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    deadline_s = time.monotonic() + timeout_s
    while time.monotonic() < deadline_s:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def close_later() -> list[MicrophoneSource]:
    sources: list[MicrophoneSource] = []
    yield sources
    for source in sources:
        source.close()


def test_wav_file_plays_in_real_time_and_loops(tmp_path: Path, close_later: list[MicrophoneSource]) -> None:
    # 22.05 kHz stereo file into a 44.1 kHz source: exercises the mixdown and the resampling.
    wav = write_test_wav(tmp_path / "room.wav", samplerate=22050, channels=2,
                         segments=[(1.0, 0.0, 440.0), (1.0, 0.8, 440.0)])
    source = MicrophoneSource(str(wav), samplerate=44100)
    close_later.append(source)
    source.start()
    assert wait_for(lambda: source.status().state == "live")
    t0_s = time.perf_counter()
    window_n = 44100 // 5  # the newest 0.2 s

    def rms_at(t_s: float) -> float:
        time.sleep(max(0.0, t0_s + t_s - time.perf_counter()))
        samples, t_newest_s = source.read_latest(window_n)
        assert samples.shape == (window_n,) and samples.dtype == np.float32
        assert abs(time.perf_counter() - t_newest_s) < 0.1
        return rms(samples)

    quiet, loud, looped = rms_at(0.7), rms_at(1.7), rms_at(2.7)
    assert quiet < 0.01, quiet
    assert 0.4 < loud < 0.7, loud  # a 0.8 sine has RMS 0.57
    assert looped < 0.01, looped  # back to the silent start


def test_missing_file_falls_back_to_silence_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, close_later: list[MicrophoneSource]
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    source = MicrophoneSource(str(tmp_path / "nowhere.wav"), retry_s=0.05, max_retry_s=0.1)
    close_later.append(source)
    source.start()
    time.sleep(0.5)  # several retries
    status = source.status()
    assert status.state == "fallback" and "nowhere.wav" in status.error
    samples, _ = source.read_latest(1000)
    assert samples.shape == (1000,) and not samples.any()
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert sum("retry failed" in r.getMessage() for r in caplog.records) >= 3


def test_none_is_off_and_silent(close_later: list[MicrophoneSource]) -> None:
    source = MicrophoneSource("none")
    close_later.append(source)
    source.start()
    samples, t_s = source.read_latest(512)
    assert source.status().state == "off"
    assert samples.shape == (512,) and not samples.any()
    assert abs(time.perf_counter() - t_s) < 0.1


def test_synthetic_signal_is_audible_with_hits(close_later: list[MicrophoneSource]) -> None:
    source = MicrophoneSource("synthetic")
    close_later.append(source)
    source.start()
    time.sleep(1.1)
    samples, _ = source.read_latest(44100)
    assert source.status().state == "live"
    assert 0.02 < rms(samples) < 0.5
    assert np.abs(samples).max() > 0.3  # the percussive hits stand out of the drone


def test_decoders_mix_to_mono(tmp_path: Path) -> None:
    wav = write_test_wav(tmp_path / "tone.wav", samplerate=16000, channels=2, segments=[(0.5, 0.5, 300.0)])
    samples, rate = read_wav_mono(str(wav))
    assert rate == 16000 and samples.shape == (8000,)
    flac = tmp_path / "tone.flac"  # a non-WAV format goes through ffmpeg
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(wav), str(flac)], check=True)
    decoded, error = load_sound_file(str(flac), 44100)
    assert error == "" and decoded is not None
    assert abs(decoded.shape[0] - 22050) < 100
    assert 0.3 < rms(decoded) < 0.55  # 0.5-amplitude sine in both channels, mixed to mono


CHILD_SCRIPT = r"""
import dataclasses, json, sys, time
import numpy as np
from installation.sources.microphone import MicrophoneSource

def peak_rms(source, seconds, enough=float("inf")):
    peak, end_s = 0.0, time.monotonic() + seconds
    while time.monotonic() < end_s and peak < enough:
        samples, _ = source.read_latest(2205)  # 50 ms
        peak = max(peak, float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))))
        time.sleep(0.05)
    return peak

def report(rms):
    print(json.dumps({"status": dataclasses.asdict(source.status()), "rms": rms}), flush=True)

source = MicrophoneSource("default", retry_s=0.5, max_retry_s=1.0)
source.start()
deadline_s = time.monotonic() + 5.0
while source.status().state != "live" and time.monotonic() < deadline_s:
    time.sleep(0.05)
report(None)
report(peak_rms(source, 8.0, enough=0.3))  # the parent plays now; PulseAudio's first block is slow
sys.stdin.readline()  # playback has ended
report(peak_rms(source, 0.5))
source.close()
"""


def test_real_microphone_through_pulseaudio(tmp_path: Path) -> None:
    wav = write_test_wav(tmp_path / "loud.wav", segments=[(8.0, 0.8, 440.0)])  # killed once heard
    with start_pulseaudio() as env:
        # A subprocess, so PortAudio initialises with this environment (ALSA -> PulseAudio).
        stderr_path = tmp_path / "child.log"
        with stderr_path.open("w") as stderr:
            child = subprocess.Popen([sys.executable, "-c", CHILD_SCRIPT], cwd=REPO, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in child.stdout], daemon=True).start()
        player = None
        try:
            try:
                opened = json.loads(lines.get(timeout=15.0))
                assert opened["status"]["state"] == "live", opened
                player = subprocess.Popen(["paplay", f"--device={NULL_SINK}", str(wav)], env=env)
                loud = json.loads(lines.get(timeout=15.0))
                player.kill()
                player.wait(timeout=5.0)
                time.sleep(0.3)
                child.stdin.write("go\n")
                child.stdin.flush()
                silent = json.loads(lines.get(timeout=15.0))
            except queue.Empty:
                pytest.fail(f"microphone child gave no answer; its log:\n{stderr_path.read_text()}")
        finally:
            for process in (player, child):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait(timeout=5.0)
    assert loud["rms"] > 0.3, loud  # paplay's 0.8 sine (RMS 0.57) arrived through the monitor
    assert silent["rms"] < 0.01, silent
    assert loud["status"]["state"] == silent["status"]["state"] == "live", (loud, silent)
