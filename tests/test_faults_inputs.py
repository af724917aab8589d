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

import http.server
import subprocess
import threading
import time

import cv2
import numpy as np
import pygame

from installation.app import App
from installation.config import load_config
from tests.runner import app_env, main_cmd, read_stats, read_stderr, stderr_file
from tests.system import require_tools, start_pulseaudio


def run_until(app: App, predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        app.step(1 / 30)
        pygame.time.wait(10)
        if predicate():
            return True
    return False


class MjpegCamera:
    """A network camera: an MJPEG stream over HTTP on 127.0.0.1, which can be unplugged and plugged back."""

    def __init__(self) -> None:
        self.port = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._stop = threading.Event()

    def plug_in(self) -> None:
        stop = self._stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                i = 0
                try:
                    while not stop.is_set():
                        frame = np.full((120, 160, 3), 20, np.uint8)
                        x = (i * 7) % 120
                        frame[40:80, x : x + 40] = (60, 220, 250)
                        jpg = cv2.imencode(".jpg", frame)[1].tobytes()
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                            + str(len(jpg)).encode()
                            + b"\r\n\r\n"
                            + jpg
                            + b"\r\n"
                        )
                        i += 1
                        time.sleep(0.05)
                except OSError:
                    pass

            def log_message(self, *args) -> None:
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def unplug(self) -> None:
        assert self._server is not None
        self._stop.set()  # open streams end: the client's reads fail
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"


def test_camera_unplugged_mid_show_and_plugged_back(tmp_path, caplog):
    camera_server = MjpegCamera()
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
        if camera_server._server is not None:
            camera_server.unplug()
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
        proc.stderr_path = tmp_path / "show.stderr"

        def mic_state() -> str:
            rows = read_stats(stats)
            return rows[-1]["sources"]["microphone"]["state"] if rows else ""

        def wait(state: str, timeout_s: float = 30.0) -> None:
            end = time.monotonic() + timeout_s
            while mic_state() != state and time.monotonic() < end and proc.poll() is None:
                time.sleep(0.1)
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
    log = read_stderr(proc)
    assert proc.returncode == 0, log[-3000:]
    mic_warnings = [line for line in log.splitlines() if "WARNING" in line and "microphone" in line]
    assert len(mic_warnings) == 1, log
    assert "is back" in log
