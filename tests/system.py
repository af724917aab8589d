"""System-test helpers: a private X display and a private PulseAudio server for one test.

Both run real programs (Xvfb + openbox, pulseaudio) and tear them down on exit. When a tool is
missing the test is skipped, or fails when REVERIE_REQUIRE_SYSTEM_TESTS=1 (CI sets it).
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.runner import wait_until

log = logging.getLogger(__name__)

NULL_SINK = "reverie_null"  # sink that plays nowhere; its monitor is the test "microphone"
NULL_SOURCE = f"{NULL_SINK}.monitor"
STARTUP_TIMEOUT_S = 10.0
APT_PACKAGES = {  # tool -> Debian/Ubuntu package that provides it
    "Xvfb": "xvfb",
    "openbox": "openbox",
    "xdpyinfo": "x11-utils",
    "xprop": "x11-utils",
    "xdotool": "xdotool",
    "import": "imagemagick",
    "convert": "imagemagick",
    "pulseaudio": "pulseaudio",
    "pactl": "pulseaudio-utils",
    "paplay": "pulseaudio-utils",
    "parecord": "pulseaudio-utils",
    "jackd": "jackd2",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
}
ALSA_PULSE_PLUGIN_GLOB = "/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so"


def _missing(what: str, packages: list[str]) -> None:
    message = f"{what}; install with: sudo apt-get install -y {' '.join(sorted(set(packages)))}"
    if os.environ.get("REVERIE_REQUIRE_SYSTEM_TESTS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def require_tools(*names: str) -> None:
    """Skip (or fail under REVERIE_REQUIRE_SYSTEM_TESTS=1) unless every program is on PATH."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        _missing(f"missing tools: {', '.join(missing)}", [APT_PACKAGES.get(n, n) for n in missing])


def _stop(process: subprocess.Popen[bytes] | None, name: str) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop on SIGTERM; killing it", name)
        process.kill()
        process.wait(timeout=5.0)


def _free_display_number(start: int = 90) -> int:
    for number in range(start, start + 100):
        if not (Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists()):
            return number
    raise RuntimeError("no free X display number in :90-:189")


