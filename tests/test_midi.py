"""MIDI in: the router and the clock tracker as plain code; MidiInput against real JACK MIDI ports.

The port tests start a JACK server with the dummy driver (or use the one already running) and play
controller and DAW: the test opens real virtual output ports and sends through JACK.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from installation.config import MidiConfig
from installation.control import commands as c
from installation.control.bindings import ACTIONS, TARGETS, MidiBinding, load_learned
from installation.control.midi import VIRTUAL_PORT, MidiInput
from installation.control.midi_clock import ClockTracker
from installation.control.midi_router import MidiRouter
from installation.mapping.names import PARAMETER_RANGES
from tests.runner import wait_for
from tests.system import require_tools

REPO = Path(__file__).resolve().parents[1]
LOGGER = "installation.control.midi"
JACK = "mido.backends.rtmidi/UNIX_JACK"
MARK_CC = 119  # the handshake controller: "is the connection live yet?"


# ---------------------------------------------------------------------------- router
def cc(number: int, value: int, channel: int = 0, port: str = "pad") -> c.MidiEvent:
    return c.MidiEvent("cc", channel, number, value, port)


def note(number: int, velocity: int, channel: int = 0, kind: str = "note_on") -> c.MidiEvent:
    return c.MidiEvent(kind, channel, number, velocity, "pad")


def test_cc_scales_onto_the_parameter_range_or_the_binding_range() -> None:
    router = MidiRouter((MidiBinding(7, "speed"), MidiBinding(8, "trails", range=(0.9, 0.1))))
    lo, hi = PARAMETER_RANGES["speed"]
    assert router.route(cc(7, 0)) == [c.SetParam("speed", lo)]
    assert router.route(cc(7, 127)) == [c.SetParam("speed", hi)]
    [mid] = router.route(cc(7, 64))
    assert isinstance(mid, c.SetParam) and mid.value == pytest.approx(lo + (hi - lo) * 64 / 127)
    [top] = router.route(cc(8, 127))  # a reversed range: turning up lowers the value
    assert isinstance(top, c.SetParam) and top.value == pytest.approx(0.1)
    assert router.route(cc(9, 127)) == []  # unbound
    assert router.last_control == "cc 9 ch 1 = 127"


def test_channel_minus_one_matches_any_channel_and_a_set_channel_only_itself() -> None:
    router = MidiRouter((MidiBinding(1, "drift", channel=-1), MidiBinding(2, "grain", channel=3)))
    assert [type(x) for x in router.route(cc(1, 10, channel=0))] == [c.SetParam]
    assert [type(x) for x in router.route(cc(1, 10, channel=15))] == [c.SetParam]
    assert router.route(cc(2, 10, channel=0)) == []
    assert [x.name for x in router.route(cc(2, 10, channel=3))] == ["grain"]  # type: ignore[union-attr]
    assert router.route(note(1, 100)) == []  # a note is not the cc of the same number


ACTION_COMMANDS: dict[str, c.Command] = {
    "pulse": c.Pulse(100 / 127 * 2),
    "keyframe": c.NewKeyframe(),
    "tap": c.Tap(42.0),
    "snapshot": c.Snapshot(),
    "record": c.SetRecording(None),
    "next_preset": c.SwitchPreset("next"),
    "previous_preset": c.SwitchPreset("previous"),
    "preset": c.SwitchPreset("mirror"),
    "model": c.SwitchModel("vae-emoji"),
    "nudge_forward": c.TempoNudge(0.125),
    "nudge_back": c.TempoNudge(-0.125),
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_action_fires_on_note_on_only(action: str) -> None:
    arg = {"preset": "mirror", "model": "vae-emoji"}.get(action, "")
    router = MidiRouter((MidiBinding(36, action, kind="note", arg=arg),), nudge_beats=0.125, clock=lambda: 42.0)
    assert router.route(note(36, 100)) == [ACTION_COMMANDS[action]]
    assert router.route(note(36, 0, kind="note_off")) == []


def test_a_cc_fires_an_action_once_per_crossing_of_64() -> None:
    router = MidiRouter((MidiBinding(20, "snapshot"), MidiBinding(21, "keyframe")))
    fired = [len(router.route(cc(20, v))) for v in (0, 30, 70, 100, 127, 10, 64, 64, 127)]
    assert fired == [0, 0, 1, 0, 0, 0, 1, 0, 0]
    assert router.route(cc(21, 127)) == [c.NewKeyframe()]  # a button's first press counts (from 0)
    assert router.route(cc(21, 127, port="other pad")) == [c.NewKeyframe()]  # each port has its own knob


def test_pulse_is_the_size_on_a_knob_and_the_jump_on_a_pad() -> None:
    router = MidiRouter((MidiBinding(5, "pulse"), MidiBinding(36, "pulse", kind="note")))
    assert router.route(cc(5, 127)) == [c.SetParam("pulse", PARAMETER_RANGES["pulse"][1])]
    assert router.route(note(36, 127)) == [c.Pulse(2.0)]


def test_a_note_bound_to_a_parameter_sets_top_on_note_on_and_bottom_on_note_off() -> None:
    router = MidiRouter((MidiBinding(40, "mirror_pull", kind="note", range=(0.2, 0.8)),))
    assert router.route(note(40, 5)) == [c.SetParam("mirror_pull", 0.8)]
    assert router.route(note(40, 0)) == [c.SetParam("mirror_pull", 0.2)]  # note-on at velocity 0 is a note-off
    assert router.route(note(40, 64, kind="note_off")) == [c.SetParam("mirror_pull", 0.2)]


def test_learn_binds_the_next_control_replacing_the_old_binding(tmp_path: Path) -> None:
    preset = (MidiBinding(21, "speed", channel=-1), MidiBinding(22, "grain"))
    router = MidiRouter(preset)
    router.arm("drift")
    assert router.armed == "drift"
    assert router.route(note(21, 0, kind="note_off")) == []  # a note-off doesn't learn
    assert router.armed == "drift"
    assert router.route(cc(21, 10, channel=2)) == []  # consumed by learn
    assert router.armed == "" and router.unsaved
    assert router.learned == (MidiBinding(21, "drift", kind="cc", channel=2),)
    assert router.last_learned == router.learned[0]
    # The learned binding wins over the preset's any-channel one; other channels keep the preset's.
    assert [x.name for x in router.route(cc(21, 127, channel=2))] == ["drift"]  # type: ignore[union-attr]
    assert [x.name for x in router.route(cc(21, 127, channel=5))] == ["speed"]  # type: ignore[union-attr]
    router.arm("hue_shift")
    router.route(cc(21, 64, channel=2))
    assert router.learned == (MidiBinding(21, "hue_shift", kind="cc", channel=2),)  # replaced, not added
    router.arm("keyframe")
    router.route(note(36, 90, channel=9))
    assert router.learned[-1] == MidiBinding(36, "keyframe", kind="note", channel=9)
    assert router.route(note(36, 90, channel=9)) == [c.NewKeyframe()]
    assert len(router.bindings) == len(preset) + 2

    sidecar = tmp_path / "5-performance.midi.json"
    router.save(sidecar)
    assert not router.unsaved
    assert load_learned(sidecar) == router.learned
    reloaded = MidiRouter()
    reloaded.set_bindings(preset, load_learned(sidecar))
    assert reloaded.route(cc(21, 127, channel=2)) == router.route(cc(21, 127, channel=2))


def test_learn_rejects_unknown_targets_and_cancels_with_the_empty_name() -> None:
    router = MidiRouter()
    with pytest.raises(ValueError, match="unknown target 'wobble'"):
        router.arm("wobble")
    with pytest.raises(ValueError, match="needs the preset's name"):
        router.arm("preset")  # a binding without its name would break loading the sidecar
    router.arm("speed")
    router.arm("")
    assert router.route(cc(3, 50)) == [] and router.learned == ()
    router.arm("preset", arg="club")
    router.route(note(48, 100))
    assert router.route(note(48, 100)) == [c.SwitchPreset("club")]


# ---------------------------------------------------------------------------- clock
def feed_pulses(tracker: ClockTracker, times_s: list[float]) -> list[c.ClockBeat]:
    beats = [tracker.feed("clock", t_s) for t_s in times_s]
    return [b for b in beats if isinstance(b, c.ClockBeat)]


def pulse_times(bpm: float, n: int, t0_s: float, jitter_s: float = 0.0, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    interval_s = 60.0 / (24 * bpm)
    return [t0_s + i * interval_s + rng.uniform(-jitter_s, jitter_s) for i in range(n)]


def test_clock_at_120_bpm_gives_beats_with_the_tempo_and_start_resets_the_count() -> None:
    tracker = ClockTracker()
    # A DAW sending clock while stopped: beats count from the first pulse, once the tempo is known.
    free = feed_pulses(tracker, pulse_times(120.0, 48, 100.0))
    assert [b.beat_index for b in free] == [1]
    assert tracker.feed("start", 101.0) is None
    times_s = pulse_times(120.0, 24 * 4, 101.0)
    beats = feed_pulses(tracker, times_s)
    assert [b.beat_index for b in beats] == [0, 1, 2, 3]  # the first pulse after Start is the downbeat
    assert [b.t_s for b in beats] == [times_s[0], times_s[24], times_s[48], times_s[72]]
    for beat in beats:
        assert beat.bpm == pytest.approx(120.0, rel=0.005)
    assert tracker.feed("stop", 103.0) == c.ClockStop()
    assert feed_pulses(tracker, pulse_times(120.0, 48, 103.0)) == []  # stopped: measured, no beats
    tracker.feed("continue", 104.0)
    beats = feed_pulses(tracker, pulse_times(120.0, 24, 104.0))
    assert [b.beat_index for b in beats] == [6]  # Continue carries on where the pulses left off
    tracker.feed("stop", 104.5)
    tracker.feed("songpos", 104.5, position=32)  # bar 3 (32 sixteenths = 8 beats)
    tracker.feed("continue", 104.5)
    assert [b.beat_index for b in feed_pulses(tracker, pulse_times(120.0, 25, 104.5))] == [8, 9]
    tracker.feed("start", 106.0)  # after a pause of the clock: the downbeat still comes, at the last tempo
    beats = feed_pulses(tracker, pulse_times(120.0, 25, 106.0))
    assert [b.beat_index for b in beats] == [0, 1] and beats[0].bpm == pytest.approx(120.0, rel=0.005)


@pytest.mark.parametrize("bpm", [60.0, 128.0, 174.0])
def test_jittered_clock_stays_within_2_percent(bpm: float) -> None:
    tracker = ClockTracker()
    tracker.feed("start", 0.0)
    beats = feed_pulses(tracker, pulse_times(bpm, 24 * 8 + 1, 0.0, jitter_s=0.003, seed=int(bpm)))
    assert len(beats) >= 7
    for beat in beats:
        assert beat.bpm == pytest.approx(bpm, rel=0.02)


def test_clock_delivered_in_bursts_like_jack_stays_within_2_percent() -> None:
    period_s = 1024 / 48000  # JACK hands MIDI over once per period: timestamps snap to its grid
    tracker = ClockTracker()
    tracker.feed("start", 0.0)
    times_s = [(t // period_s + 1) * period_s for t in pulse_times(150.0, 24 * 6 + 1, 0.0)]
    beats = feed_pulses(tracker, times_s)
    assert [b.beat_index for b in beats][-3:] == [4, 5, 6]
    for beat in beats[2:]:
        assert beat.bpm == pytest.approx(150.0, rel=0.02)


def test_absurd_clock_makes_no_beats() -> None:
    tracker = ClockTracker()
    assert feed_pulses(tracker, pulse_times(2500.0, 24 * 8, 0.0)) == []  # a flood, not a tempo
    assert tracker.rejected >= 7
    assert feed_pulses(tracker, pulse_times(8.0, 50, 10.0)) == []  # pulses too far apart to be a clock
    assert tracker.bpm == 0.0


def test_messages_that_are_not_ours_or_not_readable_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    mido = pytest.importorskip("mido")
    queue = c.CommandQueue()
    midi = MidiInput(MidiConfig(), queue)  # never started: the callback alone
    for message in (
        mido.Message("sysex", data=[1, 2, 3]),
        mido.Message("pitchwheel", pitch=100),
        mido.Message("aftertouch", value=3),
        mido.Message("program_change", program=5),
        mido.Message("polytouch", note=3, value=4),
        mido.Message("active_sensing"),
    ):
        midi._on_message("pad", message)
    assert len(queue) == 0 and midi.errors == 0
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(100):
            midi._on_message("pad", object())  # garbage where a message should be
    assert midi.errors == 100
    assert len([r for r in caplog.records if r.name == LOGGER]) == 1  # rate limited
    midi._on_message("pad", mido.Message("control_change", channel=2, control=7, value=9))
    assert queue.drain() == [c.MidiEvent("cc", 2, 7, 9, "pad")]


def test_one_clock_leads_and_clock_can_be_turned_off() -> None:
    mido = pytest.importorskip("mido")
    queue = c.CommandQueue()
    midi = MidiInput(MidiConfig(), queue)  # the callbacks alone, with the pulses' times given
    clock = mido.Message("clock")
    for t_s in pulse_times(120.0, 24 * 3, 0.0):
        midi._on_message("drum machine", clock, t_s)
        midi._on_message("laptop", clock, t_s + 0.003)  # a second clock at the same time is ignored
    beats = [x for x in queue.drain() if isinstance(x, c.ClockBeat)]
    assert [b.beat_index for b in beats] == [1, 2]
    midi._on_message("laptop", mido.Message("start"), 1.6)  # the drum machine still ticks: ignored
    for t_s in pulse_times(120.0, 24 * 2 + 1, 3.0):  # ... until it has been silent for a second
        midi._on_message("laptop", clock, t_s)
    assert [x.beat_index for x in queue.drain() if isinstance(x, c.ClockBeat)] == [1, 2]  # type: ignore[union-attr]

    midi = MidiInput(MidiConfig(clock=False), queue)
    for t_s in pulse_times(120.0, 24 * 3, 0.0):
        midi._on_message("drum machine", clock, t_s)
    midi._on_message("drum machine", mido.Message("stop"), 2.0)
    assert queue.drain() == []


# ---------------------------------------------------------------------------- real ports (JACK)
def jack_up(server: str | None = None) -> bool:
    """Is a JACK server answering? Asked in a child process (see installation/control/midi_jack.py abandon)."""
    env = dict(os.environ)
    if server:
        env["JACK_DEFAULT_SERVER"] = server
    cmd = (
        ["jack_lsp"]
        if shutil.which("jack_lsp")
        else [sys.executable, "-c", "import rtmidi; rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK).delete()"]
    )
    done = subprocess.run(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=10,
        check=False,
    )
    return done.returncode == 0


def start_jackd(server: str | None = None, retry: bool = True) -> subprocess.Popen[bytes]:
    from installation.chaos.servers import clear_stale_jack_registry, jackd_refused_for_slots

    name = ["-n", server] if server else []
    with tempfile.TemporaryFile() as log_file:  # jackd keeps its own handle
        proc = subprocess.Popen(
            ["jackd", "--no-realtime", *name, "-d", "dummy", "-r", "48000"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        if not wait_for(lambda: proc.poll() is not None or jack_up(server), 10.0) or proc.poll() is not None:
            proc.kill()
            proc.wait()
            log_file.seek(0)
            log = log_file.read().decode(errors="replace")
            if retry and jackd_refused_for_slots(log) and clear_stale_jack_registry():
                return start_jackd(server, retry=False)  # killed servers of other runs filled JACK's registry
            pytest.fail(f"jackd did not start: {log[-800:]}")
    return proc


def stop_jackd(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def backend() -> Iterator[Any]:
    """mido's JACK backend against a running server (ours, or the one already there)."""
    require_tools("jackd")  # the real MIDI port tests need a JACK server (fails under REVERIE_REQUIRE_SYSTEM_TESTS)
    mido = pytest.importorskip("mido")
    pytest.importorskip("rtmidi")
    proc = None if jack_up() else start_jackd()
    try:
        yield mido.Backend(JACK, load=True)
    finally:
        if proc is not None:
            stop_jackd(proc)


