"""The faults a chaos soak injects into the supervised show, each with how it is detected (from the
show's stats, health file or log) and what counts as recovered.

Every fault: inject(), then (after at least hold_s, once detected) fix() removes the cause, then
recovered() must come true. kinds() lists them; a fault that cannot run here says why (skip_reason).
"""

from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pythonosc.udp_client import SimpleUDPClient

from installation.chaos import models as model_faults
from installation.chaos.audio import PulseServer
from installation.chaos.observe import Observer
from installation.chaos.servers import CONTROLLER_PORT, JackMidi, NetworkCamera, SmallDisk, flood_osc


@dataclass
class Rig:
    """The running show and every real part around it."""

    observer: Observer
    pulse: PulseServer
    camera: NetworkCamera
    midi: JackMidi | None
    disk: SmallDisk | None
    osc_port: int
    model_live: Path | None  # the model file the show runs (a copy of the default model's)
    model_good: Path | None
    model_name: str
    rng: random.Random
    skipped: dict[str, str] = field(default_factory=dict)  # kind -> why it cannot run here

    def osc(self, address: str, *args: Any) -> None:
        SimpleUDPClient("127.0.0.1", self.osc_port).send_message(address, list(args))

    def source(self, name: str) -> str:
        return self.observer.latest().get("sources", {}).get(name, {}).get("state", "")

    def midi_ports(self) -> list[str]:
        return list(self.observer.latest().get("live", {}).get("midi", {}).get("ports", []))


class Fault:
    kind = ""
    hold_s = (1.0, 3.0)  # how long the cause lasts at least (random in this range)
    recover_bound_s = 30.0  # recovered within this after fix(), or the soak fails

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.mark = 0
        self.pid = 0
        self.note = ""

    def begin(self) -> None:
        self.rig.observer.poll()
        self.mark = self.rig.observer.log_mark()
        self.pid = self.rig.observer.show_pid

    def inject(self) -> None:
        raise NotImplementedError

    def detected(self) -> str:
        """How the fault showed ("" = not yet)."""
        raise NotImplementedError

    def fix(self) -> None:
        """Remove the cause (default: nothing to remove)."""

    def recovered(self) -> bool:
        raise NotImplementedError

    def _log(self, text: str) -> str:
        line = self.rig.observer.log_since(self.mark, text)
        return f"log: {text.strip()}" if line else ""

    def _new_show_presenting(self) -> bool:
        obs = self.rig.observer
        return (
            obs.show_pid not in (0, self.pid)
            and bool(obs.lines)
            and obs.lines[-1].pid == obs.show_pid
            and obs.latest().get("frames", 0) > 10
        )


class CameraServerDies(Fault):
    kind = "camera_server_dies"
    hold_s = (2.0, 5.0)

    def inject(self) -> None:
        self.rig.camera.unplug()

    def detected(self) -> str:
        return "stats: camera fallback" if self.rig.source("camera") == "fallback" else ""

    def fix(self) -> None:
        self.rig.camera.plug_in()

    def recovered(self) -> bool:
        return self.rig.source("camera") == "live"


class PulseAudioKilled(Fault):
    kind = "pulseaudio_killed"
    hold_s = (1.0, 4.0)
    recover_bound_s = 45.0

    def inject(self) -> None:
        self.rig.pulse.kill()

    def detected(self) -> str:
        return "stats: microphone fallback" if self.rig.source("microphone") == "fallback" else ""

    def fix(self) -> None:
        self.rig.pulse.start()

    def recovered(self) -> bool:
        return self.rig.source("microphone") == "live"


