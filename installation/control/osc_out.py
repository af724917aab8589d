"""OSC out: fire-and-forget UDP senders, and the features, events and state the show sends each tick."""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Iterable, Sequence

from pythonosc import osc_bundle_builder, osc_message_builder

from installation.config import OscConfig
from installation.control.osc_addresses import OUT_FEATURES
from installation.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

OscValue = str | bytes | bool | int | float  # what python-osc's builder packs without a type tag


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

    def send(self, messages: Iterable[tuple[str, Sequence[OscValue]]]) -> None:
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
            events: list[tuple[str, Sequence[OscValue]]] = []
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
            values: list[tuple[float, ...]] = [(features.get(name, 0.0),) for name in OUT_FEATURES]
            values.append(tuple(features.get(name, 0.0) for name in self._chroma))
            self.features.send_dgram(float_bundle(self._prefixes, values))
        if self.wekinator is not None:
            inputs = tuple(features.get(n, 0.0) for n in self.config.wekinator_inputs)
            self.wekinator.send_dgram(float_bundle(self._wek_prefix, [inputs]))

    def close(self) -> None:
        for sender in (self.features, self.wekinator):
            if sender is not None:
                sender.close()
