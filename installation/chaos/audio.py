"""A private PulseAudio server whose null-sink monitor is the show's default microphone.

A sound file loops into the sink (paplay), so PortAudio -> ALSA -> PulseAudio records it "as the
room". The server can be killed (SIGKILL, as a crash) and started again on the same socket, also at
the worst moment: right after a client's record stream connected, before its first block
(PortAudio's abort then hangs; issue #15).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

NULL_SINK = "reverie_null"
NULL_SOURCE = f"{NULL_SINK}.monitor"
TOOLS = ("pulseaudio", "pactl", "paplay")


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def client_env(pulse_dir: Path) -> dict[str, str]:
    """Variables that point PulseAudio clients, and ALSA's "default" PCM, at the server in pulse_dir."""
    pulse_dir.mkdir(parents=True, exist_ok=True)
    asound = pulse_dir / "asound.conf"
    asound.write_text("</usr/share/alsa/alsa.conf>\npcm.!default { type pulse }\nctl.!default { type pulse }\n")
    client = pulse_dir / "client.conf"
    client.write_text("autospawn = no\n")
    return {
        "PULSE_SERVER": f"unix:{pulse_dir / 'native'}",
        "PULSE_SOURCE": NULL_SOURCE,
        "PULSE_SINK": NULL_SINK,
        "PULSE_CLIENTCONFIG": str(client),
        "ALSA_CONFIG_PATH": str(asound),
    }


class PulseServer:
    """start() / kill() / start() again; `env` is for the clients (the show)."""

    def __init__(self, pulse_dir: Path, sound_file: Path | None = None) -> None:
        self.dir = pulse_dir
        self.env = client_env(pulse_dir)
        self.sound_file = sound_file
        self._daemon: subprocess.Popen[bytes] | None = None
        self._player_stop = threading.Event()
        self._player: threading.Thread | None = None
        self._daemon_dir = Path(tempfile.mkdtemp(prefix="daemon-", dir=pulse_dir))

    @property
    def up(self) -> bool:
        return self._daemon is not None and self._daemon.poll() is None

    def _ctl(self, *args: str, timeout_s: float = 5.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pactl", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def start(self, timeout_s: float = 15.0) -> None:
        runtime = self._daemon_dir / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env = {
            **os.environ,
            "HOME": str(self._daemon_dir),
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_CONFIG_HOME": str(self._daemon_dir / "config"),
            "PULSE_RUNTIME_PATH": str(runtime / "pulse"),
            "PULSE_STATE_PATH": str(self._daemon_dir / "state"),
        }
        env.pop("PULSE_SERVER", None)
        with open(self._daemon_dir / "pulseaudio.log", "ab") as out:
            self._daemon = subprocess.Popen(
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
                    f"--load=module-native-protocol-unix socket={self.dir / 'native'} auth-anonymous=1",
                    f"--load=module-null-sink sink_name={NULL_SINK} rate=44100 channels=2",
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline_s = time.monotonic() + timeout_s
        while self._ctl("info").returncode != 0:
            if self._daemon.poll() is not None or time.monotonic() > deadline_s:
                raise RuntimeError(f"pulseaudio did not start: see {self._daemon_dir / 'pulseaudio.log'}")
            time.sleep(0.05)
        self._ctl("set-default-source", NULL_SOURCE)
        if self.sound_file is not None:
            self._start_player()

    def _start_player(self) -> None:
        self._player_stop = stop = threading.Event()
        env = {**os.environ, **self.env}
        assert self.sound_file is not None
        sound_file = str(self.sound_file)

        def loop() -> None:  # paplay plays once; loop it until the server goes or we stop
            while not stop.is_set() and self.up:
                player = subprocess.Popen(
                    ["paplay", f"--device={NULL_SINK}", sound_file],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                while player.poll() is None and not stop.is_set():
                    stop.wait(0.1)
                if player.poll() is None:
                    player.kill()
                player.wait()
                stop.wait(0.2)

        self._player = threading.Thread(target=loop, name="pulse-player", daemon=True)
        self._player.start()

    def recording_clients(self) -> int:
        """How many record streams (e.g. the show's microphone) are connected now."""
        out = self._ctl("list", "short", "source-outputs")
        return len([line for line in out.stdout.splitlines() if line.strip()]) if out.returncode == 0 else 0

    def kill(self) -> None:
        """SIGKILL, as a crash: clients see their connection drop."""
        self._player_stop.set()
        if self._daemon is not None and self._daemon.poll() is None:
            self._daemon.send_signal(signal.SIGKILL)
            self._daemon.wait()
        if self._player is not None:
            self._player.join(5.0)
            self._player = None

    def kill_before_first_block(self, timeout_s: float = 10.0) -> bool:
        """Kill the server as soon as a record stream connects (before its first block, most times).

        False when no client connected within timeout_s (then it is killed anyway)."""
        deadline_s = time.monotonic() + timeout_s
        connected = False
        while time.monotonic() < deadline_s and self.up:
            if self.recording_clients():
                connected = True
                break
            time.sleep(0.01)
        self.kill()
        return connected

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self._daemon_dir, ignore_errors=True)
