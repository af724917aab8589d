"""The other real parts a chaos soak breaks: a network camera, a JACK server with a MIDI controller
on it, a small tmpfs for state and recordings, and an OSC sender that floods garbage."""

from __future__ import annotations

import errno
import http.server
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2

from installation.sources import jack_metadata

log = logging.getLogger(__name__)

JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"
CONTROLLER_PORT = "Soak Controller"


class NetworkCamera:
    """An MJPEG-over-HTTP camera on 127.0.0.1 that streams a video file's frames, looping; it can be
    unplugged (server and streams stop) and plugged back on the same port."""

    def __init__(self, video: Path, fps: float = 15.0) -> None:
        capture = cv2.VideoCapture(str(video))
        self._jpegs: list[bytes] = []
        while True:
            ok, frame_bgr = capture.read()
            if not ok:
                break
            self._jpegs.append(cv2.imencode(".jpg", frame_bgr)[1].tobytes())
        capture.release()
        if not self._jpegs:
            raise RuntimeError(f"no frames in {video}")
        self.fps = fps
        self.port = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    @property
    def plugged(self) -> bool:
        return self._server is not None

    def plug_in(self) -> None:
        stop = self._stop = threading.Event()
        jpegs, period_s = self._jpegs, 1.0 / self.fps

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                i = 0
                try:
                    while not stop.is_set():
                        jpg = jpegs[i % len(jpegs)]
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                            + str(len(jpg)).encode()
                            + b"\r\n\r\n"
                            + jpg
                            + b"\r\n"
                        )
                        i += 1
                        stop.wait(period_s)
                except OSError:
                    pass

            def log_message(self, *args: object) -> None:
                pass

        server_cls = type(
            "Server", (http.server.ThreadingHTTPServer,), {"allow_reuse_address": True, "daemon_threads": True}
        )
        self._server = server_cls(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="chaos-camera", daemon=True)
        self._thread.start()

    def unplug(self) -> None:
        if self._server is None:
            return
        self._stop.set()  # open streams end: the show's reads fail
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        if self._thread is not None:
            self._thread.join(5.0)


CONTROLLER = r"""
import sys, threading, mido
backend = mido.Backend(sys.argv[1], load=True)
out = backend.open_output(sys.argv[2], virtual=True)
print("ready", flush=True)
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
value = 0
while not stop.wait(0.25):  # a knob turning slowly
    out.send(mido.Message("control_change", channel=0, control=20, value=value % 128))
    value += 1
out.close()
"""