@contextmanager
def start_xvfb(width: int = 1280, height: int = 720) -> Iterator[str]:
    """A fresh Xvfb display with the openbox window manager; yields its DISPLAY string, e.g. ":90"."""
    require_tools("Xvfb", "openbox")
    xvfb: subprocess.Popen[bytes] | None = None
    openbox: subprocess.Popen[bytes] | None = None
    try:
        for _attempt in range(5):  # another test may grab the same number between check and start
            number = _free_display_number()
            display = f":{number}"
            xvfb = subprocess.Popen(
                ["Xvfb", display, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            socket = Path(f"/tmp/.X11-unix/X{number}")
            try:
                wait_until(socket.exists, STARTUP_TIMEOUT_S, f"Xvfb {display}", xvfb)
                break
            except AssertionError:  # exited (the display number was taken) or never ready
                _stop(xvfb, "Xvfb")
                xvfb = None
        if xvfb is None:
            raise RuntimeError("Xvfb did not start")

        env = {**os.environ, "DISPLAY": display}
        openbox = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if shutil.which("xprop"):  # the WM announces itself on the root window once it manages it

            def wm_ready() -> bool:
                result = subprocess.run(
                    ["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], env=env, capture_output=True, text=True
                )
                return "window id" in result.stdout

            wait_until(wm_ready, STARTUP_TIMEOUT_S, "openbox", openbox)
        else:
            time.sleep(0.5)
        log.info("Xvfb %s %dx%d with openbox is up", display, width, height)
        yield display
    finally:
        _stop(openbox, "openbox")
        _stop(xvfb, "Xvfb")


def pulse_client_env(pulse_dir: str | Path) -> dict[str, str]:
    """The environment for clients of the server that start_pulseaudio(pulse_dir) runs.

    os.environ plus PULSE_SERVER, PULSE_SOURCE, PULSE_SINK, PULSE_CLIENTCONFIG and
    ALSA_CONFIG_PATH: through it, ALSA's "default" PCM, and so PortAudio's and sounddevice's
    default input, records whatever `paplay --device=reverie_null` plays. Usable before the
    server is up (to test a microphone that appears later); clients never autospawn a daemon.
    """
    pulse_dir = Path(pulse_dir)
    pulse_dir.mkdir(parents=True, exist_ok=True)
    # Include the system ALSA config, then route "default" to PulseAudio explicitly; this does not
    # depend on the pulse.conf hook noticing that a server is running.
    asound_conf = pulse_dir / "asound.conf"
    asound_conf.write_text("</usr/share/alsa/alsa.conf>\npcm.!default { type pulse }\nctl.!default { type pulse }\n")
    client_conf = pulse_dir / "client.conf"
    client_conf.write_text("autospawn = no\n")
    return {
        **os.environ,
        "PULSE_SERVER": f"unix:{pulse_dir / 'native'}",
        "PULSE_SOURCE": NULL_SOURCE,
        "PULSE_SINK": NULL_SINK,
        "PULSE_CLIENTCONFIG": str(client_conf),
        "ALSA_CONFIG_PATH": str(asound_conf),
    }


@contextmanager
def start_pulseaudio(pulse_dir: str | Path | None = None) -> Iterator[dict[str, str]]:
    """A private PulseAudio server with a null sink whose monitor is the default source.

    Yields pulse_client_env(pulse_dir) for subprocesses. pulse_dir holds the socket and config
    (a fresh temporary folder, removed afterwards, when None). The server is killed on exit.
    """
    require_tools("pulseaudio", "pactl", "paplay")
    if not glob.glob(ALSA_PULSE_PLUGIN_GLOB):
        _missing("missing the ALSA PulseAudio plugin (libasound_module_pcm_pulse.so)", ["libasound2-plugins"])

    own_dir = pulse_dir is None
    pulse_dir = Path(tempfile.mkdtemp(prefix="reverie-pulse-") if pulse_dir is None else pulse_dir)
    env = pulse_client_env(pulse_dir)
    daemon_dir = Path(tempfile.mkdtemp(prefix="daemon-", dir=pulse_dir))
    runtime = daemon_dir / "runtime"
    runtime.mkdir(mode=0o700)
    # The daemon's own files (cookie, state) stay in daemon_dir, never in the real user's home.
    daemon_env = {
        **os.environ,
        "HOME": str(daemon_dir),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_CONFIG_HOME": str(daemon_dir / "config"),
        "PULSE_RUNTIME_PATH": str(runtime / "pulse"),
        "PULSE_STATE_PATH": str(daemon_dir / "state"),
    }
    daemon_env.pop("PULSE_SERVER", None)
    socket = pulse_dir / "native"
    log_path = daemon_dir / "pulseaudio.log"
    log_file = log_path.open("wb")
    daemon: subprocess.Popen[bytes] | None = None
    try:
        daemon = subprocess.Popen(
            [
                "pulseaudio",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "--system=false",
                "-n",
                "--use-pid-file=no",
                "--disable-shm=yes",
                "--log-target=stderr",
                f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
                f"--load=module-null-sink sink_name={NULL_SINK} rate=44100 channels=2",
            ],
            env=daemon_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )

        def server_ready() -> bool:
            return subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0

        try:
            wait_until(server_ready, STARTUP_TIMEOUT_S, "pulseaudio", daemon)
        except AssertionError as exc:
            log_file.flush()
            raise RuntimeError(f"{exc}\n{log_path.read_text(errors='replace')}") from exc
        for command in (["set-default-sink", NULL_SINK], ["set-default-source", NULL_SOURCE]):
            subprocess.run(["pactl", *command], env=env, check=True, capture_output=True)
        log.info("pulseaudio is up at %s", env["PULSE_SERVER"])
        yield env
    finally:
        _stop(daemon, "pulseaudio")
        log_file.close()
        shutil.rmtree(pulse_dir if own_dir else daemon_dir, ignore_errors=True)


def require_module(name: str, why: str):
    """Import a Python module, or skip (fail under REVERIE_REQUIRE_SYSTEM_TESTS=1) saying why it matters."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        message = f"{name} cannot be imported ({exc}): {why}"
        if os.environ.get("REVERIE_REQUIRE_SYSTEM_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
