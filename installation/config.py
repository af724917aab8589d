"""Show configuration: frozen dataclasses loaded from TOML, with `--set key.sub=value` overrides.

Every field declares its type and, where it matters, its range or choices. Anything wrong stops
start-up with one line naming the file, the key and what was expected (ConfigError). The
validation itself lives in installation/config_fields.py.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

# ConfigError, _f and build_dataclass are imported from here by presets and bindings as well
from installation.config_fields import ConfigError, _f, _merge, build_dataclass, parse_override
from installation.schedule import parse_schedule

WEB_TOKEN_MIN = 12  # characters: a web panel on the LAN needs a token nobody guesses


@dataclass(frozen=True)
class DisplayConfig:
    mode: Literal["fullscreen", "windowed", "headless"] = "fullscreen"
    size: tuple[int, int] = (1280, 720)  # window/headless size in px; fullscreen uses the desktop size
    fps: int = _f(60, 1, 240)  # display loop target frames per second
    fit: Literal["cover", "letterbox"] = "cover"  # cover crops to fill; letterbox shows it all with bars
    hide_cursor: bool = True
    effects_height: int = _f(360, 90, 2160)  # px height effects run at before the final upscale
    vsync: bool = True  # ask SDL for vsync in fullscreen (ignored where unsupported)
    wake_on_sound: bool = True  # an onset or a 6 dB level step starts the next frame early (~8 ms sooner at 60 fps)


@dataclass(frozen=True)
class GeneratorConfig:
    model: str = "auto"  # "auto" = the best shipped model; or a name from --list-models, or a .safetensors path
    device: Literal["auto", "cpu", "cuda"] = "auto"
    torch_threads: int = _f(0, 0, 64)  # 0 = automatic (leaves a core for capture and the display loop)
    render_size: int = _f(128, 16, 4096)  # px side for resolution-free models (CPPN); others use their own
    superres: Literal["auto", "on", "off"] = (
        "auto"  # learned x4 enlargement of small colour models (not fields); auto: only if fast enough here
    )


@dataclass(frozen=True)
class QualityConfig:
    enabled: bool = True  # lower render size / effects / model when the show falls behind; recover with headroom
    generator_fps: int = _f(0, 0, 240)  # generator frames/s to hold; 0 = display.fps
    min_render_size: int = _f(48, 16, 4096)  # px: the CPPN is never rendered smaller than this
    light_model: str = ""  # a lighter model for the last step (a name from --list-models); "" = none
    down_after_s: float = _f(2.0, 0.5, 600.0)  # falling behind this long steps quality down
    up_after_s: float = _f(5.0, 0.5, 3600.0)  # headroom this long steps it back up
    latch_fraction: float = _f(0.5, 0.0, 0.9)  # renders under this share of a frame are waited for: -1 frame latency


@dataclass(frozen=True)
class AccelConfig:
    trace: bool = True  # CPU: run our models as frozen TorchScript (the forward then holds no GIL)
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"  # auto: fp16 on CUDA if it matches fp32
    max_rel_error: float = _f(0.02, 0.0, 1.0)  # reduced precision is used only below this error vs fp32
    channels_last: bool = True  # CUDA: NHWC memory layout for convolutions
    compile: bool = False  # CUDA: torch.compile(mode="reduce-overhead"), i.e. CUDA graphs; slow first frames
    full_res_cppn: bool = True  # CUDA: render the CPPN at the full output size (no upscale)


@dataclass(frozen=True)
class CameraConfig:
    source: str = "auto"  # auto | device index | video file | stream URL | none
    size: tuple[int, int] = (160, 120)  # analysis frame size in px (features need little)
    retry_s: float = _f(2.0, 0.05, 600.0)  # first reconnect delay; doubles up to max_retry_s
    max_retry_s: float = _f(30.0, 0.1, 3600.0)


@dataclass(frozen=True)
class MicrophoneConfig:
    source: str = "auto"  # auto | device name | device index | sound file | synthetic | none
    samplerate: int = _f(44100, 8000, 192000)
    retry_s: float = _f(2.0, 0.05, 600.0)
    max_retry_s: float = _f(30.0, 0.1, 3600.0)


@dataclass(frozen=True)
class MappingConfig:
    seed: int = 1  # seed of the latent walk (same seed, same inputs -> same path)


@dataclass(frozen=True)
class HudConfig:
    visible: bool = False
    font_px: int = _f(18, 8, 96)


@dataclass(frozen=True)
class KioskConfig:
    # In fullscreen, Esc/Q do nothing; only this chord (modifiers + key, held together) quits.
    quit_chord: str = "ctrl+shift+alt+q"
    # In fullscreen the operator HUD (F1/H) is locked; this chord, or unlock_file existing, unlocks it.
    admin_chord: str = "ctrl+shift+alt+u"
    unlock_file: str = ""  # path; while this file exists the HUD keys work in fullscreen ("" = chord only)
    grab_keyboard: bool = False  # fullscreen grabs the keyboard (Alt+Tab reaches the show); test on the PC first


@dataclass(frozen=True)
class StatsConfig:
    path: str = ""  # JSON-lines file, one line per interval; "" = off
    interval_s: float = _f(1.0, 0.1, 3600.0)


@dataclass(frozen=True)
class RecordConfig:
    path: str = ""  # MP4 file to record the output into; "" = off
    max_queue: int = _f(8, 1, 240)  # frames waiting for the encoder before new ones are dropped
    crf: int = _f(20, 0, 51)  # H.264 quality (lower = better, bigger)
    fps: int = _f(0, 0, 240)  # frame rate of the MP4; 0 = the display's (30 halves the encoder's CPU)
    dir: str = "recordings"  # where R (or /reverie/record) starts a new timestamped MP4


@dataclass(frozen=True)
class RunConfig:
    seconds: float = _f(0.0, 0.0, 1e9)  # stop after this long; 0 = run until quit
    preset: str = "6-ink"  # a name from assets/presets/ or a path to a preset .toml
    snapshot_dir: str = "snapshots"  # where long-press snapshots (generated picture only) are saved
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True)
class StateConfig:
    path: str = ""  # JSON file: saved every interval_s and on close, restored on start ("" = off)
    interval_s: float = _f(5.0, 0.5, 3600.0)


@dataclass(frozen=True)
class HealthConfig:
    path: str = ""  # JSON health file, atomically replaced every interval_s ("" = off)
    interval_s: float = _f(2.0, 0.2, 600.0)
    frozen_s: float = _f(60.0, 0.0, 86400.0)  # output unchanged this long -> recovery (0 = off)
    black_s: float = _f(60.0, 0.0, 86400.0)  # output black/uniform this long -> recovery (0 = off)
    check_every: int = _f(15, 1, 10000)  # look at the output every this many frames


@dataclass(frozen=True)
class ScheduleConfig:
    open: str = ""  # opening hours, local time, e.g. "Tue-Sun 10:00-18:00; Sat 10:00-22:00" ("" = always)
    closed_mode: Literal["black", "calm"] = "black"  # black screen, or a dim slow loop
    closed_fps: int = _f(2, 1, 30)  # display loop rate while closed (the generator idles when black)


@dataclass(frozen=True)
class BurnInConfig:
    drift_px: int = _f(4, 0, 64)  # the picture orbits this far around the centre (0 = off)
    drift_period_s: float = _f(900.0, 10.0, 86400.0)  # one orbit


@dataclass(frozen=True)
class SupervisorConfig:
    log_dir: str = "~/.local/state/reverie"  # rotating log, health.json and state.json live here
    hang_s: float = _f(15.0, 1.0, 3600.0)  # no heartbeat this long -> the show is killed and restarted
    startup_s: float = _f(120.0, 5.0, 3600.0)  # allowed time to the first heartbeat
    backoff_s: float = _f(1.0, 0.0, 600.0)  # first delay in a crash loop; doubles ...
    max_backoff_s: float = _f(60.0, 0.1, 3600.0)  # ... up to this
    stable_s: float = _f(60.0, 1.0, 86400.0)  # a show that ran this long restarts at once, back-off reset
    standby: bool = True  # keep a spare show process imported and waiting: restarts take < 1 s
    log_max_bytes: int = _f(5_000_000, 10_000, 1_000_000_000)
    log_backups: int = _f(5, 1, 100)


@dataclass(frozen=True)
class OscConfig:
    enabled: bool = True  # OSC server for performers' tools (TouchOSC, Ableton, Resolume, TouchDesigner)
    host: str = "127.0.0.1"  # listen address; anything but loopback needs allow or secret (docs/privacy.md)
    port: int = _f(9000, 1, 65535)
    allow: tuple[str, ...] = ()  # sender addresses/networks accepted from the LAN, e.g. ["192.168.1.0/24"]
    secret: str = ""  # a sender that sends /reverie/auth <secret> is accepted from then on
    send_host: str = "127.0.0.1"  # where features go out (/reverie/features/...)
    send_port: int = _f(0, 0, 65535)  # 0 = send nothing
    send_rate_hz: float = _f(30.0, 1.0, 240.0)
    wekinator: bool = False  # also send /wek/inputs to wekinator_port and accept /wek/outputs
    wekinator_host: str = "127.0.0.1"
    wekinator_port: int = _f(6448, 1, 65535)
    wekinator_inputs: tuple[str, ...] = (
        "loudness",
        "band_low",
        "band_mid",
        "band_high",
        "onset",
        "motion",
        "motion_x",
        "motion_y",
        "presence",
    )
    wekinator_outputs: tuple[str, ...] = ("speed", "diversity", "trails", "hue_shift")  # parameters, 0..1 = their range


@dataclass(frozen=True)
class MidiConfig:
    enabled: bool = True  # MIDI controllers and clock; nothing happens if no port is there
    port: str = ""  # "" = every input port (new ones are picked up while running); else part of a port's name
    virtual: bool = False  # also open a virtual input port "Reverie" that a DAW can send to
    backend: str = ""  # mido backend, e.g. "mido.backends.rtmidi/UNIX_JACK"; "" = mido's default
    rescan_s: float = _f(2.0, 0.2, 600.0)  # how often to look for new ports
    clock: bool = True  # MIDI clock in sets the tempo and beat phase


@dataclass(frozen=True)
class TempoConfig:
    source: Literal["auto", "audio", "tap", "midi"] = "auto"  # auto: MIDI clock, else a recent tap, else the audio
    quantise: Literal["off", "beat", "bar"] = "bar"  # preset/model switches from controllers wait for this
    beats_per_bar: int = _f(4, 1, 16)
    tap_hold_s: float = _f(300.0, 5.0, 86400.0)  # a tapped tempo wins over the audio tracker this long
    nudge_beats: float = _f(0.0625, 0.001, 1.0)  # one nudge press / nudge action moves the phase this much


@dataclass(frozen=True)
class VideoOutConfig:
    backend: Literal["off", "auto", "ndi", "virtualcam"] = "off"  # send the output to other apps
    name: str = "Reverie"  # the NDI source name
    size: tuple[int, int] = (0, 0)  # px; (0, 0) = the screen size
    fps: int = _f(0, 0, 240)  # 0 = the display rate


@dataclass(frozen=True)
class SyncConfig:
    role: Literal["off", "leader", "follower"] = "off"  # several screens, one picture (or a panorama)
    followers: tuple[str, ...] = ()  # leader: "host:port" of each follower's OSC server
    rate_hz: float = _f(60.0, 1.0, 240.0)  # leader: state messages per second
    offset: float = _f(0.0, -64.0, 64.0)  # follower: panorama position (0 = the leader's picture, 1 = next screen)
    spacing: float = _f(1.5, 0.0, 20.0)  # latent units between neighbouring screens
    timeout_s: float = _f(2.0, 0.1, 600.0)  # follower: leader silent this long -> run on its own until it is back


@dataclass(frozen=True)
class WebConfig:
    enabled: bool = False  # the operator's web panel (docs/web.md); served by --supervise when supervised
    host: str = "127.0.0.1"  # listen address; anything but loopback needs a token (refused at start otherwise)
    port: int = _f(8080, 1, 65535)
    token: str = ""  # every write (and every read from another computer) needs "Authorization: Bearer <token>"


@dataclass(frozen=True)
class Config:
    display: DisplayConfig = DisplayConfig()
    generator: GeneratorConfig = GeneratorConfig()
    quality: QualityConfig = QualityConfig()
    accel: AccelConfig = AccelConfig()
    camera: CameraConfig = CameraConfig()
    microphone: MicrophoneConfig = MicrophoneConfig()
    mapping: MappingConfig = MappingConfig()
    hud: HudConfig = HudConfig()
    kiosk: KioskConfig = KioskConfig()
    stats: StatsConfig = StatsConfig()
    record: RecordConfig = RecordConfig()
    run: RunConfig = RunConfig()
    state: StateConfig = StateConfig()
    health: HealthConfig = HealthConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    burnin: BurnInConfig = BurnInConfig()
    supervisor: SupervisorConfig = SupervisorConfig()
    osc: OscConfig = OscConfig()
    midi: MidiConfig = MidiConfig()
    tempo: TempoConfig = TempoConfig()
    video_out: VideoOutConfig = VideoOutConfig()
    sync: SyncConfig = SyncConfig()
    web: WebConfig = WebConfig()


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults <- TOML file <- overrides. Raises ConfigError naming the file and key."""
    table: dict[str, Any] = {}
    where = "defaults"
    if path is not None:
        where = str(path)
        try:
            table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    config = build_dataclass(Config, table, where)  # file errors are named after the file ...
    if overrides:
        where = f"{where} + --set" if path is not None else "--set"
        for text in overrides:
            parts, value = parse_override(text)
            _merge(table, parts, value)
        config = build_dataclass(Config, table, "--set")  # ... so anything new here came from --set
    if config.camera.max_retry_s < config.camera.retry_s:
        raise ConfigError(f"{where}: camera.max_retry_s: expected >= camera.retry_s ({config.camera.retry_s})")
    if config.microphone.max_retry_s < config.microphone.retry_s:
        raise ConfigError(f"{where}: microphone.max_retry_s: expected >= microphone.retry_s")
    if min(config.display.size) < 16 or min(config.camera.size) < 16:
        raise ConfigError(f"{where}: display.size/camera.size: expected sizes of at least 16 px")
    _check_network(config, where)
    try:
        parse_schedule(config.schedule.open)
    except ValueError as exc:
        raise ConfigError(f"{where}: schedule.open: {exc}") from None
    return config


