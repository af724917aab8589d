"""OSC in and out over real UDP sockets: routing, bad input, flooding, allow-list, docs, features out."""

from __future__ import annotations

import logging
import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc import osc_packet
from pythonosc.udp_client import SimpleUDPClient

from installation.config import OscConfig
from installation.control import commands as c
from installation.control.osc import OscServer
from installation.control.osc_addresses import IN_ADDRESSES, OUT_ADDRESSES, SPECIAL_IN, OscArgError, route
from installation.control.osc_out import FeatureOut
from installation.control.sync_wire import decode_sync, encode_sync
from installation.mapping.names import PARAMETERS
from installation.slot import LatestSlot

DOC = Path(__file__).resolve().parent.parent / "docs" / "osc.md"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    queue = c.CommandQueue(maxlen=64)
    srv = OscServer(OscConfig(port=free_port()), queue, LatestSlot())
    assert srv.start()
    yield srv, queue, SimpleUDPClient("127.0.0.1", srv.port)
    srv.close()


def wait_for_commands(queue: c.CommandQueue, n: int, timeout_s: float = 3.0) -> list[c.Command]:
    """At least n commands from the queue (fewer when timeout_s passes first)."""
    got: list[c.Command] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        got += queue.drain()
        time.sleep(0.01)
    return got


def test_every_address_routes_with_valid_arguments() -> None:
    samples = {
        "name or index": ["4-club"],
        "name": ["vae-emoji"],
        "float": [0.5],
        "[size]": [2.0],
        "dx dy": [0.1, -0.2],
        "bpm": [128.0],
        "beats": [0.25],
        "[0 or 1]": [1],
        "target": ["speed"],
        "float ...": [0.1, 0.9],
        "": [],
    }
    for address, spec in IN_ADDRESSES.items():
        command = route(address, samples[spec.args], 1.0)
        assert command is not None, address
    assert route("/reverie/preset", [3], 0.0) == c.SwitchPreset("3")
    assert route("/reverie/preset", [3.0], 0.0) == c.SwitchPreset("3")  # TouchOSC sends floats
    assert route("/reverie/param/trails", [1], 0.0) == c.SetParam("trails", 1.0)
    assert route("/reverie/tap", [], 5.5) == c.Tap(5.5)
    assert route("/reverie/record", [], 0.0) == c.SetRecording(None)
    assert route("/reverie/record", [0], 0.0) == c.SetRecording(False)


@pytest.mark.parametrize(
    "address,args",
    [
        ("/reverie/param/speed", ["fast"]),
        ("/reverie/param/speed", []),
        ("/reverie/param/speed", [float("nan")]),
        ("/reverie/param/speed", [True]),
        ("/reverie/model", [3]),
        ("/reverie/preset", []),
        ("/reverie/latent/drag", [1.0]),
        ("/reverie/midi/learn", ["rm -rf"]),
        ("/reverie/tempo", ["x"]),
    ],
)
def test_wrong_arguments_are_refused_with_what_was_expected(address: str, args: list[object]) -> None:
    with pytest.raises(OscArgError, match="expected"):
        route(address, args, 0.0)


def test_messages_over_udp_become_commands(server) -> None:
    srv, queue, client = server
    client.send_message("/reverie/preset", "4-club")
    client.send_message("/reverie/param/speed", 3.0)
    client.send_message("/reverie/latent/walk_speed", 2)
    client.send_message("/reverie/snapshot", [])
    got = wait_for_commands(queue, 4)
    assert got[0] == c.SwitchPreset("4-club")
    assert got[1] == c.SetParam("speed", 3.0)
    assert got[2] == c.SetParam("speed", 2.0)
    assert got[3] == c.Snapshot()
    assert srv.received == 4 and srv.rejected == 0


def test_bad_messages_are_logged_once_per_address_and_never_stop_the_server(server, caplog) -> None:
    srv, queue, client = server
    caplog.set_level(logging.WARNING, "installation.control.osc")
    for _ in range(50):
        client.send_message("/reverie/nope", 1.0)
        client.send_message("/reverie/param/speed", "fast")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for payload in (
        b"",
        b"\x00" * 7,
        b"/reverie\x00\x00\x00\x00,f\x00\x00",
        b"#bundle\x00" + b"\xff" * 40,
        b"/K>K\x03\xc2\x17\x006(\xdd\\\x8f",
    ):  # the last made python-osc raise UnicodeDecodeError
        sock.sendto(payload, ("127.0.0.1", srv.port))
    client.send_message("/reverie/tap", [])
    got = wait_for_commands(queue, 1)
    sock.close()
    assert isinstance(got[-1], c.Tap)
    deadline = time.monotonic() + 2
    while srv.rejected < 105 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.rejected == 105
    unknown = [r for r in caplog.records if "unknown address '/reverie/nope'" in r.getMessage()]
    wrong = [r for r in caplog.records if "/reverie/param/speed" in r.getMessage()]
    assert len(unknown) == 1 and len(wrong) == 1  # rate limited: once a minute per address
    assert "expected a number" in wrong[0].getMessage()


def test_a_flood_keeps_the_queue_bounded_and_the_server_alive(server) -> None:
    srv, queue, client = server
    for i in range(5000):
        client.send_message("/reverie/param/trails", (i % 100) / 100)
    time.sleep(0.5)
    assert len(queue) <= 64
    assert queue.dropped > 0 and queue.dropped + len(queue) == srv.received
    queue.drain(1000)
    client.send_message("/reverie/tap", [])
    assert any(isinstance(x, c.Tap) for x in wait_for_commands(queue, 1))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_datagrams_never_raise(data: bytes) -> None:
    srv = OscServer(OscConfig(), c.CommandQueue(), None)  # not started: datagrams handed in directly
    srv.handle_datagram(data, "127.0.0.1", 0.0)
    srv.handle_datagram(b"/reverie/param/zoom\x00,f\x00\x00" + data, "127.0.0.1", 0.0)


