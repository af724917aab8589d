"""The running show played over OSC: parameters, presets on the bar, snapshot, recording on and off,
tempo, garbage on the port; and two shows on loopback, leader and follower, rendering one picture."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from pythonosc.udp_client import SimpleUDPClient

from tests.runner import free_udp_port, start_main, stop_main, wait_stats

COMMON = (
    "--headless",
    "--camera",
    "none",
    "--mic",
    "none",
    "--set",
    "display.size=[192, 108]",
    "--set",
    "display.fps=30",
    "--set",
    "stats.interval_s=0.2",
    "--set",
    "midi.enabled=false",
)


def show(tmp_path: Path, name: str, *extra: str):
    port = free_udp_port()
    stats = tmp_path / f"{name}.jsonl"
    proc = start_main(
        *COMMON,
        "--stats",
        str(stats),
        "--set",
        f"osc.port={port}",
        "--set",
        f'run.snapshot_dir="{tmp_path / name}-snaps"',
        "--set",
        f'record.dir="{tmp_path / name}-rec"',
        *extra,
        log_path=tmp_path / f"{name}.log",
    )
    return proc, stats, port, SimpleUDPClient("127.0.0.1", port)


def test_osc_plays_the_running_show(tmp_path: Path) -> None:
    proc, stats, port, osc = show(tmp_path, "show", "--set", 'run.preset="1-gallery"')
    try:
        wait_stats(stats, lambda s: s["frames"] > 10, 60, proc)
        osc.send_message("/reverie/param/trails", 0.8)
        osc.send_message("/reverie/param/hue_shift", -0.5)
        s = wait_stats(stats, lambda s: s["live"]["overrides"].get("trails") == 0.8, 10, proc)
        assert s["params"]["trails"] >= 0.8 and s["params"]["hue_shift"] <= -0.5

        osc.send_message("/reverie/tempo", 240.0)  # a bar is 1 s: the preset changes on the next one
        osc.send_message("/reverie/preset", "4-club")
        s = wait_stats(stats, lambda s: s["live"]["pending"] == "4-club" or s["preset"] == "Club", 10, proc)
        s = wait_stats(stats, lambda s: s["preset"] == "Club", 10, proc)
        assert s["live"]["tempo"]["source"] == "osc" and s["live"]["tempo"]["bpm"] == 240.0
        osc.send_message("/reverie/preset", 1)  # by index, as key 1
        wait_stats(stats, lambda s: s["preset"] == "Gallery", 10, proc)

        osc.send_message("/reverie/snapshot", [])
        osc.send_message("/reverie/record", 1)
        wait_stats(stats, lambda s: s.get("record", {}).get("written", 0) >= 45, 20, proc)
        osc.send_message("/reverie/record", 0)

        # garbage and floods on the port: logged, counted, the show goes on
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rng = random.Random(1)
        for _ in range(3000):
            raw.sendto(rng.randbytes(rng.randint(0, 200)), ("127.0.0.1", port))
        for i in range(2000):
            osc.send_message(f"/reverie/junk/{i % 50}", "x")
            osc.send_message("/reverie/param/zoom", "not a number")
        raw.close()
        before = wait_stats(stats, lambda s: True, 5, proc)
        s = wait_stats(
            stats, lambda s: s["frames"] > before["frames"] + 30 and s["live"]["osc"]["rejected"] > 1000, 20, proc
        )
        assert s["fps"] > 10
    finally:
        code = stop_main(proc)
    log = (tmp_path / "show.log").read_text()
    assert code == 0, log[-3000:]
    assert log.count("unknown address '/reverie/junk/1'") == 1  # once a minute, not once a message
    snaps = list((tmp_path / "show-snaps").glob("snapshot-*.png"))
    assert len(snaps) == 1 and cv2.imread(str(snaps[0])).std() > 5, "snapshot missing or flat"
    videos = list((tmp_path / "show-rec").glob("*.mp4"))
    assert len(videos) == 1, log[-2000:]
    reader = imageio_ffmpeg.read_frames(str(videos[0]))
    meta = next(reader)  # the first item describes the file
    assert tuple(meta["size"]) == (192, 108)
    arrays = [np.frombuffer(f, np.uint8).astype(np.float32) for f in reader]
    assert len(arrays) >= 45
    assert np.mean([a.std() for a in arrays]) > 5, "recording is flat"
    assert np.abs(arrays[0] - arrays[-1]).mean() > 1.0, "recording is frozen"


def snapshot_pair(tmp_path: Path, ports: list[int], names: list[str]) -> list[np.ndarray]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    from pythonosc.osc_message_builder import OscMessageBuilder

    dgram = OscMessageBuilder("/reverie/snapshot").build().dgram
    for port in ports:  # as close together as two datagrams go
        sock.sendto(dgram, ("127.0.0.1", port))
    sock.close()
    pictures = []
    for name in names:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not list((tmp_path / f"{name}-snaps").glob("*.png")):
            time.sleep(0.05)
        path = sorted((tmp_path / f"{name}-snaps").glob("*.png"))[-1]
        pictures.append(cv2.imread(str(path)).astype(np.float32))
        path.unlink()
    return pictures


# A colour model: the panorama check compares mean grey levels, and a field model's picture is mostly
# the same paper whichever character is on it.
SAME_MODEL = ("--set", 'generator.model="vae-emoji"')


def test_leader_and_followers_render_one_picture(tmp_path: Path) -> None:
    f_port, p_port = free_udp_port(), free_udp_port()
    leader_args = (
        "--set",
        'sync.role="leader"',
        "--set",
        f'sync.followers=["127.0.0.1:{f_port}", "127.0.0.1:{p_port}"]',
        "--set",
        "mapping.seed=1",
        "--set",
        'run.preset="1-gallery"',
        *SAME_MODEL,
    )
    leader, _l_stats, l_port, l_osc = show(tmp_path, "leader", *leader_args)
    follower = start_main(
        *COMMON,
        "--stats",
        str(tmp_path / "follower.jsonl"),
        "--set",
        f"osc.port={f_port}",
        "--set",
        'sync.role="follower"',
        "--set",
        "mapping.seed=99",
        "--set",
        'run.preset="1-gallery"',
        *SAME_MODEL,
        "--set",
        f'run.snapshot_dir="{tmp_path / "follower"}-snaps"',
        log_path=tmp_path / "follower.log",
    )
    pano = start_main(
        *COMMON,
        "--stats",
        str(tmp_path / "pano.jsonl"),
        "--set",
        f"osc.port={p_port}",
        "--set",
        'sync.role="follower"',
        "--set",
        "sync.offset=1.0",
        "--set",
        "mapping.seed=1",
        "--set",
        'run.preset="1-gallery"',
        *SAME_MODEL,  # all three start as the leader does
        "--set",
        f'run.snapshot_dir="{tmp_path / "pano"}-snaps"',
        log_path=tmp_path / "pano.log",
    )
    procs = [leader, follower, pano]
    try:
        for path, proc in ((tmp_path / "follower.jsonl", follower), (tmp_path / "pano.jsonl", pano)):
            wait_stats(path, lambda s: s["live"]["sync"]["following"] and s["frames"] > 20, 90, proc)
        l_osc.send_message("/reverie/param/speed", 0.05)  # a slow walk: a frame apart looks the same
        l_osc.send_message("/reverie/param/grain", 0.0)  # film grain is noise, different on every screen
        l_osc.send_message("/reverie/tempo", 128.0)  # the followers' beat grid follows the leader's
        l_osc.send_message("/reverie/preset", "3-touch-garden")  # followers switch with the leader
        wait_stats(tmp_path / "follower.jsonl", lambda s: s["preset"] == "Touch garden", 20, follower)
        s = wait_stats(tmp_path / "follower.jsonl", lambda s: s["live"]["tempo"]["source"] == "sync", 10, follower)
        assert s["live"]["tempo"]["bpm"] == pytest.approx(128.0)
        wait_stats(tmp_path / "pano.jsonl", lambda s: s["preset"] == "Touch garden", 20, pano)
        time.sleep(3.0)  # crossfades over
        leader_pic, follower_pic, pano_pic = snapshot_pair(
            tmp_path, [l_port, f_port, p_port], ["leader", "follower", "pano"]
        )
        same = float(np.abs(leader_pic - follower_pic).mean())
        neighbour = float(np.abs(leader_pic - pano_pic).mean())
        assert same < 2.0, f"follower differs from its leader by {same:.1f} grey levels"
        assert neighbour > 2 * same and neighbour > 4.0, (
            f"the panorama neighbour is not a different region ({neighbour:.1f})"
        )

        stop_main(leader)  # the leader goes: followers carry on alone
        gone = wait_stats(tmp_path / "follower.jsonl", lambda s: True, 5, follower)["frames"]
        s = wait_stats(
            tmp_path / "follower.jsonl",
            lambda s: s["frames"] > gone and not s["live"]["sync"]["following"],
            15,
            follower,
        )
        frames = s["frames"]
        wait_stats(tmp_path / "follower.jsonl", lambda s: s["frames"] > frames + 30, 15, follower)
    finally:
        codes = [stop_main(p) for p in procs]
    assert codes == [0, 0, 0], (tmp_path / "follower.log").read_text()[-2000:]
    assert "no word from the leader" in (tmp_path / "follower.log").read_text()


@pytest.mark.parametrize("spec", ["not-a-preset", "99"])
def test_bad_preset_names_over_osc_are_reported_and_ignored(tmp_path: Path, spec: str) -> None:
    proc, stats, _, osc = show(tmp_path, "show", "--set", 'tempo.quantise="off"')
    try:
        wait_stats(stats, lambda s: s["frames"] > 5, 60, proc)
        for _ in range(20):  # a controller repeating a bad name: said once, not twenty times
            osc.send_message("/reverie/preset", spec)
        osc.send_message("/reverie/model", "../../etc/passwd")
        osc.send_message("/reverie/tap", [])
        wait_stats(stats, lambda s: s["live"]["commands"]["received"] >= 3, 10, proc)
        before = wait_stats(stats, lambda s: True, 5, proc)
        wait_stats(stats, lambda s: s["frames"] > before["frames"] + 10, 10, proc)
    finally:
        code = stop_main(proc)
    log = (tmp_path / "show.log").read_text()
    assert code == 0
    assert log.count("not switched") == 2 and "model '../../etc/passwd' not switched: unknown" in log


def test_the_running_show_goes_out_over_ndi(tmp_path: Path) -> None:
    """Video out from the real show: an NDI receiver on loopback sees the show's own moving picture."""
    import uuid

    from tests.test_video_out import ndi_receiver

    name = f"reverie-e2e-{uuid.uuid4().hex[:8]}"
    proc, stats, _, osc = show(
        tmp_path,
        "show",
        "--set",
        'video_out.backend="ndi"',
        "--set",
        f'video_out.name="{name}"',
        "--set",
        "video_out.size=[160, 90]",
    )
    try:
        wait_stats(stats, lambda s: s["live"].get("video_out", {}).get("sent", 0) > 5, 60, proc)
        osc.send_message("/reverie/param/speed", 20.0)  # a fast walk: consecutive received frames differ
        received: list[np.ndarray] = []
        with ndi_receiver(name, timeout_s=10.0) as (ndi, receiver):
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and len(received) < 20:
                kind, video, _, _ = ndi.recv_capture_v2(receiver, 100)
                if kind == ndi.FRAME_TYPE_VIDEO:
                    received.append(np.copy(video.data)[..., :3].astype(np.float32))
                    ndi.recv_free_video_v2(receiver, video)
    finally:
        code = stop_main(proc)
    assert code == 0
    assert len(received) >= 20, f"only {len(received)} NDI frames received"
    assert received[0].shape == (90, 160, 3)
    assert np.mean([f.std() for f in received]) > 5, "the NDI picture is flat"
    assert np.abs(received[0] - received[-1]).mean() > 1.0, "the NDI picture is frozen"
