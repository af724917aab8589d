"""Snapshots: the generated picture (never the camera image) saved as PNG on a short-lived thread."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)


def write_png(frame_rgb: np.ndarray, directory: Path) -> Path | None:
    """Atomically write frame_rgb as snapshot-<time>.png; None (and one logged error) on failure."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        ok, data = cv2.imencode(".png", cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))
        if not ok:
            raise OSError("PNG encoding failed")
        path = directory / time.strftime("snapshot-%Y%m%d-%H%M%S.png")
        n = 1
        while path.exists():
            path = path.with_name(f"{path.stem.split('_')[0]}_{n}.png")
            n += 1
        tmp = path.with_suffix(".png.tmp")
        with open(tmp, "wb") as f:
            f.write(data.tobytes())
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
        log.info("snapshot saved: %s", path)
        return path
    except OSError as exc:  # disk full, read-only: the show goes on
        log.error("snapshot not saved to %s (%s); the show goes on", directory, exc)
        return None


def save_snapshot_async(frame_rgb: np.ndarray, directory: Path) -> threading.Thread:
    thread = threading.Thread(target=write_png, args=(frame_rgb.copy(), directory), name="snapshot", daemon=True)
    thread.start()
    return thread
