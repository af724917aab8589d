"""Image-folder ingestion and a 2-step training smoke test on a tiny generated folder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from models.checkpoint import load_checkpoint
from models.data import AugmentConfig, ImageArray, PrepareConfig, dhash, prepare
from models.train import main as train_main


def make_folder(root):
    """12 distinct images in two sub-folders, plus: a corrupt file, an exact copy, a near copy,
    a transparent PNG, a big image (refused from its header), a tiny icon."""
    rng = np.random.default_rng(0)
    for i in range(12):
        sub = root / ("cats" if i % 3 else "dogs")
        sub.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8)  # distinct blocky colour fields
        Image.fromarray(coarse).resize((50, 40 + i), Image.Resampling.NEAREST).save(sub / f"img{i:02d}.png")
    good = (root / "cats" / "img04.png").read_bytes()
    (root / "cats" / "broken.png").write_bytes(good[: len(good) // 2])  # valid header, truncated data
    shutil.copy(root / "cats" / "img01.png", root / "cats" / "copy_of_img01.png")
    near = np.asarray(Image.open(root / "cats" / "img02.png")).copy()
    near[0, 0] = (250, 250, 250)
    Image.fromarray(near).save(root / "cats" / "near_img02.jpg", quality=98)
    rgba = np.zeros((30, 30, 4), np.uint8)
    rgba[5:25, 5:25] = (200, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(root / "dogs" / "transparent.png")
    Image.new("RGB", (400, 300), (9, 90, 200)).save(root / "dogs" / "huge.png")
    Image.new("RGB", (8, 8), (0, 0, 0)).save(root / "dogs" / "icon.png")


@pytest.fixture()
def prepared(tmp_path):
    src = tmp_path / "src"
    make_folder(src)
    out = tmp_path / "prepared"
    report = prepare([src], out, PrepareConfig(resolution=16, max_megapixels=0.1), log=lambda s: None)
    return src, out, report


def test_report_lists_what_was_dropped_and_why(prepared) -> None:
    src, out, report = prepared
    saved = json.loads((out / "report.json").read_text())
    assert saved["found"] == report["found"] == 18
    dropped = {reason: files for reason, files in saved["dropped_files"].items()}
    flat = {r: " ".join(f) for r, f in dropped.items()}
    assert any("broken.png" in v and r.startswith(("corrupt", "unreadable")) for r, v in flat.items())
    assert "copy_of_img01.png" in flat["exact duplicate"]
    assert "near_img02.jpg" in flat["near duplicate"] or "img02.png" in flat["near duplicate"]
    assert any("huge.png" in v and r.startswith("too large") for r, v in flat.items())
    assert any("icon.png" in v and r.startswith("too small") for r, v in flat.items())
    assert saved["kept"] == 13  # 12 distinct + the transparent one
    assert set(saved["per_folder"]) == {"src/cats", "src/dogs"}
    images = np.load(out / "images.npy")
    assert images.shape == (13, 16, 16, 3) and images.dtype == np.uint8
    i = saved["files"].index(str(src / "dogs" / "transparent.png"))
    assert images[i].astype(int).sum(axis=2).min() > 150  # transparent black became white background, not black
    assert images[i, 0, 0].min() > 230


def test_dhash_is_stable_under_small_changes() -> None:
    a = Image.fromarray(np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1)))
    b = Image.fromarray(np.clip(np.asarray(a).astype(int) + 3, 0, 255).astype(np.uint8))
    assert bin(dhash(a) ^ dhash(b)).count("1") <= 2


def test_augmented_batches_are_in_range(prepared) -> None:
    _, out, _ = prepared
    ds = ImageArray(out, AugmentConfig(flip=True, shift=2, jitter=0.2))
    x = ds.batch(8, torch.Generator().manual_seed(0))
    assert x.shape == (8, 3, 16, 16) and x.min() >= -1 and x.max() <= 1


TINY = {
    "gan": ["g_width=4", "d_width=4", "max_width=16", "z_dim=8"],
    "sagan": ["g_width=4", "d_width=4", "max_width=16", "z_dim=8", "attn_res=8"],
    "vae": ["width=4", "max_width=16", "z_dim=4"],
}


@pytest.mark.parametrize("arch", sorted(TINY))
def test_two_step_training_smoke(arch, prepared, tmp_path) -> None:
    _, data, _ = prepared
    run = tmp_path / f"run_{arch}"
    sets = [f"--set={s}" for s in TINY[arch] + ["steps=2", "batch_size=4", "sample_every=1", "threads=1"]]
    train_main(["--arch", arch, "--data", str(data), "--out", str(run), *sets])
    for name in (
        "model.safetensors",
        "state.pt",
        "train.json",
        "loss.png",
        "samples/latest.png",
        "samples/step_000002.png",
    ):
        assert (run / name).is_file(), name
    assert json.loads((run / "train.json").read_text())["step"] == 2
    model = load_checkpoint(run / "model.safetensors")
    assert model(torch.randn(2, model.z_dim)).shape == (2, 3, 16, 16)
    train_main(
        [
            "--arch",
            arch,
            "--data",
            str(data),
            "--out",
            str(run),
            "--resume",
            *sets[:-4],
            "--set=steps=3",
            "--set=batch_size=4",
            "--set=threads=1",
        ]
    )
    assert json.loads((run / "train.json").read_text())["step"] == 3
    if arch == "vae":  # the CPPN decoder learns from this VAE's encoder
        crun = tmp_path / "run_cppn"
        train_main(
            [
                "--arch",
                "cppn",
                "--data",
                str(data),
                "--out",
                str(crun),
                "--set=steps=2",
                "--set=batch_size=4",
                f"--set=teacher={run / 'model.safetensors'}",
                "--set=hidden=8",
                "--set=train_res=8",
                "--set=threads=1",
            ]
        )
        cppn = load_checkpoint(crun / "model.safetensors")
        assert cppn.z_dim == 4 and cppn(torch.randn(1, 4), 20, 30).shape == (1, 3, 20, 30)
