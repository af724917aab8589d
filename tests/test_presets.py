import pytest

from installation.config import ConfigError
from installation.mapping.names import FEATURES, PARAMETERS
from installation.mapping.presets import list_presets, load_preset
from installation.mapping.rules import RuleEngine, rule_output, shape


def write(tmp_path, text):
    path = tmp_path / "mine.toml"
    path.write_text('name = "Mine"\n' + text)
    return str(path)


def test_at_least_four_shipped_presets_load_with_different_characters():
    names = list_presets()
    assert len(names) >= 4
    presets = [load_preset(n) for n in names]
    assert len({p.name for p in presets}) == len(presets)
    assert all(p.description for p in presets)
    assert any(p.mirror.enabled for p in presets)
    assert any(p.effects.kaleidoscope for p in presets)
    assert any(p.walk.loop_s > 0 for p in presets)
    assert any(r.source == "loudness" for p in presets for r in p.rule)


@pytest.mark.parametrize(
    "text, key, names",
    [
        ('[[rule]]\nsource = "loudnes"\ntarget = "speed"\n', "rule[0].source", FEATURES),
        ('[[rule]]\nsource = "loudness"\ntarget = "sped"\n', "rule[0].target", PARAMETERS),
        ("[params]\ntrials = 0.3\n", "params.trials", PARAMETERS),
    ],
)
def test_unknown_names_are_rejected_with_file_key_and_valid_names(tmp_path, text, key, names):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_preset(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {key}: unknown name")
    assert all(n in message for n in names)


@pytest.mark.parametrize(
    "text, expected",
    [
        ('[[rule]]\ntarget = "speed"\n', "rule[0].source: missing"),
        ("[params]\ntrails = 5\n", "params.trails: expected a number from 0.0 to 0.95"),
        ('[walk]\nspeed = "fast"\n', "walk.speed: expected a number"),
        ("[effects]\nkaleidoscope = 99\n", "effects.kaleidoscope: expected an integer from 0 to 16"),
        ("[walk]\nwobble = 1\n", "walk.wobble: unknown key"),
        ("rule = 3\n", "rule: expected a list of tables"),
        ('[[rule]]\nsource = "loudness"\ntarget = "speed"\ncurve = "eval(1)"\n', "rule[0].curve: expected one of"),
    ],
)
def test_malformed_presets_give_one_line_errors(tmp_path, text, expected):
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        load_preset(write(tmp_path, text))


def test_missing_preset_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match="shipped presets: 1-gallery"):
        load_preset("no-such-preset")


def test_curves_and_rule_ranges():
    for curve in ("linear", "smooth", "exp", "log", "step"):
        assert shape(curve, 0.0) == 0.0 and shape(curve, 1.0) == pytest.approx(1.0)
    assert shape("exp", 0.5) < 0.5 < shape("log", 0.5)
    preset = load_preset("4-club")
    tempo_rule = next(r for r in preset.rule if r.source == "tempo_bpm")
    assert rule_output(tempo_rule, 70.0) == pytest.approx(0.0)
    assert rule_output(tempo_rule, 180.0) == pytest.approx(2.0)
    assert rule_output(tempo_rule, 400.0) == pytest.approx(2.0)  # inputs clamp


def test_rule_engine_adds_smoothed_contributions_to_the_base():
    engine = RuleEngine(load_preset("1-gallery"))
    quiet = engine.update(1 / 60, {"loudness": 0.0})
    assert quiet["speed"] == pytest.approx(1.0) and quiet["drift"] == pytest.approx(0.15)
    for _ in range(120):
        loud = engine.update(1 / 60, {"loudness": 1.0})
    assert loud["speed"] > 6.0
