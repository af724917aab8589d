"""The calligraphy data renderer: GB2312 level 1, signed-distance fields, fonts, report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFont

from models.data import ImageArray
from models.glyphs import (
    FONTS,
    FontsMissing,
    check_fonts,
    field_to_float,
    gb2312_level1,
    glyph_field,
    render_calligraphy,
    select_fonts,
    signed_distance,
)

KAI = select_fonts("kai")
HAVE_FONTS = all(Path(f.path).is_file() for f in FONTS)
needs_fonts = pytest.mark.skipif(
    not HAVE_FONTS, reason="CJK fonts missing: " + " ".join(sorted({f.package for f in FONTS}))
)


def test_gb2312_level1_is_the_3755_hanzi() -> None:
    chars = gb2312_level1()
    assert len(chars) == 3755 and len(set(chars)) == 3755
    assert chars[0] == "啊" and chars[-1] == "座"  # first and last of level 1 (pinyin order)
    assert all("\u4e00" <= c <= "\u9fff" for c in chars)


def test_signed_distance_sign_and_scale() -> None:
    mask = np.zeros((64, 64), bool)
    mask[20:44, 28:36] = True  # an 8 px wide vertical bar
    d = signed_distance(mask)
    assert d[32, 31] < 0 and d[32, 10] > 0  # negative inside the ink, positive on paper
    assert d[32, 28] == pytest.approx(-0.5) and d[32, 27] == pytest.approx(0.5)  # the edge sits between pixels
    assert d[32, 31] == pytest.approx(-3.5)  # the middle of the bar: 4 px from either side, less half a pixel
    assert d[32, 17] == pytest.approx(10.5, abs=0.1)  # 11 pixels left of the bar's first column


@needs_fonts
def test_glyph_field_encoding_matches_the_ink() -> None:
    font = ImageFont.truetype(KAI[0].path, 64 * 8 * 82 // 100)
    u8 = glyph_field("永", font, resolution=64, spread_px=4.0)
    assert u8 is not None and u8.shape == (64, 64) and u8.dtype == np.uint8
    f = field_to_float(u8)
    assert f.min() == pytest.approx(-1.0)  # paper far from the strokes saturates at -spread
    ink = f > 0
    assert 0.05 < ink.mean() < 0.4  # a character, not a blob or nothing
    assert not ink[:3].any() and not ink[-3:].any() and not ink[:, :3].any() and not ink[:, -3:].any()  # margins
    ys, xs = np.nonzero(ink)
    assert abs(ys.mean() - 31.5) < 6 and abs(xs.mean() - 31.5) < 6  # centred


@needs_fonts
def test_every_character_rendered_and_licences_reported(tmp_path: Path) -> None:
    report = render_calligraphy(tmp_path, resolution=32, fonts=select_fonts("all"), limit=60)
    per_font = report["fonts"]
    assert set(per_font) == {f.key for f in FONTS}
    for key, entry in per_font.items():
        assert entry["licence"] and entry["package"].startswith("fonts-")
        assert entry["rendered"] + len(entry["not_in_font"]) + len(entry["blank"]) == 60, key
        assert entry["blank"] == ""  # a character the font maps is never drawn empty
    assert per_font["ukai"]["rendered"] == 60  # the Arphic kai covers all of GB2312 level 1
    images = np.load(tmp_path / "images.npy")
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert images.shape == (report["kept"], 32, 32, 1) and len(labels) == report["kept"]
    assert report["field"]["spread_px"] == 2.0 and report["kind"] == "field"
    ds = ImageArray(tmp_path)  # training reads the one-channel field directly
    assert ds.channels == 1 and ds.all().shape == (report["kept"], 1, 32, 32)
    assert (tmp_path / "preview.png").is_file()


def test_missing_fonts_one_clear_message(tmp_path: Path) -> None:
    fonts = select_fonts(f"ukai,{tmp_path / 'nope.ttf'}")
    with pytest.raises(FontsMissing) as exc:
        check_fonts(fonts)
    message = str(exc.value)
    assert (
        "nope.ttf" in message and ("apt-get install" in message or "check the paths" in message) and "\n" not in message
    )
    with pytest.raises(FontsMissing):
        render_calligraphy(tmp_path / "out", fonts=fonts)
    assert not (tmp_path / "out").exists()  # nothing half-written


@needs_fonts
def test_field_model_trains_and_ships_as_a_field(tmp_path: Path) -> None:
    """A GAN on field data: one-channel output, the checkpoint header and the exported card say 'field'."""
    import torch

    from models.checkpoint import load_checkpoint, read_header
    from models.export import main as export_main
    from models.train import main as train_main

    data = tmp_path / "calli16"
    render_calligraphy(data, resolution=16, fonts=select_fonts("ukai"), limit=48)
    run = tmp_path / "run"
    train_main(
        [
            "--arch",
            "gan",
            "--data",
            str(data),
            "--out",
            str(run),
            "--set=img_channels=1",
            "--set=flip=false",
            "--set=g_width=4",
            "--set=d_width=4",
            "--set=max_width=16",
            "--set=z_dim=8",
            "--set=steps=2",
            "--set=batch_size=4",
            "--set=sample_every=1",
            "--set=threads=1",
        ]
    )
    header = read_header(run / "model.safetensors")
    assert header["output"] == "field" and float(header["field_spread_px"]) == 1.0
    model = load_checkpoint(run / "model.safetensors")
    assert model(torch.randn(2, 8)).shape == (2, 1, 16, 16)
    export_main(
        [str(run), "--name", "tiny-field", "--description", "test", "--out-dir", str(tmp_path / "assets"), "--n", "40"]
    )
    card = json.loads((tmp_path / "assets" / "tiny-field.json").read_text())
    assert card["output"] == "field" and card["field"] == {"type": "sdf", "spread_px": 1.0}
    assert "Arphic" in card["dataset"]["licence"] and "calligraphy" in card["dataset"]["preparation"][0]
    assert read_header(tmp_path / "assets" / "tiny-field.safetensors")["output"] == "field"
    assert (tmp_path / "assets" / "tiny-field.png").is_file()
