"""Calligraphy data: GB2312 level-1 characters from free CJK fonts as signed-distance fields.

    python -m models.data calligraphy --out data/calli64 --resolution 64 [--fonts kai|all|PATH,...]

Each glyph is drawn large (8x the output side), centred on its ink's bounding box at one fixed
font size (so a 一 stays a thin stroke and a 鑫 stays dense), then turned into a signed distance to
the ink's edge (cv2.distanceTransform inside and outside), area-averaged down to the output side and
stored as a *field*: f = clip(-d / spread_px, -1, 1), positive inside the ink, 0 on the edge, -1 at
`spread_px` output pixels outside. images.npy is (N, R, R, 1) uint8 = round((f + 1) * 127.5).

Fonts are Debian packages (`sudo apt-get install fonts-arphic-ukai fonts-cwtex-kai fonts-lxgw-wenkai
fonts-arphic-uming`); their licences go into report.json and from there into the model cards.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from models.grid import save_grid

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

INSTALL_LINE = "sudo apt-get install fonts-arphic-ukai fonts-cwtex-kai fonts-lxgw-wenkai fonts-arphic-uming"


@dataclass(frozen=True)
class FontSpec:
    key: str  # short name used in reports and --fonts
    path: str  # file (a .ttc's first face is used)
    style: str  # kai (brush) | ming (printed)
    package: str  # Debian package that installs it
    licence: str


FONTS: tuple[FontSpec, ...] = (
    FontSpec("ukai", "/usr/share/fonts/truetype/arphic/ukai.ttc", "kai", "fonts-arphic-ukai", "Arphic Public License"),
    FontSpec(
        "cwtex-kai",
        "/usr/share/fonts/truetype/cwtex/cwkai.ttf",
        "kai",
        "fonts-cwtex-kai",
        "GPL-2+ with font exception (cwTeX; derived from Arphic fonts)",
    ),
    FontSpec(
        "wenkai",
        "/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf",
        "kai",
        "fonts-lxgw-wenkai",
        "SIL Open Font License 1.1",
    ),
    FontSpec(
        "wenkai-bold",
        "/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Bold.ttf",
        "kai",
        "fonts-lxgw-wenkai",
        "SIL Open Font License 1.1",
    ),
    FontSpec(
        "uming", "/usr/share/fonts/truetype/arphic/uming.ttc", "ming", "fonts-arphic-uming", "Arphic Public License"
    ),
)

FIELD_ENCODING = "uint8 = round((f + 1) * 127.5), f = clip(-signed_distance_px / spread_px, -1, 1), ink > 0"


def gb2312_level1() -> list[str]:
    """The 3,755 level-1 hanzi of GB2312: rows 0xB0..0xD7, cells 0xA1..0xFE (row 0xD7 ends at 0xF9)."""
    chars = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            if hi == 0xD7 and lo > 0xF9:
                break
            chars.append(bytes([hi, lo]).decode("gb2312"))
    return chars


def select_fonts(choice: str) -> list[FontSpec]:
    """'kai' (the four brush fonts), 'all', or comma-separated keys / file paths."""
    if choice == "kai":
        return [f for f in FONTS if f.style == "kai"]
    if choice == "all":
        return list(FONTS)
    picked = []
    by_key = {f.key: f for f in FONTS}
    for item in choice.split(","):
        item = item.strip()
        if item in by_key:
            picked.append(by_key[item])
        elif item:
            picked.append(FontSpec(Path(item).stem, item, "custom", "(your file)", "(check the font's licence)"))
    return picked


class FontsMissing(SystemExit):
    """Raised with one message naming every missing font file and the apt-get line that installs them."""


def check_fonts(fonts: list[FontSpec]) -> None:
    missing = [f for f in fonts if not Path(f.path).is_file()]
    if missing:
        packages = sorted({f.package for f in missing if f.package.startswith("fonts-")})
        hint = f"install them with: sudo apt-get install {' '.join(packages)}" if packages else "check the paths"
        raise FontsMissing(f"missing font files: {', '.join(f.path for f in missing)}; {hint}; nothing rendered")


def _cmap(path: str) -> set[int]:
    from fontTools.ttLib import TTFont

    font = TTFont(path, fontNumber=0, lazy=True)  # fontNumber is ignored for a plain .ttf
    return set(font.getBestCmap())


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool ink mask -> signed distance in pixels to the edge: negative inside, positive outside."""
    import cv2

    ink = mask.astype(np.uint8)
    outside = cv2.distanceTransform(1 - ink, cv2.DIST_L2, 5)  # distance of paper pixels to the nearest ink
    inside = cv2.distanceTransform(ink, cv2.DIST_L2, 5)  # distance of ink pixels to the nearest paper
    # both transforms measure to pixel centres; half a pixel puts the zero crossing on the edge itself
    return np.where(mask, -(inside - 0.5), outside - 0.5).astype(np.float32)


