"""OSC in and out: performers' tools (TouchOSC, Ableton, Resolume, TouchDesigner, Wekinator).

In: one thread owns a UDP socket; each datagram is parsed (python-osc), checked against the
sender allow-list and routed through IN_ADDRESSES into a command on the CommandQueue. Nothing
else happens on that thread. Unknown addresses, wrong arguments and undecodable datagrams are
counted and logged once a minute per address; they never reach the show.
Out: features (and Wekinator inputs) as one bundle per tick, from the main thread, non-blocking.
docs/osc.md lists every address; tests/test_osc.py checks the two agree.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pythonosc import osc_bundle_builder, osc_message_builder, osc_packet

from installation.config import OscConfig
from installation.control import commands as c
from installation.control.bindings import TARGETS
from installation.mapping.names import FEATURES, PARAMETERS
from installation.ratelimit import RateLimitedLog
from installation.slot import LatestSlot

log = logging.getLogger(__name__)

MAX_DATAGRAM = 65535
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


class OscArgError(ValueError):
    """The arguments don't fit the address; the message says what was expected."""


@dataclass(frozen=True)
class SyncState:
    """A leader's picture state, as a follower receives it (see installation/control/sync.py)."""

    seq: int
    preset: str
    model: str
    bpm: float
    position: float  # beat position
    z: np.ndarray  # (z_dim,) float32
    params: np.ndarray  # (len(PARAMETERS),) float32, in PARAMETERS order
    t_received_s: float


# ---------------------------------------------------------------------------- argument helpers
def _number(args: Sequence[object], i: int = 0) -> float:
    if len(args) <= i or isinstance(args[i], bool) or not isinstance(args[i], (int, float)):
        raise OscArgError(f"expected a number as argument {i + 1}")
    value = float(args[i])  # type: ignore[arg-type]
    if value != value or value in (float("inf"), float("-inf")):
        raise OscArgError("expected a finite number")
    return value


def _text(args: Sequence[object]) -> str:
    if not args or not isinstance(args[0], str) or not args[0]:
        raise OscArgError("expected a name (string)")
    return args[0]


def _preset(args: Sequence[object], t_s: float) -> c.Command:
    if args and isinstance(args[0], int) and not isinstance(args[0], bool):
        return c.SwitchPreset(str(args[0]))
    if args and isinstance(args[0], float) and args[0].is_integer():  # TouchOSC sends floats
        return c.SwitchPreset(str(int(args[0])))
    return c.SwitchPreset(_text(args))


def _record(args: Sequence[object], t_s: float) -> c.Command:
    if not args:
        return c.SetRecording(None)
    return c.SetRecording(_number(args) >= 0.5) if not isinstance(args[0], bool) else c.SetRecording(bool(args[0]))


def _learn(args: Sequence[object], t_s: float) -> c.Command:
    target = args[0] if args and isinstance(args[0], str) else None
    if target is None or (target and target not in TARGETS):
        raise OscArgError(f'expected a target name (or "" to cancel): {", ".join(TARGETS)}')
    return c.MidiLearn(target)


def _wek(args: Sequence[object], t_s: float) -> c.Command:
    return c.WekinatorOutputs(tuple(_number(args, i) for i in range(len(args))))


Handler = Callable[[Sequence[object], float], "c.Command | None"]


@dataclass(frozen=True)
class Address:
    args: str  # how docs/osc.md describes the arguments
    doc: str
    handle: Handler


