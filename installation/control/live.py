"""Playing the show live: the main thread's side of OSC, MIDI, tempo, recording, video out and sync.

Controller threads (OSC, MIDI) only enqueue commands; `LiveControl.apply` drains the queue once a
frame on the main thread and acts. Preset and model switches wait for the next beat or bar when
tempo.quantise asks and a tempo is known. Every part is optional and reports clearly when it is
unavailable; none of them can stop the show. The show is reached only through the narrow `LiveHost`
protocol, so this module never imports the App and tests drive it with a small fake.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from installation.config import Config
from installation.control import commands as c
from installation.control.learn_page import MidiLearnPage
from installation.control.midi import MidiInput, MidiRouter
from installation.control.osc import FeatureOut, OscServer
from installation.control.sync import SyncFollower, SyncLeader
from installation.control.tempo import Beat, TempoClock
from installation.mapping.base import LatentState
from installation.mapping.engine import MappingOutput, PresetMapping
from installation.mapping.names import PARAMETER_RANGES
from installation.mapping.presets import Preset, list_presets
from installation.ratelimit import RateLimitedLog
from installation.render.recorder import Recorder
from installation.render.snapshot import save_snapshot_async
from models.registry import BUILTINS, list_models

log = logging.getLogger(__name__)


class Playing(Protocol):
    """What plays (installation/programme.py): the preset, the model, the latent walk's mapping."""

    @property
    def preset(self) -> Preset: ...
    @property
    def mapping(self) -> PresetMapping: ...
    @property
    def model_spec(self) -> str: ...  # what was asked for; model_name is what runs
    @property
    def model_name(self) -> str: ...
    def switch_preset(self, spec: str) -> None: ...
    def request_model(self, spec: str) -> None: ...  # loads in the background


class LiveHost(Protocol):
    """What live control needs from the show around it."""

    recorder: Recorder | None  # the running recording (--record, or R / OSC started it), if any

    @property
    def out(self) -> MappingOutput | None: ...  # this frame's mapping output
    @property
    def features(self) -> dict[str, float]: ...
    def screen_size(self) -> tuple[int, int]: ...
    def report_error(self, message: str) -> None: ...  # shown in the HUD, stats, health and panel
    def visible_picture(self) -> np.ndarray | None: ...  # the newest picture as the screen shows it