def test_lan_senders_need_the_allow_list_or_the_secret() -> None:
    from pythonosc.osc_message_builder import OscMessageBuilder

    def msg(address: str, *args: object) -> bytes:
        b = OscMessageBuilder(address)
        for a in args:
            b.add_arg(a)
        return b.build().dgram

    queue = c.CommandQueue()
    srv = OscServer(OscConfig(host="0.0.0.0", allow=("192.168.1.0/24",), secret="opensesame"), queue)
    srv.handle_datagram(msg("/reverie/tap"), "192.168.1.77", 0.0)
    srv.handle_datagram(msg("/reverie/tap"), "10.0.0.5", 0.0)  # not allowed
    srv.handle_datagram(msg("/reverie/auth", "wrong"), "10.0.0.5", 0.0)
    srv.handle_datagram(msg("/reverie/tap"), "10.0.0.5", 1.0)
    assert len(queue.drain()) == 1 and srv.rejected == 2
    srv.handle_datagram(msg("/reverie/auth", "opensesame"), "10.0.0.5", 0.0)
    srv.handle_datagram(msg("/reverie/tap"), "10.0.0.5", 2.0)
    assert queue.drain() == [c.Tap(2.0)]


def test_wekinator_and_sync_are_refused_unless_configured() -> None:
    from pythonosc.osc_message_builder import OscMessageBuilder

    queue = c.CommandQueue()
    srv = OscServer(OscConfig(), queue, None)
    b = OscMessageBuilder("/wek/outputs")
    b.add_arg(0.5)
    srv.handle_datagram(b.build().dgram, "127.0.0.1", 0.0)
    srv.handle_datagram(encode_sync(1, "p", "m", 120.0, 0.0, np.zeros(8), np.zeros(len(PARAMETERS))), "127.0.0.1", 0.0)
    assert srv.rejected == 2 and not queue.drain()
    wek = OscServer(OscConfig(wekinator=True), queue, None)
    wek.handle_datagram(b.build().dgram, "127.0.0.1", 0.0)
    assert queue.drain() == [c.WekinatorOutputs((0.5,))]


def test_sync_state_round_trips_and_rejects_garbage() -> None:
    z = np.linspace(-2, 2, 64).astype(np.float32)
    params = np.arange(len(PARAMETERS), dtype=np.float32)
    dgram = encode_sync(7, "4-club", "vae-emoji", 128.0, 17.25, z, params)
    message = osc_packet.OscPacket(dgram).messages[0].message
    state = decode_sync(list(message.params), 3.0)
    assert (state.seq, state.preset, state.model, state.bpm, state.position) == (7, "4-club", "vae-emoji", 128.0, 17.25)
    np.testing.assert_array_equal(state.z, z)
    np.testing.assert_array_equal(state.params, params)
    with pytest.raises(OscArgError):
        decode_sync([7, "a", "b", 1.0, 2.0, b"\x00\x00\x80\x7f", params.tobytes()], 0.0)  # z = inf
    with pytest.raises(OscArgError):
        decode_sync([7, "a"], 0.0)


def test_features_and_events_go_out_as_bundles() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(2.0)
        out = FeatureOut(OscConfig(send_port=rx.getsockname()[1], wekinator=True, wekinator_port=rx.getsockname()[1]))
        features = {
            "loudness": 0.25,
            "motion": 0.5,
            "beat_count": 3.0,
            "onset_count": 1.0,
            "tempo_bpm": 120.0,
            "chroma_0": 1.0,
        }
        out.tick(10.0, features, "Club", "vae-emoji")
        out.tick(10.001, {**features, "beat_count": 4.0}, "Club", "vae-emoji")  # a beat: sent at once
        received: dict[str, list[object]] = {}
        try:
            while True:
                data = rx.recv(65535)
                for m in osc_packet.OscPacket(data).messages:
                    received.setdefault(m.message.address, list(m.message.params))
        except TimeoutError:
            pass
        out.close()
    assert received["/reverie/features/loudness"] == [0.25]
    assert received["/reverie/features/motion"] == [0.5]
    assert received["/reverie/features/chroma"][0] == 1.0 and len(received["/reverie/features/chroma"]) == 12
    assert received["/reverie/event/beat"] == [4, 120.0]
    assert received["/reverie/state/preset"] == ["Club"]
    assert len(received["/wek/inputs"]) == len(OscConfig().wekinator_inputs)


def test_the_doc_lists_exactly_the_addresses_the_code_handles() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(/(?:reverie|wek)/[a-z_/]+)`", text))
    known = set(IN_ADDRESSES) | set(SPECIAL_IN) | set(OUT_ADDRESSES)
    assert known - documented == set(), "addresses missing from docs/osc.md"
    assert documented - known == set(), "docs/osc.md lists addresses the code does not handle"


def test_a_taken_port_is_reported_and_the_show_goes_on(caplog) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        srv = OscServer(OscConfig(port=busy.getsockname()[1]), c.CommandQueue())
        caplog.set_level(logging.ERROR)
        assert not srv.start()
    assert "goes on without OSC" in caplog.text and "osc.port" in caplog.text
    assert srv.status().startswith("OSC off")
    srv.close()