class JackMidi:
    """A private JACK server (dummy driver) and a MIDI controller on it: a child process with a
    virtual output port that vanishes when the child is killed (as a USB controller pulled out)."""

    def __init__(self, folder: Path) -> None:
        # A fixed name: JACK reclaims a dead server's registry slot by name, so killed soaks never
        # fill its eight slots (a per-process name did, and libjack then refused every new server).
        self.name = "reverie-chaos"
        self.env = {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}
        self.folder = folder
        self._jackd: subprocess.Popen[bytes] | None = None
        self._controller: subprocess.Popen[str] | None = None

    @staticmethod
    def missing() -> str:
        if shutil.which("jackd") is None:
            return "jackd is not installed (sudo apt-get install jackd2)"
        try:
            import mido  # noqa: F401
            import rtmidi  # noqa: F401
        except ImportError as exc:
            return f"mido/python-rtmidi cannot be imported ({exc})"
        return ""

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        jack_metadata.repair()  # jackd itself hangs on a JACK database a killed program left locked
        log = self.folder / "jackd.log"
        for attempt in range(2):
            with open(log, "ab") as out:
                self._jackd = subprocess.Popen(
                    ["jackd", "--no-realtime", "-n", self.name, "-d", "dummy", "-r", "48000"],
                    env={**os.environ, **self.env},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            try:
                self._jackd.wait(1.0)  # a refused server exits at once
            except subprocess.TimeoutExpired:
                break
            if attempt or not jackd_refused_for_slots(log.read_text(errors="replace")):
                break
            clear_stale_jack_registry()
        self.plug_in()

    def plug_in(self, timeout_s: float = 30.0) -> None:
        """Start the controller; retries while the JACK server is still coming up."""
        deadline_s = time.monotonic() + timeout_s
        while True:
            with open(self.folder / "controller.log", "a") as err:
                child = subprocess.Popen(
                    [sys.executable, "-c", CONTROLLER, JACK_BACKEND, CONTROLLER_PORT],
                    env={**os.environ, **self.env},
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                )
            assert child.stdout is not None
            if child.stdout.readline().strip() == "ready":
                self._controller = child
                return
            child.kill()
            child.wait()
            if time.monotonic() > deadline_s or (self._jackd is not None and self._jackd.poll() is not None):
                raise RuntimeError(f"the MIDI controller did not start: see {self.folder}")
            time.sleep(0.5)

    def unplug(self) -> None:
        if self._controller is not None:
            self._controller.kill()
            self._controller.wait()
            self._controller = None

    def close(self) -> None:
        self.unplug()
        if self._jackd is not None and self._jackd.poll() is None:
            self._jackd.terminate()
            try:
                self._jackd.wait(5.0)
            except subprocess.TimeoutExpired:
                self._jackd.kill()
                self._jackd.wait()


def jackd_refused_for_slots(log_text: str) -> bool:
    """Did jackd refuse to start because JACK's registry of servers is full?"""
    return "Too many servers" in log_text


def clear_stale_jack_registry(shm: Path = Path("/dev/shm")) -> int:
    """Remove JACK's shared-memory registry when no jackd runs; returns the files removed.

    A jackd that is killed leaves its entry in /dev/shm/jack-shm-registry, and libjack refuses a
    ninth server ("Too many servers already active") until reboot. With no jackd alive every entry
    is stale. Only for that refusal: a process that already loaded libjack keeps the old registry
    mapped and can no longer reach servers registered in the new one."""
    import psutil

    if any(p.info["name"] == "jackd" for p in psutil.process_iter(["name"])):
        return 0
    removed = 0
    for path in list(shm.glob("jack-*")) + list(shm.glob("jack_*")):
        try:
            path.unlink()
            removed += 1
        except OSError:
            pass
    return removed


class SmallDisk:
    """A tmpfs of a few MiB for the show's state and recordings, which can fill up and free again.
    Mounting needs root (CI runs as root); `missing()` says why not otherwise."""

    def __init__(self, path: Path, size_mib: int = 4) -> None:
        self.path = path
        self.size_mib = size_mib
        self.mounted = False
        self._filler = path / "filler.bin"

    def missing(self) -> str:
        if os.geteuid() != 0:
            return "mounting a tmpfs needs root (run the soak as root, as CI does)"
        if shutil.which("mount") is None:
            return "no mount command"
        return ""

    def mount(self) -> str:
        """ "" when mounted, else why not."""
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mib}m,mode=0755", "tmpfs", str(self.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return f"mount -t tmpfs failed: {done.stderr.strip() or done.returncode}"
        self.mounted = True
        return ""

    def fill(self) -> int:
        """Write until the disk is full; the bytes written (0 when the show's recording filled it first:
        a full tmpfs refuses even to create the filler)."""
        written = 0
        chunk = b"\0" * 65536
        try:
            with open(self._filler, "ab") as out:
                while True:
                    out.write(chunk)
                    out.flush()
                    written += len(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        return written

    def free(self, *extra: Path) -> None:
        for path in (self._filler, *extra):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def unmount(self) -> None:
        if self.mounted:
            done = subprocess.run(["umount", str(self.path)], capture_output=True, check=False)
            if done.returncode != 0:
                subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)
            self.mounted = False


def flood_osc(port: int, seconds: float, seed: int, max_datagrams: int = 50_000) -> int:
    """Garbage at the show's OSC port: random bytes, truncated and mistyped OSC, unknown addresses."""
    rng = random.Random(seed)
    bad = [
        b"/reverie/param/speed\0\0\0\0,f\0\0",
        b"/reverie/preset\0,s\0\0\xff\xfe\0\0",
        b"#bundle\0\0\0",
        b"/nope/" + b"x" * 300 + b"\0\0,i\0\0\0\0\0\1",
        b"/reverie/param/zoom\0,f\0\0\x7f\xc0\0\0",
    ]
    sent = 0
    end_s = time.monotonic() + seconds
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        while time.monotonic() < end_s and sent < max_datagrams:
            data = rng.choice(bad) if rng.random() < 0.5 else rng.randbytes(rng.randint(1, 512))
            try:
                sock.sendto(data, ("127.0.0.1", port))
                sent += 1
            except OSError:  # the show's socket buffer is full: that is the point
                time.sleep(0.001)
    return sent


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


class OscTraffic:
    """A performer's OSC traffic all through the soak: touch-like drag storms (1-5 "fingers" worth of
    /reverie/latent/drag at 30-150 messages a second for 0.5-2 s, every 1-8 s) and now and then a
    pulse or a new keyframe. Runs on its own thread; close() stops and joins it."""

    def __init__(self, port: int, seed: int) -> None:
        from pythonosc.udp_client import SimpleUDPClient

        self._client = SimpleUDPClient("127.0.0.1", port)
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-osc-traffic", daemon=True)
        self.storms = 0
        self.sent = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        rng = self._rng
        while not self._stop.wait(rng.uniform(1.0, 8.0)):
            self.storms += 1
            fingers = rng.randint(1, 5)
            end_s = time.monotonic() + rng.uniform(0.5, 2.0)
            while time.monotonic() < end_s and not self._stop.is_set():
                for _ in range(fingers):
                    self._send("/reverie/latent/drag", rng.gauss(0.0, 0.05), rng.gauss(0.0, 0.05))
                self._stop.wait(1 / 30)
            if rng.random() < 0.3:
                self._send(rng.choice(["/reverie/latent/pulse", "/reverie/latent/keyframe"]))

    def _send(self, address: str, *args: float) -> None:
        try:
            self._client.send_message(address, list(args))
            self.sent += 1
        except OSError:
            pass

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
