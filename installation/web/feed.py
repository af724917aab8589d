"""The show's side of the web panel: once a second a status and a thumbnail leave the main thread.

`PanelFeed.tick` runs on the main thread: it asks the App (through the narrow `PanelSource`
protocol) for its figures and the generated picture, packs them into a frozen `PanelFrame` (JSON
bytes and a small subsampled copy of the picture) and puts that in a latest-value slot. A thread
of the feed's own encodes the JPEG and hands both to the panel: the server inside this process
(the show runs alone), or the supervisor over its private socket (installation/web/link.py).
Commands come back as small JSON objects, become frozen commands (`to_command`) and go into the
same CommandQueue as OSC and MIDI; the main thread applies them.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from installation.config import WebConfig
from installation.control import commands as c
from installation.ratelimit import RateLimitedLog
from installation.slot import LatestSlot
from installation.web.logtail import LogTail
from installation.web.state import PanelState

log = logging.getLogger(__name__)

PANEL_ENV = "REVERIE_PANEL_SOCKET"  # set by --supervise: the Unix socket its panel listens on
FEED_EVERY_S = 1.0  # the thumbnail refreshes about once a second
THUMB_W = 320  # px width of the JPEG thumbnail
THUMB_SOURCE_H = 360  # the main thread copies every n-th row, about this many (whole rows: a fast memcpy)
JPEG_QUALITY = 75


class PanelSource(Protocol):
    """What the feed needs from the App: figures and the generated picture (never the camera)."""

    def panel_status(self) -> dict[str, Any]: ...  # JSON-able figures (installation/web/state.py PUBLIC_KEYS)

    def panel_picture(self) -> np.ndarray | None: ...  # (H, W, 3) uint8 view of what the screen shows


@dataclass(frozen=True)
class PanelFrame:
    status_json: bytes  # the figures, already JSON
    picture_rgb: np.ndarray | None  # (h', w, 3) uint8, a private copy of about THUMB_SOURCE_H of its rows
    size: tuple[int, int] = (0, 0)  # (w, h) px of the picture as the screen shows it (its aspect)


def engagement_map(anchors: np.ndarray, dwell_s: np.ndarray, touches: np.ndarray, principal: np.ndarray,
                   z: np.ndarray) -> dict[str, Any]:
    """Engagement regions projected on the latent plane the walk steers in (the model's two main
    directions, principal (2, z_dim)): x, y per region, its dwell seconds and touches, and where the
    picture is now. Aggregates only, as installation/mapping/engagement.py keeps them."""
    basis = np.asarray(principal, dtype=np.float64)[:2]
    xy = np.asarray(anchors, dtype=np.float64) @ basis.T  # (regions, 2)
    now = np.asarray(z, dtype=np.float64) @ basis.T
    return {"x": _rounded(xy[:, 0]), "y": _rounded(xy[:, 1]), "dwell_s": _rounded(dwell_s),
            "touches": [int(t) for t in np.asarray(touches)], "now": _rounded(now)}


@functools.lru_cache(maxsize=1)
def model_names() -> list[str]:
    """Every model a switch may name (--list-models and the built-ins), read once per process."""
    from models.registry import BUILTINS, list_models  # imports torch: only ever called in the show

    return sorted({e.name for e in list_models()} | set(BUILTINS))


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 3) if math.isfinite(float(v)) else 0.0 for v in np.asarray(values).ravel()]


def to_command(action: object, presets: list[str] | None = None, models: list[str] | None = None) -> c.Command:
    """A web action ({"action": "preset", "name": ...}) as a frozen command; ValueError says what was
    wrong. Names are checked against the lists when given (the show checks them again)."""
    if not isinstance(action, dict):
        raise ValueError("expected a JSON object")
    kind = action.get("action")
    if kind in ("preset", "model"):
        name = action.get("name")
        valid = presets if kind == "preset" else models
        if not isinstance(name, str) or not name or (valid is not None and name not in valid):
            raise ValueError(f"unknown {kind} {str(name)[:80]!r}; valid names: {', '.join(valid or [])}")
        return c.SwitchPreset(name, quantised=False) if kind == "preset" else c.SwitchModel(name, quantised=False)
    if kind == "snapshot":
        return c.Snapshot()
    if kind == "record":
        on = action.get("on")
        if not isinstance(on, bool):
            raise ValueError("record: expected {\"on\": true} or {\"on\": false}")
        return c.SetRecording(on)
    raise ValueError(f"unknown action {str(kind)[:40]!r}; known: preset, model, snapshot, record")


def encode_jpeg(picture_rgb: np.ndarray | None, size: tuple[int, int] = (0, 0)) -> bytes:
    """The thumbnail JPEG (THUMB_W wide, the aspect of size, else of the array), or b"" when there is none."""
    if picture_rgb is None or picture_rgb.size == 0:
        return b""
    w, h = size if min(size) > 0 else (picture_rgb.shape[1], picture_rgb.shape[0])
    size = (THUMB_W, max(1, round(h * THUMB_W / w)))
    small = cv2.resize(picture_rgb, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return data.tobytes() if ok else b""


def subsample(picture_rgb: np.ndarray) -> np.ndarray:
    """A small private copy of the picture: every n-th whole row (at 1080p 2 MB, ~0.2 ms, where a
    row-and-column stride takes ~2 ms); the panel's thread does the rest."""
    step = max(1, picture_rgb.shape[0] // THUMB_SOURCE_H)
    return np.ascontiguousarray(picture_rgb[::step])


class PanelFeed:
    def __init__(self, source: PanelSource, queue: c.CommandQueue, web: WebConfig) -> None:
        self.source = source
        self.queue = queue
        self.web = web
        self.frames: LatestSlot[PanelFrame] = LatestSlot()
        self.state: PanelState | None = None  # the in-process server's state (the show runs alone)
        self._server: Any = None  # installation.web.server.WebServer
        self._link: Any = None  # installation.web.link.ShowLink
        self._tail: LogTail | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._due_s = 0.0
        self._warn = RateLimitedLog(log)

    @classmethod
    def create(cls, source: PanelSource, queue: c.CommandQueue, web: WebConfig) -> PanelFeed | None:
        """Supervised: feed the supervisor's panel. Alone with web.enabled: serve the panel here. Else None."""
        socket_path = os.environ.get(PANEL_ENV, "")
        if not socket_path and not web.enabled:
            return None
        feed = cls(source, queue, web)
        feed.start(socket_path)
        return feed

    def start(self, socket_path: str = "") -> None:
        if socket_path:
            from installation.web.link import ShowLink

            self._link = ShowLink(socket_path, self.frames, self.queue)
            self._link.start()
            return
        from installation.web.server import WebServer  # aiohttp only when the panel is served here

        self.state = PanelState(supervised=False)
        self._tail = LogTail().install()
        self._server = WebServer(self.web, self.state, self._tail, self.send)
        if not self._server.start():
            self._tail.remove()
            self._server = None
            return
        self._thread = threading.Thread(target=self._run, name="panel-feed", daemon=True)
        self._thread.start()

    def send(self, action: dict[str, Any]) -> None:
        """The in-process server's way in: an already checked action onto the command queue."""
        self.queue.put(to_command(action))

    # ------------------------------------------------------------ main thread
    def tick(self, now_s: float) -> None:
        """Once a second: the figures and a small copy of the picture, into the slot (about 0.5 ms)."""
        if now_s < self._due_s:
            return
        self._due_s = now_s + FEED_EVERY_S
        try:
            status = json.dumps(self.source.panel_status(), separators=(",", ":")).encode()
            picture = self.source.panel_picture()
        except Exception as exc:  # the panel must never stop the show
            self._warn.warn("status", f"web panel: could not gather the status ({exc}); trying again in a second")
            return
        if picture is None:
            self.frames.put(PanelFrame(status, None))
        else:
            self.frames.put(PanelFrame(status, subsample(picture), (picture.shape[1], picture.shape[0])))

    # ------------------------------------------------------------ feed thread (in-process server)
    def _run(self) -> None:
        seen = 0
        while not self._stop.is_set():
            frame, seen = self.frames.wait_newer(seen, 0.5)
            if frame is None:
                continue
            assert self.state is not None
            self.state.publish(frame.status_json, encode_jpeg(frame.picture_rgb, frame.size))

    def close(self) -> None:
        self._stop.set()
        self.frames.wake()
        if self._thread is not None:
            self._thread.join(2.0)
        for part in (self._server, self._link):
            if part is not None:
                part.close()
        if self._tail is not None:
            self._tail.remove()

