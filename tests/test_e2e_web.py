"""The web panel in a running show: a client hammering the API is rate-limited and the show's frame
rate holds; and the issue's own command line serves the page and the API."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

from tests.runner import read_stats, start_main, stop_main, wait_stats
from tests.test_web_browser import free_tcp_port

FPS = 30
COMMON = (
    "--headless",
    "--camera",
    "none",
    "--mic",
    "none",
    "--set",
    "display.size=[320, 180]",
    "--set",
    f"display.fps={FPS}",
    "--set",
    "midi.enabled=false",
    "--set",
    "osc.enabled=false",
    "--set",
    "stats.interval_s=0.5",
    "--set",
    "web.enabled=true",
    "--set",
    "web.token=T",
)


def hammer(port: int, stop: threading.Event, counts: dict[int, int], lock: threading.Lock, fresh: bool) -> None:
    """Requests as fast as the server answers: keep-alive reads and writes, or a new connection each time."""
    conn = None
    i = 0
    while not stop.is_set():
        try:
            if conn is None or fresh:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            if i % 3 == 2:
                conn.request("POST", "/api/preset", body=b'{"name": "nope"}', headers={"Authorization": "Bearer T"})
            else:
                conn.request("GET", "/api/status" if i % 3 == 0 else "/api/thumbnail.jpg")
            response = conn.getresponse()
            response.read()
            with lock:
                counts[response.status] = counts.get(response.status, 0) + 1
            if fresh:
                conn.close()
        except (OSError, http.client.HTTPException):
            conn = None
        i += 1


def median_fps(records: list[dict]) -> float:
    values = sorted(r["fps"] for r in records)
    return values[len(values) // 2] if values else 0.0


def stretch(stats: Path, seconds: float) -> list[dict]:
    """The stats lines written during the next `seconds`."""
    start = len(read_stats(stats))
    time.sleep(seconds)
    return read_stats(stats)[start:]


def test_a_flood_of_requests_never_slows_the_show(tmp_path: Path) -> None:
    """Quiet, flood, quiet: the flood's frame rate is compared with the quiet stretches on either side,
    so the other work on a busy CI machine counts against neither."""
    port = free_tcp_port()
    stats = tmp_path / "stats.jsonl"
    proc = start_main(*COMMON, "--stats", str(stats), "--set", f"web.port={port}", log_path=tmp_path / "show.log")
    stop, lock, counts = threading.Event(), threading.Lock(), {}
    try:
        wait_stats(stats, lambda s: s["t_s"] > 4 and s["fps"] > 0, 90, proc)  # past start-up
        before = stretch(stats, 5.0)
        threads = [
            threading.Thread(target=hammer, args=(port, stop, counts, lock, i == 0), daemon=True) for i in range(32)
        ]
        for thread in threads:
            thread.start()
        time.sleep(2.0)  # the flood is under way
        flood = stretch(stats, 6.0)
        stop.set()
        for thread in threads:
            thread.join(10)
        after = stretch(stats, 5.0)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/api/status")  # the panel still answers once the flood is over
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["state"] == "running"
        conn.close()
    finally:
        stop.set()
        code = stop_main(proc)
    log = (tmp_path / "show.log").read_text()
    assert code == 0, log[-3000:]
    assert counts.get(429, 0) > 20 and counts.get(200, 0) > 20, counts  # the flood happened and was refused
    assert len(before) >= 8 and len(flood) >= 10 and len(after) >= 8
    quiet_fps = min(median_fps(before), median_fps(after))
    print(
        f"median fps: quiet {median_fps(before):.1f} / {median_fps(after):.1f}, under the flood "
        f"{median_fps(flood):.1f} {[r['fps'] for r in flood]}; answers {counts}"
    )
    assert median_fps(flood) >= 0.9 * quiet_fps, (
        f"the flood slowed the show: {quiet_fps:.1f} -> {median_fps(flood):.1f} fps"
    )
    assert log.count("sends more than 20 requests a second") <= 2  # once a minute per client, not per request


def test_the_issues_command_line_serves_page_and_api(tmp_path: Path) -> None:
    """`python main.py --headless --set web.enabled=true --set web.token=T`: 127.0.0.1:8080 unless taken."""
    port = 8080
    try:
        with socket_bound(port):
            pass
    except OSError:
        port = free_tcp_port()  # a CI machine may run something on 8080; the defaults are checked in test_web
    proc = start_main(
        "--headless",
        "--set",
        "web.enabled=true",
        "--set",
        "web.token=T",
        "--camera",
        "none",
        "--mic",
        "none",
        "--set",
        "midi.enabled=false",
        "--set",
        "osc.enabled=false",
        "--set",
        f"web.port={port}",
        "--set",
        "display.size=[320, 180]",
        log_path=tmp_path / "show.log",
    )
    try:
        deadline = time.monotonic() + 90
        status: dict = {}
        while time.monotonic() < deadline and status.get("state") != "running":
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/status")
                status = json.loads(conn.getresponse().read())
                conn.close()
            except (OSError, ValueError):
                assert proc.poll() is None, (tmp_path / "show.log").read_text()[-2000:]
            time.sleep(0.5)
        assert status["state"] == "running" and status["preset_file"] in status["presets"]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        assert b"Reverie" in conn.getresponse().read()
        conn.request("POST", "/api/preset", body=b'{"name": "4-club"}', headers={"Authorization": "Bearer T"})
        assert conn.getresponse().status == 202
        conn.close()
    finally:
        assert stop_main(proc) == 0
    assert f"web panel: http://127.0.0.1:{port}/" in (tmp_path / "show.log").read_text()


def socket_bound(port: int):
    import socket

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    return s
