"""Is the learned x4 enlargement worth it? Figures against bicubic, and pictures to look at.

    python -m models.superres_eval --sr runs/sr-emoji/model.safetensors --data data/emoji128 \
        --train-json runs/sr-emoji/train.json --out runs/sr-emoji/eval [--ship sr-emoji --notes "..."]

1. Held-out emoji at 128 px (images the SR never trained on): 32 px inputs made as the shipped
   32 px data was (Lanczos), enlarged by bicubic (cv2, as the show does) and by SR; PSNR and SSIM
   against the 128 px original, and sharpness (below) of each.
2. The same in the generator's own style: the input is the VAE's reconstruction of the 32 px image.
3. Generator outputs as the show renders them at 1920x1080 (worker render at the compositor's
   working size, then the compositor's upscale; no grain): sharpness with and without SR.
4. Cost: ms per 32 -> 128 px frame with 1 torch thread, and the worker's whole render with and without.

Sharpness is issue 11's measure (installation/bench/crispness.py): grey levels 0..255 of a frame
area-downscaled to 480x270 (images at 128 px are measured as they are); `lap_var` = variance of
the 3x3 Laplacian; `edge_pct` = % of pixels whose Sobel gradient magnitude exceeds 60 grey levels
per pixel (3x3 Sobel divided by 8, its gain for a unit-per-pixel ramp).

Pictures in --out: heldout.png (rows: 32 px input, bicubic, SR, original), side-by-side.png (each
model's 1080p frame, bicubic left, SR right, shown at a third of the size), crop-1to1.png (the
centre of the first model's frames at screen pixels) and the full frames.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from installation.bench.crispness import SOBEL_GAIN, STRONG_EDGE, frame_figures
from models.checkpoint import load_checkpoint_as, save_checkpoint
from models.superres import SuperRes
from models.train_superres import downscale, split_indices, to_tensor
from models.vae import VAE

METRIC_NOTES = (
    "psnr/ssim: against the 128 px original (ssim on grey, Gaussian window 1.5); lap_var: variance of "
    "the 3x3 Laplacian of grey levels; edge_pct: % of pixels with Sobel/8 magnitude > 60 grey levels per "
    "pixel; show frames are area-downscaled to 480x270 first; held-out images are measured at 128 px. "
    "See models/superres_eval.py and docs/models.md"
)


def sharpness(frame_rgb: np.ndarray, at_480x270: bool = True) -> dict[str, float]:
    """(H, W, 3) uint8 -> {"lap_var", "edge_pct"}: issue 11's measure (installation/bench/crispness.py),
    on a frame area-downscaled to 480x270, or (at_480x270=False) on a small image as it is."""
    if at_480x270:
        lap_var, edge_pct = frame_figures(frame_rgb)
        return {"lap_var": lap_var, "edge_pct": edge_pct}
    grey = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    gx = cv2.Sobel(grey, cv2.CV_64F, 1, 0, ksize=3) / SOBEL_GAIN
    gy = cv2.Sobel(grey, cv2.CV_64F, 0, 1, ksize=3) / SOBEL_GAIN
    return {
        "lap_var": float(cv2.Laplacian(grey, cv2.CV_64F, ksize=1).var()),
        "edge_pct": float(100.0 * (np.hypot(gx, gy) > STRONG_EDGE).mean()),
    }


def psnr(a_rgb: np.ndarray, b_rgb: np.ndarray) -> float:
    mse = float(np.mean((a_rgb.astype(np.float64) - b_rgb.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim(a_rgb: np.ndarray, b_rgb: np.ndarray) -> float:
    """SSIM of the grey images (Wang et al. 2004: Gaussian window sigma 1.5, K1 0.01, K2 0.03)."""
    a = cv2.cvtColor(a_rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    b = cv2.cvtColor(b_rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def bicubic(low_rgb: np.ndarray, scale: int) -> np.ndarray:
    """The show's enlargement: cv2 bicubic, per image."""
    return np.stack(
        [cv2.resize(im, (im.shape[1] * scale, im.shape[0] * scale), interpolation=cv2.INTER_CUBIC) for im in low_rgb]
    )


@torch.no_grad()
def enlarge(net: SuperRes, low_rgb: np.ndarray) -> np.ndarray:
    return to_uint8(torch.cat([net(to_tensor(low_rgb[i : i + 32])) for i in range(0, len(low_rgb), 32)]))


