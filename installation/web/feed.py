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
from typing import Any, Protocol

import numpy as np

from installation.config import WebConfig
from installation.control import commands as c
from installation.ratelimit import RateLimitedLog
from installation.slot import LatestSlot
from installation.web.actions import to_command
from installation.web.frame import PANEL_ENV, PanelFrame, encode_jpeg, subsample
from installation.web.logtail import LogTail
from installation.web.state import PanelState

log = logging.getLogger(__name__)

FEED_EVERY_S = 1.0  # the thumbnail refreshes about once a second


class PanelSource(Protocol):
    """What the feed needs from the App: figures and the generated picture (never the camera)."""

    def panel_status(self) -> dict[str, Any]: ...  # JSON-able figures (installation/web/state.py PUBLIC_KEYS)

    def panel_picture(self) -> np.ndarray | None: ...  # (H, W, 3) uint8 view of what the screen shows


def engagement_map(
    anchors: np.ndarray, dwell_s: np.ndarray, touches: np.ndarray, principal: np.ndarray, z: np.ndarray
) -> dict[str, Any]:
    """Engagement regions projected on the latent plane the walk steers in (the model's two main
    directions, principal (2, z_dim)): x, y per region, its dwell seconds and touches, and where the
    picture is now. Aggregates only, as installation/mapping/engagement.py keeps them."""
    basis = np.asarray(principal, dtype=np.float64)[:2]
    xy = np.asarray(anchors, dtype=np.float64) @ basis.T  # (regions, 2)
    now = np.asarray(z, dtype=np.float64) @ basis.T
    return {
        "x": _rounded(xy[:, 0]),
        "y": _rounded(xy[:, 1]),
        "dwell_s": _rounded(dwell_s),
        "touches": [int(t) for t in np.asarray(touches)],
        "now": _rounded(now),
    }


@functools.lru_cache(maxsize=1)
def model_names() -> list[str]:
    """Every model a switch may name (--list-models and the built-ins), read once per process."""
    from models.registry import BUILTINS, list_models  # imports torch: only ever called in the show

    return sorted({e.name for e in list_models()} | set(BUILTINS))


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 3) if math.isfinite(float(v)) else 0.0 for v in np.asarray(values).ravel()]


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
        model_names()  # read the model cards now, during set-up, not in the middle of a frame
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
        """Once a second: the figures and a small copy of the picture, into the slot (under 1 ms at 1080p)."""
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
