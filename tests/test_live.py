"""The main thread's side of live control, in-process: quantised switches, performer keys,
parameter overrides, MIDI learn from the HUD page, recording toggled while the show runs."""

from __future__ import annotations

import time
from pathlib import Path

import pygame
import pytest

from installation.app import App
from installation.config import load_config
from installation.control import commands as c
from installation.control.bindings import load_learned
from tests.runner import wait_for


def make_app(tmp_path: Path, *extra: str) -> App:
    preset = tmp_path / "mine.toml"  # a copy, so MIDI learn may write beside it
    preset.write_text((Path(__file__).resolve().parent.parent / "assets/presets/4-club.toml").read_text())
    config = load_config(
        None,
        [
            "display.mode=headless",
            "display.size=[160, 90]",
            "camera.source=none",
            "microphone.source=none",
            "osc.enabled=false",
            "midi.enabled=false",
            f'run.preset="{preset}"',
            f'record.dir="{tmp_path / "rec"}"',
            *extra,
        ],
    )
    app = App(config)
    app.setup()
    return app


def step_until(app: App, predicate, timeout_s: float = 10.0) -> bool:
    """Run the show's loop until predicate() holds (True) or timeout_s passed (False)."""

    def stepped() -> bool:
        app.step(1 / 60)
        return bool(predicate())

    return wait_for(stepped, timeout_s)