class LiveControl:
    def __init__(self, config: Config, host: LiveHost, playing: Playing) -> None:
        self.host = host
        self.playing = playing
        self.config = config
        self.queue = c.CommandQueue()
        self.tempo = TempoClock(self.config.tempo)
        self.beat = Beat(0.0, 0.0, "none")
        self.overrides: dict[str, float] = {}
        self.pending: tuple[float, c.SwitchPreset | c.SwitchModel] | None = None  # (due perf_counter s, switch)
        self.osc: OscServer | None = None
        self.feature_out: FeatureOut | None = None
        self.midi: MidiInput | None = None
        self.router = MidiRouter((), nudge_beats=self.config.tempo.nudge_beats)
        self.video_out: Any = None  # installation.render.video_out.VideoOut when video_out.backend is set
        self.leader: SyncLeader | None = None
        self.follower: SyncFollower | None = None
        self.learn = MidiLearnPage(self.router, lambda: self.playing.preset.path)  # the HUD's MIDI learn page
        self._tried_sync = ("", "")  # the leader's preset/model we last tried to follow
        self._errors = RateLimitedLog(log)  # a controller repeating a bad name: once a minute, not per message

    # ---------------------------------------------------------------- start / stop
    def start(self) -> None:
        cfg = self.config
        if cfg.sync.role == "follower":
            self.follower = SyncFollower(cfg.sync, cfg.mapping.seed)
        elif cfg.sync.role == "leader":
            self.leader = SyncLeader(cfg.sync)
            log.info("sync: leading %s", ", ".join(cfg.sync.followers))
        if cfg.osc.enabled:
            server = OscServer(cfg.osc, self.queue, self.follower.slot if self.follower else None)
            self.osc = server if server.start() else None
            if self.follower is not None and self.osc is None:
                log.error("sync: a follower without its OSC server hears no leader; it runs on its own")
        if cfg.osc.send_port or cfg.osc.wekinator:
            self.feature_out = FeatureOut(cfg.osc)
        if cfg.midi.enabled:
            self.midi = MidiInput(cfg.midi, self.queue)
            self.midi.start()
        self.load_bindings()
        if cfg.video_out.backend != "off":
            from installation.render.video_out import VideoOut  # only then: the NDI runtime is large

            w, h = cfg.video_out.size if cfg.video_out.size != (0, 0) else self.host.screen_size()
            video = VideoOut(cfg.video_out.backend, cfg.video_out.name, (w, h), cfg.video_out.fps or cfg.display.fps)
            self.video_out = video if video.start() else None

    def close(self) -> None:
        for part in (self.osc, self.midi, self.video_out, self.feature_out, self.leader):
            if part is not None:
                try:
                    part.close()
                except Exception as exc:  # closing one part must not keep the others open
                    log.warning("closing %s: %s", type(part).__name__, exc)

    # ---------------------------------------------------------------- MIDI bindings (control/learn_page.py)
    def load_bindings(self) -> None:
        self.learn.load_bindings(self.playing.preset.midi)

    def learn_lines(self) -> list[str]:
        return self.learn.lines()

    def learn_key(self, key: str) -> None:
        self.learn.key(key)

    # ---------------------------------------------------------------- per frame
    def features(self, t_s: float, features: dict[str, float]) -> dict[str, float]:
        """The senses' features with the show's beat grid in them (MIDI clock, taps, explicit tempo)."""
        self.beat = self.tempo.update(t_s, features)
        grid = self.tempo.features(self.beat)
        return {**features, **grid} if grid else features

    def apply(self, t_s: float) -> None:
        """Drain the command queue and act; fire a quantised switch whose beat has come."""
        for command in self.queue.drain():
            try:
                self._apply(command, t_s)
            except Exception as exc:  # a command that fails is reported; the show goes on
                self._errors.warn(
                    f"failed:{type(command).__name__}", f"{type(command).__name__} failed: {exc}", logging.ERROR
                )
        if self.pending is not None and t_s >= self.pending[0]:
            _, switch = self.pending
            self.pending = None
            self._switch_now(switch)
        self.playing.mapping.overrides = self.overrides

    def _apply(self, command: c.Command, t_s: float) -> None:
        playing = self.playing
        match command:
            case c.SwitchPreset() | c.SwitchModel():
                self.switch(command, t_s)
            case c.SetParam(name=name, value=value):
                lo, hi = PARAMETER_RANGES[name]
                self.overrides[name] = min(hi, max(lo, value))
            case c.ResetParam(name=name):
                if name:
                    self.overrides.pop(name, None)
                else:
                    self.overrides.clear()
            case c.Pulse(size=size):
                playing.mapping.inject(pulse=max(0.0, min(5.0, size)))
            case c.NewKeyframe():
                playing.mapping.inject(keyframe=True)
            case c.Drag(dx=dx, dy=dy):
                playing.mapping.inject(drag=(max(-10.0, min(10.0, dx)), max(-10.0, min(10.0, dy))))
            case c.Snapshot():
                self.snapshot()
            case c.Tap(t_s=tap_s):
                self.tempo.tap(tap_s)
            case c.SetTempo(bpm=bpm):
                self.tempo.set_bpm(bpm, t_s)
            case c.TempoNudge(beats=beats):
                self.tempo.nudge(max(-1.0, min(1.0, beats)))
            case c.ClockBeat():
                self.tempo.clock_beat(command.t_s, command.bpm, command.beat_index)
            case c.ClockStop():
                self.tempo.clock_stop()
            case c.SetRecording(on=on):
                self.set_recording(on)
            case c.MidiEvent():
                self.learn.last_midi = command
                for routed in self.router.route(command):
                    self._apply(routed, t_s)
                if self.router.unsaved:  # this event completed a MIDI learn
                    self.learn.save_learned()
            case c.MidiLearn(target=target):
                self.router.arm(target)  # ValueError for preset/model without a name: logged by apply
                log.info("MIDI learn: %s", f"move a knob or press a pad for {target}" if target else "cancelled")
            case c.WekinatorOutputs(values=values):
                for name, value in zip(self.config.osc.wekinator_outputs, values):
                    lo, hi = PARAMETER_RANGES[name]
                    self.overrides[name] = lo + (hi - lo) * min(1.0, max(0.0, value))

    # ---------------------------------------------------------------- switching
    def switch(self, command: c.SwitchPreset | c.SwitchModel, t_s: float) -> None:
        """Switch now, or on the next beat/bar when quantised and a tempo is known."""
        unit = self.config.tempo.quantise
        due = self.tempo.next_boundary_s(t_s, unit) if command.quantised and unit != "off" else None
        if due is None:
            self._switch_now(command)
            return
        self.pending = (due, command)
        log.info(
            "%s %s on the next %s (in %.2f s)",
            "preset" if isinstance(command, c.SwitchPreset) else "model",
            command.spec,
            unit,
            due - t_s,
        )

    def _switch_now(self, command: c.SwitchPreset | c.SwitchModel) -> None:
        playing = self.playing
        if isinstance(command, c.SwitchModel):
            names = {e.name for e in list_models()} | set(BUILTINS)
            if command.spec not in names:  # names only: a controller never makes us open a path
                self._errors.warn(
                    f"model:{command.spec[:80]}",
                    f"model {command.spec[:80]!r} not switched: unknown (known: {', '.join(sorted(names))})",
                    logging.ERROR,
                )
                return
            if command.spec != playing.model_spec:
                log.info("model: switching to %s (loading in the background)", command.spec)
                playing.request_model(command.spec)
            return
        spec = self.resolve_preset(command.spec)
        if spec is not None:
            playing.switch_preset(spec)  # which also loads the new preset's MIDI bindings

    def resolve_preset(self, spec: str) -> str | None:
        names = list_presets()
        current = Path(self.playing.preset.path).stem
        if spec in ("next", "previous"):
            if not names:
                return None
            i = names.index(current) if current in names else -1
            return names[(i + (1 if spec == "next" else -1)) % len(names)]
        if spec.isdigit():
            index = int(spec) - 1
            if 0 <= index < len(names):
                return names[index]
            self._errors.warn(
                f"preset:{spec[:80]}",
                f"preset {spec[:80]} not switched: there are {len(names)} presets (1-{len(names)})",
                logging.ERROR,
            )
            return None
        if spec not in names:  # names only: OSC and MIDI never make us open a path
            self._errors.warn(
                f"preset:{spec[:80]}",
                f"preset {spec[:80]!r} not switched: unknown (shipped presets: {', '.join(names)})",
                logging.ERROR,
            )
            return None
        return spec

    # ---------------------------------------------------------------- snapshot, recording
    def snapshot(self) -> None:
        picture = self.host.visible_picture()
        if picture is not None:
            save_snapshot_async(picture, Path(self.config.run.snapshot_dir))

    def set_recording(self, on: bool | None) -> None:
        """Start a new timestamped recording, or finish the running one (the show never waits for either)."""
        host = self.host
        recording = host.recorder is not None and host.recorder.active
        if on is None:
            on = not recording
        if on and not recording:
            try:
                recorder = Recorder.timestamped(
                    self.config.record.dir,
                    host.screen_size(),
                    self.config.record.fps or self.config.display.fps,
                    self.config.record.max_queue,
                    self.config.record.crf,
                )
                recorder.start()
            except Exception as exc:  # no ffmpeg, unwritable folder, full disk: say so, show goes on
                log.error("recording not started: %s", exc)
                host.report_error(f"recording not started: {exc}")
                return
            host.recorder = recorder
        elif not on and host.recorder is not None:
            host.recorder.close_async()
            log.info("recording stopped: %s (finishing in the background)", host.recorder.path)
            host.recorder = None

    # ---------------------------------------------------------------- sync
    def follow(self, t_s: float, out: MappingOutput) -> MappingOutput:
        """A follower renders the leader's picture (or its panorama neighbour) instead of its own walk."""
        if self.follower is None:
            return out
        playing = self.playing
        state = self.follower.newest()
        if state is not None and state.bpm > 0:  # the leader's beat grid leads ours, as MIDI clock would
            self.tempo.clock_beat(state.t_received_s, state.bpm, state.position, source="sync")
        if state is not None and (state.preset, state.model) != self._tried_sync:
            self._tried_sync = (state.preset, state.model)
            if state.preset != Path(playing.preset.path).stem and state.preset in list_presets():
                playing.switch_preset(state.preset)
            if state.model != playing.model_spec and state.model != "auto":
                self._switch_now(c.SwitchModel(state.model, quantised=False))
        follow = self.follower.follow(t_s, playing.mapping.z_dim)
        if follow is None:
            return out
        state_z = LatentState(
            z=follow.z, walk_speed=out.state.walk_speed, latent_speed=out.state.latent_speed, nudge=out.state.nudge
        )
        return MappingOutput(state_z, follow.params, out.attract, out.gestures, out.snapshot)

    # ---------------------------------------------------------------- after the frame is drawn
    def after_draw(self, t_s: float, picture: np.ndarray | None) -> None:
        """picture: this frame's, as the screen shows it (None when none was composed)."""
        host, playing = self.host, self.playing
        if self.video_out is not None and picture is not None:
            # A copy (0.5 ms at 1080p): the compositor reuses its output buffer for the next frame,
            # and the video-out thread reads this one later.
            self.video_out.send(picture.copy())
        if self.leader is not None and host.out is not None:
            self.leader.tick(
                t_s,
                Path(playing.preset.path).stem,
                playing.model_spec,
                self.beat.bpm,
                self.beat.position,
                host.out.state.z,
                host.out.params,
            )
        if self.feature_out is not None:
            features = dict(host.features)
            if host.out is not None:
                features["touch"] = 1.0 if host.out.gestures.fingers > 0 else 0.0
            self.feature_out.tick(t_s, features, playing.preset.name, playing.model_name)

    # ---------------------------------------------------------------- HUD and stats
    def hud_lines(self) -> list[str]:
        b = self.beat
        lines = []
        if b.bpm > 0:
            lines.append(
                f"tempo {b.bpm:6.1f} BPM ({b.source})  beat {b.count % b.beats_per_bar + 1}/{b.beats_per_bar}"
                "   keys: T tap  [ ] nudge  R record"
            )
        else:
            lines.append("tempo: none yet (T taps, MIDI clock or music sets it)   keys: R record")
        if self.pending is not None:
            lines.append(f"next {self.config.tempo.quantise}: {self.pending[1].spec}")
        parts = [p.status() for p in (self.osc, self.midi, self.video_out, self.leader, self.follower) if p is not None]
        lines.extend(parts)
        return lines

    def stats(self) -> dict[str, object]:
        b = self.beat
        record: dict[str, object] = {
            "tempo": {"bpm": round(b.bpm, 3), "source": b.source, "position": round(b.position, 4)},
            "commands": {"received": self.queue.received, "dropped": self.queue.dropped},
            "overrides": {k: round(v, 4) for k, v in self.overrides.items()},
            "pending": self.pending[1].spec if self.pending else "",
            "midi_bindings": len(self.router.bindings),
        }
        if self.osc is not None:
            record["osc"] = {"port": self.osc.port, "received": self.osc.received, "rejected": self.osc.rejected}
        if self.midi is not None:
            record["midi"] = {"ports": list(self.midi.ports)}
        if self.video_out is not None:
            record["video_out"] = {"backend": self.video_out.backend, "sent": self.video_out.frames_sent}
        if self.follower is not None:
            record["sync"] = {"following": self.follower.following, "received": self.follower.received}
        if self.leader is not None:
            record["sync"] = {"sent": self.leader.seq}
        return record