@pytest.fixture
def close_later() -> Iterator[list[Any]]:
    """MidiInputs and ports to close after the test (while the server is still up), last first."""
    things: list[Any] = []
    yield things
    for thing in reversed(things):
        thing.close()


def handshake(out: Any, queue: c.CommandQueue, timeout_s: float = 3.0) -> None:
    """Send a marker CC until it arrives: the connection is live. Leaves the queue empty."""
    import mido

    deadline_s = time.monotonic() + timeout_s
    while time.monotonic() < deadline_s:
        out.send(mido.Message("control_change", control=MARK_CC, value=1))
        time.sleep(0.05)
        if any(isinstance(x, c.MidiEvent) and x.number == MARK_CC for x in queue.drain(10_000)):
            time.sleep(0.05)
            queue.drain(10_000)
            return
    pytest.fail("the MIDI connection never carried a message")


def collect(queue: c.CommandQueue, done: Callable[[list[c.Command]], bool], timeout_s: float) -> list[c.Command]:
    """Drain the queue until done(everything so far) or the timeout."""
    got: list[c.Command] = []

    def drained_enough() -> bool:
        got.extend(queue.drain(10_000))
        return done(got)

    wait_for(drained_enough, timeout_s)
    return got


def wait_quiet(queue: c.CommandQueue, quiet_s: float = 0.3, timeout_s: float = 5.0) -> None:
    """Until nothing has arrived for quiet_s."""
    deadline_s = time.monotonic() + timeout_s
    seen = -1
    while queue.received != seen and time.monotonic() < deadline_s:
        seen = queue.received
        time.sleep(quiet_s)