def compare(net: SuperRes, low_rgb: np.ndarray, high_rgb: np.ndarray) -> dict[str, Any]:
    """Bicubic vs SR against the originals: mean PSNR, SSIM, sharpness; and the share SR wins."""
    scale = int(net.scale)
    results: dict[str, Any] = {}
    per_image: dict[str, list[float]] = {}
    for name, big in (("bicubic", bicubic(low_rgb, scale)), ("sr", enlarge(net, low_rgb))):
        rows = [
            {"psnr": psnr(b, h), "ssim": ssim(b, h), **sharpness(b, at_480x270=False)} for b, h in zip(big, high_rgb)
        ]
        results[name] = {k: round(statistics.fmean(r[k] for r in rows), 4) for k in rows[0]}
        per_image[name] = [r["psnr"] for r in rows]
    results["target"] = {
        k: round(statistics.fmean(sharpness(h, at_480x270=False)[k] for h in high_rgb), 4)
        for k in ("lap_var", "edge_pct")
    }
    results["sr_psnr_wins_pct"] = round(
        100.0 * float(np.mean(np.array(per_image["sr"]) > np.array(per_image["bicubic"]))), 1
    )
    results["n"] = len(high_rgb)
    return results


# ------------------------------------------------------------------ the show's pipeline


def show_frames(
    model: torch.nn.Module, latents: np.ndarray, sr: Any, screen: tuple[int, int] = (1920, 1080), work_height: int = 360
) -> list[np.ndarray]:
    """Frames as the show composes them: worker render at the working size, compositor upscale (no grain)."""
    from installation.mapping.presets import EffectsPreset
    from installation.render.effects import Compositor
    from installation.render.worker import GeneratorWorker, RenderRequest

    worker = GeneratorWorker(model, torch.device("cpu"))
    worker.configure_superres(sr)
    frames = []
    for i, z in enumerate(latents):
        comp = Compositor(screen, "cover", work_height)
        frame = worker.render(model, RenderRequest(z[None].astype(np.float32), comp.work_size, "cover", 0.0, i))
        comp.add_frame(frame, 0.0)
        out = comp.compose(10.0, {}, EffectsPreset())
        assert out is not None
        frames.append(out.copy())  # the compositor reuses its output buffer
    return frames


def time_ms(fn: Any, n: int = 60) -> float:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return round(statistics.median(samples), 2)


