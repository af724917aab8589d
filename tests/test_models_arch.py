"""Every architecture: protocol attributes, output shape and range, checkpoint round trips."""

from __future__ import annotations

import pytest
import torch

from models.architectures import ARCHITECTURES, POST_PROCESSORS, build_model
from models.attention import SelfAttention
from models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from models.registry import load_generator

SMALL = {
    "gan": {"img_resolution": 32, "g_width": 8, "d_width": 8, "max_width": 32, "z_dim": 16},
    "sagan": {"img_resolution": 32, "g_width": 8, "d_width": 8, "max_width": 32, "z_dim": 16},
    "vae": {"img_resolution": 32, "width": 8, "max_width": 32, "z_dim": 8},
    "cppn": {"z_dim": 8, "hidden": 16, "img_resolution": 24},
    "seed-dcgan": {},
}


def test_every_architecture_is_covered() -> None:
    assert set(SMALL) == set(ARCHITECTURES) - POST_PROCESSORS  # post-processors: tests/test_superres.py


@pytest.mark.parametrize("arch", sorted(SMALL))
def test_shape_and_range(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(arch, SMALL[arch]).eval()
    assert model.config is not None
    z = torch.randn(3, model.z_dim) * 3  # wide latents must still land in range
    with torch.no_grad():
        x = model(z)
    r = model.img_resolution
    assert x.shape == (3, model.img_channels, r, r)
    assert x.min() >= -1 and x.max() <= 1
    assert torch.isfinite(x).all()


def test_cppn_renders_any_size() -> None:
    model = build_model("cppn", SMALL["cppn"]).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 8), 40, 72).shape == (2, 3, 40, 72)


def test_vae_encode_takes_any_frame_size() -> None:
    vae = build_model("vae", SMALL["vae"]).eval()
    with torch.no_grad():
        mu, logvar = vae.encode(torch.rand(2, 3, 48, 64) * 2 - 1)
    assert mu.shape == logvar.shape == (2, 8)


def test_sagan_has_attention_at_16() -> None:
    model = build_model("sagan", SMALL["sagan"])
    blocks = [m for m in model.modules() if isinstance(m, SelfAttention)]
    assert len(blocks) == 1
    attn = SelfAttention(16, sn=True)
    x = torch.randn(2, 16, 16, 16)
    assert attn(x).shape == x.shape
    assert torch.equal(attn(x), x)  # gamma starts at 0: identity until trained


@pytest.mark.parametrize("arch", sorted(SMALL))
def test_checkpoint_round_trip(arch: str, tmp_path) -> None:
    torch.manual_seed(1)
    model = build_model(arch, SMALL[arch]).eval()
    path = save_checkpoint(model, arch, tmp_path / f"{arch}.safetensors")
    loaded = load_checkpoint(path)
    z = torch.randn(2, model.z_dim)
    with torch.no_grad():
        assert torch.equal(model(z), loaded(z))
    _same, entry = load_generator(str(path))
    assert entry.path == path


def test_half_checkpoint_is_close(tmp_path) -> None:
    model = build_model("gan", SMALL["gan"]).eval()
    path = save_checkpoint(model, "gan", tmp_path / "g.safetensors", half=True)
    z = torch.randn(2, model.z_dim)
    with torch.no_grad():
        assert torch.allclose(model(z), load_checkpoint(path)(z), atol=2e-2)


def test_corrupt_and_mismatched_files_name_the_file(tmp_path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_checkpoint(bad)
    model = build_model("gan", SMALL["gan"])
    path = save_checkpoint(model, "gan", tmp_path / "cut.safetensors")
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="cut.safetensors"):
        load_checkpoint(path)


def test_vae_prior_whitening_keeps_encode_and_forward_consistent() -> None:
    torch.manual_seed(0)
    vae = build_model("vae", SMALL["vae"]).eval()
    x = torch.rand(6, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        raw_mu, _ = vae.encode_raw(x)
        vae.fit_prior(raw_mu * 3 + 1)
        mu, _ = vae.encode(x)
        assert torch.allclose(vae(mu), vae.decode_raw(raw_mu), atol=1e-4)
