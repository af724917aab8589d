"""Typed TOML tables: fields with ranges or choices, validated into frozen dataclasses, one-line errors.

The machinery behind installation/config.py (the show's own sections), presets and MIDI bindings:
a field declares its type and, where it matters, its range (`_f(default, lo, hi)`); anything wrong
raises ConfigError naming the file, the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import field
from typing import Any, Literal


class ConfigError(Exception):
    """One readable line: '<file>: <key>: expected ..., got ...'."""


def _rng(lo: float | None = None, hi: float | None = None, choices: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"min": lo, "max": hi, "choices": choices}


def _f(default: Any, lo: float | None = None, hi: float | None = None, **kw: Any) -> Any:
    return field(default=default, metadata=_rng(lo, hi), **kw)


def _describe(tp: Any, meta: dict[str, Any]) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {args[0].__name__}s"
        return f"a list of {len(args)} {args[0].__name__}s"
    lo, hi = meta.get("min"), meta.get("max")
    name = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[tp]
    if lo is not None and hi is not None:
        return f"{name} from {lo} to {hi}"
    return name


def _convert(tp: Any, meta: dict[str, Any], value: Any) -> Any:
    """Return value as type tp, or raise ValueError with what was expected."""
    expected = _describe(tp, meta)
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ValueError(expected)
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:  # any length, e.g. tuple[str, ...]
            args = (args[0],) * len(value) if isinstance(value, (list, tuple)) else ()
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ValueError(expected)
        return tuple(_convert(a, {}, v) for a, v in zip(args, value))
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(expected)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(expected)
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(expected)
        value = float(value)
        if not math.isfinite(value):  # TOML allows nan/inf; both slip through range checks
            raise ValueError(expected)
    elif tp is str and not isinstance(value, str):
        raise ValueError(expected)
    lo, hi = meta.get("min"), meta.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(expected)
    return value


def build_dataclass(cls: type, table: Any, where: str, prefix: str = "") -> Any:
    """Validate a TOML table into the frozen dataclass cls (nested tables and lists of tables too)."""
    return _build(cls, table, where, prefix)


def _build(cls: type, table: Any, where: str, prefix: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: {prefix.rstrip('.') or '(top level)'}: expected a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in table.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{where}: {prefix}{key}: unknown key (known here: {known})")
        tp = hints[key]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, where, f"{prefix}{key}.")
            continue
        args = typing.get_args(tp)
        if (
            typing.get_origin(tp) is tuple
            and len(args) == 2
            and args[1] is Ellipsis
            and isinstance(args[0], type)
            and dataclasses.is_dataclass(args[0])
        ):
            if not isinstance(value, list):  # [[key]] arrays of tables
                raise ConfigError(f"{where}: {prefix}{key}: expected a list of tables ([[{key}]]), got {value!r}")
            kwargs[key] = tuple(_build(args[0], item, where, f"{prefix}{key}[{i}].") for i, item in enumerate(value))
            continue
        try:
            kwargs[key] = _convert(tp, dict(fields[key].metadata), value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {prefix}{key}: expected {exc}, got {value!r}") from None
    missing = [
        f.name
        for f in fields.values()
        if f.name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: {prefix}{missing[0]}: missing (this key is required)")
    return cls(**kwargs)


def parse_override(text: str) -> tuple[list[str], Any]:
    """'display.fps=30' -> (['display', 'fps'], 30). Values are TOML; bare words become strings."""
    if "=" not in text:
        raise ConfigError(f"--set {text}: expected key.sub=value")
    key, raw = text.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"--set {text}: expected key.sub=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # an unquoted word such as cover or /dev/video0
    return parts, value


def _merge(table: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        node = table.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set: {'.'.join(parts)}: {part} is not a table")
        table = node
    table[parts[-1]] = value