def side_by_side(left: np.ndarray, right: np.ndarray, crop: tuple[int, int] | None = (640, 480)) -> np.ndarray:
    """Two frames next to each other, a white gap between: centre crops at screen pixels, or
    (crop=None) the whole frames at a third of their size."""
    h, w = left.shape[:2]
    if crop is None:
        left, right = (cv2.resize(f, (w // 3, h // 3), interpolation=cv2.INTER_AREA) for f in (left, right))
    else:
        y, x = (h - crop[1]) // 2, (w - crop[0]) // 2
        left, right = left[y : y + crop[1], x : x + crop[0]], right[y : y + crop[1], x : x + crop[0]]
    return np.concatenate([left, np.full((left.shape[0], 8, 3), 255, np.uint8), right], axis=1)


def save_rgb(path: Path, image_rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))


def evaluate(
    sr_path: str, data: str, train_json: str, out: Path, models: list[str], n_frames: int = 8
) -> dict[str, Any]:
    from installation.render.superres import SuperResolver
    from models.registry import load_generator

    torch.set_num_threads(1)
    net = load_checkpoint_as(sr_path, SuperRes)
    info = json.loads(Path(train_json).read_text())
    hr_all = np.load(Path(data) / "images.npy", allow_pickle=False)
    held = (
        info.get("held_out")
        or split_indices(len(hr_all), info["train_config"]["holdout"], info["train_config"]["seed"])[1]
    )
    high = hr_all[np.asarray(held)]
    low = downscale(high, int(net.scale), "lanczos")
    report: dict[str, Any] = {"sr": sr_path, "held_out_clean": compare(net, low, high)}
    out.mkdir(parents=True, exist_ok=True)
    order = [0, 3, 7, 11, 19, 23, 29, 31]
    grid = [
        np.concatenate(list(r[order]), axis=1)
        for r in (low.repeat(4, axis=1).repeat(4, axis=2), bicubic(low, 4), enlarge(net, low), high)
    ]
    save_rgb(out / "heldout.png", np.concatenate(grid, axis=0))

    vae, _ = load_generator("vae-emoji")
    if not isinstance(vae, VAE):
        raise SystemExit("vae-emoji is not a VAE")
    with torch.no_grad():
        mu, _ = vae.encode_raw(to_tensor(low))
        rec = to_uint8(vae.decode_raw(mu))  # (N, 32, 32, 3) in the VAE's own style
    report["held_out_vae_style"] = compare(net, rec, high)

    resolver = SuperResolver(net, budget_ms=float("inf"), source=Path(sr_path).name)
    rng = np.random.default_rng(11)
    report["show_1080p"] = {}
    rows: list[np.ndarray] = []
    for name in models:
        model, _ = load_generator(name)
        latents = rng.standard_normal((n_frames, int(model.z_dim))).astype(np.float32)
        plain, sharp = show_frames(model, latents, None), show_frames(model, latents, resolver)
        row = {}
        for label, frames in (("bicubic", plain), ("sr", sharp)):
            m = [sharpness(f) for f in frames]
            row[label] = {k: round(statistics.fmean(x[k] for x in m), 3) for k in m[0]}
        worker_plain, worker_sr = _worker(model, None), _worker(model, resolver)
        from installation.render.worker import RenderRequest

        req = RenderRequest(latents[:1], (640, 360), "cover", 0.0, 1)
        row["render_ms_1thread"] = {
            "bicubic": time_ms(functools.partial(worker_plain.render, model, req)),
            "sr": time_ms(functools.partial(worker_sr.render, model, req)),
        }
        report["show_1080p"][name] = row
        save_rgb(out / f"show-{name}-sr-full.png", sharp[0])
        save_rgb(out / f"show-{name}-bicubic-full.png", plain[0])
        rows.append(side_by_side(plain[0], sharp[0], crop=None))
        if len(rows) == 1:
            save_rgb(out / "crop-1to1.png", side_by_side(plain[0], sharp[0]))
    gap = np.full((8, rows[0].shape[1], 3), 255, np.uint8)
    save_rgb(out / "side-by-side.png", np.concatenate([part for r in rows for part in (r, gap)][:-1], axis=0))
    x = to_tensor(low[:1])
    with torch.inference_mode():
        report["cost_ms_32_to_128_1thread"] = {
            "sr_eager": time_ms(lambda: net(x), 100),
            "sr_traced": time_ms(lambda: resolver._net_for(x)(x), 100),
            "bicubic_torch": time_ms(lambda: torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic"), 100),
        }
    report["load_average"] = [round(v, 2) for v in os.getloadavg()]  # the figures' context: a shared CPU
    (out / "eval.json").write_text(json.dumps(report, indent=1))
    return report


def ship(
    sr_path: str,
    train_json: str,
    report: dict[str, Any],
    eval_dir: Path,
    name: str,
    notes: str,
    out_dir: Path | None = None,
) -> Path:
    """assets/models/NAME.safetensors (fp32: 0.6 MB) + a card that says post-processor + the held-out grid."""
    from models.export import dataset_info
    from models.registry import ASSETS_DIR
    from models.train_config import hardware

    out_dir = out_dir or ASSETS_DIR
    card_path = out_dir / f"{name}.json"
    if not notes and card_path.is_file():  # re-shipping keeps what a person wrote after looking
        notes = str(json.loads(card_path.read_text()).get("notes", ""))
    info = json.loads(Path(train_json).read_text())
    net = load_checkpoint_as(sr_path, SuperRes)
    path = save_checkpoint(
        net, "superres", out_dir / f"{name}.safetensors", extra={"name": name, "role": "post-processor"}
    )
    data = dataset_info(Path(info["train_config"]["data"]))
    data["preparation"].append(
        "32 px inputs: each 128 px target downscaled x4 by PIL Lanczos (as models.data prepare "
        "made data/emoji32; matches it to 0.26 grey levels), 25 % by area, 25 % blurred a little"
    )
    data["held_out"] = (
        f"{len(info['held_out'])} images (seeded permutation, seed {info['train_config']['seed']}), never trained on"
    )
    card = {
        "name": name,
        "arch": "superres",
        "role": "post-processor",
        "description": "x4 super-resolution CNN for small colour models (post-processor, not a generator); "
        "generator.superres = auto applies it",
        "config": info["model_config"],
        "scale": int(net.scale),
        "dataset": data,
        "training_command": info["command"],
        "train_config": info["train_config"],
        "steps": info["step"],
        "wall_time_s": info["wall_time_s"],
        "cpu_time_s": info["cpu_time_s"],
        "hardware": hardware(torch.device("cpu"), info["train_config"]["threads"]),
        "metrics": report,
        "metric_notes": METRIC_NOTES,
        "storage": "fp32",
        "file_bytes": path.stat().st_size,
        "notes": notes,
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    if (eval_dir / "heldout.png").is_file():  # rows: 32 px input, bicubic, SR, the 128 px original
        (eval_dir / "heldout.png").replace(out_dir / f"{name}.png")
    return path


def _worker(model: torch.nn.Module, sr: Any) -> Any:
    from installation.render.worker import GeneratorWorker

    worker = GeneratorWorker(model, torch.device("cpu"))
    worker.configure_superres(sr)
    return worker


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m models.superres_eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sr", default="runs/sr-emoji/model.safetensors")
    p.add_argument("--data", default="data/emoji128")
    p.add_argument("--train-json", default="runs/sr-emoji/train.json")
    p.add_argument("--out", type=Path, default=Path("runs/sr-emoji/eval"))
    p.add_argument("--models", default="vae-emoji,sagan-emoji,gan-mnist")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--ship", default="", metavar="NAME", help="also write assets/models/NAME.{safetensors,json,png}")
    p.add_argument("--notes", default="", help="the card's notes: what the pictures look like")
    args = p.parse_args(argv)
    report = evaluate(args.sr, args.data, args.train_json, args.out, args.models.split(","), args.frames)
    print(json.dumps(report, indent=1))
    if args.ship:
        print(f"shipped {ship(args.sr, args.train_json, report, args.out, args.ship, args.notes)}")


if __name__ == "__main__":
    main()