def _in_addresses() -> dict[str, Address]:
    table: dict[str, Address] = {
        "/reverie/preset": Address(
            "name or index",
            "switch preset (name, or 1-based index as in keys 1-9); on the next bar when tempo.quantise = bar",
            _preset,
        ),
        "/reverie/preset/next": Address("", "the next preset", lambda a, t: c.SwitchPreset("next")),
        "/reverie/preset/previous": Address("", "the previous preset", lambda a, t: c.SwitchPreset("previous")),
        "/reverie/model": Address(
            "name",
            "switch generator (a --list-models name), loaded in the background",
            lambda a, t: c.SwitchModel(_text(a)),
        ),
        "/reverie/param/reset": Address(
            "", "every parameter back to the preset's own value", lambda a, t: c.ResetParam("")
        ),
        "/reverie/latent/walk_speed": Address(
            "float",
            "walk speed multiplier (same as /reverie/param/speed)",
            lambda a, t: c.SetParam("speed", _number(a)),
        ),
        "/reverie/latent/pulse": Address(
            "[size]", "a jump through latent space (default size 1)", lambda a, t: c.Pulse(_number(a) if a else 1.0)
        ),
        "/reverie/latent/keyframe": Address("", "head for a fresh keyframe now", lambda a, t: c.NewKeyframe()),
        "/reverie/latent/drag": Address(
            "dx dy",
            "push the picture in the drag plane (latent units)",
            lambda a, t: c.Drag(_number(a, 0), _number(a, 1)),
        ),
        "/reverie/snapshot": Address("", "save the generated picture to run.snapshot_dir", lambda a, t: c.Snapshot()),
        "/reverie/tap": Address("", "tap tempo (the first tap of a run is a downbeat)", lambda a, t: c.Tap(t)),
        "/reverie/tempo": Address(
            "bpm", "set the tempo (20-400 BPM); the phase carries on", lambda a, t: c.SetTempo(_number(a))
        ),
        "/reverie/tempo/nudge": Address(
            "beats", "shift the beat grid (+ = beats come sooner)", lambda a, t: c.TempoNudge(_number(a))
        ),
        "/reverie/record": Address(
            "[0 or 1]", "start (1) / stop (0) recording to record.dir; no argument toggles", _record
        ),
        "/reverie/midi/learn": Address(
            "target",
            'MIDI learn: the next knob/pad moved is bound to target (a parameter or action, docs/midi.md); "" cancels',
            _learn,
        ),
        "/wek/outputs": Address(
            "float ...", "Wekinator outputs (osc.wekinator = true), 0..1 each, onto osc.wekinator_outputs", _wek
        ),
    }
    for name in PARAMETERS:
        table[f"/reverie/param/{name}"] = Address(
            "float", f"set {name}'s base value (rules still add)", lambda a, t, n=name: c.SetParam(n, _number(a))
        )
        table[f"/reverie/param/{name}/reset"] = Address(
            "", f"{name} back to the preset's value", lambda a, t, n=name: c.ResetParam(n)
        )
    return table


IN_ADDRESSES: dict[str, Address] = _in_addresses()
# Handled on the receiving thread itself (not commands): authentication and leader state.
SPECIAL_IN = {
    "/reverie/auth": "secret: accept this sender from now on (when osc.secret is set)",
    "/reverie/sync/state": "a leader's state (followers only; docs/osc.md: Sync)",
}
OUT_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if not f.startswith("chroma_"))
OUT_ADDRESSES: dict[str, str] = {
    **{f"/reverie/features/{name}": "float" for name in OUT_FEATURES},
    "/reverie/features/chroma": "12 floats (C, C#, ... B)",
    "/reverie/event/onset": "sent on each detected onset",
    "/reverie/event/beat": "int beat count, float bpm: sent on each beat",
    "/reverie/state/preset": "string: the running preset's name, on change",
    "/reverie/state/model": "string: the running model's name, on change",
    "/wek/inputs": "floats: osc.wekinator_inputs, to osc.wekinator_port",
}


def route(address: str, args: Sequence[object], t_s: float) -> c.Command | None:
    """The command for one message. KeyError: unknown address; OscArgError: wrong arguments."""
    return IN_ADDRESSES[address].handle(args, t_s)


# ---------------------------------------------------------------------------- sync message
SYNC_ADDRESS = "/reverie/sync/state"


def encode_sync(
    seq: int, preset: str, model: str, bpm: float, position: float, z: np.ndarray, params: np.ndarray
) -> bytes:
    b = osc_message_builder.OscMessageBuilder(SYNC_ADDRESS)
    for value, kind in (
        (seq, "i"),
        (preset, "s"),
        (model, "s"),
        (float(bpm), "f"),
        (float(position), "d"),
        (np.asarray(z, "<f4").tobytes(), "b"),
        (np.asarray(params, "<f4").tobytes(), "b"),
    ):
        b.add_arg(value, kind)
    return b.build().dgram


def decode_sync(args: Sequence[object], t_s: float) -> SyncState:
    try:
        seq, preset, model, bpm, position, z, params = args
        if not (
            isinstance(seq, int)
            and isinstance(preset, str)
            and isinstance(model, str)
            and isinstance(z, bytes)
            and isinstance(params, bytes)
            and len(z) % 4 == 0
            and len(params) == 4 * len(PARAMETERS)
        ):
            raise ValueError
        zv, pv = np.frombuffer(z, "<f4").copy(), np.frombuffer(params, "<f4").copy()
        if not (np.isfinite(zv).all() and np.isfinite(pv).all() and zv.size > 0):
            raise ValueError
        return SyncState(seq, preset, model, float(bpm), float(position), zv, pv, t_s)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        raise OscArgError("expected seq, preset, model, bpm, position, z blob, params blob") from None


