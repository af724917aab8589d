"""Faults in the inputs while the show runs; the show goes on and picks the device up again.

- Camera unplugged mid-show and plugged back (a network MJPEG camera on 127.0.0.1 whose server stops
  and starts again; a USB camera's reads fail the same way). Log: WARNING "camera: <camera> stopped
  delivering frames -> synthetic drifting shapes; retrying every ...", then INFO "<camera> is back".
  Visitor: the picture keeps animating throughout (synthetic shapes feed the motion sense meanwhile).
  (A video file cannot stand in: FFmpeg keeps decoding a file truncated under it without an error.)
- Microphone stream error and return (the PulseAudio server dies and comes back). Log: WARNING
  "microphone: ..." once, then INFO "... is back". Visitor: the show goes on, silent meanwhile.
"""

from __future__ import annotations

import subprocess
import time

import pygame

from installation.app import App
from installation.chaos.servers import NetworkCamera
from installation.config import load_config
from installation.testmedia import write_video
from tests.runner import app_env, main_cmd, read_stats, stderr_file, wait_for
from tests.system import require_tools, start_pulseaudio


def run_until(app: App, predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        app.step(1 / 30)
        pygame.time.wait(10)
        if predicate():
            return True
    return False


def test_camera_unplugged_mid_show_and_plugged_back(tmp_path, caplog):
    # The chaos soak's network camera: an MJPEG stream of a video file over HTTP on 127.0.0.1.
    camera_server = NetworkCamera(write_video(tmp_path / "room.avi", seconds=2.0, fps=20.0, size=(160, 120)), fps=20.0)
    camera_server.plug_in()
    app = App(
        load_config(
            None,
            [
                "display.mode=headless",
                "display.size=[160, 90]",
                f'camera.source="{camera_server.url}"',
                "microphone.source=none",
                "camera.retry_s=0.2",
                "camera.max_retry_s=0.5",
            ],
        )
    )
    app.setup()
    try:
        camera = lambda: app.senses.status()["camera"].state  # noqa: E731
        assert run_until(app, lambda: camera() == "live", 30)
        camera_server.unplug()
        frames = app.frames_presented
        assert run_until(app, lambda: camera() == "fallback", 30)
        assert app.frames_presented > frames  # the show went on
        camera_server.plug_in()  # plugged back in
        assert run_until(app, lambda: camera() == "live", 30)
        assert app.running
    finally:
        app.close()
        camera_server.unplug()  # a no-op when already unplugged
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "camera" in r.getMessage()]
    assert len(warnings) == 1 and "stopped delivering frames" in warnings[0], warnings
    assert "is back" in caplog.text


def test_microphone_server_dies_and_returns(tmp_path):
    require_tools("pulseaudio", "pactl")
    stats = tmp_path / "stats.jsonl"
    pulse_dir = tmp_path / "pulse"
    with start_pulseaudio(pulse_dir) as env:
        proc = subprocess.Popen(
            main_cmd(
                "--headless",
                "--camera",
                "none",
                "--stats",
                str(stats),
                "--seconds",
                "90",
                "--set",
                "display.size=[160, 90]",
                "--set",
                "stats.interval_s=0.25",
                "--set",
                "microphone.retry_s=0.2",
                "--set",
                "microphone.max_retry_s=1",
            ),
            env=app_env(**env),
            stdout=subprocess.DEVNULL,
            stderr=stderr_file(tmp_path / "show.stderr"),
            text=True,
        )

        def mic_state() -> str:
            rows = read_stats(stats)
            return rows[-1]["sources"]["microphone"]["state"] if rows else ""

        def wait(state: str, timeout_s: float = 30.0) -> None:
            wait_for(lambda: mic_state() == state or proc.poll() is not None, timeout_s, interval_s=0.1)
            assert mic_state() == state, f"microphone never became {state}"

        try:
            wait("live")
        # leaving the with-block stops the server: the stream errors out
        except BaseException:
            proc.kill()
            raise
    try:
        wait("fallback")
        frames = read_stats(stats)[-1]["frames"]
        with start_pulseaudio(pulse_dir):
            wait("live")
            assert read_stats(stats)[-1]["frames"] > frames  # the show went on throughout
            proc.terminate()
            proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "show.stderr").read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    mic_warnings = [line for line in log.splitlines() if "WARNING" in line and "microphone" in line]
    assert len(mic_warnings) == 1, log
    assert "is back" in log