def test_a_controller_port_is_found_and_its_knobs_notes_and_clock_arrive(backend: Any, close_later: list[Any]) -> None:
    import mido

    out = backend.open_output("Test Controller", virtual=True)
    close_later.append(out)
    queue = c.CommandQueue()
    midi = MidiInput(MidiConfig(port="test CONTROLLER", backend=JACK, rescan_s=0.2), queue)
    close_later.append(midi)
    midi.start()
    assert wait_for(lambda: any("Test Controller" in p for p in midi.ports), 3.0), midi.status()
    [port] = midi.ports
    assert "Test Controller" in midi.status()
    handshake(out, queue)

    for message in (
        mido.Message("control_change", channel=1, control=7, value=64),
        mido.Message("pitchwheel", pitch=300),
        mido.Message("sysex", data=[0x7D, 1]),
        mido.Message("note_on", channel=9, note=60, velocity=100),
        mido.Message("note_on", channel=9, note=60, velocity=0),
        mido.Message("note_off", channel=9, note=61, velocity=12),
    ):
        out.send(message)
    events = collect(queue, lambda got: len(got) >= 4, 2.0)
    assert events == [
        c.MidiEvent("cc", 1, 7, 64, port),
        c.MidiEvent("note_on", 9, 60, 100, port),
        c.MidiEvent("note_off", 9, 60, 0, port),
        c.MidiEvent("note_off", 9, 61, 12, port),
    ]

    # A DAW at 150 BPM: two beats of clock while stopped, Start, four beats, Stop.
    interval_s = 60.0 / (24 * 150.0)
    t0_s = time.perf_counter()
    for i in range(24 * 6):
        if i == 48:
            out.send(mido.Message("start"))
        time.sleep(max(0.0, t0_s + i * interval_s - time.perf_counter()))  # absolute deadlines: no drift
        out.send(mido.Message("clock"))
    out.send(mido.Message("stop"))
    got = collect(queue, lambda got: any(isinstance(x, c.ClockStop) for x in got), 2.0)
    beats = [x for x in got if isinstance(x, c.ClockBeat)]
    assert [b.beat_index for b in beats][-4:] == [0, 1, 2, 3], got
    for beat in beats[-4:]:
        assert beat.bpm == pytest.approx(150.0, rel=0.05)  # JACK delivers once per 21 ms period
    assert isinstance(got[-1], c.ClockStop)
    assert midi.errors == 0


