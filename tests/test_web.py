"""The web panel's server, state, feed and supervisor link, with real sockets and a real HTTP server.

The show is stood in for by a small fake of the `PanelSource` protocol (figures and a picture);
everything else is the real thing: aiohttp on a thread, the CommandQueue the show drains, the Unix
socket to the supervisor, the log tail.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from installation.config import ConfigError, WebConfig, load_config
from installation.control import commands as c
from installation.web.actions import to_command
from installation.web.feed import PanelFeed, engagement_map
from installation.web.link import LinkServer, ShowLink, SupervisorPanel
from installation.web.logtail import LogTail
from installation.web.plot import engagement_png
from installation.web.server import BURST, MAX_BODY
from installation.web.state import PanelState
from tests.runner import wait_for

PRESETS = ["1-gallery", "4-club"]
MODELS = ["seeded-cppn", "vae-emoji"]
TOKEN = "correct-horse-battery"


class FakeShow:
    """What the App offers the feed: figures and the generated picture."""

    def __init__(self) -> None:
        self.preset_file = "1-gallery"
        self.colour = 0

    def panel_status(self) -> dict[str, Any]:
        rng = np.random.default_rng(3)
        return {
            "fps": 59.5,
            "generator_fps": 24.0,
            "latency_ms_p95": 41.0,
            "preset": "Gallery",
            "preset_file": self.preset_file,
            "model": "vae-emoji",
            "sources": {
                "camera": {"state": "fallback", "detail": "synthetic"},
                "microphone": {"state": "off", "detail": "none"},
            },
            "uptime_s": 12.5,
            "restarts": 0,
            "last_error": "",
            "open": True,
            "schedule": "",
            "closed_mode": "black",
            "recording": False,
            "presets": PRESETS,
            "models": MODELS,
            "engagement": engagement_map(
                rng.standard_normal((6, 8)),
                np.arange(6.0),
                np.array([0, 0, 3, 0, 0, 1]),
                np.eye(8)[:2],
                rng.standard_normal(8),
            ),
        }

    def panel_picture(self) -> np.ndarray:
        frame = np.zeros((1080, 1920, 3), np.uint8)
        frame[:, :, 0] = self.colour
        frame[200:800, 300:900] = (0, 200, 90)
        return frame


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=body, headers=h)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, data, {k.lower(): v for k, v in response.getheaders()}

    def json(self, method: str, path: str, **kw: Any) -> tuple[int, dict[str, Any]]:
        status, data, _ = self.request(method, path, **kw)
        return status, json.loads(data)


@pytest.fixture
def panel() -> Iterator[tuple[PanelFeed, FakeShow, c.CommandQueue, Client]]:
    show, queue = FakeShow(), c.CommandQueue()
    feed = PanelFeed(show, queue, WebConfig(enabled=True, port=0, token=TOKEN))
    feed.start()
    assert feed._server is not None, "the panel did not start"
    feed.tick(0.0)
    assert feed.state is not None and wait_for(lambda: feed.state.state() == "running", 5.0)
    try:
        yield feed, show, queue, Client(feed._server.port)
    finally:
        feed.close()


# ---------------------------------------------------------------------------- config
def test_lan_without_a_token_is_refused_at_start_in_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, ["web.enabled=true", 'web.host="0.0.0.0"'])
    message = str(err.value)
    assert "\n" not in message and "web.token" in message and "0.0.0.0" in message
    with pytest.raises(ConfigError, match="at least 12 characters"):
        load_config(None, ["web.enabled=true", 'web.host="0.0.0.0"', 'web.token="short"'])
    config = load_config(None, ["web.enabled=true", 'web.host="0.0.0.0"', f'web.token="{TOKEN}"'])
    assert config.web.host == "0.0.0.0" and config.web.port == 8080
    assert load_config(None, ["web.enabled=true", "web.token=T"]).web.token == "T"  # loopback: any token
    with pytest.raises(ConfigError, match="web.port"):
        load_config(None, ["web.port=70000"])


# ---------------------------------------------------------------------------- reads
def test_reads_from_this_computer_need_no_token(panel) -> None:
    _feed, _show, _queue, client = panel
    code, status = client.json("GET", "/api/status")
    assert code == 200 and status["state"] == "running" and status["supervised"] is False
    for key in (
        "fps",
        "generator_fps",
        "latency_ms_p95",
        "preset",
        "model",
        "sources",
        "uptime_s",
        "restarts",
        "last_error",
        "open",
    ):
        assert key in status, key
    assert status["presets"] == PRESETS and status["writable"] is True and "engagement" not in status

    code, jpeg, headers = client.request("GET", "/api/thumbnail.jpg")
    assert code == 200 and headers["content-type"] == "image/jpeg"
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (180, 320, 3)
    assert abs(int(picture[90, 100, 1]) - 200) < 30  # the green square of the generated picture, scaled down

    code, png, headers = client.request("GET", "/api/engagement.png")
    plot = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert code == 200 and headers["content-type"] == "image/png" and plot.shape == (360, 480, 3)
    assert plot.std() > 10  # a picture, not a blank

    code, page, headers = client.request("GET", "/")
    assert code == 200 and b"<title>Reverie" in page and "default-src 'none'" in headers["content-security-policy"]
    assert b"http://" not in page.replace(b"http://host:8080/#token", b"") and b"https://" not in page  # no CDN


def test_thumbnail_follows_the_picture_and_history_grows(panel) -> None:
    feed, show, _queue, client = panel
    first = client.request("GET", "/api/thumbnail.jpg")[1]
    show.colour = 250
    feed.tick(10.0)
    assert wait_for(lambda: client.request("GET", "/api/thumbnail.jpg")[1] != first, 5.0)
    history = client.json("GET", "/api/history")[1]
    assert len(history["fps"]) == 2 and history["fps"] == [59.5, 59.5] and len(history["t_unix"]) == 2


def test_reads_with_a_foreign_host_header_need_the_token(panel) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name; it gets nothing without the token."""
    _, _, _, client = panel
    assert client.request("GET", "/api/status", headers={"Host": "evil.example:8080"})[0] == 401
    assert client.request("GET", "/api/status", headers={"Host": "evil.example"}, token=TOKEN)[0] == 200
    assert client.request("GET", "/api/status", headers={"Host": "localhost:8080"})[0] == 200
    assert client.request("GET", "/api/status", headers={"Host": "[::1]:8080"})[0] == 200
    assert client.request("GET", "/api/status", headers={"Host": "[::1]"})[0] == 200
    assert client.request("GET", "/api/status", headers={"Host": "127.0.0.1"})[0] == 200


