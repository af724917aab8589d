"""Faces: OpenCV's bundled Haar cascade for frontal faces (CPU only; run it every few frames)."""

from __future__ import annotations

import logging
import os

import cv2
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
            gray_u8 = cv2.resize(gray_u8, (round(width * scale), round(height * scale)),
                                 interpolation=cv2.INTER_LINEAR)
        gray_u8 = cv2.equalizeHist(gray_u8)  # the cascade was trained on contrast-normalised faces
        found = self._cascade.detectMultiScale(gray_u8, scaleFactor=1.15, minNeighbors=5,
                                               minSize=(MIN_FACE_PX, MIN_FACE_PX))
        big_w, big_h = gray_u8.shape[1], gray_u8.shape[0]
        faces = [(x / big_w, y / big_h, w / big_w, h / big_h) for x, y, w, h in np.asarray(found).reshape(-1, 4)]
        return tuple(sorted(faces, key=lambda f: f[2] * f[3], reverse=True))