def test_ports_plugged_in_later_are_found_and_vanished_ones_dropped(backend: Any, close_later: list[Any]) -> None:
    import mido

    queue = c.CommandQueue()
    midi = MidiInput(MidiConfig(port="hotplug", backend=JACK, rescan_s=0.2), queue)
    close_later.append(midi)
    midi.start()
    assert wait_for(lambda: "no input port matching 'hotplug'" in midi.status(), 3.0), midi.status()
    for round_ in range(2):  # plugged in, unplugged, plugged in again
        out = backend.open_output("Hotplug Pad", virtual=True)
        assert wait_for(lambda: any("Hotplug Pad" in p for p in midi.ports), 3.0), midi.status()
        handshake(out, queue)
        out.send(mido.Message("note_on", note=36 + round_, velocity=90))
        assert collect(queue, bool, 2.0) == [c.MidiEvent("note_on", 0, 36 + round_, 90, midi.ports[0])]
        out.close()
        assert wait_for(lambda: midi.ports == (), 3.0), midi.status()
        assert midi.alive


def test_the_virtual_port_takes_what_a_daw_sends(backend: Any, close_later: list[Any]) -> None:
    import mido

    before = set(backend.get_output_names())
    queue = c.CommandQueue()
    midi = MidiInput(MidiConfig(port="no such controller", virtual=True, backend=JACK, rescan_s=0.2), queue)
    close_later.append(midi)
    midi.start()
    assert wait_for(lambda: midi.ports == (VIRTUAL_PORT,), 3.0), midi.status()
    [name] = [n for n in backend.get_output_names() if n not in before and n.endswith(f":{VIRTUAL_PORT}")]
    daw = backend.open_output(name)  # what a DAW does when told to send to "Reverie"
    close_later.append(daw)
    handshake(daw, queue)
    daw.send(mido.Message("control_change", channel=15, control=74, value=127))
    assert collect(queue, bool, 2.0) == [c.MidiEvent("cc", 15, 74, 127, VIRTUAL_PORT)]


