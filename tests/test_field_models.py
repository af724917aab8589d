"""Field models end to end: the checkpoint header says "field", the worker hands over the field,
mirror mode encodes a real silhouette (never the image) with a field VAE."""

import logging
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from installation.features.look import VideoAnalyser
from installation.mapping.mirror import MirrorEncoder, silhouette_field
from installation.render.worker import GeneratorWorker, RenderRequest
from models.checkpoint import load_checkpoint, read_field_info, save_checkpoint
from models.field import FieldInfo, field_info
from models.gan import GANConfig, Generator
from models.vae import VAE, VAEConfig

DATA = Path(__file__).parent / "data"
FIELD = {"output": "field", "field_type": "sdf", "field_spread_px": "2.0"}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("fields")
    torch.manual_seed(0)
    gan = Generator(GANConfig(z_dim=16, img_resolution=32, img_channels=1, g_width=8, d_width=8, max_width=32))
    vae = VAE(VAEConfig(z_dim=16, img_resolution=32, img_channels=1, width=8, max_width=32))
    colour = Generator(GANConfig(z_dim=16, img_resolution=32, img_channels=3, g_width=8, d_width=8, max_width=32))
    return {
        "gan": save_checkpoint(gan, "gan", d / "gan-field.safetensors", extra=FIELD),
        "vae": save_checkpoint(vae, "vae", d / "vae-field.safetensors", extra=FIELD),
        "colour": save_checkpoint(colour, "gan", d / "colour.safetensors"),
        "bad": save_checkpoint(gan, "gan", d / "bad.safetensors", extra={**FIELD, "field_spread_px": "wide"}),
    }


def test_the_header_decides_field_or_colour(checkpoints, caplog):
    assert read_field_info(checkpoints["gan"]) == FieldInfo("sdf", 2.0)
    assert read_field_info(checkpoints["colour"]) is None
    assert field_info(load_checkpoint(checkpoints["vae"])) == FieldInfo("sdf", 2.0)
    assert field_info(load_checkpoint(checkpoints["colour"])) is None
    with caplog.at_level(logging.ERROR):
        model = load_checkpoint(checkpoints["bad"])  # still loads: drawn as colours, said once
    assert field_info(model) is None
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "field_spread_px" in errors[0] and "'wide'" in errors[0]


def test_the_worker_hands_a_field_model_s_field_to_the_main_thread(checkpoints):
    for name, want_field in (("gan", True), ("colour", False)):
        model = load_checkpoint(checkpoints[name])
        worker = GeneratorWorker(model, torch.device("cpu"))
        worker.start()
        try:
            z = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
            worker.submit(RenderRequest(z, (320, 180), "cover", time.perf_counter(), 1))
            result, _ = worker.results.wait_newer(0, 30.0)
        finally:
            worker.close()
        assert result is not None and result.error == ""
        if want_field:
            assert result.frame_rgb is None and result.field is not None
            assert (
                result.field.shape == (32, 32) and result.field.dtype == np.float32
            )  # the model's size, not the screen's
            assert result.field.min() >= -1.0 and result.field.max() <= 1.0 and result.field_spread_px == 2.0
        else:
            assert result.field is None and result.frame_rgb.shape == (180, 320, 3)


def real_silhouette() -> np.ndarray:
    """The foreground mask of people walking in a real street video, from the real analyser."""
    cap = cv2.VideoCapture(str(DATA / "vtest_people_160x120.avi"))
    analyser, result, i = VideoAnalyser(), None, 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        result = analyser.update(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i / 10)
        i += 1
    cap.release()
    assert result is not None and result.silhouette_mask is not None
    return result.silhouette_mask


def test_a_silhouette_becomes_a_field_like_the_training_data():
    mask = np.zeros((120, 160), np.uint8)
    cv2.ellipse(mask, (80, 60), (20, 40), 0, 0, 360, 255, -1)  # a standing figure, 40 x 80 px
    field = silhouette_field(mask, 64, 4.0)[0, 0].numpy()
    assert field.shape == (64, 64)
    assert field[32, 32] == pytest.approx(1.0) and field[0, 0] == pytest.approx(-1.0)  # ink inside, paper out
    rows = np.nonzero((field > 0).any(axis=1))[0]
    assert 0.65 * 64 < rows.max() - rows.min() + 1 < 0.8 * 64  # the figure at a glyph's size, centred
    assert abs((rows.max() + rows.min()) / 2 - 31.5) < 1.5
    # one model px outside the edge the field is -1/spread (a distance, not a blur)
    col = field[:, 32]
    top = rows.min()
    assert col[top - 2] == pytest.approx(-1.5 / 4.0, abs=0.15)
    assert silhouette_field(np.zeros((120, 160), np.uint8), 64, 4.0) is None  # nobody there


def test_mirror_encodes_the_real_silhouette_and_never_the_image(checkpoints):
    vae = load_checkpoint(checkpoints["vae"])
    mask = real_silhouette()
    assert np.count_nonzero(mask) > 0.002 * mask.size  # people were found
    encoder = MirrorEncoder(vae, lambda: None)
    rng = np.random.default_rng(1)
    a = encoder.encode(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), mask)
    b = encoder.encode(np.zeros((120, 160, 3), np.uint8), mask)
    assert a is not None and a.shape == (16,) and np.all(np.isfinite(a))
    assert np.array_equal(a, b)  # two different camera images, one silhouette: one latent
    assert encoder.encode(np.zeros((120, 160, 3), np.uint8), None) is None  # no mask: nothing to read
