"""The chaos soak: the real supervised show, every fault kind at random times in random order.

    python -m installation.soak --minutes 2 --chaos --json out.json

The show runs as in a gallery (`main.py --supervise`) with the default preset and model (the model
file copied so it can be corrupted), a network camera streaming a video file, PulseAudio playing a
sound file into its default microphone, a MIDI controller on a private JACK server, OSC traffic with
touch-like drag storms (/reverie/latent/drag, the same path a finger drag takes), and state and
recordings on a small tmpfs. Faults run one at a time:
rounds of every kind in a shuffled order with random gaps, until --minutes of chaos have passed (at
least one full round). Then a quiet spell, and the figures; exit 1 if a fault was not detected or
not recovered within its bound, the supervisor crashed, or RSS, descriptors or threads grew.
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from installation.chaos import faults as chaos
from installation.chaos.audio import PulseServer, missing_tools
from installation.chaos.models import copy_model, renders_non_finite
from installation.chaos.observe import Observer, Resources
from installation.chaos.servers import (
    CONTROLLER_PORT,
    JACK_BACKEND,
    JackMidi,
    NetworkCamera,
    OscTraffic,
    SmallDisk,
    free_udp_port,
)

log = logging.getLogger("reverie.chaos")

MAIN_PY = Path(__file__).resolve().parents[2] / "main.py"
STARTUP_S = 300.0  # first show up, microphone/camera/MIDI live, warm standby ready (torch imports are slow)
BASELINE_S = 20.0  # resource samples before the first fault
SETTLE_S = 30.0  # quiet after the last fault, before the end samples
DETECT_BOUND_S = 30.0
SAMPLE_EVERY_S = 2.0
HANG_S = 4.0  # supervisor.hang_s for the soak: a SIGSTOP is noticed quickly


@dataclass
class FaultRecord:
    kind: str
    t_s: float  # seconds after the chaos began
    detected: str  # how ("" = never)
    recovered: bool
    recover_s: float | None  # from removing the cause (or injection, where nothing is removed) to recovered
    detect_s: float | None
    frames_lost: int  # frames short of the pre-fault fps over the fault's window
    note: str = ""


@dataclass
class Bounds:
    # The show is restarted by a third of the faults, so its figure compares different processes, whose
    # RSS differs by up to 200 MB here (medians of the last 14 s of 42 shows, 30-minute run: 579-777 MB):
    # this bound only catches a runaway. Growth within one process is bounded at 20 MB by the plain soak
    # (one process, no restarts); the supervisor, which lives through all of it, at 20 MB below.
    rss_growth_mb: float = 250.0
    supervisor_rss_growth_mb: float = 20.0
    fd_growth: int = 0  # the supervisor, and the show when the same process ran from baseline to end
    thread_growth: int = 0
    # When the show was restarted, its end and baseline are different processes in different states (a
    # microphone reconnecting after PulseAudio came back, a camera stream re-opened): a few descriptors
    # and threads differ without any leak. Within one process the plain soak holds them to its bounds.
    restarted_fd_growth: int = 16
    restarted_thread_growth: int = 4
    min_fps_mean: float = 5.0  # over the chaos phase, faults included (a loaded 2-core machine: see docs)


@dataclass
class ChaosReport:
    minutes: float
    model: str
    preset: str
    crashes: int
    show_restarts: int
    faults: list[FaultRecord]
    skipped: dict[str, str]
    rss_growth_mb: float
    fd_growth: int
    thread_growth: int
    supervisor_rss_growth_mb: float
    supervisor_fd_growth: int
    supervisor_thread_growth: int
    longest_show_s: float  # the longest-lived show process during the soak (restarts cut the others short) ...
    longest_show_rss_growth_mb: float  # ... and its RSS growth (median of its last quarter minus first quarter)
    fps_mean: float
    fps_p5: float
    stderr_limit_reports: int  # "dropped N line(s) from stderr" lines in the log (C library floods)
    osc_traffic: int  # OSC messages of the performer's traffic (drag storms, pulses)
    bounds: Bounds
    failures: list[str] = field(default_factory=list)
    samples: list[Resources] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def line(self) -> str:
        recovered = sum(f.recovered for f in self.faults)
        times = [f.recover_s for f in self.faults if f.recover_s is not None]
        return (
            f"chaos soak {'PASS' if self.passed else 'FAIL'}: {self.minutes:g} min, {len(self.faults)} faults "
            f"({len({f.kind for f in self.faults})} kinds, {recovered} recovered, recovery median "
            f"{statistics.median(times) if times else 0:.1f} s, max {max(times, default=0):.1f} s), "
            f"crashes {self.crashes}, show restarts {self.show_restarts}, RSS growth {self.rss_growth_mb:+.1f} MB, "
            f"fds {self.fd_growth:+d}, threads {self.thread_growth:+d}, fps mean {self.fps_mean:.1f} "
            f"p5 {self.fps_p5:.1f}"
            + (f"; skipped: {', '.join(self.skipped)}" if self.skipped else "")
            + (f"; FAILED: {'; '.join(self.failures)}" if self.failures else "")
        )

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = self.passed
        return out


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

    # ------------------------------------------------------------ set-up
    def run(self) -> ChaosReport:
        from installation.soak import write_video, write_wav  # the plain soak's media

        missing = missing_tools()
        if missing:
            raise RuntimeError(
                f"the chaos soak needs {', '.join(missing)} (sudo apt-get install pulseaudio pulseaudio-utils)"
            )
        w = self.workdir
        video, wav = write_video(w / "room.avi"), write_wav(w / "room.wav")
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
                self.samples.append(sample)

    def _soak(self, rig: chaos.Rig, supervisor: subprocess.Popen[bytes], preset: str, model: str) -> ChaosReport:
        failures: list[str] = []

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
        crashes = 0 if supervisor.poll() is None else 1
        if crashes:
            failures.append(f"the supervisor exited with {supervisor.returncode}")
        for r in records:
            if not r.detected:
                failures.append(f"{r.kind} at {r.t_s:.0f} s was not detected")
            elif not r.recovered:
                failures.append(f"{r.kind} at {r.t_s:.0f} s did not recover")
        fps = sorted(rig.observer.fps_between(t_chaos_s, t_end_chaos_s)) or [0.0]
        growth = {**_growth(baseline, end), **_longest_show(self.samples)}
        report = ChaosReport(
            minutes=round((t_end_chaos_s - t_chaos_s) / 60.0, 2),
            model=model,
            preset=preset,
            crashes=crashes,
            show_restarts=rig.observer.log_count("started the show, pid") - 1,
            faults=records,
            skipped=dict(self.skipped),
            **growth,
            fps_mean=round(statistics.fmean(fps), 2),
            fps_p5=round(fps[int(0.05 * (len(fps) - 1))], 2),
            stderr_limit_reports=rig.observer.log_count("line(s) from stderr"),
            osc_traffic=self.traffic.sent if self.traffic else 0,
            bounds=self.bounds,
            samples=[replace(s, t_s=round(s.t_s - t_chaos_s, 1)) for s in self.samples],
        )
        b = self.bounds
        same_show = {s.show_pid for s in baseline} == {s.show_pid for s in end}
        fd_bound = b.fd_growth if same_show else b.restarted_fd_growth
        thread_bound = b.thread_growth if same_show else b.restarted_thread_growth
        for name, value, bound in (
            ("RSS growth (MB)", report.rss_growth_mb, b.rss_growth_mb),
            ("descriptor growth", report.fd_growth, fd_bound),
            ("thread growth", report.thread_growth, thread_bound),
            ("supervisor RSS growth (MB)", report.supervisor_rss_growth_mb, b.supervisor_rss_growth_mb),
            ("supervisor descriptor growth", report.supervisor_fd_growth, b.fd_growth),
            ("supervisor thread growth", report.supervisor_thread_growth, b.thread_growth),
        ):
            if value > bound:
                failures.append(f"{name} {value} > {bound}")
        if report.fps_mean < b.min_fps_mean:
            failures.append(f"fps mean {report.fps_mean} < {b.min_fps_mean}")
        report.failures = failures
        return report

    def _one(self, fault: chaos.Fault, supervisor: subprocess.Popen[bytes], t_chaos_s: float) -> FaultRecord:
        rig = fault.rig
        fault.begin()
        before = rig.observer.fps_between(time.monotonic() - 10.0, time.monotonic())
        fps_before = statistics.fmean(before) if before else float(self.fps)
        t_inject = time.monotonic()
        log.info("injecting %s", fault.kind)
        fault.inject()
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


def _growth(baseline: list[Resources], end: list[Resources]) -> dict[str, Any]:
    """End minus baseline: medians for RSS (it swings), minimum counts for descriptors and threads
    (transient ones come and go: a leak raises the floor)."""
    if not baseline or not end:
        raise RuntimeError("no resource samples before or after the chaos: the show was not up")

    def med(samples: list[Resources], name: str) -> float:
        return statistics.median(getattr(s, name) for s in samples)

    def low(samples: list[Resources], name: str) -> int:
        return min(getattr(s, name) for s in samples)

    return {
        "rss_growth_mb": round(med(end, "show_rss_mb") - med(baseline, "show_rss_mb"), 1),
        "fd_growth": low(end, "show_fds") - low(baseline, "show_fds"),
        "thread_growth": low(end, "show_threads") - low(baseline, "show_threads"),
        "supervisor_rss_growth_mb": round(med(end, "supervisor_rss_mb") - med(baseline, "supervisor_rss_mb"), 1),
        "supervisor_fd_growth": low(end, "supervisor_fds") - low(baseline, "supervisor_fds"),
        "supervisor_thread_growth": low(end, "supervisor_threads") - low(baseline, "supervisor_threads"),
    }


def _longest_show(samples: list[Resources]) -> dict[str, float]:
    """RSS growth within one show process: the figure across restarts compares different processes."""
    by_pid: dict[int, list[Resources]] = {}
    for sample in samples:
        by_pid.setdefault(sample.show_pid, []).append(sample)
    longest = max(by_pid.values(), key=lambda s: s[-1].t_s - s[0].t_s)
    quarter = max(1, len(longest) // 4)
    growth = statistics.median(s.show_rss_mb for s in longest[-quarter:]) - statistics.median(
        s.show_rss_mb for s in longest[:quarter]
    )
    return {
        "longest_show_s": round(longest[-1].t_s - longest[0].t_s, 1),
        "longest_show_rss_growth_mb": round(growth, 1),
    }


def _environ() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("SDL_VIDEODRIVER", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env