def test_a_flood_keeps_the_queue_bounded_and_the_thread_alive(backend: Any, close_later: list[Any]) -> None:
    import mido

    out = backend.open_output("Flood Controller", virtual=True)
    close_later.append(out)
    queue = c.CommandQueue(maxlen=64)
    midi = MidiInput(MidiConfig(port="Flood Controller", backend=JACK, rescan_s=0.2), queue)
    close_later.append(midi)
    midi.start()
    assert wait_for(lambda: midi.ports != (), 3.0), midi.status()
    handshake(out, queue)
    before = queue.received
    for raw in ([0xF4], [0x40, 0x40], [0xB0, 7], [0xFD], [0x90, 0x80, 0x80], [0xF0, 1, 2], [0xF7]):
        out._rt.send_message(raw)  # bytes no controller should send: dropped before they are messages
    for i in range(20_000):
        out.send(mido.Message("control_change", control=1, value=i % 128))
    wait_quiet(queue)
    assert len(queue) == 64 and queue.dropped > 1000  # JACK drops some of a burst this size too
    assert queue.received - before == len(queue) + queue.dropped  # every one counted, the oldest dropped
    assert midi.alive and midi.errors == 0
    queue.drain(10_000)
    handshake(out, queue)  # still listening


def test_no_midi_system_is_reported_once_and_close_still_works(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("mido")
    disabled = MidiInput(MidiConfig(enabled=False), c.CommandQueue())
    disabled.start()
    assert not disabled.alive and disabled.status() == "MIDI off (midi.enabled = false)"
    disabled.close()

    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"reverie-test-absent-{os.getpid()}")
    # Listening for any controller: one INFO line. A port asked for by name: one WARNING.
    for backend_name, why, port, level in (
        ("mido.backends.no_such_backend", "cannot be loaded", "", "INFO"),
        (JACK, "JACK", "", "INFO"),
        (JACK, "JACK", "Launch", "WARNING"),
    ):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=LOGGER):
            midi = MidiInput(MidiConfig(backend=backend_name, rescan_s=0.2, port=port), c.CommandQueue())
            midi.start()
            assert wait_for(lambda m=midi: m.status().startswith("MIDI off:"), 3.0), midi.status()
            time.sleep(0.8)  # a few quiet retries (0.2, 0.4 s ...)
            assert midi.alive and why in midi.status()
            midi.close()
        warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.INFO]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert warnings[0].levelname == level
        assert warnings[0].getMessage().startswith("MIDI off: ") and "show goes on" in warnings[0].getMessage()
        assert not midi.alive and midi.status() == "MIDI closed" and midi.ports == ()