# ---------------------------------------------------------------------------- server
class OscServer:
    """Receives OSC on config.host:config.port on its own thread; only enqueues."""

    def __init__(self, config: OscConfig, queue: c.CommandQueue, sync: LatestSlot[SyncState] | None = None) -> None:
        self.config = config
        self.queue = queue
        self.sync = sync
        self._allow = [ipaddress.ip_network(a, strict=False) for a in config.allow]
        self._authed: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="osc", daemon=True)
        self._sock: socket.socket | None = None
        self._warn = RateLimitedLog(log)
        self.received = 0  # messages routed to a command
        self.rejected = 0  # unknown address, wrong arguments, undecodable, not allowed
        self.error = ""

    def start(self) -> bool:
        """Bind and start; False (logged: what and what happens next) if the port can't be had."""
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            self.error = f"cannot listen on {self.config.host}:{self.config.port} ({exc.strerror or exc})"
            log.error("OSC: %s; the show goes on without OSC control (set osc.port to a free port)", self.error)
            return False
        sock.settimeout(0.2)  # the stop event is seen within 0.2 s
        self._sock = sock
        self._thread.start()
        log.info("OSC: listening on %s:%d (docs/osc.md lists the addresses)", self.config.host, self.port)
        return True

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1] if self._sock is not None else self.config.port

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        if self._sock is not None:
            self._sock.close()

    def status(self) -> str:
        if self.error:
            return f"OSC off: {self.error}"
        return f"OSC {self.config.host}:{self.port}: {self.received} received, {self.rejected} rejected"

    def _allowed(self, host: str, address: str, args: Sequence[object]) -> bool:
        try:
            ip = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return False
        if any(ip in net for net in LOOPBACK) or any(ip in net for net in self._allow) or host in self._authed:
            return True
        if address == "/reverie/auth" and self.config.secret and args == [self.config.secret]:
            if len(self._authed) < 64:
                self._authed.add(host)
                log.info("OSC: %s authenticated with the shared secret", host)
            return False
        return False

    def _run(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                data, sender = self._sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError as exc:
                self._warn.warn("socket", f"OSC: receive failed ({exc}); still listening")
                time.sleep(0.05)
                continue
            self.handle_datagram(data, sender[0], time.perf_counter())

    def handle_datagram(self, data: bytes, host: str, t_s: float) -> None:
        """Parse, check and route one datagram. Never raises: garbage is counted and logged."""
        try:
            messages = [m.message for m in osc_packet.OscPacket(data).messages]
        except Exception:  # python-osc raises ParseError, UnicodeDecodeError, RecursionError... on garbage
            self.rejected += 1
            self._warn.warn(
                f"garbage:{host}", f"OSC: an undecodable datagram ({len(data)} bytes) from {host} was ignored"
            )
            return
        for message in messages:
            address, args = message.address, list(message.params)
            if not self._allowed(host, address, args):
                if address != "/reverie/auth":
                    self.rejected += 1
                    self._warn.warn(
                        f"deny:{host}",
                        f"OSC: message from {host} refused: not in osc.allow (and not authenticated with osc.secret)",
                    )
                continue
            if address == "/reverie/auth":
                continue
            try:
                if address == SYNC_ADDRESS:
                    if self.sync is None:
                        raise OscArgError("this show is not a follower (sync.role)")
                    self.sync.put(decode_sync(args, t_s))
                    continue
                if address == "/wek/outputs" and not self.config.wekinator:
                    raise OscArgError("Wekinator is off (osc.wekinator = false)")
                command = route(address, args, t_s)
            except KeyError:
                self.rejected += 1
                self._warn.warn(
                    f"unknown:{address[:80]}",
                    f"OSC: unknown address {address[:80]!r} from {host} ignored (docs/osc.md lists the addresses)",
                )
                continue
            except OscArgError as exc:
                self.rejected += 1
                self._warn.warn(f"args:{address}", f"OSC: {address} {args!r:.80} ignored: {exc}")
                continue
            if command is not None:
                self.received += 1
                self.queue.put(command)


# ---------------------------------------------------------------------------- sender
class OscSender:
    """Fire-and-forget UDP to one host:port. Never blocks; errors are counted and logged rarely."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._warn = RateLimitedLog(log)
        self.sent = 0
        self.errors = 0

    def send_dgram(self, dgram: bytes) -> None:
        try:
            self._sock.sendto(dgram, self.target)
            self.sent += 1
        except OSError as exc:  # nobody listening (ICMP refused), buffer full, network down: drop it
            self.errors += 1
            self._warn.warn(
                "send",
                f"OSC: sending to {self.target[0]}:{self.target[1]} failed ({exc}); "
                "messages are dropped until it works",
            )

    def send(self, messages: Iterable[tuple[str, Sequence[object]]]) -> None:
        """Several messages as one bundle (one datagram)."""
        bundle = osc_bundle_builder.OscBundleBuilder(osc_bundle_builder.IMMEDIATELY)
        count = 0
        for address, args in messages:
            b = osc_message_builder.OscMessageBuilder(address)
            for arg in args:
                b.add_arg(arg)
            bundle.add_content(b.build())
            count += 1
        if count:
            self.send_dgram(bundle.build().dgram)

    def close(self) -> None:
        self._sock.close()


def _osc_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def float_bundle(prefixes: Sequence[bytes], values: Sequence[Sequence[float]]) -> bytes:
    """An immediate bundle of float-only messages, packed directly (python-osc's builder costs ~20x
    more, and this runs on the main thread 30 times a second). prefixes: from float_prefix()."""
    parts = [b"#bundle\0\0\0\0\0\0\0\0\1"]
    for prefix, floats in zip(prefixes, values):
        body = prefix + struct.pack(f">{len(floats)}f", *floats)
        parts.append(struct.pack(">i", len(body)) + body)
    return b"".join(parts)


def float_prefix(address: str, count: int) -> bytes:
    """Address and type tag of a message with count float arguments."""
    return _osc_string(address) + _osc_string("," + "f" * count)


class FeatureOut:
    """Features, events and state out at osc.send_rate_hz; Wekinator inputs when asked. Main thread."""

    def __init__(self, config: OscConfig) -> None:
        self.config = config
        self.features = OscSender(config.send_host, config.send_port) if config.send_port else None
        self.wekinator = OscSender(config.wekinator_host, config.wekinator_port) if config.wekinator else None
        self._due_s = 0.0
        self._counts: dict[str, float] = {}
        self._state: dict[str, str] = {}
        self._prefixes = [float_prefix(f"/reverie/features/{n}", 1) for n in OUT_FEATURES] + [
            float_prefix("/reverie/features/chroma", 12)
        ]
        self._chroma = [f"chroma_{i}" for i in range(12)]
        self._wek_prefix = [float_prefix("/wek/inputs", len(config.wekinator_inputs))]

    def tick(self, t_s: float, features: dict[str, float], preset: str, model: str) -> None:
        if self.features is not None:
            events: list[tuple[str, Sequence[object]]] = []
            for key, address in (("onset_count", "/reverie/event/onset"), ("beat_count", "/reverie/event/beat")):
                count = features.get(key)
                last = self._counts.get(key)
                if count is not None and last is not None and count > last:
                    events.append(
                        (address, [int(count), float(features.get("tempo_bpm", 0.0))] if key == "beat_count" else [])
                    )
                if count is not None:
                    self._counts[key] = count
            for key, value in (("preset", preset), ("model", model)):
                if self._state.get(key) != value:
                    self._state[key] = value
                    events.append((f"/reverie/state/{key}", [value]))
            if events:
                self.features.send(events)  # events go at once, not at the tick rate
        if t_s < self._due_s:
            return
        self._due_s = max(self._due_s + 1.0 / self.config.send_rate_hz, t_s)
        if self.features is not None:
            values = [(features.get(name, 0.0),) for name in OUT_FEATURES]
            values.append(tuple(features.get(name, 0.0) for name in self._chroma))
            self.features.send_dgram(float_bundle(self._prefixes, values))
        if self.wekinator is not None:
            inputs = tuple(features.get(n, 0.0) for n in self.config.wekinator_inputs)
            self.wekinator.send_dgram(float_bundle(self._wek_prefix, [inputs]))

    def close(self) -> None:
        for sender in (self.features, self.wekinator):
            if sender is not None:
                sender.close()
