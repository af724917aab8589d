"""The x4 super-resolution post-processor: shapes, checkpoints, the registry keeps it out of the
generator list, the shipped net beats bicubic on held-out emoji, and the worker uses it on colour
models only."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from installation.config import ConfigError, load_config
from installation.render.superres import (
    BUDGET_MS,
    DEFAULT_PATH,
    PROBE_FRAMES,
    SuperResolver,
    load_superres,
)
from installation.render.worker import GeneratorWorker, RenderRequest
from models.checkpoint import load_checkpoint, save_checkpoint
from models.gan import GANConfig, Generator
from models.registry import ASSETS_DIR, default_model_name, list_models, load_generator, resolve
from models.superres import SuperRes, SuperResConfig, upscale_bicubic
from models.superres_eval import bicubic, enlarge, psnr, sharpness
from models.train_superres import downscale

HELD_OUT = Path(__file__).parent / "data" / "emoji128_heldout.png"


def held_out_images() -> np.ndarray:
    """(16, 128, 128, 3) uint8: emoji the shipped net never trained on."""
    grid = np.asarray(Image.open(HELD_OUT).convert("RGB"))
    return np.stack([grid[r * 128 : (r + 1) * 128, c * 128 : (c + 1) * 128] for r in range(4) for c in range(4)])


def test_shapes_and_an_untrained_net_is_bicubic():
    net = SuperRes(SuperResConfig(width=8, depth=2)).eval()
    x = torch.rand(2, 3, 16, 20) * 2 - 1
    with torch.no_grad():
        y = net(x)
    assert y.shape == (2, 3, 64, 80)
    assert y.min() >= -1 and y.max() <= 1  # clamped when showing
    assert torch.allclose(y, upscale_bicubic(x, 4).clamp(-1, 1), atol=1e-6)  # zero-initialised residual


def test_checkpoint_round_trip(tmp_path):
    net = SuperRes(SuperResConfig(width=8, depth=1))
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # leave the bicubic start so the weights matter
    path = save_checkpoint(net, "superres", tmp_path / "sr.safetensors")
    again = load_checkpoint(path)
    assert isinstance(again, SuperRes) and again.config == net.config
    x = torch.rand(1, 3, 12, 12) * 2 - 1
    with torch.no_grad():
        assert torch.equal(again(x), net.eval()(x))


def test_registry_never_offers_a_post_processor_as_generator(tmp_path):
    net = SuperRes(SuperResConfig(width=8, depth=1))
    save_checkpoint(net, "superres", tmp_path / "sr-test.safetensors")
    (tmp_path / "sr-test.json").write_text(json.dumps({"name": "sr-test", "arch": "superres", "rank": 99}))
    gen = Generator(GANConfig(img_resolution=8, g_width=8, max_width=16))
    save_checkpoint(gen, "gan", tmp_path / "tiny.safetensors")
    (tmp_path / "tiny.json").write_text(json.dumps({"name": "tiny", "arch": "gan", "rank": 1}))
    names = [e.name for e in list_models(tmp_path)]
    assert "tiny" in names and "sr-test" not in names
    assert default_model_name(tmp_path) == "tiny"  # the higher rank of a post-processor does not count
    with pytest.raises(ValueError, match="post-processor, not a generator"):
        load_generator(str(tmp_path / "sr-test.safetensors"))
    # the shipped one likewise: listed nowhere, and asking for it by name says what exists
    assert "sr-emoji" not in {e.name for e in list_models()} and default_model_name() != "sr-emoji"
    with pytest.raises(ValueError, match="no model named 'sr-emoji'"):
        resolve("sr-emoji")


def test_shipped_card_says_post_processor():
    card = json.loads(DEFAULT_PATH.with_suffix(".json").read_text())
    assert card["arch"] == "superres" and card["role"] == "post-processor"
    assert "not a generator" in card["description"] and "rank" not in card
    assert card["dataset"]["licence"] and card["dataset"]["preparation"] and card["training_command"]
    assert card["steps"] > 0 and card["metrics"]["held_out_clean"]["sr"]["psnr"] > 0
    assert DEFAULT_PATH.stat().st_size <= 15 * 1024 * 1024
    assert (ASSETS_DIR / "sr-emoji.png").is_file()


def gain(net: torch.nn.Module, high: np.ndarray) -> tuple[float, float, float]:
    """Mean PSNR gain over bicubic (dB), and strong-edge % of SR and of bicubic, on 32 -> 128 px."""
    low = downscale(high, 4, "lanczos")  # as the shipped 32 px training data was made
    big_sr, big_bc = enlarge(net, low), bicubic(low, 4)
    d_psnr = float(np.mean([psnr(s, h) - psnr(b, h) for s, b, h in zip(big_sr, big_bc, high)]))
    edges = [float(np.mean([sharpness(im, at_480x270=False)["edge_pct"] for im in big])) for big in (big_sr, big_bc)]
    return d_psnr, edges[0], edges[1]


def test_shipped_net_is_sharper_than_bicubic_on_held_out_emoji():
    torch.set_num_threads(1)
    high = held_out_images()
    d_psnr, edge_sr, edge_bc = gain(load_checkpoint(DEFAULT_PATH), high)
    assert d_psnr > 1.0, f"SR gains only {d_psnr:.2f} dB PSNR over bicubic"
    assert edge_sr > 1.5 * edge_bc, (edge_sr, edge_bc)
    assert edge_sr <= 1.5 * np.mean(
        [sharpness(h, at_480x270=False)["edge_pct"] for h in high]
    )  # sharper, not noisier than the truth
    # the same measurement says no for an untrained net (which is bicubic)
    d_untrained, edge_untrained, _ = gain(SuperRes(SuperResConfig()).eval(), high)
    assert d_untrained < 0.3 and not edge_untrained > 1.5 * edge_bc


class Field(torch.nn.Module):
    """A real one-channel generator (a field model's output layout): SR must leave it alone."""

    z_dim, img_resolution, img_channels = 4, 32, 1

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
        return (0.5 - (xx**2 + yy**2).sqrt())[None, None].expand(z.shape[0], 1, 32, 32) * 2


def render_once(worker: GeneratorWorker, z: np.ndarray, size=(640, 360)) -> np.ndarray:
    worker.start()
    try:
        worker.submit(RenderRequest(z, size, "cover", time.perf_counter(), 1))
        result, _ = worker.results.wait_newer(0, timeout_s=30.0)
        assert result is not None and result.frame_rgb is not None, result
        return result.frame_rgb
    finally:
        worker.close()


def test_worker_enlarges_colour_models_with_the_shipped_net():
    model, _ = load_generator("vae-emoji")
    z = np.random.default_rng(3).standard_normal((1, model.z_dim)).astype(np.float32)
    resolver = load_superres("auto")
    assert resolver is not None
    sharp = GeneratorWorker(model, torch.device("cpu"))
    sharp.configure_superres(resolver)
    frame_sr = render_once(sharp, z)
    frame_bc = render_once(GeneratorWorker(model, torch.device("cpu")), z)
    assert resolver.applied >= 1 and frame_sr.shape == frame_bc.shape == (360, 640, 3)
    assert np.abs(frame_sr.astype(int) - frame_bc.astype(int)).mean() < 12  # the same picture, only crisper
    # crisper over several pictures (one foggy VAE sample alone gains less): what render() returns to the show
    plain, zs = (
        GeneratorWorker(model, torch.device("cpu")),
        np.random.default_rng(4).standard_normal((6, 1, model.z_dim)),
    )
    lap_sr = np.mean(
        [
            sharpness(
                sharp.render(model, RenderRequest(z.astype(np.float32), (640, 360), "cover", 0.0, 1)), at_480x270=False
            )["lap_var"]
            for z in zs
        ]
    )
    lap_bc = np.mean(
        [
            sharpness(
                plain.render(model, RenderRequest(z.astype(np.float32), (640, 360), "cover", 0.0, 1)), at_480x270=False
            )["lap_var"]
            for z in zs
        ]
    )
    assert lap_sr > 1.2 * lap_bc, (lap_sr, lap_bc)  # measured 1.81 vs 1.35; an untrained net gives 1.0


def test_worker_leaves_fields_resolution_free_models_and_small_enlargements_alone():
    resolver = load_superres("auto")
    assert resolver is not None
    z = np.zeros((1, 4), np.float32)
    worker = GeneratorWorker(Field(), torch.device("cpu"))
    worker.configure_superres(resolver)
    frame = render_once(worker, z)
    assert frame.shape == (360, 640, 3) and frame.std() > 10  # it did render the field
    cppn, _ = load_generator("seeded-cppn")
    worker = GeneratorWorker(cppn, torch.device("cpu"), render_size=48)
    worker.configure_superres(resolver)
    render_once(worker, np.zeros((1, cppn.z_dim), np.float32))
    image = torch.zeros(1, 3, 32, 32)
    assert not resolver.wants(torch.nn.Identity(), image, (96, 96))  # x3: bicubic is enough
    assert not resolver.wants(torch.nn.Identity(), torch.zeros(1, 3, 128, 128), (1920, 1080))  # large already
    assert resolver.wants(torch.nn.Identity(), image, (640, 360))
    assert resolver.applied == 0


def test_too_slow_switches_itself_off_after_the_warm_up(caplog):
    resolver = SuperResolver(SuperRes(SuperResConfig(width=8, depth=1)), budget_ms=0.0, warmup_s=0.2)
    image, model = torch.zeros(1, 3, 16, 16), torch.nn.Identity()
    deadline = time.perf_counter() + 30.0
    with caplog.at_level(logging.WARNING, logger="installation.render.superres"), torch.inference_mode():
        while resolver.enabled and time.perf_counter() < deadline:
            assert resolver.apply(model, image, (640, 360)).shape[-1] == 64
            if time.perf_counter() - resolver._t_first_s < 0.2:  # the start-up burst is never judged
                assert resolver.times_ms == []
        assert resolver.apply(model, image, (640, 360)).shape[-1] == 16  # off now: the picture passes through
    assert not resolver.enabled and len(resolver.times_ms) == PROBE_FRAMES
    assert resolver.applied > PROBE_FRAMES  # the warm-up frames were enlarged, not timed
    assert [r.message for r in caplog.records if "superres" in r.message and "off from now on" in r.message]


def test_on_never_switches_off():
    resolver = load_superres("on")
    assert resolver is not None and resolver.budget_ms == float("inf")
    image, model = torch.zeros(1, 3, 32, 32), torch.nn.Identity()
    with torch.inference_mode():
        resolver.warmup_s = 0.0
        for _ in range(PROBE_FRAMES + 1):
            assert resolver.apply(model, image, (640, 360)).shape[-1] == 128
    assert resolver.enabled and resolver.times_ms == []  # nothing was judged
    auto = load_superres("auto")
    assert auto is not None and auto.budget_ms == BUDGET_MS


def test_off_broken_and_config(tmp_path, caplog):
    assert load_superres("off") is None
    broken = tmp_path / "sr.safetensors"
    broken.write_bytes(b"not a checkpoint")
    with caplog.at_level(logging.WARNING):
        assert load_superres("auto", broken) is None
    assert any("bicubic only" in r.message and str(broken) in r.message for r in caplog.records)
    gen = Generator(GANConfig(img_resolution=8, g_width=8, max_width=16))
    save_checkpoint(gen, "gan", tmp_path / "gan.safetensors")
    assert load_superres("auto", tmp_path / "gan.safetensors") is None  # a generator is no enlarger
    assert load_config(overrides=["generator.superres=off"]).generator.superres == "off"
    assert load_config(overrides=["generator.superres=on"]).generator.superres == "on"
    with pytest.raises(ConfigError, match=r"generator.superres: expected one of .*auto.*on.*off"):
        load_config(overrides=["generator.superres=sometimes"])


def test_trainer_runs_checkpoints_and_resumes(tmp_path):
    from models.train_superres import main as train_main

    data = tmp_path / "hr"
    data.mkdir()
    np.save(data / "images.npy", held_out_images())
    out = tmp_path / "run"
    args = [
        "--data",
        str(data),
        "--out",
        str(out),
        "--set",
        "width=8",
        "--set",
        "depth=1",
        "--set",
        "batch_size=4",
        "--set",
        "holdout=0.25",
        "--set",
        "log_every=5",
    ]
    train_main(args + ["--set", "steps=10"])
    info = json.loads((out / "train.json").read_text())
    assert info["step"] == 10 and len(info["held_out"]) == 4 and info["model_config"]["width"] == 8
    train_main(args + ["--set", "steps=15", "--resume"])
    assert json.loads((out / "train.json").read_text())["step"] == 15
    net = load_checkpoint(out / "model.safetensors")
    assert isinstance(net, SuperRes) and (out / "samples.png").is_file()


def test_bench_reports_what_superres_adds_per_frame():
    from installation.bench.generators import bench_superres
    from installation.config import AccelConfig

    report = bench_superres(torch.device("cpu"), 0.05, AccelConfig(trace=False))
    assert "vae-emoji" in report and "cppn-emoji" not in report and "seeded-cppn" not in report
    row = report["vae-emoji"]
    assert row["bicubic"]["frames"] >= 3 and row["superres"]["frames"] >= 3 and row["superres"]["size"] == "640x360"