class PulseAudioKilledBeforeFirstBlock(PulseAudioKilled):
    """Killed, started, and killed again the moment the show's record stream connects; about every
    second time PortAudio's abort then hangs and the show is restarted (installation/care.py)."""

    kind = "pulseaudio_killed_before_first_block"
    hold_s = (0.0, 0.5)
    recover_bound_s = 90.0  # 6 s to notice no first block + 10 s stuck + a restart

    def inject(self) -> None:
        self.rig.pulse.kill()
        deadline_s = time.monotonic() + 20.0
        while self.rig.source("microphone") != "fallback" and time.monotonic() < deadline_s:
            time.sleep(0.1)
            self.rig.observer.poll()
        self.rig.pulse.start()
        connected = self.rig.pulse.kill_before_first_block()
        self.note = "killed as the stream connected" if connected else "no stream connected within 10 s"

    def detected(self) -> str:
        stuck = self._log("PortAudio has not returned")
        return stuck or super().detected()

    def recovered(self) -> bool:
        if self._log("PortAudio has not returned"):
            self.note = "PortAudio hung; the show was restarted"
        return super().recovered()


class OscGarbageFlood(Fault):
    kind = "osc_garbage_flood"
    hold_s = (0.0, 0.0)
    FLOOD_S = 2.0

    def inject(self) -> None:
        osc = self.rig.observer.latest().get("live", {}).get("osc", {})
        self.rejected = int(osc.get("rejected", 0))
        self.sent = flood_osc(self.rig.osc_port, self.FLOOD_S, self.rig.rng.randrange(2**31))
        self.note = f"{self.sent} datagrams in {self.FLOOD_S:g} s"

    def detected(self) -> str:
        osc = self.rig.observer.latest().get("live", {}).get("osc", {})
        rejected = int(osc.get("rejected", 0)) - self.rejected
        return f"stats: OSC rejected +{rejected}" if rejected > 0 else ""

    def fix(self) -> None:
        self.value = round(self.rig.rng.uniform(0.1, 0.9), 2)
        self._sent_at = 0.0

    def recovered(self) -> bool:
        """A good message after the flood is applied: the show still listens."""
        now = time.monotonic()
        if now - self._sent_at > 1.0:
            self._sent_at = now
            self.rig.osc("/reverie/param/trails", self.value)
        if self.rig.observer.latest().get("live", {}).get("overrides", {}).get("trails") == self.value:
            self.rig.osc("/reverie/param/trails/reset")
            return True
        return False


class MidiPortVanishes(Fault):
    kind = "midi_port_vanishes"
    hold_s = (2.0, 4.0)

    def inject(self) -> None:
        assert self.rig.midi is not None
        self.rig.midi.unplug()

    def detected(self) -> str:
        gone = not any(CONTROLLER_PORT in port for port in self.rig.midi_ports())
        return "stats: MIDI port gone" if gone else ""

    def fix(self) -> None:
        assert self.rig.midi is not None
        self.rig.midi.plug_in()

    def recovered(self) -> bool:
        return any(CONTROLLER_PORT in port for port in self.rig.midi_ports())


class DiskFills(Fault):
    """The folder for state and recordings fills up while a recording runs, then frees again."""

    kind = "disk_full"
    hold_s = (2.0, 4.0)
    recover_bound_s = 45.0

    def _recording(self) -> dict[str, Any]:
        return self.rig.observer.latest().get("record", {})

    def inject(self) -> None:
        disk = self.rig.disk
        assert disk is not None
        self.rig.osc("/reverie/record", 1)
        deadline_s = time.monotonic() + 15.0
        while self._recording().get("written", 0) < 5 and time.monotonic() < deadline_s:
            time.sleep(0.1)
            self.rig.observer.poll()
        self.note = f"filled {disk.fill() // 1024} KiB"
        self._phase = "full"

    def detected(self) -> str:
        health = self.rig.observer.health
        if health.get("state_error"):
            return "health: state_error"
        return "stats: recording error" if self._recording().get("error") else ""

    def fix(self) -> None:
        disk = self.rig.disk
        assert disk is not None
        self.rig.osc("/reverie/record", 0)
        time.sleep(0.5)
        disk.free(*(disk.path / "recordings").glob("*.mp4"))
        self._phase = "freed"
        self._restarted_s = 0.0

    def recovered(self) -> bool:
        """State saves again, and a new recording writes frames without an error."""
        if self.rig.observer.health.get("state_error"):
            return False
        rec = self._recording()
        if self._phase == "freed":
            self.rig.osc("/reverie/record", 1)
            self._phase = "recording"
            self._restarted_s = time.monotonic()
            return False
        if (
            self._phase == "recording"
            and rec.get("written", 0) >= 5
            and not rec.get("error")
            and time.monotonic() - self._restarted_s > 1.0
        ):
            self.rig.osc("/reverie/record", 0)
            self._phase = "done"
            return True
        return False


