"""The chaos soak: the real supervised show, every fault kind at random times in random order.

    python -m installation.soak --minutes 2 --chaos --json out.json

The show runs as in a gallery (`main.py --supervise`) with the default preset and model (the model
file copied so it can be corrupted), a network camera streaming a video file, PulseAudio playing a
sound file into its default microphone, a MIDI controller on a private JACK server, OSC traffic with
touch-like drag storms (/reverie/latent/drag, the same path a finger drag takes), and state and
recordings on a small tmpfs. Faults run one at a time:
rounds of every kind in a shuffled order with random gaps, until --minutes of chaos have passed (at
least one full round). Then a quiet spell, and the figures; exit 1 if a fault was not detected or
not recovered within its bound, the supervisor crashed, or RSS, descriptors or threads grew
(per show process: installation/chaos/growth.py).
"""

from __future__ import annotations

import json
import logging
import random
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from installation.chaos import faults as chaos
from installation.chaos.audio import PulseServer, missing_tools
from installation.chaos.growth import headline, lifetimes
from installation.chaos.models import copy_model, renders_non_finite
from installation.chaos.observe import Observer, Resources
from installation.chaos.report import Bounds, ChaosReport, FaultRecord
from installation.chaos.servers import (
    CONTROLLER_PORT,
    JACK_BACKEND,
    JackMidi,
    NetworkCamera,
    OscTraffic,
    SmallDisk,
    free_udp_port,
)
from installation.testmedia import write_soak_room

log = logging.getLogger("reverie.chaos")

MAIN_PY = Path(__file__).resolve().parents[2] / "main.py"
STARTUP_S = 300.0  # first show up, microphone/camera/MIDI live, warm standby ready (torch imports are slow)
BASELINE_S = 20.0  # resource samples before the first fault
SETTLE_S = 40.0  # quiet after the last fault: the last show warms up and has two separate windows
QUIET_AFTER_S = 3.0  # samples this soon after a fault recovered do not count as quiet (streams settling)
DETECT_BOUND_S = 30.0
SAMPLE_EVERY_S = 2.0
HANG_S = 4.0  # supervisor.hang_s for the soak: a SIGSTOP is noticed quickly


def default_model() -> tuple[str, str, Path | None]:
    """(preset name, model name, model file) of the show's defaults at run time."""
    from installation.config import load_config
    from installation.mapping.presets import load_preset
    from models.registry import default_model_name, resolve

    config = load_config(None, [])
    preset = load_preset(config.run.preset)
    spec = config.generator.model if config.generator.model != "auto" else preset.model
    name = default_model_name() if spec == "auto" else spec
    try:
        entry = resolve(name)
    except ValueError:  # the show falls back to the built-in model; the model faults cannot run
        return preset.name, name, None
    return preset.name, entry.name, entry.path