def test_log_shows_warnings_and_errors_only(panel) -> None:
    _, _, _, client = panel
    logging.getLogger("reverie.test").info("an info line")
    logging.getLogger("reverie.test").warning("camera lost: %s", "unplugged")
    lines = client.json("GET", "/api/log")[1]["lines"]
    texts = [line["text"] for line in lines]
    assert "reverie.test: camera lost: unplugged" in texts and not any("an info line" in t for t in texts)
    assert lines[-1]["level"] == "WARNING"


def test_logtail_reads_the_level_of_the_shows_own_lines() -> None:
    tail = LogTail()
    show = logging.getLogger("reverie.show")
    record = show.makeRecord(
        "reverie.show",
        logging.INFO,
        __file__,
        1,
        "%s",
        ("2026-11-30 08:00:00,001 ERROR   installation.app: generator failed",),
        None,
    )
    tail.handle(record)
    tail.handle(
        show.makeRecord(
            "reverie.show",
            logging.INFO,
            __file__,
            1,
            "%s",
            ("2026-11-30 08:00:00,002 INFO    installation.app: all fine",),
            None,
        )
    )
    assert [(line["level"], line["text"]) for line in tail.lines()] == [("ERROR", "installation.app: generator failed")]


# ---------------------------------------------------------------------------- writes
def test_commands_go_onto_the_command_queue(panel) -> None:
    _, _, queue, client = panel
    assert client.json("POST", "/api/preset", body='{"name": "4-club"}', token=TOKEN)[0] == 202
    assert client.json("POST", "/api/model", body='{"name": "seeded-cppn"}', token=TOKEN)[0] == 202
    assert client.json("POST", "/api/snapshot", token=TOKEN)[0] == 202
    assert client.json("POST", "/api/record", body='{"on": true}', token=TOKEN)[0] == 202
    assert client.json("POST", "/api/record", body='{"on": false}', token=TOKEN)[0] == 202
    assert queue.drain() == [
        c.SwitchPreset("4-club", quantised=False),
        c.SwitchModel("seeded-cppn", quantised=False),
        c.Snapshot(),
        c.SetRecording(True),
        c.SetRecording(False),
    ]