class ModelFileCorrupted(Fault):
    kind = "model_file_corrupted"
    hold_s = (3.0, 5.0)

    def inject(self) -> None:
        assert self.rig.model_live is not None and self.rig.model_good is not None
        model_faults.corrupt(self.rig.model_live, self.rig.model_good)

    def detected(self) -> str:
        return self._log("cannot load the replaced model") or self._log("cannot load model")

    def fix(self) -> None:
        assert self.rig.model_live is not None and self.rig.model_good is not None
        self.fix_mark = self.rig.observer.log_mark()
        model_faults.restore(self.rig.model_live, self.rig.model_good)

    def recovered(self) -> bool:
        swapped = self.rig.observer.log_since(self.fix_mark, f"generator: now {self.rig.model_name}")
        return bool(swapped) and self.rig.observer.latest().get("model") == self.rig.model_name


class GeneratorNanBurst(ModelFileCorrupted):
    """A model file whose weights overflow to NaN is swapped in for a few seconds."""

    kind = "generator_nan_burst"
    hold_s = (3.0, 6.0)

    def inject(self) -> None:
        assert self.rig.model_live is not None and self.rig.model_good is not None
        self.errors = int(self.rig.observer.latest().get("generator_errors", 0))
        model_faults.overflowing(self.rig.model_live, self.rig.model_good)

    def detected(self) -> str:
        errors = int(self.rig.observer.latest().get("generator_errors", 0)) - self.errors
        return f"stats: generator errors +{errors}" if errors > 0 else ""

    def recovered(self) -> bool:
        if not super().recovered():
            return False
        lines = self.rig.observer.lines  # no new errors over the last 2 s of stats
        recent = [line.record for line in lines if line.t_s >= time.monotonic() - 2.0]
        return len(recent) >= 2 and recent[0].get("generator_errors") == recent[-1].get("generator_errors")


class ShowSignalled(Fault):
    """A signal to the show process; the supervisor notices (its log says how) and starts a new show."""

    signum = signal.SIGKILL
    logged = ""  # what the supervisor's log says when it noticed
    hold_s = (0.0, 0.0)
    recover_bound_s = 90.0

    def inject(self) -> None:
        os.kill(self.pid, self.signum)

    def detected(self) -> str:
        return self._log(self.logged)

    def recovered(self) -> bool:
        return self._new_show_presenting()


class ShowStopped(ShowSignalled):
    """SIGSTOP: alive but frozen past supervisor.hang_s; the supervisor kills and restarts it."""

    kind = "show_sigstop"
    signum = signal.SIGSTOP
    logged = "hung (no heartbeat for"


class ShowKilled(ShowSignalled):
    kind = "show_sigkill"
    signum = signal.SIGKILL
    logged = "was killed by signal 9"


ALL: tuple[type[Fault], ...] = (
    CameraServerDies,
    PulseAudioKilled,
    PulseAudioKilledBeforeFirstBlock,
    OscGarbageFlood,
    MidiPortVanishes,
    DiskFills,
    ModelFileCorrupted,
    GeneratorNanBurst,
    ShowStopped,
    ShowKilled,
)


def kinds() -> list[str]:
    return [cls.kind for cls in ALL]
