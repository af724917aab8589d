"""Senses: owns the camera and microphone sources and turns their newest data into named features.

Runs on the main thread once per display frame; the work is small (a 160x120 frame difference,
the RMS of ~20 ms of audio). Heavier DSP belongs in its own thread, never the audio callback.
"""

from __future__ import annotations

import numpy as np

from installation.config import CameraConfig, MicrophoneConfig
from installation.features import audio, video
from installation.features.smoothing import Ema
from installation.sources.base import SourceStatus
from installation.sources.camera import CameraSource
from installation.sources.microphone import MicrophoneSource

AUDIO_WINDOW_S = 0.025  # loudness is measured over the newest 25 ms


class Senses:
    def __init__(self, camera: CameraConfig, microphone: MicrophoneConfig) -> None:
        self.camera = CameraSource(camera.source, camera.size, camera.retry_s, camera.max_retry_s)
        self.microphone = MicrophoneSource(microphone.source, microphone.samplerate, retry_s=microphone.retry_s,
                                           max_retry_s=microphone.max_retry_s)
        self._audio_n = max(64, int(microphone.samplerate * AUDIO_WINDOW_S))
        self._prev_gray: np.ndarray | None = None
        self._frame_index = -1
        self._motion = Ema(0.3)
        self._loudness = Ema(0.08)
        self._brightness = 0.0
        self.camera_t_s = 0.0  # capture time of the newest camera frame used
        self.audio_t_s = 0.0  # time of the newest audio sample used

    def start(self) -> None:
        self.camera.start()
        self.microphone.start()

    def read(self, dt_s: float) -> dict[str, float]:
        """The current feature values by name, each in a documented range."""
        frame = self.camera.latest()
        motion_now = None
        if frame is not None and frame.index != self._frame_index:
            self._frame_index = frame.index
            self.camera_t_s = frame.t_s
            cur = video.gray(frame.frame_rgb)
            motion_now = video.motion_energy(self._prev_gray, cur)
            self._prev_gray = cur
            self._brightness = float(cur.mean())
        elif frame is None:
            motion_now = 0.0
        motion = self._motion.value if motion_now is None else self._motion.update(motion_now, dt_s)

        samples, self.audio_t_s = self.microphone.read_latest(self._audio_n)
        level_db = audio.dbfs(audio.rms(samples))
        loud = self._loudness.update(audio.loudness(level_db), dt_s)
        return {
            "loudness": loud,  # 0..1, smoothed
            "loudness_db": level_db,  # dBFS of the newest 25 ms, -90 for silence
            "motion": motion,  # 0..1, smoothed
            "brightness": self._brightness,  # 0..1 mean luma of the camera frame
        }

    def status(self) -> dict[str, SourceStatus]:
        return {"camera": self.camera.status(), "microphone": self.microphone.status()}

    def close(self) -> None:
        self.camera.close()
        self.microphone.close()
