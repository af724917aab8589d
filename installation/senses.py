"""Senses: owns the camera and microphone sources and turns their newest data into named features.

Two analysis threads do the work, never the audio callback and never the display thread:
- "senses-vision" waits for each new camera frame and runs the VideoAnalyser (flow, background,
  faces every few frames, colour);
- "senses-hearing" wakes on each audio block the microphone delivers (~6 ms; at the latest every
  two hops), reads the microphone ring and runs the AudioAnalyser once per 256-sample hop it has
  not analysed yet.
Each publishes an immutable result into a LatestSlot; read() merges the two newest results. Hearing
publishes ~172 hops/s for a ~60 Hz reader, so its outbox keeps `loudness_db` at the loudest hop since
the reader's last read: a click between two reads is seen, and a sound that stops shows at once.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, replace

import numpy as np

from installation.config import CameraConfig, MicrophoneConfig
from installation.features.faces import Face
from installation.features.listen import AudioAnalyser, AudioResult, Calibration
from installation.features.look import VideoAnalyser, VideoResult
from installation.features.onset import GATE_DB
from installation.slot import LatestSlot
from installation.sources.base import SourceStatus
from installation.sources.camera import CameraSource
from installation.sources.microphone import MicrophoneSource

log = logging.getLogger(__name__)

HOPS_PER_TICK = 2  # without a block (silence stand-in, a source without blocks) hearing wakes every 2 hops
MAX_BACKLOG_HOPS = 16  # after a longer stall (~190 ms) older audio is skipped, not caught up on
FRAME_WAIT_S = 0.1  # how long the vision thread blocks before checking its stop event
OFF_POLL_S = 0.2  # a source that is off is checked this often
MAX_PHASE_EXTRAPOLATION_S = 0.1  # read() advances beat_phase at most this far past the analysis
JOIN_TIMEOUT_S = 2.0
JUMP_DB = 6.0  # a hop this far from the level last read starts the next frame early (pacing.py)


@dataclass(frozen=True)
class SenseSnapshot:
    features: dict[str, float]  # what read() returns
    chroma: np.ndarray  # (12,) float32, C..B, strongest 1 (zeros in silence)
    silhouette_mask: np.ndarray | None  # (H, W) uint8 0/255 at the camera size; None before a frame
    faces: tuple[Face, ...]  # (x, y, w, h) fractions of the frame, largest first
    camera_frame_rgb: np.ndarray | None  # (H, W, 3) uint8 small camera frame; never written to disk
    t_s: float  # time.perf_counter() when the snapshot was taken


class AudioOutbox:
    """The hearing thread's side of the audio slot: `loudness_db` is the loudest hop published since
    the reader last took a result when the reader has not seen that level (a click between two reads);
    a peak-hold over a fixed time would delay every fall by its length. Also signals jumps (pacing.py)."""

    def __init__(self, slot: LatestSlot[AudioResult]) -> None:
        self.slot = slot
        self.jumped = threading.Event()  # set when a hop differs from what the reader last took (pacing.py)
        self._lock = threading.Lock()
        self._unread_peak_db: float | None = None  # None: the reader has taken the newest result
        self._taken: tuple[float, float] | None = None  # (loudness_db, onset_count) the reader last took

    def publish(self, result: AudioResult) -> None:
        with self._lock:
            peak_db = self._unread_peak_db
            # Only a peak the reader has not seen is kept: a click between two reads. A sustained
            # sound that stops is not held at its last hop, so its end shows at the next read.
            unseen = self._taken is None or (peak_db is not None and peak_db >= self._taken[0] + JUMP_DB)
            if peak_db is not None and peak_db > result.features["loudness_db"] and unseen:
                result = replace(result, features={**result.features, "loudness_db": peak_db})
            self._unread_peak_db = result.features["loudness_db"]
            self.slot.put(result)
            if self._taken is not None and self._is_jump(result.features, *self._taken):
                self.jumped.set()

    @staticmethod
    def _is_jump(features: dict[str, float], taken_db: float, taken_onsets: float) -> bool:
        level_db = features["loudness_db"]
        loud_enough = max(level_db, taken_db) > GATE_DB  # not the noise floor wandering
        return features["onset_count"] > taken_onsets or (loud_enough and abs(level_db - taken_db) >= JUMP_DB)

    def take(self) -> AudioResult:
        """The newest result; the next publish starts a new peak."""
        with self._lock:
            self._unread_peak_db = None
            result, _ = self.slot.get()
            assert result is not None  # Senses puts one before any reader can read
            self._taken = (result.features["loudness_db"], result.features["onset_count"])
            self.jumped.clear()
        return result


# Features that claim a person is there; zero while the camera is a synthetic stand-in.
PEOPLE_FEATURES = ("presence", "occupied", "faces", "face_x", "face_y", "face_size", "smile")


class Senses:
    def __init__(self, camera: CameraConfig, microphone: MicrophoneConfig) -> None:
        self.camera = CameraSource(camera.source, camera.size, camera.retry_s, camera.max_retry_s)
        self.microphone = MicrophoneSource(
            microphone.source, microphone.samplerate, retry_s=microphone.retry_s, max_retry_s=microphone.max_retry_s
        )
        self._video_analyser = VideoAnalyser()
        self._audio_analyser = AudioAnalyser(microphone.samplerate)
        self._video: LatestSlot[VideoResult] = LatestSlot()
        self._video.put(self._video_analyser.blank())
        audio: LatestSlot[AudioResult] = LatestSlot()
        audio.put(self._audio_analyser.update(np.zeros(self._audio_analyser.window, np.float32), 0.0))
        self._audio = AudioOutbox(audio)  # the audio slot lives in the outbox: hearing writes, read() takes
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._cpu_lock = threading.Lock()
        self._cpu_s = {"vision": 0.0, "hearing": 0.0}  # thread CPU time spent analysing

    def start(self) -> None:
        if self._threads:
            return
        self.camera.start()
        self.microphone.start()
        for name, target in (("senses-vision", self._run_vision), ("senses-hearing", self._run_hearing)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def read(self, dt_s: float) -> dict[str, float]:
        """The newest feature values by name, each in a documented range (see docs/senses.md).

        Called once per display frame: two slot reads and a dict merge, no DSP.
        """
        video, _ = self._video.get()
        audio = self._audio.take()
        assert video is not None  # put in __init__
        features = {**video.features, **audio.features}
        if self.camera.status().state != "live":
            # Synthetic stand-in frames keep motion calm but alive; they must not pretend someone is there.
            features.update({name: 0.0 for name in PEOPLE_FEATURES})
        if audio.beat_period_s > 0.0:  # the beat moves on between analysis ticks; follow it smoothly
            ahead_s = min(MAX_PHASE_EXTRAPOLATION_S, max(0.0, time.perf_counter() - audio.t_s))
            features["beat_phase"] = (features["beat_phase"] + ahead_s / audio.beat_period_s) % 1.0
        return features

    def wait_sound_jump(self, timeout_s: float) -> bool:
        """Block up to timeout_s for an onset or a level jump since the last read; True if one came."""
        jumped = self._audio.jumped
        if jumped.wait(timeout_s):
            jumped.clear()  # one early frame per jump, even if this frame does not read the senses
            return True
        return False

    def snapshot(self) -> SenseSnapshot:
        """Features plus the arrays effects need (mask, faces, chroma, the small camera frame)."""
        video, _ = self._video.get()
        audio, _ = self._audio.slot.get()
        assert video is not None and audio is not None
        if self.camera.status().state != "live":  # nobody to mirror in synthetic frames
            return SenseSnapshot(self.read(0.0), audio.chroma, None, (), None, time.perf_counter())
        return SenseSnapshot(
            self.read(0.0), audio.chroma, video.silhouette_mask, video.faces, video.frame_rgb, time.perf_counter()
        )

    def calibration(self) -> list[Calibration]:
        """(name, raw, normalised, lo, hi) of every auto-gained or range-mapped feature, for a HUD page."""
        video, _ = self._video.get()
        audio, _ = self._audio.slot.get()
        assert video is not None and audio is not None
        return [*audio.calibration, *video.calibration]

    def status(self) -> dict[str, SourceStatus]:
        return {"camera": self.camera.status(), "microphone": self.microphone.status()}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time each analysis thread has spent analysing so far (for the budget in docs/senses.md)."""
        with self._cpu_lock:
            return dict(self._cpu_s)

    def close(self) -> None:
        """Stop and join the analysis threads, then the sources."""
        self._stop.set()
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("senses: %s did not stop within %.0f s", thread.name, JOIN_TIMEOUT_S)
        self._threads = []
        self.camera.close()
        self.microphone.close()

    # --- analysis threads -------------------------------------------------------------------

    def _add_cpu(self, part: str, seconds: float) -> None:
        with self._cpu_lock:
            self._cpu_s[part] += seconds

    def _run_vision(self) -> None:
        seen = 0
        try:
            while not self._stop.is_set():
                frame = self.camera.wait_newer(seen, FRAME_WAIT_S)
                if frame is None:
                    continue
                seen = frame.index
                cpu0_s = time.thread_time()
                self._video.put(self._video_analyser.update(frame.frame_rgb, frame.t_s))
                self._add_cpu("vision", time.thread_time() - cpu0_s)
        except Exception:  # a crash here would freeze every camera feature silently; say why instead
            log.exception("senses: vision thread crashed; camera features stay as they were")

    def _run_hearing(self) -> None:
        analyser = self._audio_analyser
        rate, hop, window = analyser.samplerate, analyser.hop, analyser.window
        backlog = MAX_BACKLOG_HOPS * hop
        tick_s = HOPS_PER_TICK * analyser.hop_s
        done_t_s: float | None = None  # time of the newest sample analysed so far
        written = 0  # the microphone's samples-written count last seen
        try:
            while not self._stop.is_set():
                # Woken by each block as it arrives: a sound is analysed ~a block after it is heard,
                # not up to a tick later (issue #12). A source without blocks: a fixed tick.
                wait_block = getattr(self.microphone, "wait_block", None)
                if wait_block is not None:
                    written = wait_block(written, tick_s)
                elif self._stop.wait(tick_s):
                    break
                if self._stop.is_set():
                    break
                if self.microphone.status().state == "off":  # no source at all: nothing to hear
                    done_t_s = None
                    self._stop.wait(OFF_POLL_S)
                    continue
                cpu0_s = time.thread_time()
                block, newest_t_s = self.microphone.read_latest(window + backlog)
                # The ring tells the time of its newest sample, not a sample count: hops are placed
                # by time. Timing jitter moves a frame by a few samples; it never drifts or repeats.
                if done_t_s is None or newest_t_s < done_t_s or (newest_t_s - done_t_s) * rate > backlog:
                    done_t_s = newest_t_s - analyser.hop_s  # (re)start: analyse just the newest hop
                pending = (newest_t_s - done_t_s) * rate  # samples not analysed yet
                hops = math.floor(pending / hop + 1e-3)
                for k in range(hops):
                    back = max(0, round(pending) - (k + 1) * hop)  # samples after this hop's end
                    end = block.shape[0] - back
                    self._audio.publish(analyser.update(block[end - window : end], newest_t_s - back / rate))
                done_t_s += hops * hop / rate
                self._add_cpu("hearing", time.thread_time() - cpu0_s)
        except Exception:  # a crash here would leave the show deaf silently; say why instead
            log.exception("senses: hearing thread crashed; audio features stay as they were")
