"""The evaluation metric separates data from noise; bring-your-own generators load safely."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from models.architectures import build_model
from models.evaluate import FeatureNet, evaluate, features, kid, prdc
from models.external import ExternalModelError, load_external
from models.registry import load_generator


def blobs(n: int, res: int = 32, seed: int = 0) -> torch.Tensor:
    """Structured 'real' images: one coloured disc on white each. (n, 3, res, res) in [-1, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:res, :res]
    out = np.ones((n, 3, res, res), np.float32)
    for i in range(n):
        cx, cy, r = rng.uniform(8, res - 8, 2).tolist() + [rng.uniform(4, 9)]
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        out[i][:, mask] = rng.uniform(0, 1, (3, 1))
    return torch.from_numpy(out * 2 - 1)


def test_feature_net_is_deterministic() -> None:
    x = blobs(4)
    assert torch.equal(FeatureNet()(x), FeatureNet()(x))


def test_kid_and_prdc_separate_real_from_noise() -> None:
    net = FeatureNet()
    real_a, real_b = features(net, blobs(120, seed=1)), features(net, blobs(120, seed=2))
    noise = features(net, torch.rand(120, 3, 32, 32) * 2 - 1)
    k_real, _ = kid(real_a, real_b, subsets=5, subset_size=60)
    k_noise, _ = kid(real_a, noise, subsets=5, subset_size=60)
    assert k_noise > 20 * max(k_real, 1e-4)
    assert prdc(real_a, real_b)["precision"] > 0.5
    assert prdc(real_a, noise)["precision"] < 0.1


def test_evaluate_reports_every_metric() -> None:
    model = build_model("gan", {"img_resolution": 32, "g_width": 8, "d_width": 8, "max_width": 32, "z_dim": 16}).eval()
    m = evaluate(model, blobs(60), n=60)
    for key in (
        "kid_x1000",
        "precision",
        "recall",
        "density",
        "coverage",
        "ppl",
        "memorisation_ratio",
        "kid_x1000_real_vs_real",
    ):
        assert key in m and np.isfinite(m[key])


class Tiny(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(z[:, :3, None, None].expand(-1, 3, 16, 16))  # [0, 1] output


def test_torchscript_generator_with_sidecar(tmp_path) -> None:
    path = tmp_path / "artist.ts"
    torch.jit.script(Tiny()).save(str(path))
    (tmp_path / "artist.json").write_text(
        json.dumps({"z_dim": 4, "resolution": 16, "output_range": [0, 1], "description": "an artist's model"})
    )
    model, entry = load_generator(str(path))
    assert entry.arch == "external" and entry.description == "an artist's model"
    x = model(torch.randn(2, 4))
    assert x.shape == (2, 3, 16, 16) and x.min() >= -1 and x.max() <= 1


def test_export_generator_and_bad_sidecar(tmp_path) -> None:
    path = tmp_path / "exported.pt2"
    torch.export.save(torch.export.export(Tiny(), (torch.randn(1, 4),)), str(path))
    (tmp_path / "exported.json").write_text(json.dumps({"z_dim": 4, "resolution": 16, "output_range": [0, 1]}))
    assert load_external(path)(torch.randn(1, 4)).shape == (1, 3, 16, 16)
    (tmp_path / "exported.json").write_text(json.dumps({"z_dim": 4, "resolution": 32}))
    with pytest.raises(ExternalModelError, match="exported.pt2"):
        load_external(path)
    (tmp_path / "exported.json").unlink()
    with pytest.raises(ExternalModelError, match="sidecar"):
        load_external(path)