def run_frames(app: App, seconds: float) -> None:
    """Run the loop for a while, where the test is about what holds after that time (taps, crossfades)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.step(1 / 60)
        time.sleep(0.005)


def test_preset_switch_waits_for_the_next_bar(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    try:
        live = app.live
        assert live is not None
        live.queue.put(c.SetTempo(120.0))  # a bar of 4 is 2 s
        live.queue.put(c.SwitchPreset("1"))
        run_frames(app, 0.05)
        assert live.pending is not None and app.programme.preset.name == "Club"
        due_s = live.pending[0]
        while app.programme.preset.name == "Club" and time.perf_counter() < due_s + 1.0:
            app.step(1 / 60)
        switched_s = time.perf_counter()
        assert app.programme.preset.name == "Gallery"
        assert due_s - 0.01 <= switched_s <= due_s + 0.1  # on the bar, within a frame or so
        assert live.beat.position == pytest.approx(round(live.beat.position / 4) * 4, abs=0.3)  # at a downbeat
    finally:
        app.close()


def test_switches_are_immediate_without_a_tempo_or_quantising(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'tempo.quantise="off"')
    try:
        app.live.queue.put(c.SetTempo(60.0))
        app.live.queue.put(c.SwitchPreset("next"))
        app.step(1 / 60)
        assert app.live.pending is None and app.programme.preset.name != "Club"
    finally:
        app.close()


def test_overrides_set_and_reset_parameters_across_presets(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'tempo.quantise="off"')
    try:
        q = app.live.queue
        run_frames(app, 0.1)
        rules = app.out.params["hue_shift"] - app.programme.preset.base("hue_shift")  # Club's rules add to hue_shift
        q.put(c.SetParam("hue_shift", 0.5))
        q.put(c.SetParam("zoom", 99.0))  # clamped to the range
        assert step_until(app, lambda: app.out.params["zoom"] == 3.0)
        assert app.out.params["hue_shift"] == pytest.approx(0.5 + rules, abs=0.01)  # the base moved, rules still add
        q.put(c.SetParam("hue_shift", 0.75))
        q.put(c.SwitchPreset("1"))
        run_frames(app, 3.3)  # after the crossfade (3 s), the performer's value still holds
        assert app.out.params["hue_shift"] == pytest.approx(0.75, abs=0.01)
        q.put(c.ResetParam(""))
        assert step_until(app, lambda: app.out.params["zoom"] == 1.0)
        assert app.out.params["hue_shift"] == 0.0
    finally:
        app.close()


def test_controller_pulses_and_keyframes_move_the_picture(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'tempo.quantise="off"', "mapping.seed=3")
    try:
        app.live.queue.put(c.SetParam("speed", 0.0))
        run_frames(app, 0.2)
        still = app.out.state.latent_speed
        app.live.queue.put(c.Pulse(3.0))
        app.step(1 / 60)
        app.step(1 / 60)
        assert app.out.state.latent_speed > 5 * max(still, 0.01)
    finally:
        app.close()


def test_performer_keys_tap_nudge_and_record(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    try:
        for _ in range(4):
            app.on_key(pygame.K_t, 0)
            run_frames(app, 0.5)  # 120 BPM taps
        run_frames(app, 0.05)
        assert app.live.beat.source == "tap" and app.live.beat.bpm == pytest.approx(120, rel=0.05)
        before = app.live.tempo.update(time.perf_counter(), {}).position
        app.on_key(pygame.K_RIGHTBRACKET, 0)
        after = app.live.tempo.update(time.perf_counter(), {}).position
        assert after - before == pytest.approx(0.0625, abs=0.01)
        app.on_key(pygame.K_r, 0)  # recording starts while every thread is running
        assert app.recorder is not None and app.recorder.active
        run_frames(app, 1.5)
        recorder = app.recorder
        app.on_key(pygame.K_r, 0)
        assert app.recorder is None
        recorder.close()  # wait for the background finish, then look at the file
        assert recorder.frames_written >= 60 and not recorder.error
        assert list((tmp_path / "rec").glob("*.mp4")) == [recorder.path]
    finally:
        app.close()


def test_midi_learn_from_the_hud_page_saves_with_the_preset(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'tempo.quantise="off"')
    try:
        app.on_key(pygame.K_F5, 0)
        assert app.pages.page == "midi" and "MIDI LEARN" in app.hud_lines()[0]
        app.live.queue.put(c.MidiEvent("cc", 2, 21, 10))  # the performer turns a knob
        app.step(1 / 60)
        assert "cc 21" in app.hud_lines()[1]
        while app.live.learn_lines()[2].split("> ")[1].split(" <")[0] != "trails":
            app.on_key(pygame.K_DOWN, 0)
        app.on_key(pygame.K_RETURN, 0)
        saved = load_learned(tmp_path / "mine.midi.json")
        assert [(b.kind, b.number, b.channel, b.target) for b in saved] == [("cc", 21, 2, "trails")]
        app.live.queue.put(c.MidiEvent("cc", 2, 21, 127))
        assert step_until(app, lambda: app.out.params["trails"] == pytest.approx(0.95))
        app.on_key(pygame.K_F5, 0)
        assert not app.pages.visible
    finally:
        app.close()
    again = make_app(tmp_path, 'tempo.quantise="off"')  # the binding comes back with the preset
    try:
        again.live.queue.put(c.MidiEvent("cc", 2, 21, 0))
        assert step_until(again, lambda: again.live.overrides.get("trails") == 0.0)
    finally:
        again.close()


def test_midi_learn_over_osc_arms_the_next_control(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'tempo.quantise="off"')
    try:
        app.live.queue.put(c.MidiLearn("pulse"))
        app.live.queue.put(c.MidiEvent("note_on", 9, 36, 100))  # a drum pad
        app.step(1 / 60)
        assert [(b.kind, b.number, b.target) for b in load_learned(tmp_path / "mine.midi.json")] == [
            ("note", 36, "pulse")
        ]
    finally:
        app.close()


def test_wekinator_outputs_drive_their_parameters(tmp_path: Path) -> None:
    app = make_app(tmp_path, 'osc.wekinator_outputs=["zoom", "grain"]')
    try:
        app.live.queue.put(c.WekinatorOutputs((0.5, 2.0)))  # 0..1 onto each range; out of range is clamped
        assert step_until(app, lambda: app.out.params["zoom"] == pytest.approx(2.0))
        assert app.live.overrides == {"zoom": 2.0, "grain": 0.3}
    finally:
        app.close()


def test_unknown_wekinator_names_are_a_config_error() -> None:
    from installation.config import ConfigError

    with pytest.raises(ConfigError, match="osc.wekinator_outputs: unknown parameter 'brightness'"):
        load_config(None, ['osc.wekinator_outputs=["brightness"]'])
    with pytest.raises(ConfigError, match="osc.wekinator_inputs: unknown feature 'speed'"):
        load_config(None, ['osc.wekinator_inputs=["speed"]'])


def test_video_out_gets_a_frame_of_its_own(tmp_path: Path) -> None:
    """The compositor reuses its output buffer; the video-out thread reads a frame later, so it must
    be handed a copy (else it sends half of the next frame). Checks the hand-over at the call site."""
    import numpy as np

    class Capture:  # stands in for VideoOut's send() only: the NDI path itself is tested in test_video_out
        def __init__(self) -> None:
            self.frames: list[np.ndarray] = []

        def send(self, frame_rgb: np.ndarray) -> None:
            self.frames.append(frame_rgb)

        def close(self) -> None:
            pass

    app = make_app(tmp_path, 'tempo.quantise="off"')
    try:
        app.live.video_out = Capture()
        run_frames(app, 0.2)
        sent = app.live.video_out.frames
        assert sent and sent[-1].shape == (90, 160, 3)
        assert not np.shares_memory(sent[-1], app._composed)
        assert not np.shares_memory(sent[-1], sent[-2])
    finally:
        app.close()
