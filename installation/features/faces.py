"""Faces: OpenCV's bundled Haar cascade for frontal faces (CPU only; run it every few frames)."""

from __future__ import annotations

import logging
import os

import cv2
import cv2.data  # the bundled Haar cascades (a submodule: named for the type checker)
import numpy as np

log = logging.getLogger(__name__)

CASCADE = "haarcascade_frontalface_default.xml"
MIN_DETECT_WIDTH = 160  # smaller camera frames are enlarged to this (the cascade needs ~20 px faces)
MIN_FACE_PX = 20  # smallest face searched for: at 160x120, a face ~1.5 m from a wide-angle camera

Face = tuple[float, float, float, float]  # (x, y, w, h) as fractions of the frame, x/y top-left


class FaceDetector:
    def __init__(self) -> None:
        path = os.path.join(cv2.data.haarcascades, CASCADE)
        self._cascade = cv2.CascadeClassifier(path)
        self.available = not self._cascade.empty()
        if not self.available:
            log.warning("faces: cannot load %s; face features stay 0", path)

    def detect(self, gray_u8: np.ndarray) -> tuple[Face, ...]:
        """Faces in a grey frame, largest first, normalised to the frame size."""
        if not self.available:
            return ()
        height, width = gray_u8.shape
        scale = max(1.0, MIN_DETECT_WIDTH / width)
        if scale > 1.0:
            gray_u8 = cv2.resize(gray_u8, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_LINEAR)
        gray_u8 = cv2.equalizeHist(gray_u8)  # the cascade was trained on contrast-normalised faces
        found = self._cascade.detectMultiScale(
            gray_u8, scaleFactor=1.15, minNeighbors=5, minSize=(MIN_FACE_PX, MIN_FACE_PX)
        )
        big_w, big_h = gray_u8.shape[1], gray_u8.shape[0]
        faces = [(x / big_w, y / big_h, w / big_w, h / big_h) for x, y, w, h in np.asarray(found).reshape(-1, 4)]
        return tuple(sorted(faces, key=lambda f: f[2] * f[3], reverse=True))


SMILE_CASCADE = "haarcascade_smile.xml"
SMILE_ROI_W = 96  # px: the mouth region is scaled to this width (camera faces are 20-80 px wide)
SMILE_WEIGHT = 1.5  # cascade confidence above which a window counts as smiling
SMILE_COUNT = (8.0, 26.0)  # confident windows that map to smile 0 .. 1
# Why a count: the smile cascade fires on every mouth when asked for any window at all; a broad
# smile passes many windows through the last stages, a closed mouth few. On 160x120 videos made
# from two real portraits (tests/test_smile.py), NASA's smiling astronaut gave 30 windows on average
# (20 % of detections below 24), Grace Hopper's neutral one 7 (80 % below 8). Histogram
# equalisation of the mouth made the two harder to tell apart, so it is left out.


class SmileDetector:
    """OpenCV's Haar smile cascade on the mouth of a face already found: 0 (neutral) .. 1 (smiling)."""

    def __init__(self) -> None:
        path = os.path.join(cv2.data.haarcascades, SMILE_CASCADE)
        self._cascade = cv2.CascadeClassifier(path)
        self.available = not self._cascade.empty()
        if not self.available:
            log.warning("faces: cannot load %s; the smile feature stays 0", path)

    def confident_windows(self, gray_u8: np.ndarray, face: Face) -> int:
        """How many smile windows pass the cascade with confidence > SMILE_WEIGHT in the face's mouth."""
        if not self.available:
            return 0
        height, width = gray_u8.shape
        x, y, w, h = face
        x0, x1 = int((x + 0.1 * w) * width), int((x + 0.9 * w) * width)
        y0, y1 = int((y + 0.55 * h) * height), int((y + h) * height)
        mouth = gray_u8[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
        if mouth.shape[0] < 4 or mouth.shape[1] < 8:
            return 0
        roi_h = max(16, round(SMILE_ROI_W * mouth.shape[0] / mouth.shape[1]))
        mouth = cv2.resize(mouth, (SMILE_ROI_W, roi_h), interpolation=cv2.INTER_CUBIC)
        _, _, weights = self._cascade.detectMultiScale3(
            mouth, scaleFactor=1.1, minNeighbors=0, minSize=(30, 15), outputRejectLevels=True
        )
        return int((np.asarray(weights, np.float64).ravel() > SMILE_WEIGHT).sum())

    def score(self, gray_u8: np.ndarray, face: Face) -> tuple[float, int]:
        """(smile 0..1, confident windows) for one face."""
        count = self.confident_windows(gray_u8, face)
        lo, hi = SMILE_COUNT
        return min(1.0, max(0.0, (count - lo) / (hi - lo))), count
