"""How crisp a recording is: python -m installation.bench.crispness REC.mp4 [--every N] [--json PATH]

Every Nth frame is converted to grey (ITU-R BT.601 luma, 0..255), area-downscaled to 480x270 (so
a 4K and a 720p recording are judged at the same scale and sensor-like pixel noise averages out),
and measured two ways:

- `laplacian_var`: variance of the 3x3 Laplacian (cv2.Laplacian, ksize=1: 4-neighbour kernel
  [[0,1,0],[1,-4,1],[0,1,0]]) of the grey image. A soft colour blob scores ~2, a street video ~100.
- `strong_edge_pct`: share of pixels, in %, whose gradient magnitude exceeds 60 grey levels per
  pixel. The gradient is the 3x3 Sobel (cv2.Sobel, ksize=3) divided by 8, its gain on a ramp, so a
  ramp rising 60 grey levels from one pixel to the next measures exactly 60:
  magnitude = sqrt(Sobel_x^2 + Sobel_y^2) / 8.

Figures are the mean over the measured frames (min and max too). Issue 11's target for the default
preset at 1920x1080: strong_edge_pct >= 1 and laplacian_var >= 8.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

SIZE = (480, 270)  # (width, height) every frame is judged at
STRONG_EDGE = 60.0  # grey levels per pixel
SOBEL_GAIN = 8.0  # the 3x3 Sobel's response to a ramp of 1 grey level per pixel


def frame_figures(frame_rgb: np.ndarray) -> tuple[float, float]:
    """(laplacian variance, strong-edge %) of one (H, W, 3) uint8 RGB frame."""
    grey = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)
    if (grey.shape[1], grey.shape[0]) != SIZE:
        grey = cv2.resize(grey, SIZE, interpolation=cv2.INTER_AREA)
    g = grey.astype(np.float64)
    laplacian_var = float(cv2.Laplacian(g, cv2.CV_64F, ksize=1).var())
    gx = cv2.Sobel(g, cv2.CV_64F, 1, 0, ksize=3) / SOBEL_GAIN
    gy = cv2.Sobel(g, cv2.CV_64F, 0, 1, ksize=3) / SOBEL_GAIN
    strong_pct = float((np.hypot(gx, gy) > STRONG_EDGE).mean() * 100.0)
    return laplacian_var, strong_pct


def read_frames(path: str | Path, every: int = 1) -> Iterator[np.ndarray]:
    """RGB frames of a video file (every Nth), decoded by OpenCV."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise OSError(f"{path}: cannot open the video")
    try:
        index = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            if index % every == 0:
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        cap.release()


def measure(path: str | Path, every: int = 1, skip: int = 0) -> dict[str, Any]:
    """Figures of a recording; `skip` frames at the start (start-up) are left out."""
    lap, strong = [], []
    for i, frame in enumerate(read_frames(path, every)):
        if i * every < skip:
            continue
        a, b = frame_figures(frame)
        lap.append(a)
        strong.append(b)
    if not lap:
        raise ValueError(f"{path}: no frames to measure")
    return {
        "file": str(path),
        "frames_measured": len(lap),
        "size": list(SIZE),
        "laplacian_var": round(float(np.mean(lap)), 2),
        "laplacian_var_min": round(float(np.min(lap)), 2),
        "laplacian_var_max": round(float(np.max(lap)), 2),
        "strong_edge_pct": round(float(np.mean(strong)), 3),
        "strong_edge_pct_min": round(float(np.min(strong)), 3),
        "strong_edge_pct_max": round(float(np.max(strong)), 3),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m installation.bench.crispness",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("video", help="a recording (MP4 or anything OpenCV reads)")
    p.add_argument("--every", type=int, default=10, help="measure every Nth frame (default 10)")
    p.add_argument("--skip", type=int, default=60, help="leave out this many frames at the start (default 60)")
    p.add_argument("--json", metavar="PATH", help="also write the figures here")
    args = p.parse_args(argv)
    try:
        figures = measure(args.video, max(1, args.every), max(0, args.skip))
    except (OSError, ValueError) as exc:
        print(f"crispness: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(figures, indent=2)
    if args.json:
        Path(args.json).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