class ChaosSoak:
    def __init__(self, minutes: float, workdir: Path, seed: int, fps: int = 30, bounds: Bounds | None = None) -> None:
        self.minutes = minutes
        self.workdir = workdir
        self.rng = random.Random(seed)
        self.fps = fps
        self.bounds = bounds or Bounds()
        self.t0_s = time.monotonic()
        self.skipped: dict[str, str] = {}
        self.traffic: OscTraffic | None = None
        self.samples: list[Resources] = []
        self._next_sample_s = 0.0
        self._quiet_from_s = 0.0  # +inf while a fault is in progress

    # ------------------------------------------------------------ set-up
    def run(self) -> ChaosReport:
        missing = missing_tools()
        if missing:
            raise RuntimeError(
                f"the chaos soak needs {', '.join(missing)} (sudo apt-get install pulseaudio pulseaudio-utils)"
            )
        w = self.workdir
        video, wav = write_soak_room(w)
        camera = NetworkCamera(video)
        pulse = PulseServer(w / "pulse", wav)
        midi: JackMidi | None = None
        disk: SmallDisk | None = None
        supervisor: subprocess.Popen[bytes] | None = None
        try:
            camera.plug_in()
            pulse.start()
            why = JackMidi.missing()
            if not why:
                midi = JackMidi(w / "jack")
                try:
                    midi.start()
                except RuntimeError as exc:
                    why, midi = str(exc), None
            if why:
                self.skipped["midi_port_vanishes"] = why
            disk = SmallDisk(w / "disk")
            why = disk.missing() or disk.mount()
            if why:
                self.skipped["disk_full"] = why
                disk = None
            preset, model_name, model_file = default_model()
            model_live = model_good = None
            if model_file is None or model_file.suffix != ".safetensors":
                for kind in ("model_file_corrupted", "generator_nan_burst"):
                    self.skipped[kind] = f"the default model {model_name!r} has no safetensors file to corrupt here"
            else:
                model_good = copy_model(model_file, w / "models-good")
                model_live = copy_model(model_file, w / "models")
                if not renders_non_finite_after_overflow(model_live, model_good):
                    self.skipped["generator_nan_burst"] = f"{model_name!r} saturates instead of overflowing to NaN"
            osc_port = free_udp_port()
            self.traffic = OscTraffic(osc_port, self.rng.randrange(2**31))
            supervisor = self._start_show(pulse, midi, disk, camera, osc_port, model_live)
            observer = Observer(w / "stats.jsonl", w / "log" / "health.json", w / "log" / "reverie.log", supervisor.pid)
            rig = chaos.Rig(
                observer,
                pulse,
                camera,
                midi,
                disk,
                osc_port,
                model_live,
                model_good,
                model_name,
                self.rng,
                self.skipped,
            )
            assert self.traffic is not None
            self.traffic.start()
            return self._soak(rig, supervisor, preset, model_name)
        finally:
            if self.traffic is not None:
                self.traffic.close()
            if supervisor is not None and supervisor.poll() is None:
                supervisor.send_signal(signal.SIGTERM)
                try:
                    supervisor.wait(60)
                except subprocess.TimeoutExpired:
                    supervisor.kill()
                    supervisor.wait()
            camera.unplug()
            pulse.close()
            if midi is not None:
                midi.close()
            if disk is not None:
                disk.unmount()

    def _start_show(
        self,
        pulse: PulseServer,
        midi: JackMidi | None,
        disk: SmallDisk | None,
        camera: NetworkCamera,
        osc_port: int,
        model_live: Path | None,
    ) -> subprocess.Popen[bytes]:
        w = self.workdir
        data = disk.path if disk is not None else w / "data"
        sets = [
            f'supervisor.log_dir="{w / "log"}"',
            f"supervisor.hang_s={HANG_S}",
            "supervisor.stable_s=10",
            "supervisor.backoff_s=0.5",
            f'state.path="{data / "state.json"}"',
            "state.interval_s=1.0",
            f'health.path="{w / "log" / "health.json"}"',
            "health.interval_s=0.5",
            "stats.interval_s=0.5",
            f'record.dir="{data / "recordings"}"',
            "display.size=[480, 270]",
            f"display.fps={self.fps}",
            "camera.size=[160, 120]",
            "camera.retry_s=0.3",
            "camera.max_retry_s=2.0",
            "microphone.retry_s=0.3",
            "microphone.max_retry_s=2.0",
            f"osc.port={osc_port}",
            "run.log_level=INFO",
        ]
        if midi is not None:
            sets += [f'midi.backend="{JACK_BACKEND}"', f'midi.port="{CONTROLLER_PORT}"', "midi.rescan_s=0.5"]
        else:
            sets += ["midi.enabled=false"]
        args = [
            sys.executable,
            str(MAIN_PY),
            "--supervise",
            "--headless",
            "--camera",
            camera.url,
            "--mic",
            "default",
            "--stats",
            str(w / "stats.jsonl"),
        ]
        if model_live is not None:
            args += ["--model", str(model_live)]
        for s in sets:
            args += ["--set", s]
        env = {**_environ(), **pulse.env, **(midi.env if midi is not None else {})}
        out = open(w / "supervisor.out", "wb")  # noqa: SIM115 - the child holds it
        return subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    # ------------------------------------------------------------ the soak
    def _wait(self, rig: chaos.Rig, predicate, timeout_s: float, supervisor: subprocess.Popen[bytes]) -> float | None:
        """Seconds until predicate() held (polling the show every 0.1 s), or None at timeout."""
        t0 = time.monotonic()
        while True:
            rig.observer.poll()
            self._sample(rig)
            if predicate():
                return time.monotonic() - t0
            if supervisor.poll() is not None or time.monotonic() - t0 > timeout_s:
                return None
            time.sleep(0.1)

    def _sample(self, rig: chaos.Rig) -> None:
        now = time.monotonic()
        if now >= self._next_sample_s:
            self._next_sample_s = now + SAMPLE_EVERY_S
            sample = rig.observer.resources()
            if sample is not None:
                self.samples.append(replace(sample, quiet=now >= self._quiet_from_s))

    def _soak(self, rig: chaos.Rig, supervisor: subprocess.Popen[bytes], preset: str, model: str) -> ChaosReport:
        def ready() -> bool:
            up = rig.source("camera") == "live" and rig.source("microphone") == "live"
            midi_ok = rig.midi is None or rig.midi_ports()
            return bool(up and midi_ok and rig.observer.log_count("warm standby ready"))

        if self._wait(rig, ready, STARTUP_S, supervisor) is None:
            raise RuntimeError(
                f"the show did not come up within {STARTUP_S:g} s: {rig.observer.latest()} "
                f"(log in {self.workdir / 'log'})"
            )
        self._wait(rig, lambda: False, BASELINE_S, supervisor)
        baseline = list(self.samples)
        t_chaos_s = time.monotonic()
        records: list[FaultRecord] = []
        kinds = [cls for cls in chaos.ALL if cls.kind not in self.skipped]
        order: list[type[chaos.Fault]] = []
        # Rounds of every kind in a shuffled order; stop when the time is up, but not before one full round.
        while supervisor.poll() is None and (
            len(records) < len(kinds) or time.monotonic() - t_chaos_s < self.minutes * 60.0
        ):
            if not order:
                order = list(kinds)
                self.rng.shuffle(order)
            records.append(self._one(order.pop()(rig), supervisor, t_chaos_s))
            log.info("fault %s", json.dumps(asdict(records[-1])))
            self._wait(rig, lambda: False, self.rng.uniform(1.0, 6.0), supervisor)
        t_end_chaos_s = time.monotonic()
        self._wait(rig, lambda: False, SETTLE_S, supervisor)
        end = [s for s in self.samples if s.t_s >= time.monotonic() - SETTLE_S / 2]
        fps = sorted(rig.observer.fps_between(t_chaos_s, t_end_chaos_s)) or [0.0]
        shows = lifetimes(self.samples, baseline, t_chaos_s)
        report = ChaosReport(
            minutes=round((t_end_chaos_s - t_chaos_s) / 60.0, 2),
            model=model,
            preset=preset,
            crashes=0 if supervisor.poll() is None else 1,
            show_restarts=rig.observer.log_count("started the show, pid") - 1,
            faults=records,
            skipped=dict(self.skipped),
            **headline(shows, baseline, end),
            shows=shows,
            fps_mean=round(statistics.fmean(fps), 2),
            fps_p5=round(fps[int(0.05 * (len(fps) - 1))], 2),
            stderr_limit_reports=rig.observer.log_count("line(s) from stderr"),
            osc_traffic=self.traffic.sent if self.traffic else 0,
            bounds=self.bounds,
            samples=[replace(s, t_s=round(s.t_s - t_chaos_s, 1)) for s in self.samples],
        )
        report.judge(supervisor.poll() is None, supervisor.returncode)
        return report

    def _one(self, fault: chaos.Fault, supervisor: subprocess.Popen[bytes], t_chaos_s: float) -> FaultRecord:
        rig = fault.rig
        self._quiet_from_s = float("inf")
        fault.begin()
        before = rig.observer.fps_between(time.monotonic() - 10.0, time.monotonic())
        fps_before = statistics.fmean(before) if before else float(self.fps)
        t_inject = time.monotonic()
        log.info("injecting %s", fault.kind)
        try:
            fault.inject()
        except Exception as exc:  # a harness fault must not end a 30-minute soak: it is reported, and fails it
            log.exception("injecting %s failed; undoing it and going on", fault.kind)
            try:
                fault.fix()
            except Exception:
                log.exception("undoing %s failed too", fault.kind)
            self._quiet_from_s = time.monotonic() + QUIET_AFTER_S
            t_inject_s = round(t_inject - t_chaos_s, 1)
            return FaultRecord(fault.kind, t_inject_s, "", False, None, None, 0, f"inject failed: {exc}")
        hold_s = self.rng.uniform(*fault.hold_s)
        detect_s = self._wait(rig, lambda: bool(fault.detected()), DETECT_BOUND_S, supervisor)
        how = fault.detected() if detect_s is not None else ""
        remaining_s = hold_s - (time.monotonic() - t_inject)
        if remaining_s > 0:
            self._wait(rig, lambda: False, remaining_s, supervisor)
        t_fix = time.monotonic()
        fault.fix()
        recover_s = self._wait(rig, fault.recovered, fault.recover_bound_s, supervisor)
        t_done = time.monotonic()
        self._quiet_from_s = t_done + QUIET_AFTER_S
        window_s = t_done - t_inject
        lost = max(0, round(fps_before * window_s - rig.observer.frames_between(t_inject, t_done)))
        return FaultRecord(
            fault.kind,
            round(t_inject - t_chaos_s, 1),
            how,
            recover_s is not None,
            None if recover_s is None else round(t_done - t_fix, 2),
            None if detect_s is None else round(detect_s, 2),
            lost,
            fault.note,
        )


def renders_non_finite_after_overflow(live: Path, good: Path) -> bool:
    """Can this model be made to render NaN from its file? (checked on a scratch copy)"""
    from installation.chaos.models import overflowing

    scratch = live.with_name(f"scratch-{live.name}")
    try:
        overflowing(scratch, good)
        return renders_non_finite(scratch)
    finally:
        scratch.unlink(missing_ok=True)


def _environ() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("SDL_VIDEODRIVER", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env
