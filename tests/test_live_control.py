"""Live control on its own: fake show and programme (control/live.py LiveHost, Playing), no display,
no App. Times are passed in, so quantised switches are checked without waiting for a bar.
(tests/test_live.py runs the same paths inside a real headless App.)"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from installation.config import Config, load_config
from installation.control import commands as c
from installation.control import live as live_module
from installation.control.live import LiveControl
from installation.mapping.names import PARAMETER_RANGES
from installation.mapping.presets import PRESET_DIR, Preset, list_presets, load_preset


class FakeMapping:
    def __init__(self) -> None:
        self.overrides: dict[str, float] = {}
        self.injected: list[dict[str, Any]] = []
        self.z_dim = 8

    def inject(self, **kwargs: Any) -> None:
        self.injected.append(kwargs)


class FakePlaying:
    """Implements Playing: records the switches asked for."""

    def __init__(self, preset: Preset) -> None:
        self.preset = preset
        self.mapping: Any = FakeMapping()
        self.model_spec = "sagan-calligraphy"
        self.model_name = "sagan-calligraphy"
        self.presets: list[str] = []
        self.models: list[str] = []

    def switch_preset(self, spec: str) -> None:
        self.presets.append(spec)

    def request_model(self, spec: str) -> None:
        self.models.append(spec)
        self.model_spec = spec


class FakeShow:
    """Implements LiveHost."""

    def __init__(self) -> None:
        self.recorder: Any = None
        self.out = None
        self.features: dict[str, float] = {"loudness": 0.5}
        self.errors: list[str] = []
        self.picture: np.ndarray | None = np.zeros((90, 160, 3), np.uint8)
        self.pictures_asked = 0

    def screen_size(self) -> tuple[int, int]:
        return (160, 90)

    def report_error(self, message: str) -> None:
        self.errors.append(message)

    def visible_picture(self) -> np.ndarray | None:
        self.pictures_asked += 1
        return self.picture


def config(tmp_path: Path, *extra: str) -> Config:
    return load_config(None, ["osc.enabled=false", "midi.enabled=false", f'record.dir="{tmp_path / "rec"}"', *extra])


def make(tmp_path: Path, *extra: str) -> tuple[LiveControl, FakeShow, FakePlaying]:
    show, playing = FakeShow(), FakePlaying(load_preset(str(PRESET_DIR / "4-club.toml")))
    live = LiveControl(config(tmp_path, *extra), show, playing)
    live.start()  # nothing to open: OSC, MIDI, video out and sync are off
    return live, show, playing


def test_a_preset_switch_waits_for_the_next_bar_and_then_happens(tmp_path: Path) -> None:
    live, _, playing = make(tmp_path, 'tempo.quantise="bar"')
    live.queue.put(c.SetTempo(120.0))  # a bar of 4 beats is 2 s
    live.queue.put(c.SwitchPreset("1"))
    live.apply(100.0)
    assert live.pending is not None and playing.presets == []
    due_s = live.pending[0]
    assert 100.0 < due_s <= 102.0
    live.apply(due_s - 0.01)
    assert playing.presets == []  # not yet
    live.apply(due_s)
    assert playing.presets == [list_presets()[0]] and live.pending is None


def test_unquantised_switches_happen_at_once_and_names_are_checked(tmp_path: Path, caplog) -> None:
    live, _, playing = make(tmp_path, 'tempo.quantise="off"')
    names = list_presets()
    for spec in ("2", "next", names[-1], "99", "no-such-preset", "../etc/passwd"):
        live.queue.put(c.SwitchPreset(spec))
    with caplog.at_level(logging.ERROR):
        live.apply(1.0)
    current = names.index(Path(playing.preset.path).stem)
    assert playing.presets == [names[1], names[(current + 1) % len(names)], names[-1]]
    assert "there are" in caplog.text and "unknown" in caplog.text  # the bad ones are reported


def test_a_model_switch_asks_the_programme_once_and_only_for_known_names(tmp_path: Path, caplog) -> None:
    live, _, playing = make(tmp_path, 'tempo.quantise="off"')
    for spec in ("seeded-cppn", "seeded-cppn", "sagan-calligraphy", "/tmp/evil.pt"):
        live.queue.put(c.SwitchModel(spec))
    with caplog.at_level(logging.ERROR):
        live.apply(1.0)
    assert playing.models == ["seeded-cppn", "sagan-calligraphy"]  # the repeat was the running spec already
    assert "'/tmp/evil.pt' not switched: unknown" in caplog.text


def test_parameters_are_clamped_and_handed_to_the_mapping(tmp_path: Path) -> None:
    live, _, playing = make(tmp_path)
    hi = PARAMETER_RANGES["trails"][1]
    live.queue.put(c.SetParam("trails", hi + 100.0))
    live.queue.put(c.SetParam("zoom", PARAMETER_RANGES["zoom"][0] - 100.0))
    live.apply(1.0)
    assert playing.mapping.overrides == {"trails": hi, "zoom": PARAMETER_RANGES["zoom"][0]}
    live.queue.put(c.ResetParam("trails"))
    live.apply(1.1)
    assert playing.mapping.overrides == {"zoom": PARAMETER_RANGES["zoom"][0]}
    live.queue.put(c.ResetParam(""))
    live.apply(1.2)
    assert playing.mapping.overrides == {}


def test_walk_commands_are_clamped(tmp_path: Path) -> None:
    live, _, playing = make(tmp_path)
    for command in (c.Pulse(50.0), c.Drag(-99.0, 3.0), c.NewKeyframe()):
        live.queue.put(command)
    live.apply(1.0)
    assert playing.mapping.injected == [{"pulse": 5.0}, {"drag": (-10.0, 3.0)}, {"keyframe": True}]


def test_a_snapshot_saves_the_visible_picture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved: list[tuple[np.ndarray, Path]] = []
    monkeypatch.setattr(live_module, "save_snapshot_async", lambda picture, folder: saved.append((picture, folder)))
    live, show, _ = make(tmp_path)
    live.queue.put(c.Snapshot())
    live.apply(1.0)
    assert len(saved) == 1 and saved[0][0] is show.picture
    show.picture = None  # nothing composed yet
    live.queue.put(c.Snapshot())
    live.apply(1.1)
    assert show.pictures_asked == 2 and len(saved) == 1


class FakeRecorder:
    made: list[FakeRecorder] = []  # noqa: RUF012 (the instances the test made, in order)

    def __init__(self, directory: str, size: tuple[int, int]) -> None:
        self.path = Path(directory) / "reverie.mp4"
        self.size = size
        self.active = False
        self.closed = False

    @classmethod
    def timestamped(cls, directory: str, size: tuple[int, int], fps: int, max_queue: int, crf: int) -> FakeRecorder:
        recorder = cls(directory, size)
        cls.made.append(recorder)
        return recorder

    def start(self) -> None:
        self.active = True

    def close_async(self) -> None:
        self.active, self.closed = False, True


def test_recording_toggles_the_shows_recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeRecorder.made = []
    monkeypatch.setattr(live_module, "Recorder", FakeRecorder)
    live, show, _ = make(tmp_path)
    live.set_recording(None)  # R: start
    first = show.recorder
    assert isinstance(first, FakeRecorder) and first.active and first.size == (160, 90)
    live.set_recording(True)  # already recording: nothing new
    assert show.recorder is first and len(FakeRecorder.made) == 1
    live.queue.put(c.SetRecording(None))  # OSC toggle: stop
    live.apply(1.0)
    assert show.recorder is None and first.closed
    live.set_recording(False)  # not recording: nothing to stop
    assert show.recorder is None and show.errors == []


def test_a_recording_that_cannot_start_is_reported_and_the_show_goes_on(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    live, show, _ = make(tmp_path, f'record.dir="{blocked / "rec"}"')
    live.set_recording(True)
    assert show.recorder is None
    assert len(show.errors) == 1 and show.errors[0].startswith("recording not started: ")


def test_video_out_gets_a_copy_of_the_visible_picture(tmp_path: Path) -> None:
    class Capture:
        def __init__(self) -> None:
            self.frames: list[np.ndarray] = []

        def send(self, frame_rgb: np.ndarray) -> None:
            self.frames.append(frame_rgb)

    live, _, _ = make(tmp_path)
    capture = Capture()
    live.video_out = capture
    picture = np.full((90, 160, 3), 7, np.uint8)
    live.after_draw(1.0, picture)
    live.after_draw(1.1, None)  # nothing composed this frame: nothing sent
    assert len(capture.frames) == 1 and not np.shares_memory(capture.frames[0], picture)
    assert np.array_equal(capture.frames[0], picture)
