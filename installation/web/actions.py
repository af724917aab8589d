"""What the web panel may ask of the show: a small JSON action, checked, as a frozen command.

Used on both sides: the server checks an action before it answers (400 with the valid names), and
the show (or its link to the supervisor) turns it into the command that goes onto the same
CommandQueue as OSC and MIDI.
"""

from __future__ import annotations

from installation.control import commands as c


def to_command(action: object, presets: list[str] | None = None, models: list[str] | None = None) -> c.Command:
    """A web action ({"action": "preset", "name": ...}) as a frozen command; ValueError says what was
    wrong. Names are checked against the lists when given (the show checks them again)."""
    if not isinstance(action, dict):
        raise ValueError("expected a JSON object")
    kind = action.get("action")
    if kind in ("preset", "model"):
        name = action.get("name")
        valid = presets if kind == "preset" else models
        if not isinstance(name, str) or not name or (valid is not None and name not in valid):
            raise ValueError(f"unknown {kind} {str(name)[:80]!r}; valid names: {', '.join(valid or [])}")
        return c.SwitchPreset(name, quantised=False) if kind == "preset" else c.SwitchModel(name, quantised=False)
    if kind == "snapshot":
        return c.Snapshot()
    if kind == "record":
        on = action.get("on")
        if not isinstance(on, bool):
            raise ValueError('record: expected {"on": true} or {"on": false}')
        return c.SetRecording(on)
    raise ValueError(f"unknown action {str(kind)[:40]!r}; known: preset, model, snapshot, record")