def test_jack_server_restart_is_survived(backend: Any, monkeypatch: pytest.MonkeyPatch, close_later: list[Any]) -> None:
    import mido

    server = "reverie-test"  # fixed: JACK reclaims a dead server's registry slot by name
    monkeypatch.setenv("JACK_DEFAULT_SERVER", server)  # a server of our own, to stop under the show
    jackd = start_jackd(server)
    queue = c.CommandQueue()
    midi = MidiInput(MidiConfig(port="no such controller", virtual=True, backend=JACK, rescan_s=0.2), queue)
    try:
        midi.start()
        assert wait_for(lambda: midi.ports == (VIRTUAL_PORT,), 3.0), midi.status()
        stop_jackd(jackd)
        assert wait_for(lambda: midi.status().startswith("MIDI off: the JACK server"), 3.0), midi.status()
        assert midi.ports == () and midi.alive
        jackd = start_jackd(server)
        assert wait_for(lambda: midi.ports == (VIRTUAL_PORT,), 12.0), midi.status()  # retries back off to 10 s
        be = mido.Backend(JACK, load=True)
        [name] = [n for n in be.get_output_names() if n.endswith(f":{VIRTUAL_PORT}")]
        daw = be.open_output(name)
        try:
            handshake(daw, queue)
        finally:
            daw.close()
    finally:
        midi.close()
        stop_jackd(jackd)


# ---------------------------------------------------------------------------- docs
def test_docs_name_every_target() -> None:
    text = (REPO / "docs" / "midi.md").read_text(encoding="utf-8")
    missing = [t for t in TARGETS if f"`{t}`" not in text]
    assert not missing, f"docs/midi.md does not mention: {missing}"


def test_without_an_alsa_sequencer_the_default_backend_says_so_without_asking_alsa(capfd) -> None:
    if os.path.exists("/dev/snd/seq") or not sys.platform.startswith("linux"):
        pytest.skip("this machine has an ALSA sequencer")
    midi = MidiInput(MidiConfig(rescan_s=0.2), c.CommandQueue())
    midi.start()
    try:
        assert wait_for(lambda: midi.status().startswith("MIDI off:"), 3.0), midi.status()
        time.sleep(0.6)
        assert "no ALSA sequencer" in midi.status() and "snd-seq" in midi.status()
    finally:
        midi.close()
    assert "seq_hw" not in capfd.readouterr().err  # ALSA's own error lines would repeat for weeks
