"""Show <-> supervisor for the web panel, when it lives in the --supervise process.

The supervisor listens on a Unix socket in a private folder (mode 0700) and tells each show
process where (the REVERIE_PANEL_SOCKET environment variable). The show connects once it
runs, sends a status + thumbnail frame about once a second and receives commands. When the show
exits, crashes or hangs, its connection closes or goes quiet, and the page says "restarting"
until the next show connects.

Frames, both ways: one kind byte, a 4-byte big-endian length, the payload.
  b"F" show -> supervisor: 4-byte status length, status JSON, thumbnail JPEG (may be empty)
  b"C" supervisor -> show: a command as JSON ({"action": "preset", "name": ...}), see feed.to_command
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import select
import shutil
import socket
import struct
import tempfile
import threading
import time
from typing import Any

from installation.config import WebConfig
from installation.control.commands import CommandQueue
from installation.ratelimit import RateLimitedLog
from installation.slot import LatestSlot
from installation.web.actions import to_command
from installation.web.frame import PANEL_ENV, PanelFrame, encode_jpeg
from installation.web.logtail import LogTail
from installation.web.state import PanelState

log = logging.getLogger(__name__)

HEADER = struct.Struct(">cI")
MAX_FRAME = 4 * 2**20  # bytes: a 320 px JPEG and a status are far smaller; anything bigger is a broken peer
RECONNECT_S = 1.0
SEND_TIMEOUT_S = 2.0


def frame(kind: bytes, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def status_frame(status_json: bytes, jpeg: bytes) -> bytes:
    return frame(b"F", struct.pack(">I", len(status_json)) + status_json + jpeg)


def split_status(payload: bytes) -> tuple[bytes, bytes]:
    if len(payload) < 4:
        raise ValueError("short status frame")
    (n,) = struct.unpack(">I", payload[:4])
    if n > len(payload) - 4:
        raise ValueError("status length beyond the frame")
    return payload[4 : 4 + n], payload[4 + n :]


def parse_frames(buffer: bytearray) -> list[tuple[bytes, bytes]]:
    """Complete frames taken off the front of buffer; ValueError on a frame no peer of ours sends."""
    out = []
    while len(buffer) >= HEADER.size:
        kind, n = HEADER.unpack_from(buffer)
        if n > MAX_FRAME:
            raise ValueError(f"a frame of {n} bytes")
        if len(buffer) < HEADER.size + n:
            break
        out.append((kind, bytes(buffer[HEADER.size : HEADER.size + n])))
        del buffer[: HEADER.size + n]
    return out


# ---------------------------------------------------------------------------- the show's side
class ShowLink:
    """A thread in the show: connects to the supervisor's panel, sends frames, queues commands."""

    def __init__(self, path: str, frames: LatestSlot[PanelFrame], queue: CommandQueue) -> None:
        self.path = path
        self.frames = frames
        self.queue = queue
        self.sent = 0
        self.commands = 0
        self._warn = RateLimitedLog(log)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="panel-link", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.frames.wake()
        self._thread.join(SEND_TIMEOUT_S + 1.0)

    def _run(self) -> None:
        sock: socket.socket | None = None
        buffer = bytearray()
        seen, retry_s = 0, 0.0
        while not self._stop.is_set():
            if sock is None and time.monotonic() >= retry_s:
                sock, buffer = self._connect(), bytearray()
                retry_s = time.monotonic() + RECONNECT_S
            item, seen = self.frames.wait_newer(seen, 0.1)
            if sock is None:
                continue
            try:
                if item is not None:
                    sock.sendall(status_frame(item.status_json, encode_jpeg(item.picture_rgb, item.size)))
                    self.sent += 1
                while select.select([sock], [], [], 0)[0]:
                    data = sock.recv(65536)
                    if not data:
                        raise ConnectionError("the supervisor closed the panel socket")
                    buffer += data
                    for kind, payload in parse_frames(buffer):
                        self._command(kind, payload)
            except (OSError, ValueError) as exc:
                self._warn.warn("lost", f"web panel: lost the supervisor's panel ({exc}); reconnecting")
                sock.close()
                sock = None
        if sock is not None:
            sock.close()

    def _connect(self) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(SEND_TIMEOUT_S)  # a supervisor that stops reading blocks this thread, never the show
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            self._warn.warn(
                "connect", f"web panel: cannot reach the supervisor's panel at {self.path} ({exc}); trying again"
            )
            return None
        return sock

    def _command(self, kind: bytes, payload: bytes) -> None:
        if kind != b"C":
            return
        try:
            command = to_command(json.loads(payload))  # the show checks names again when it applies it
        except ValueError as exc:
            self._warn.warn("bad", f"web panel: a command that does not fit ({exc}); ignored")
            return
        self.commands += 1
        self.queue.put(command)


# ---------------------------------------------------------------------------- the supervisor's side
class LinkServer:
    """In the web server's event loop: the socket the show connects to."""

    def __init__(self, path: str, state: PanelState) -> None:
        self.path = path
        self.state = state
        self._writer: asyncio.StreamWriter | None = None
        self._server: asyncio.AbstractServer | None = None
        self._warn = RateLimitedLog(log)

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._client, self.path)
        os.chmod(self.path, 0o600)

    def send(self, action: dict[str, Any]) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise LookupError("no show is connected")
        writer.write(frame(b"C", json.dumps(action).encode()))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        old, self._writer = self._writer, writer  # the newest show is the one that counts
        if old is not None:
            old.close()
        try:
            while True:
                kind, n = HEADER.unpack(await reader.readexactly(HEADER.size))
                if n > MAX_FRAME:
                    raise ValueError(f"a frame of {n} bytes")
                payload = await reader.readexactly(n)
                if kind == b"F":
                    self.state.publish(*split_status(payload))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the show exited or was killed: the page says "restarting"
        except (ValueError, struct.error) as exc:
            self._warn.warn("bad", f"web panel: the show sent a broken frame ({exc}); dropping its connection")
        finally:
            if self._writer is writer:
                self._writer = None
                self.state.set_connected(False)
            writer.close()


class SupervisorPanel:
    """The web panel inside `main.py --supervise`: server, socket for the show, log tail."""

    def __init__(self, web: WebConfig) -> None:
        self._dir = tempfile.mkdtemp(prefix="reverie-panel-")  # 0700: only this user reaches the socket
        self.path = os.path.join(self._dir, "show.sock")
        self.state = PanelState(supervised=True)
        self.tail = LogTail()
        self.link = LinkServer(self.path, self.state)
        from installation.web.server import WebServer

        self.server = WebServer(web, self.state, self.tail, self.link.send, on_start=self.link.start)

    def start(self) -> bool:
        self.tail.install()
        if self.server.start():
            return True
        self.close()
        return False

    def env(self) -> dict[str, str]:
        """For the show processes: where to send their status."""
        return {PANEL_ENV: self.path}

    def close(self) -> None:
        self.server.close()
        self.tail.remove()
        shutil.rmtree(self._dir, ignore_errors=True)


def start_supervisor_panel(web: WebConfig) -> SupervisorPanel | None:
    if not web.enabled:
        return None
    panel = SupervisorPanel(web)
    return panel if panel.start() else None
