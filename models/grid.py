"""Sample grids: many small pictures in one PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def save_grid(images: np.ndarray, path: Path, cols: int = 8) -> None:
    """(N, H, W, 3) uint8 -> one PNG grid."""
    n, h, w, _ = images.shape
    rows = (n + cols - 1) // cols
    grid = np.full((rows * h, cols * w, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = im
    Image.fromarray(grid).save(path)