def render_mask(char: str, font: ImageFont.FreeTypeFont, canvas: int) -> np.ndarray | None:
    """The glyph's ink as a (canvas, canvas) bool mask, centred on its bounding box; None if blank."""
    left, top, right, bottom = font.getbbox(char)
    if right <= left or bottom <= top:
        return None
    img = Image.new("L", (canvas, canvas), 0)
    x = (canvas - (right - left)) / 2 - left
    y = (canvas - (bottom - top)) / 2 - top
    ImageDraw.Draw(img).text((x, y), char, font=font, fill=255)
    arr = np.asarray(img)
    return arr >= 128 if arr.max() >= 128 else None


def glyph_field(
    char: str, font: ImageFont.FreeTypeFont, resolution: int, spread_px: float, oversample: int = 8
) -> np.ndarray | None:
    """One character -> (R, R) uint8 field (encoding in FIELD_ENCODING); None if the glyph is empty."""
    canvas = resolution * oversample
    mask = render_mask(char, font, canvas)
    if mask is None:
        return None
    d = signed_distance(mask) / oversample  # in output pixels
    d = d.reshape(resolution, oversample, resolution, oversample).mean((1, 3))  # area average
    f = np.clip(-d / spread_px, -1.0, 1.0)
    return np.round((f + 1.0) * 127.5).astype(np.uint8)


def field_picture(x: torch.Tensor, sharpness: float = 8.0) -> torch.Tensor:
    """(B, 1, H, W) field, ink > 0 -> (B, 3, H, W) in [-1, 1]: black ink on white paper, the zero crossing
    anti-aliased over about half a model pixel (spread 4 px: x8). Colour images (B, 3, H, W) pass through."""
    if x.shape[1] != 1:
        return x
    return (-x.float() * sharpness).clamp(-1, 1).repeat(1, 3, 1, 1)


def field_to_float(arr: np.ndarray) -> np.ndarray:
    """uint8 field -> float32 f in [-1, 1] (ink > 0)."""
    return arr.astype(np.float32) / 127.5 - 1.0


def render_calligraphy(
    out: Path,
    resolution: int = 64,
    fonts: list[FontSpec] | None = None,
    spread_px: float | None = None,
    em_fraction: float = 0.82,
    limit: int = 0,
) -> dict:
    """Render every level-1 character in every font; writes images.npy, labels.json, report.json, preview.png."""
    fonts = fonts if fonts is not None else select_fonts("kai")
    check_fonts(fonts)
    spread = spread_px if spread_px is not None else resolution / 16  # 4 px at 64, 8 px at 128
    chars = gb2312_level1()[: limit or None]
    oversample = 8
    fields: list[np.ndarray] = []
    labels: list[list[str]] = []
    per_font: dict[str, dict] = {}
    for spec in fonts:
        font = ImageFont.truetype(spec.path, int(resolution * oversample * em_fraction))
        cmap = _cmap(spec.path)
        rendered, absent, blank = 0, [], []
        for ch in chars:
            if ord(ch) not in cmap:
                absent.append(ch)
                continue
            field = glyph_field(ch, font, resolution, spread, oversample)
            if field is None:
                blank.append(ch)
                continue
            fields.append(field)
            labels.append([spec.key, ch])
            rendered += 1
        per_font[spec.key] = {
            "path": spec.path,
            "style": spec.style,
            "package": spec.package,
            "licence": spec.licence,
            "rendered": rendered,
            "not_in_font": "".join(absent),
            "blank": "".join(blank),
        }
        log.info(
            "calligraphy: %s rendered %d of %d characters (%d not in the font)",
            spec.key,
            rendered,
            len(chars),
            len(absent),
        )
    out.mkdir(parents=True, exist_ok=True)
    images = np.stack(fields)[..., None] if fields else np.zeros((0, resolution, resolution, 1), np.uint8)
    np.save(out / "images.npy", images)
    (out / "labels.json").write_text(json.dumps(labels, ensure_ascii=False))
    report = {
        "kind": "field",
        "field": {"type": "sdf", "spread_px": spread, "resolution": resolution, "encoding": FIELD_ENCODING},
        "characters": len(chars),
        "charset": "GB2312 level 1",
        "kept": len(fields),
        "fonts": per_font,
        "install": INSTALL_LINE,
    }
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    if len(images):
        grey = np.where(images[:64, ..., 0] >= 128, 0, 255).astype(np.uint8)  # ink black on white paper
        save_grid(np.repeat(grey[..., None], 3, axis=3), out / "preview.png")
    return report
