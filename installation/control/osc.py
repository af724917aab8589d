"""OSC in and out: performers' tools (TouchOSC, Ableton, Resolume, TouchDesigner, Wekinator).

In: one thread owns a UDP socket; each datagram is parsed (python-osc), checked against the
sender allow-list and routed through IN_ADDRESSES into a command on the CommandQueue. Nothing
else happens on that thread. Unknown addresses, wrong arguments and undecodable datagrams are
counted and logged once a minute per address; they never reach the show.
The addresses and their commands live in osc_addresses.py, the sync message in sync_wire.py, and
out (features and Wekinator inputs as one bundle per tick, main thread, non-blocking) in osc_out.py.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Sequence

from pythonosc import osc_packet

from installation.config import OscConfig
from installation.control import commands as c
from installation.control.osc_addresses import OscArgError, route
from installation.control.osc_out import FeatureOut as FeatureOut  # re-exported: live.py imports it from here
from installation.control.sync_wire import SYNC_ADDRESS, SyncState, decode_sync
from installation.ratelimit import RateLimitedLog
from installation.slot import LatestSlot

log = logging.getLogger(__name__)

MAX_DATAGRAM = 65535
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


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
