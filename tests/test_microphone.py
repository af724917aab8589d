"""MicrophoneSource against real inputs: WAV files, the synthetic signal, and a real PulseAudio
server recorded through ALSA -> PortAudio -> sounddevice."""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from installation.sources.microphone import MicrophoneSource, load_sound_file, read_wav_mono
from tests.media import write_test_wav
from tests.runner import wait_for
from tests.system import NULL_SINK, pulse_client_env, start_pulseaudio

LOGGER = "installation.sources.microphone"
REPO = Path(__file__).resolve().parents[1]


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


@pytest.fixture
def close_later() -> list[MicrophoneSource]:
    sources: list[MicrophoneSource] = []
    yield sources
    for source in sources:
        source.close()


def test_wav_file_plays_in_real_time_and_loops(tmp_path: Path, close_later: list[MicrophoneSource]) -> None:
    # 22.05 kHz stereo file into a 44.1 kHz source: exercises the mixdown and the resampling.
    wav = write_test_wav(
        tmp_path / "room.wav", samplerate=22050, channels=2, segments=[(1.0, 0.0, 440.0), (1.0, 0.8, 440.0)]
    )
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


# Runs MicrophoneSource("default") in a subprocess, so PortAudio initialises with the PulseAudio
# environment. Commands on stdin, one JSON line of answer each:
#   "wait S STATE"    wait up to S seconds for status STATE ("live", "fallback")
#   "peak S ENOUGH"   the highest 50 ms RMS over S seconds (stops early once above ENOUGH)
CHILD_SCRIPT = r"""
import dataclasses, json, logging, sys, time
import numpy as np
from installation.sources.microphone import MicrophoneSource

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

source = MicrophoneSource("default", retry_s=0.3, max_retry_s=0.6)
source.start()
for line in sys.stdin:
    command, *args = line.split()
    end_s = time.monotonic() + float(args[0])
    peak = 0.0
    if command == "wait":
        while source.status().state != args[1] and time.monotonic() < end_s:
            time.sleep(0.05)
    elif command == "peak":
        while time.monotonic() < end_s and peak < float(args[1]):
            samples, _ = source.read_latest(2205)
            peak = max(peak, float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))))
            time.sleep(0.05)
    print(json.dumps({"status": dataclasses.asdict(source.status()), "rms": peak}), flush=True)
source.close()
"""


class MicrophoneChild:
    """The subprocess above, with answers read by a thread so a hung child cannot hang the test."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self._log_path = log_path
        with log_path.open("w") as log_file:
            self._process = subprocess.Popen(
                [sys.executable, "-c", CHILD_SCRIPT],
                cwd=REPO,
                env=env,
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
            )
        self._lines: queue.Queue[str] = queue.Queue()
        stdout = self._process.stdout
        threading.Thread(target=lambda: [self._lines.put(line) for line in stdout], daemon=True).start()

    def ask(self, command: str, timeout_s: float = 15.0) -> dict:
        assert self._process.stdin is not None
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        try:
            return json.loads(self._lines.get(timeout=timeout_s))
        except queue.Empty:
            pytest.fail(f"microphone child gave no answer to {command!r}; its log:\n{self._log_path.read_text()}")

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()  # the child closes its source and exits
        try:
            self._process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5.0)


def play_until_heard(child: MicrophoneChild, env: dict[str, str], wav: Path) -> dict:
    """Play wav into the null sink until the child hears it; the child's answer."""
    player = subprocess.Popen(["paplay", f"--device={NULL_SINK}", str(wav)], env=env)
    try:
        return child.ask("peak 8 0.3")  # PulseAudio's first block can take ~2 s
    finally:
        player.kill()
        player.wait(timeout=5.0)


def test_real_microphone_through_pulseaudio(tmp_path: Path) -> None:
    wav = write_test_wav(tmp_path / "loud.wav", segments=[(8.0, 0.8, 440.0)])  # killed once heard
    with start_pulseaudio() as env:
        child = MicrophoneChild(env, tmp_path / "child.log")
        try:
            opened = child.ask("wait 5 live")
            assert opened["status"]["state"] == "live", opened
            loud = play_until_heard(child, env, wav)
            time.sleep(0.3)  # let the end of the tone leave the 50 ms window
            silent = child.ask("peak 0.5 1")
        finally:
            child.close()
    assert loud["rms"] > 0.3, loud  # paplay's 0.8 sine (RMS 0.57) arrived through the monitor
    assert silent["rms"] < 0.01, silent
    assert loud["status"]["state"] == silent["status"]["state"] == "live", (loud, silent)


def test_real_microphone_that_appears_later_is_picked_up(tmp_path: Path) -> None:
    wav = write_test_wav(tmp_path / "loud.wav", segments=[(8.0, 0.8, 440.0)])
    pulse_dir = tmp_path / "pulse"
    child = MicrophoneChild(pulse_client_env(pulse_dir), tmp_path / "child.log")
    try:
        before = child.ask("wait 8 fallback")  # no server yet: the default device cannot open
        assert before["status"]["state"] == "fallback", before
        assert child.ask("peak 0.3 1")["rms"] == 0.0  # silence meanwhile
        with start_pulseaudio(pulse_dir) as env:  # the "microphone" is plugged in
            after = child.ask("wait 8 live")
            assert after["status"]["state"] == "live", after
            loud = play_until_heard(child, env, wav)
        unplugged = child.ask("wait 8 fallback")  # the server is gone: the stream dies
    finally:
        child.close()
    assert loud["rms"] > 0.3, loud
    assert unplugged["status"]["state"] == "fallback", unplugged
    log_text = (tmp_path / "child.log").read_text()
    # One warning per outage (not per retry), and one "is back" in between.
    assert log_text.count("WARNING") == 2 and log_text.count("is back") == 1, log_text