def _check_network(config: Config, where: str) -> None:
    """Listening beyond loopback needs an allow-list or a shared secret (docs/privacy.md)."""
    import ipaddress

    from installation.mapping.names import FEATURES, PARAMETERS  # plain name lists, no imports of their own

    osc = config.osc
    for name in osc.wekinator_inputs:
        if name not in FEATURES:
            raise ConfigError(
                f"{where}: osc.wekinator_inputs: unknown feature {name!r}; valid names: {', '.join(FEATURES)}"
            )
    for name in osc.wekinator_outputs:
        if name not in PARAMETERS:
            raise ConfigError(
                f"{where}: osc.wekinator_outputs: unknown parameter {name!r}; valid names: {', '.join(PARAMETERS)}"
            )
    if osc.enabled and osc.host not in ("127.0.0.1", "localhost", "::1") and not (osc.allow or osc.secret):
        raise ConfigError(
            f"{where}: osc.host: {osc.host!r} listens beyond this computer; set osc.allow "
            f'(e.g. ["192.168.1.0/24"]) or osc.secret as well'
        )
    web = config.web
    if web.enabled and web.host not in ("127.0.0.1", "localhost", "::1") and len(web.token) < WEB_TOKEN_MIN:
        raise ConfigError(
            f"{where}: web.token: web.host {web.host!r} listens beyond this computer; set web.token to "
            f"a secret of at least {WEB_TOKEN_MIN} characters (docs/web.md)"
        )
    for item in osc.allow:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(
                f"{where}: osc.allow: {item!r} is not an address or network (e.g. 192.168.1.0/24)"
            ) from None
    for item in config.sync.followers:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{where}: sync.followers: {item!r}: expected host:port, e.g. 127.0.0.1:9001")
    w, h = config.video_out.size
    if (w, h) != (0, 0) and min(w, h) < 16:
        raise ConfigError(
            f"{where}: video_out.size: expected [0, 0] (the screen size) or at least 16 px each, got {[w, h]}"
        )
    if config.sync.role == "leader" and not config.sync.followers:
        raise ConfigError(f"{where}: sync.followers: a leader needs at least one follower (host:port)")
    if config.sync.role == "follower" and not config.osc.enabled:
        raise ConfigError(f"{where}: sync.role: a follower listens on its OSC server; set osc.enabled = true")


def to_dict(config: Config) -> dict[str, Any]:
    return dataclasses.asdict(config)
