"""The running show played from a real (virtual) MIDI controller on a JACK server: MIDI learn over
OSC, a knob driving a parameter, MIDI clock setting the tempo, a pad switching preset on the bar."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pythonosc.udp_client import SimpleUDPClient

from installation.control.bindings import load_learned
from tests.runner import free_udp_port, start_main, stop_main, wait_stats
from tests.test_midi import JACK, backend  # noqa: F401 (the JACK server fixture)

ROOT = Path(__file__).resolve().parent.parent
PAD_PRESET = """
[[midi]]
kind = "note"
number = 36
target = "preset"
arg = "4-club"
"""


def clock(out, bpm: float, seconds: float, stop: threading.Event) -> None:
    import mido

    out.send(mido.Message("start"))
    interval_s = 60.0 / bpm / 24
    next_s = time.perf_counter()
    end_s = next_s + seconds
    while next_s < end_s and not stop.is_set():
        out.send(mido.Message("clock"))
        next_s += interval_s
        time.sleep(max(0.0, next_s - time.perf_counter()))


def test_a_midi_controller_plays_the_running_show(backend, tmp_path: Path) -> None:  # noqa: F811
    import mido

    preset = tmp_path / "mine.toml"
    preset.write_text((ROOT / "assets/presets/1-gallery.toml").read_text() + PAD_PRESET)
    out = backend.open_output("E2E Controller", virtual=True)
    port = free_udp_port()
    stats = tmp_path / "stats.jsonl"
    proc = start_main(
        "--headless",
        "--camera",
        "none",
        "--mic",
        "none",
        "--stats",
        str(stats),
        "--set",
        "display.size=[160, 90]",
        "--set",
        "display.fps=30",
        "--set",
        "stats.interval_s=0.2",
        "--set",
        f'run.preset="{preset}"',
        "--set",
        f"osc.port={port}",
        "--set",
        f'midi.backend="{JACK}"',
        "--set",
        'midi.port="E2E Controller"',
        "--set",
        "midi.rescan_s=0.3",
        log_path=tmp_path / "show.log",
    )
    stop = threading.Event()
    try:
        wait_stats(stats, lambda s: s["frames"] > 5 and s["live"].get("midi", {}).get("ports"), 60, proc)
        osc = SimpleUDPClient("127.0.0.1", port)
        osc.send_message("/reverie/midi/learn", "trails")
        time.sleep(0.5)  # the show arms learn on its next frame
        out.send(mido.Message("control_change", channel=3, control=21, value=10))  # learned, not applied
        time.sleep(0.5)
        out.send(mido.Message("control_change", channel=3, control=21, value=127))
        s = wait_stats(stats, lambda s: s["live"]["overrides"].get("trails") == 0.95, 10, proc)
        assert s["params"]["trails"] == 0.95
        learned = load_learned(tmp_path / "mine.midi.json")
        assert [(b.kind, b.number, b.channel, b.target) for b in learned] == [("cc", 21, 3, "trails")]

        ticker = threading.Thread(target=clock, args=(out, 150.0, 15.0, stop), daemon=True)
        ticker.start()
        s = wait_stats(stats, lambda s: s["live"]["tempo"]["source"] == "midi" and s["frames"] > 0, 10, proc)
        time.sleep(2.0)
        s = wait_stats(stats, lambda s: s["live"]["tempo"]["source"] == "midi", 5, proc)
        assert s["live"]["tempo"]["bpm"] == pytest.approx(150.0, rel=0.02)

        out.send(mido.Message("note_on", channel=9, note=36, velocity=100))  # the pad: Club on the next bar
        s = wait_stats(stats, lambda s: s["preset"] == "Club" or s["live"]["pending"] == "4-club", 10, proc)
        s = wait_stats(stats, lambda s: s["preset"] == "Club", 10, proc)
        assert s["live"]["tempo"]["source"] == "midi"
    finally:
        stop.set()
        code = stop_main(proc)
        out.close()
    log = (tmp_path / "show.log").read_text()
    assert code == 0, log[-3000:]
    assert "on the next bar" in log
