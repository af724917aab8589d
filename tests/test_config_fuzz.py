"""Fuzz the config loader: no file text and no --set override crashes start-up.

Whatever the input, load_config either returns a valid Config (every number finite and in its
declared range) or raises ConfigError with one line; never another exception.
"""

from __future__ import annotations

import dataclasses
import math
import typing

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from installation.config import Config, ConfigError, load_config, parse_override

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SECTIONS = {f.name: typing.get_type_hints(Config)[f.name] for f in dataclasses.fields(Config)}
KEYS = [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]

toml_literal = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda x: repr(x).replace("inf", "inf").replace("nan", "nan")),
    st.sampled_from(
        [
            "nan",
            "-inf",
            "+inf",
            "true",
            "false",
            "[]",
            "[1, 2]",
            "[16, 16]",
            "[1.5, 2]",
            "{}",
            "{a = 1}",
            '"x"',
            "'y'",
            '""',
            "[[1]]",
            "1979-05-27",
            "0x10",
            "1e400",
            "-0",
            '"Tue-Sun 10:00-18:00"',
            '"Mon-Mon 00:00-24:00"',
            '"ctrl+shift+alt+u"',
            '"cover"',
            '"black"',
            '"calm"',
        ]
    ),
    st.text(max_size=30),
)


def check(config: Config) -> None:
    for section in dataclasses.fields(config):
        values = getattr(config, section.name)
        for f in dataclasses.fields(values):
            value = getattr(values, f.name)
            if isinstance(value, float):
                assert math.isfinite(value), f"{section.name}.{f.name} = {value}"
            lo, hi = f.metadata.get("min"), f.metadata.get("max")
            if lo is not None and not isinstance(value, (tuple, str)):
                assert lo <= value <= hi, f"{section.name}.{f.name} = {value}"


@SETTINGS
@given(st.text(max_size=80))
def test_parse_override_only_raises_config_error(text):
    try:
        parts, _ = parse_override(text)
    except ConfigError as exc:
        assert str(exc).count("\n") <= text.count("\n")  # one line, unless it quotes the user's newlines
        return
    assert parts and all(parts)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from(KEYS + ["display", "nope.key", "display.size.x", "a.b.c"]), toml_literal), max_size=4
    )
)
def test_overrides_give_a_valid_config_or_one_config_error(pairs):
    try:
        config = load_config(None, [f"{k}={v}" for k, v in pairs])
    except ConfigError:
        return
    check(config)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(KEYS), toml_literal), max_size=6))
def test_toml_files_give_a_valid_config_or_one_config_error(tmp_path_factory, pairs):
    path = tmp_path_factory.mktemp("fuzz") / "show.toml"
    lines = []
    for key, value in pairs:
        section, name = key.split(".")
        lines.append(f"[{section}]\n{name} = {value}\n")
    path.write_text("".join(lines), encoding="utf-8")
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert str(exc).startswith(str(path))
        return
    check(config)


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_as_a_config_file(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "show.toml"
    path.write_bytes(data)
    try:
        check(load_config(path))
    except ConfigError as exc:
        assert str(exc).startswith(str(path))
