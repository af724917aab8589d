"""What a show sends its web panel once a second: a `PanelFrame` (status JSON and a few rows of the
picture), and the thumbnail JPEG made from it on the panel's side of the hand-off."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PANEL_ENV = "REVERIE_PANEL_SOCKET"  # set by --supervise: the Unix socket its panel listens on
THUMB_W = 320  # px width of the JPEG thumbnail
THUMB_SOURCE_H = 360  # the main thread copies every n-th row, about this many (whole rows: a fast memcpy)
JPEG_QUALITY = 75


@dataclass(frozen=True)
class PanelFrame:
    status_json: bytes  # the figures, already JSON
    picture_rgb: np.ndarray | None  # (h', w, 3) uint8, a private copy of about THUMB_SOURCE_H of its rows
    size: tuple[int, int] = (0, 0)  # (w, h) px of the picture as the screen shows it (its aspect)


def encode_jpeg(picture_rgb: np.ndarray | None, size: tuple[int, int] = (0, 0)) -> bytes:
    """The thumbnail JPEG (THUMB_W wide, the aspect of size, else of the array), or b"" when there is none."""
    if picture_rgb is None or picture_rgb.size == 0:
        return b""
    w, h = size if min(size) > 0 else (picture_rgb.shape[1], picture_rgb.shape[0])
    size = (THUMB_W, max(1, round(h * THUMB_W / w)))
    small = cv2.resize(picture_rgb, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return data.tobytes() if ok else b""


def subsample(picture_rgb: np.ndarray) -> np.ndarray:
    """A small private copy of the picture: every n-th whole row (at 1080p 2 MB, ~0.2 ms, where a
    row-and-column stride takes ~2 ms); the panel's thread does the rest."""
    step = max(1, picture_rgb.shape[0] // THUMB_SOURCE_H)
    return np.ascontiguousarray(picture_rgb[::step])
