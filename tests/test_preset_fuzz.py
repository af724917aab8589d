"""Fuzz the preset loader: no preset file, however broken, raises anything but ConfigError, and
whatever loads is usable by the mapping (one frame runs without an exception)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from installation.config import ConfigError
from installation.mapping.engine import PresetMapping
from installation.mapping.names import FEATURES, PARAMETERS
from installation.mapping.presets import load_preset
from installation.sources.touch import TouchFrame

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

scalar = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(list(FEATURES) + list(PARAMETERS)),
)
value = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)
rule = st.fixed_dictionaries(
    {},
    optional={
        "source": st.one_of(st.sampled_from(FEATURES), st.text(max_size=8)),
        "target": st.one_of(st.sampled_from(list(PARAMETERS)), st.text(max_size=8)),
        "range": st.lists(st.floats(allow_nan=True), max_size=3),
        "curve": st.text(max_size=8) | st.just("exp"),
        "smoothing_s": scalar,
        "input_range": st.lists(scalar, max_size=3),
    },
)
preset = st.fixed_dictionaries(
    {"name": st.one_of(st.text(max_size=10), scalar)},
    optional={
        "rule": st.one_of(st.lists(rule, max_size=3), value),
        "params": st.one_of(st.dictionaries(st.sampled_from(list(PARAMETERS)), scalar, max_size=3), value),
        "walk": st.dictionaries(st.sampled_from(["speed", "loop_s", "pulse_on", "pulse_decay_s", "bogus"]), scalar),
        "effects": st.dictionaries(st.sampled_from(["kaleidoscope", "frame_blend", "upscale"]), scalar),
        "attract": value,
        "gestures": value,
        "mirror": value,
        "crossfade_s": scalar,
        "model": scalar,
    },
)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(v), repr(v))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').encode("unicode_escape").decode("ascii") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{toml_value(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


@SETTINGS
@given(table=preset, garbage=st.text(max_size=40))
def test_no_preset_text_crashes_the_loader_or_the_mapping(tmp_path_factory, table, garbage):
    path = tmp_path_factory.mktemp("fuzz") / "p.toml"
    lines = [f"{toml_value(k)} = {toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + ("\n" + garbage if garbage.startswith("#") else ""), encoding="utf-8")
    try:
        loaded = load_preset(str(path))
    except ConfigError as exc:
        assert "\n" not in str(exc)
        return
    mapping = PresetMapping(8, loaded)
    mapping.update(1 / 60, 1 / 60, {"loudness": 1.0, "motion": 0.5, "tempo_bpm": 120.0}, TouchFrame())