def test_bad_writes_get_one_clear_answer_and_nothing_is_queued(panel) -> None:
    _, _, queue, client = panel
    code, body = client.json("POST", "/api/preset", body='{"name": "4-club"}')
    assert code == 401 and "Authorization: Bearer" in body["error"]
    assert client.json("POST", "/api/preset", body='{"name": "4-club"}', token="wrong")[0] == 401
    code, body = client.json("POST", "/api/preset", body='{"name": ', token=TOKEN)
    assert code == 400 and "malformed JSON" in body["error"]
    code, body = client.json("POST", "/api/preset", body='{"name": "nope"}', token=TOKEN)
    assert code == 400 and "valid names: 1-gallery, 4-club" in body["error"]
    code, body = client.json("POST", "/api/model", body='{"name": "gpt"}', token=TOKEN)
    assert code == 400 and "valid names: seeded-cppn, vae-emoji" in body["error"]
    code, body = client.json("POST", "/api/record", body='{"on": "yes"}', token=TOKEN)
    assert code == 400 and "record" in body["error"]
    code, body = client.json("POST", "/api/preset", body="[1, 2]", token=TOKEN)
    assert code == 400 and "JSON object" in body["error"]
    code, body = client.json("POST", "/api/preset", body=json.dumps({"name": "x" * MAX_BODY}), token=TOKEN)
    assert code == 413 and str(MAX_BODY) in body["error"]
    code, body = client.json("GET", "/api/nothing-here")
    assert code == 404 and body["error"]
    assert client.json("GET", "/api/preset")[0] == 405
    assert queue.drain() == []


def test_writes_need_a_configured_token() -> None:
    queue = c.CommandQueue()
    feed = PanelFeed(FakeShow(), queue, WebConfig(enabled=True, port=0, token=""))
    feed.start()
    try:
        feed.tick(0.0)
        client = Client(feed._server.port)
        assert wait_for(lambda: client.json("GET", "/api/status")[1]["state"] == "running", 5.0)
        assert client.json("GET", "/api/status")[1]["writable"] is False
        code, body = client.json("POST", "/api/snapshot", token="")
        assert code == 401 and "web.token" in body["error"]
        assert queue.drain() == []
    finally:
        feed.close()


def test_a_flood_is_rate_limited_and_the_panel_keeps_serving(panel) -> None:
    _, _, _, client = panel
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=10)  # one keep-alive connection
    codes = []
    for _ in range(int(BURST) + 20):
        conn.request("GET", "/api/status")
        response = conn.getresponse()
        response.read()
        codes.append(response.status)
        if response.status == 429:
            break
    conn.close()
    assert codes.count(200) >= BURST - 5 and codes[-1] == 429
    assert wait_for(lambda: client.request("GET", "/api/status")[0] == 200, 5.0)  # the bucket refills


def test_a_taken_port_is_reported_and_nothing_breaks(panel, caplog) -> None:
    _feed, _, _, client = panel
    second = PanelFeed(FakeShow(), c.CommandQueue(), WebConfig(enabled=True, port=client.port))
    with caplog.at_level(logging.ERROR):
        second.start()
    assert second._server is None
    assert any("cannot listen on" in r.getMessage() and "goes on without it" in r.getMessage() for r in caplog.records)
    second.close()
    assert client.request("GET", "/api/status")[0] == 200


# ---------------------------------------------------------------------------- pure parts
def test_to_command_accepts_only_what_it_knows() -> None:
    assert to_command({"action": "preset", "name": "4-club"}, PRESETS) == c.SwitchPreset("4-club", quantised=False)
    for bad in (
        {"action": "preset", "name": "../../etc/passwd"},
        {"action": "preset"},
        {"action": "eval"},
        {"action": "record", "on": 1},
        [],
        "preset",
        None,
    ):
        with pytest.raises(ValueError):
            to_command(bad, PRESETS, MODELS)


def test_engagement_plot_survives_missing_or_odd_data() -> None:
    for data in (
        None,
        {},
        {"x": [1], "y": [], "dwell_s": [1], "touches": [0], "now": [0, 0]},
        {"x": [float("nan")], "y": [0], "dwell_s": [1], "touches": [0], "now": [0, 0]},
        {"x": ["a"], "y": [0], "dwell_s": [1], "touches": [0], "now": [0, 0]},
    ):
        png = engagement_png(data)
        assert cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).shape == (360, 480, 3)


