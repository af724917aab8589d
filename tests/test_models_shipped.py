"""Every model shipped in assets/models loads from its file alone and draws varied images."""

from __future__ import annotations

import json

import pytest
import torch

from models.architectures import POST_PROCESSORS
from models.checkpoint import load_checkpoint
from models.registry import ASSETS_DIR, default_model_name, list_models, load_generator

# generators only: post-processors (sr-emoji, tests/test_superres.py) draw nothing from a latent
SHIPPED = sorted(
    p
    for p in ASSETS_DIR.glob("*.safetensors")
    if json.loads(p.with_suffix(".json").read_text()).get("arch") not in POST_PROCESSORS
)
CARD_KEYS = {
    "name",
    "arch",
    "description",
    "config",
    "dataset",
    "training_command",
    "steps",
    "wall_time_s",
    "hardware",
    "metrics",
}


def test_at_least_three_models_on_two_data_sets() -> None:
    assert len(SHIPPED) >= 3
    sets = {json.loads(p.with_suffix(".json").read_text())["dataset"]["name"] for p in SHIPPED}
    assert len(sets) >= 2


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_model(path) -> None:
    assert path.stat().st_size <= 15 * 1024 * 1024
    card = json.loads(path.with_suffix(".json").read_text())
    assert set(card) >= CARD_KEYS, CARD_KEYS - set(card)
    assert card["name"] == path.stem and "\n" not in card["description"]
    assert card["dataset"]["licence"] and card["dataset"]["preparation"]
    assert path.with_suffix(".png").is_file()
    model = load_checkpoint(path)
    assert model.config is not None
    z = torch.randn(8, model.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = model(z)
    channels = 1 if card.get("output") == "field" else 3  # a field model draws one distance channel
    assert x.shape[:2] == (8, channels) and x.min() >= -1 and x.max() <= 1
    if channels == 1:  # each field has ink and paper, and the header agrees with the card
        from models.checkpoint import read_header

        assert read_header(path)["output"] == "field" and card["field"]["spread_px"] > 0
        assert ((x > 0).float().mean(dim=(1, 2, 3)) > 0.03).all() and ((x < 0).float().mean(dim=(1, 2, 3)) > 0.3).all()
    assert x.std(dim=(1, 2, 3)).min() > 0.05  # each image has structure, not a flat colour
    assert (x - x.mean(0)).abs().mean() > 0.02  # and the images differ from one another
    assert card["arch"] == json.loads(path.with_suffix(".json").read_text())["arch"]


def test_registry_lists_shipped_models_and_picks_a_default() -> None:
    names = {e.name for e in list_models()}
    assert {p.stem for p in SHIPPED} <= names
    default = default_model_name()
    _model, entry = load_generator(default)
    assert entry.name == default


def test_vae_encoder_round_trip() -> None:
    vaes = [p for p in SHIPPED if json.loads(p.with_suffix(".json").read_text())["arch"] == "vae"]
    for path in vaes:
        vae = load_checkpoint(path)
        with torch.no_grad():
            x = vae(torch.randn(4, vae.z_dim))
            mu, logvar = vae.encode(x)
            again = vae(mu)
        assert mu.shape == logvar.shape == (4, vae.z_dim)
        assert (again - x).abs().mean() < 0.25  # the encoder inverts the decoder roughly
