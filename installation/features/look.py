"""The video analyser: one small camera frame in, every camera feature out.

Stateful but single-threaded and clock-free (frame times come in with the frames), so tests feed
it a video file frame by frame. Senses runs it on its own thread, never on the display thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from installation.features import video
from installation.features.faces import SMILE_COUNT, Face, FaceDetector, SmileDetector
from installation.features.flow import DenseFlow, motion_stats
from installation.features.presence import PRESENCE_AREA, Foreground, presence_from_area
from installation.features.smoothing import AttackRelease, AutoGain, Ema, OneEuro

FACE_EVERY_S = 0.4  # Haar detection is the expensive part: ~15-30 ms per 160x120 frame here
FACE_HOLD_S = 0.6  # a face missed by one or two detections is still there
SMILE_S = 0.8  # the smile feature follows the detector with this time constant (it is a noisy one)
FACE_PRESENCE = 0.9  # a detected face means someone is there, whatever the background says
FIRST_DT_S = 1.0 / 30.0
MAX_DT_S = 0.5  # after a stall, do not let one frame pair look like slow motion

Calibration = tuple[str, float, float, float, float]  # (name, raw, normalised, lo, hi)


@dataclass(frozen=True)
class VideoResult:
    features: dict[str, float]  # every camera feature by name; never mutated after publishing
    silhouette_mask: np.ndarray | None  # (H, W) uint8 0/255 foreground; None before the first frame
    faces: tuple[Face, ...]  # (x, y, w, h) fractions of the frame, largest first
    frame_rgb: np.ndarray | None  # (H, W, 3) uint8, the analysed camera frame
    calibration: tuple[Calibration, ...]
    t_s: float  # capture time of the frame


class VideoAnalyser:
    def __init__(self) -> None:
        self._flow = DenseFlow()
        self._foreground = Foreground()
        self._faces = FaceDetector()
        self._smiles = SmileDetector()
        self._smile = Ema(SMILE_S)
        self._smile_raw = (0.0, 0)  # (0..1, confident windows) at the last face detection
        self._t_s: float | None = None
        self._face_due_s = -1e9
        self._last_face_s = -1e9
        self._found: tuple[Face, ...] = ()
        self._motion_gain = AutoGain(floor=0.0, min_span=0.02, fall_s=20.0)  # frame widths/s
        self._motion = Ema(0.3)
        self._motion_x, self._motion_y = Ema(0.3), Ema(0.3)
        self._cx, self._cy = OneEuro(1.0, 2.0, value=0.5), OneEuro(1.0, 2.0, value=0.5)
        self._face_x, self._face_y, self._face_size = OneEuro(1.5, 2.0), OneEuro(1.5, 2.0), OneEuro(1.0, 1.0)
        self._presence = AttackRelease(0.3, 2.0)
        self._occupied = Ema(0.2)
        self._hue_x, self._hue_y = Ema(0.5), Ema(0.5)  # hue smoothed as a point on the colour circle
        self._saturation = Ema(0.5)
        self._occupied_raw = 0.0
        self._result = VideoResult(self._features(0.0, 0.0), None, (), None, self._calibration(), 0.0)

    def blank(self) -> VideoResult:
        """The result before any frame arrived (or the last one, once frames came)."""
        return self._result

    def update(self, frame_rgb: np.ndarray, t_s: float) -> VideoResult:
        dt_s = FIRST_DT_S if self._t_s is None else min(MAX_DT_S, max(1e-3, t_s - self._t_s))
        self._t_s = t_s
        gray = video.gray_u8(frame_rgb)

        stats = motion_stats(self._flow.update(gray), dt_s)
        motion = self._motion.update(self._motion_gain.update(stats.speed, dt_s), dt_s)
        self._motion_x.update(stats.direction_x, dt_s)
        self._motion_y.update(stats.direction_y, dt_s)
        if stats.moving > 0.002:
            self._cx.update(stats.centroid_x, dt_s)
            self._cy.update(stats.centroid_y, dt_s)

        mask, occupied = self._foreground.update(gray, dt_s)
        self._occupied_raw = occupied
        if t_s >= self._face_due_s:
            self._face_due_s = t_s + FACE_EVERY_S
            found = self._faces.detect(gray)
            if found:
                self._found, self._last_face_s = found, t_s
                self._smile_raw = self._smiles.score(gray, found[0])  # the largest face's mouth
            elif t_s - self._last_face_s > FACE_HOLD_S:
                self._found, self._smile_raw = (), (0.0, 0)
        if self._found:
            x, y, w, h = self._found[0]
            self._face_x.update(x + w / 2, dt_s)
            self._face_y.update(y + h / 2, dt_s)
            self._face_size.update(w, dt_s)
        else:
            for f in (self._face_x, self._face_y, self._face_size):
                f.reset()
        self._smile.update(self._smile_raw[0], dt_s)
        presence_now = max(presence_from_area(occupied), FACE_PRESENCE if self._found else 0.0)
        self._presence.update(presence_now, dt_s)
        self._occupied.update(occupied, dt_s)

        hue, saturation = video.dominant_colour(frame_rgb)
        self._hue_x.update(saturation * np.cos(2 * np.pi * hue), dt_s)
        self._hue_y.update(saturation * np.sin(2 * np.pi * hue), dt_s)
        self._saturation.update(saturation, dt_s)
        brightness = float(gray.mean()) / 255.0

        self._result = VideoResult(
            self._features(motion, brightness), mask, self._found, frame_rgb, self._calibration(), t_s
        )
        return self._result

    def _features(self, motion: float, brightness: float) -> dict[str, float]:
        face = bool(self._found)
        return {
            "motion": motion,
            "motion_x": self._motion_x.value,
            "motion_y": self._motion_y.value,
            "motion_cx": float(self._cx.value or 0.5),
            "motion_cy": float(self._cy.value or 0.5),
            "presence": self._presence.value,
            "occupied": self._occupied.value,
            "faces": float(len(self._found)),
            "face_x": float(self._face_x.value or 0.0) if face else 0.0,
            "face_y": float(self._face_y.value or 0.0) if face else 0.0,
            "face_size": float(self._face_size.value or 0.0) if face else 0.0,
            "smile": self._smile.value,
            "brightness": brightness,
            "hue": float(np.arctan2(self._hue_y.value, self._hue_x.value) / (2 * np.pi)) % 1.0,
            "saturation": self._saturation.value,
        }

    def _calibration(self) -> tuple[Calibration, ...]:
        gain = self._motion_gain
        return (
            ("motion", gain.raw, gain.value, *gain.range()),
            ("presence", self._occupied_raw, presence_from_area(self._occupied_raw), *PRESENCE_AREA),
            ("smile", float(self._smile_raw[1]), self._smile.value, *SMILE_COUNT),
        )