# ---------------------------------------------------------------------------- the supervisor's side
def test_show_link_carries_status_and_commands_over_the_unix_socket() -> None:
    """ShowLink (the show) <-> SupervisorPanel (the supervisor), as in --supervise."""
    panel = SupervisorPanel(WebConfig(enabled=True, port=0, token=TOKEN))
    assert panel.start()
    show, queue = FakeShow(), c.CommandQueue()
    feed = PanelFeed(show, queue, WebConfig(enabled=True))
    feed.start(panel.path)
    client = Client(panel.server.port)
    try:
        assert client.json("GET", "/api/status")[1]["state"] == "starting"
        assert client.json("POST", "/api/snapshot", token=TOKEN)[0] == 503  # no show yet: try again
        feed.tick(0.0)
        assert wait_for(lambda: client.json("GET", "/api/status")[1]["state"] == "running", 5.0)
        status = client.json("GET", "/api/status")[1]
        assert status["supervised"] is True and status["preset_file"] == "1-gallery"
        assert client.request("GET", "/api/thumbnail.jpg")[0] == 200
        assert client.json("POST", "/api/preset", body='{"name": "4-club"}', token=TOKEN)[0] == 202
        assert wait_for(lambda: len(queue) == 1, 5.0)
        assert queue.drain() == [c.SwitchPreset("4-club", quantised=False)]
        feed.close()  # the show exits: its connection closes
        assert wait_for(lambda: client.json("GET", "/api/status")[1]["state"] == "restarting", 5.0)
        assert client.json("POST", "/api/snapshot", token=TOKEN)[0] == 503
        feed = PanelFeed(show, queue, WebConfig(enabled=True))  # the next show connects
        feed.start(panel.path)
        feed.tick(0.0)
        assert wait_for(lambda: client.json("GET", "/api/status")[1]["state"] == "running", 5.0)
    finally:
        feed.close()
        panel.close()
    assert not Path(panel.path).exists()


def test_link_server_drops_a_peer_that_sends_garbage() -> None:
    import asyncio
    import socket
    import struct

    folder = tempfile.mkdtemp(prefix="reverie-test-")
    path = os.path.join(folder, "s.sock")
    state = PanelState(supervised=True)
    server = LinkServer(path, state)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        sock.sendall(struct.pack(">cI", b"F", 2**30))  # a 1 GB frame: refused without reading it
        sock.settimeout(5)
        assert sock.recv(10) == b""  # closed by the server
        sock.close()
        assert state.latest()[0] is None
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        os.unlink(path)
        os.rmdir(folder)


def test_show_link_keeps_trying_until_the_supervisor_is_there() -> None:
    """A show that starts before the supervisor's socket exists connects once it does."""
    import socket

    from installation.slot import LatestSlot
    from installation.web.frame import PanelFrame
    from installation.web.link import HEADER

    folder = tempfile.mkdtemp(prefix="reverie-test-")
    path = os.path.join(folder, "late.sock")
    frames: LatestSlot[PanelFrame] = LatestSlot()
    link = ShowLink(path, frames, c.CommandQueue())
    link.start()
    listener = socket.socket(socket.AF_UNIX)
    try:
        frames.put(PanelFrame(b"{}", None))
        assert not wait_for(lambda: link.sent > 0, 0.5)  # nobody to send to yet
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(10)
        conn, _ = listener.accept()
        conn.settimeout(10)
        while link.sent == 0:  # a frame made after connecting is sent
            frames.put(PanelFrame(b'{"fps": 1}', None))
            conn.recv(0)
            wait_for(lambda: link.sent > 0, 0.3)
        kind, n = HEADER.unpack(conn.recv(HEADER.size, socket.MSG_WAITALL))
        assert kind == b"F" and n > 4
        conn.close()
    finally:
        link.close()
        listener.close()
        Path(path).unlink(missing_ok=True)
        os.rmdir(folder)
    assert not link._thread.is_alive()


def test_docs_list_exactly_the_routes_the_server_serves() -> None:
    import re

    from installation.web.server import ROUTES

    docs = (Path(__file__).resolve().parent.parent / "docs" / "web.md").read_text()
    table = set(re.findall(r"^\| (GET|POST) \| `([^`]+)` \|", docs, re.MULTILINE))
    assert table == {(method, path) for method, path, _ in ROUTES}


def test_a_silent_show_reads_as_restarting() -> None:
    """A hung show (SIGSTOP) keeps its socket open but sends nothing: after stale_s it is 'restarting'."""
    state = PanelState(supervised=True, stale_s=0.3)
    assert state.state() == "starting"
    state.publish(b'{"fps": 30, "presets": ["a"]}', b"")
    assert state.state() == "running" and state.names("presets") == ["a"]
    assert wait_for(lambda: state.state() == "restarting", 3.0)
    state.publish(b'{"fps": 30}', b"")
    assert state.state() == "running"
    state.set_connected(False)
    assert state.state() == "restarting"
    with pytest.raises(ValueError):
        state.publish(b"[1]", b"")
