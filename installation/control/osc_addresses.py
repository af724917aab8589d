"""What OSC can say to the show: every address it accepts (IN_ADDRESSES), the command each becomes,
and the addresses it sends (OUT_ADDRESSES). docs/osc.md lists them; tests/test_osc.py checks the two agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from installation.control import commands as c
from installation.control.bindings import TARGETS
from installation.mapping.names import FEATURES, PARAMETERS


class OscArgError(ValueError):
    """The arguments don't fit the address; the message says what was expected."""


def _number(args: Sequence[object], i: int = 0) -> float:
    if len(args) <= i or isinstance(args[i], bool) or not isinstance(args[i], (int, float)):
        raise OscArgError(f"expected a number as argument {i + 1}")
    value = float(args[i])  # type: ignore[arg-type]
    if value != value or value in (float("inf"), float("-inf")):
        raise OscArgError("expected a finite number")
    return value


def _text(args: Sequence[object]) -> str:
    if not args or not isinstance(args[0], str) or not args[0]:
        raise OscArgError("expected a name (string)")
    return args[0]


def _preset(args: Sequence[object], t_s: float) -> c.Command:
    if args and isinstance(args[0], int) and not isinstance(args[0], bool):
        return c.SwitchPreset(str(args[0]))
    if args and isinstance(args[0], float) and args[0].is_integer():  # TouchOSC sends floats
        return c.SwitchPreset(str(int(args[0])))
    return c.SwitchPreset(_text(args))


def _record(args: Sequence[object], t_s: float) -> c.Command:
    if not args:
        return c.SetRecording(None)
    return c.SetRecording(_number(args) >= 0.5) if not isinstance(args[0], bool) else c.SetRecording(bool(args[0]))


def _learn(args: Sequence[object], t_s: float) -> c.Command:
    target = args[0] if args and isinstance(args[0], str) else None
    if target is None or (target and target not in TARGETS):
        raise OscArgError(f'expected a target name (or "" to cancel): {", ".join(TARGETS)}')
    return c.MidiLearn(target)


def _wek(args: Sequence[object], t_s: float) -> c.Command:
    return c.WekinatorOutputs(tuple(_number(args, i) for i in range(len(args))))


Handler = Callable[[Sequence[object], float], "c.Command | None"]


@dataclass(frozen=True)
class Address:
    args: str  # how docs/osc.md describes the arguments
    doc: str
    handle: Handler


def _in_addresses() -> dict[str, Address]:
    table: dict[str, Address] = {
        "/reverie/preset": Address(
            "name or index",
            "switch preset (name, or 1-based index as in keys 1-9); on the next bar when tempo.quantise = bar",
            _preset,
        ),
        "/reverie/preset/next": Address("", "the next preset", lambda a, t: c.SwitchPreset("next")),
        "/reverie/preset/previous": Address("", "the previous preset", lambda a, t: c.SwitchPreset("previous")),
        "/reverie/model": Address(
            "name",
            "switch generator (a --list-models name), loaded in the background",
            lambda a, t: c.SwitchModel(_text(a)),
        ),
        "/reverie/param/reset": Address(
            "", "every parameter back to the preset's own value", lambda a, t: c.ResetParam("")
        ),
        "/reverie/latent/walk_speed": Address(
            "float",
            "walk speed multiplier (same as /reverie/param/speed)",
            lambda a, t: c.SetParam("speed", _number(a)),
        ),
        "/reverie/latent/pulse": Address(
            "[size]", "a jump through latent space (default size 1)", lambda a, t: c.Pulse(_number(a) if a else 1.0)
        ),
        "/reverie/latent/keyframe": Address("", "head for a fresh keyframe now", lambda a, t: c.NewKeyframe()),
        "/reverie/latent/drag": Address(
            "dx dy",
            "push the picture in the drag plane (latent units)",
            lambda a, t: c.Drag(_number(a, 0), _number(a, 1)),
        ),
        "/reverie/snapshot": Address("", "save the generated picture to run.snapshot_dir", lambda a, t: c.Snapshot()),
        "/reverie/tap": Address("", "tap tempo (the first tap of a run is a downbeat)", lambda a, t: c.Tap(t)),
        "/reverie/tempo": Address(
            "bpm", "set the tempo (20-400 BPM); the phase carries on", lambda a, t: c.SetTempo(_number(a))
        ),
        "/reverie/tempo/nudge": Address(
            "beats", "shift the beat grid (+ = beats come sooner)", lambda a, t: c.TempoNudge(_number(a))
        ),
        "/reverie/record": Address(
            "[0 or 1]", "start (1) / stop (0) recording to record.dir; no argument toggles", _record
        ),
        "/reverie/midi/learn": Address(
            "target",
            'MIDI learn: the next knob/pad moved is bound to target (a parameter or action, docs/midi.md); "" cancels',
            _learn,
        ),
        "/wek/outputs": Address(
            "float ...", "Wekinator outputs (osc.wekinator = true), 0..1 each, onto osc.wekinator_outputs", _wek
        ),
    }
    for name in PARAMETERS:
        table[f"/reverie/param/{name}"] = Address("float", f"set {name}'s base value (rules still add)", _set(name))
        table[f"/reverie/param/{name}/reset"] = Address("", f"{name} back to the preset's value", _reset(name))
    return table


def _set(name: str) -> Handler:
    return lambda args, t_s: c.SetParam(name, _number(args))


def _reset(name: str) -> Handler:
    return lambda args, t_s: c.ResetParam(name)


IN_ADDRESSES: dict[str, Address] = _in_addresses()
# Handled on the receiving thread itself (not commands): authentication and leader state.
SPECIAL_IN = {
    "/reverie/auth": "secret: accept this sender from now on (when osc.secret is set)",
    "/reverie/sync/state": "a leader's state (followers only; docs/osc.md: Sync)",
}
OUT_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if not f.startswith("chroma_"))
OUT_ADDRESSES: dict[str, str] = {
    **{f"/reverie/features/{name}": "float" for name in OUT_FEATURES},
    "/reverie/features/chroma": "12 floats (C, C#, ... B)",
    "/reverie/event/onset": "sent on each detected onset",
    "/reverie/event/beat": "int beat count, float bpm: sent on each beat",
    "/reverie/state/preset": "string: the running preset's name, on change",
    "/reverie/state/model": "string: the running model's name, on change",
    "/wek/inputs": "floats: osc.wekinator_inputs, to osc.wekinator_port",
}


def route(address: str, args: Sequence[object], t_s: float) -> c.Command | None:
    """The command for one message. KeyError: unknown address; OscArgError: wrong arguments."""
    return IN_ADDRESSES[address].handle(args, t_s)
