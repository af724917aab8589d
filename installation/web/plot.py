"""The engagement picture for the web panel: where in the latent plane visitors dwelt and touched.

Each region of installation/mapping/engagement.py is a disc at its place on the plane the walk
steers in (the model's two main directions): its area grows with the seconds people dwelt there,
its colour from blue (little) to yellow (most), an orange ring for touches; a white cross marks
where the picture is now. Drawn with OpenCV (already a dependency), about a millisecond.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

SIZE = (480, 360)  # (w, h) px
MARGIN = 36
BG = (24, 20, 18)  # BGR
AXIS = (70, 64, 60)
TEXT = (210, 210, 210)
TOUCH = (40, 140, 255)  # orange, BGR
EMPTY = (120, 112, 106)


def engagement_png(data: dict[str, Any] | None) -> bytes:
    canvas = np.full((SIZE[1], SIZE[0], 3), BG, np.uint8)
    w, h = SIZE
    cx, cy = w // 2, (h + 18) // 2
    cv2.line(canvas, (MARGIN, cy), (w - MARGIN, cy), AXIS, 1, cv2.LINE_AA)
    cv2.line(canvas, (cx, MARGIN), (cx, h - MARGIN + 10), AXIS, 1, cv2.LINE_AA)
    _text(canvas, "where visitors dwelt (disc size) and touched (orange rings)", (10, 20), 0.45)
    _text(canvas, "main direction 1", (w - MARGIN - 112, cy - 6), 0.38, AXIS)
    _text(canvas, "main direction 2", (cx + 6, MARGIN + 6), 0.38, AXIS)
    points = _points(data)
    if points is None:
        _text(canvas, "no data yet", (cx - 45, cy - 10), 0.5)
        return _png(canvas)
    x, y, dwell, touches, now = points
    scale = (min(w, h) / 2 - MARGIN) / max(float(np.abs(np.concatenate([x, y, now])).max()), 1e-6)
    px = np.round(cx + x * scale).astype(int)
    py = np.round(cy - y * scale).astype(int)
    top = max(float(dwell.max()), 1e-9)
    for i in np.argsort(dwell):  # biggest last, so small ones are not hidden under them
        share = float(dwell[i]) / top if dwell.max() > 0 else 0.0
        radius = 3 + round(22 * math.sqrt(share))
        colour = cv2.applyColorMap(np.array([[int(255 * share)]], np.uint8), cv2.COLORMAP_VIRIDIS)[0, 0].tolist()
        if share > 0:
            cv2.circle(canvas, (int(px[i]), int(py[i])), radius, colour, -1, cv2.LINE_AA)
        else:  # a region nobody dwelt in yet: a faint ring, so the plane's regions still show
            cv2.circle(canvas, (int(px[i]), int(py[i])), radius, EMPTY, 1, cv2.LINE_AA)
        if touches[i] > 0:
            cv2.circle(
                canvas, (int(px[i]), int(py[i])), radius + 3, TOUCH, 1 + min(4, int(touches[i]) // 5), cv2.LINE_AA
            )
    nx, ny = round(cx + now[0] * scale), round(cy - now[1] * scale)
    cv2.drawMarker(canvas, (nx, ny), (255, 255, 255), cv2.MARKER_CROSS, 14, 2, cv2.LINE_AA)
    total_s, total_touches = float(dwell.sum()), int(touches.sum())
    summary = (
        f"{total_s / 60:.1f} min dwelt, {total_touches} touches"
        if total_s > 0 or total_touches
        else "nobody yet: discs grow where people stay"
    )
    _text(canvas, f"{summary}; + = the picture now", (10, h - 10), 0.4)
    return _png(canvas)


def _points(data: dict[str, Any] | None) -> tuple[np.ndarray, ...] | None:
    """The arrays, or None when data is missing or does not fit together."""
    if not isinstance(data, dict):
        return None
    try:
        arrays = [np.asarray(data[k], dtype=np.float64).ravel() for k in ("x", "y", "dwell_s", "touches", "now")]
    except (KeyError, TypeError, ValueError):
        return None
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays[1:4]) or len(arrays[4]) != 2:
        return None
    if not all(np.isfinite(a).all() for a in arrays):
        return None
    arrays[2] = np.clip(arrays[2], 0.0, None)
    arrays[3] = np.clip(arrays[3], 0.0, None)
    return tuple(arrays)


def _text(
    canvas: np.ndarray, text: str, at: tuple[int, int], scale: float, colour: tuple[int, int, int] = TEXT
) -> None:
    cv2.putText(canvas, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def _png(canvas: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", canvas)
    return data.tobytes() if ok else b""
