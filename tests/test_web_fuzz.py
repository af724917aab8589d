"""Fuzz the web panel's API with hypothesis: any method, path, token, header and body gets one of
the documented answers with a JSON error where it fails, only well-formed commands reach the
queue, and the server keeps serving (raw garbage on the TCP port included)."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from installation.config import WebConfig
from installation.control import commands as c
from installation.slot import LatestSlot
from installation.web.feed import PanelFeed
from installation.web.link import ShowLink, frame, parse_frames, split_status
from installation.web.server import RateLimiter
from tests.runner import wait_for
from tests.test_web import MODELS, PRESETS, TOKEN, FakeShow

PATHS = [
    "/",
    "/api/status",
    "/api/history",
    "/api/thumbnail.jpg",
    "/api/log",
    "/api/engagement.png",
    "/api/preset",
    "/api/model",
    "/api/snapshot",
    "/api/record",
]
ANSWERS = {200, 202, 400, 401, 404, 405, 413, 503}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[PanelFeed, c.CommandQueue, int]]:
    queue = c.CommandQueue()
    feed = PanelFeed(FakeShow(), queue, WebConfig(enabled=True, port=0, token=TOKEN))
    feed.start()
    assert feed._server is not None
    feed._server.limiter = RateLimiter(1e6, 1e6)  # the rate limit has its own test; here every request is parsed
    feed.tick(0.0)
    assert feed.state is not None and wait_for(lambda: feed.state.state() == "running", 5.0)
    feed.state.stale_s = 1e9  # no feed ticks during the fuzz: keep the show "running"
    yield feed, queue, feed._server.port
    feed.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"name": st.sampled_from(PRESETS + MODELS) | st.text(max_size=40)}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.fixed_dictionaries({"on": json_values}).map(lambda v: json.dumps(v).encode()),
    st.integers(5000, 20000).map(lambda n: b'{"name": "' + b"a" * n + b'"}'),
)
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method_path=st.one_of(
        st.sampled_from(PATHS[6:]).map(lambda p: ("POST", p)),
        st.sampled_from(PATHS[6:]).map(lambda p: ("POST", p)),
        st.sampled_from(PATHS[:6]).map(lambda p: ("GET", p)),
        st.tuples(
            st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
            st.sampled_from(PATHS) | header_text.map(lambda t: "/" + t.replace(" ", "%20")),
        ),
    ),
    token=st.sampled_from([TOKEN] * 4 + [None, "wrong", ""]) | header_text,
    content_type=st.sampled_from([None, "application/json", "text/plain", "multipart/form-data; boundary=x"]),
    body=bodies,
)
def test_any_request_gets_a_documented_answer(served, method_path, token, content_type, body) -> None:
    _feed, queue, port = served
    method, path = method_path
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        headers["Content-Type"] = content_type
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    event(f"answer {response.status}")
    assert response.status in ANSWERS, (response.status, data[:200])
    if response.status >= 400 and method != "HEAD":
        assert "error" in json.loads(data), data[:200]
    if response.status == 202:
        assert method == "POST" and token == TOKEN
    for command in queue.drain():  # only whole, known commands with checked names
        match command:
            case c.SwitchPreset(spec=spec):
                assert spec in PRESETS
            case c.SwitchModel(spec=spec):
                assert spec in MODELS
            case c.SetRecording(on=on):
                assert isinstance(on, bool)
            case c.Snapshot():
                pass
            case _:
                raise AssertionError(f"unexpected command {command!r}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=2000))
def test_raw_garbage_on_the_port_does_not_hurt_the_server(served, garbage) -> None:
    _, _, port = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(garbage)
        sock.shutdown(socket.SHUT_WR)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/status")
    assert conn.getresponse().status == 200
    conn.close()


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=64)
    | st.lists(st.tuples(st.sampled_from([b"F", b"C", b"X"]), st.binary(max_size=40)), max_size=4).map(
        lambda fs: b"".join(frame(k, p) for k, p in fs)
    )
)
def test_supervisor_link_frames_parse_or_refuse_cleanly(data) -> None:
    """Bytes on the show's socket: whole frames come out, the rest waits, and nothing else is raised."""
    buffer = bytearray(data)
    try:
        frames = parse_frames(buffer)
    except ValueError:
        return
    assert all(isinstance(kind, bytes) and len(kind) == 1 for kind, _ in frames)
    assert len(buffer) < len(data) + 1
    for kind, payload in frames:
        if kind == b"F":
            try:
                split_status(payload)
            except ValueError:
                pass


@settings(max_examples=300, deadline=None)
@given(
    payload=json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=60)
    | st.fixed_dictionaries(
        {
            "action": st.sampled_from(["preset", "model", "snapshot", "record", "x"]),
            "name": json_values,
            "on": json_values,
        }
    ).map(lambda v: json.dumps(v).encode())
)
def test_commands_from_the_supervisor_become_known_commands_or_nothing(payload) -> None:
    queue = c.CommandQueue()
    link = ShowLink("/nonexistent", LatestSlot(), queue)  # not started: only its command parser runs
    link._command(b"C", payload)
    for command in queue.drain():
        assert isinstance(command, (c.SwitchPreset, c.SwitchModel, c.Snapshot, c.SetRecording))
        if isinstance(command, (c.SwitchPreset, c.SwitchModel)):
            assert isinstance(command.spec, str) and command.spec and not command.quantised
