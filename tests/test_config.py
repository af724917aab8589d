from pathlib import Path

import pytest

from installation.config import Config, ConfigError, load_config, parse_override


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my-show.toml"
    path.write_text(text)
    return path


def test_defaults_are_a_fullscreen_cover_show():
    config = load_config()
    assert config == Config()
    assert config.display.mode == "fullscreen" and config.display.fit == "cover"


def test_file_and_overrides_apply_in_order(tmp_path):
    path = write(tmp_path, '[display]\nfps = 30\nfit = "letterbox"\n[camera]\nsource = "clip.mp4"\n')
    config = load_config(path, ["display.fps=50", "display.size=[640, 360]", "microphone.source=none"])
    assert config.display.fps == 50
    assert config.display.fit == "letterbox"
    assert config.display.size == (640, 360)
    assert config.camera.source == "clip.mp4"
    assert config.microphone.source == "none"


@pytest.mark.parametrize(
    "text, key, expected",
    [
        ("[display]\nfpz = 3\n", "display.fpz", "unknown key"),
        ("[dispaly]\nfps = 3\n", "dispaly", "unknown key"),
        ('[display]\nfps = "fast"\n', "display.fps", "expected an integer from 1 to 240, got 'fast'"),
        ("[display]\nfps = 1000\n", "display.fps", "expected an integer from 1 to 240, got 1000"),
        ('[display]\nfit = "zoom"\n', "display.fit", "one of 'cover', 'letterbox'"),
        ("[display]\nsize = [1280]\n", "display.size", "a list of 2 ints"),
        ("[hud]\nvisible = 1\n", "hud.visible", "true or false"),
        ("[camera]\nretry_s = -1\n", "camera.retry_s", "a number from 0.05 to 600.0"),
        ("display = 3\n", "display", "expected a table"),
    ],
)
def test_bad_values_name_file_key_and_expectation(tmp_path, text, key, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {key}")
    assert expected in message
    assert "\n" not in message


def test_invalid_toml_and_missing_file_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[display\nfps = 3"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_override_errors_name_the_override():
    with pytest.raises(ConfigError, match=r"^--set: display.fps: expected an integer"):
        load_config(None, ["display.fps=fast"])
    with pytest.raises(ConfigError, match="expected key.sub=value"):
        load_config(None, ["display.fps"])


def test_override_values_are_toml_with_bare_words_as_strings():
    assert parse_override("display.fps=30") == (["display", "fps"], 30)
    assert parse_override("camera.source=/dev/video0") == (["camera", "source"], "/dev/video0")
    assert parse_override('camera.source="0"') == (["camera", "source"], "0")
    assert parse_override("display.size=[1, 2]") == (["display", "size"], [1, 2])


def test_cross_field_check():
    with pytest.raises(ConfigError, match="camera.max_retry_s"):
        load_config(None, ["camera.retry_s=10", "camera.max_retry_s=5"])


def test_example_config_in_repo_loads():
    config = load_config(Path(__file__).parent.parent / "config" / "example.toml")
    assert isinstance(config, Config)


def test_example_config_shows_every_default():
    """config/example.toml documents every key with its real default (a new key must be added there)."""
    import tomllib

    from installation.config import to_dict

    path = Path(__file__).parent.parent / "config" / "example.toml"
    table = tomllib.loads(path.read_text())
    defaults = to_dict(Config())
    missing = [
        f"{section}.{key}"
        for section, values in defaults.items()
        for key in values
        if key not in table.get(section, {})
    ]
    assert missing == [], f"config/example.toml lacks {missing}"
    assert to_dict(load_config(path)) == defaults
