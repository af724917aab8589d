"""The whole show as a process: video file as camera, WAV as microphone, headless, recorded."""

import re

import imageio_ffmpeg
import numpy as np

from tests.media import write_still_then_moving, write_test_wav
from tests.runner import read_stats, run_main

SECONDS = 8.0
FPS = 30
SIZE = (320, 180)


def test_headless_show_records_an_animating_mp4_and_sound_speeds_it_up(tmp_path):
    video = write_still_then_moving(tmp_path / "room.avi")  # still 2 s, moving 2 s, looping
    # 4 s of near-silence, then 4 s of a loud tone; the file loops, so the show hears both.
    wav = write_test_wav(tmp_path / "room.wav", segments=[(4.0, 0.0005, 220.0), (4.0, 0.7, 220.0)])
    out, stats_path = tmp_path / "out.mp4", tmp_path / "stats.jsonl"
    proc = run_main(
        "--headless",
        "--seconds",
        str(SECONDS),
        "--record",
        str(out),
        "--camera",
        str(video),
        "--mic",
        str(wav),
        "--stats",
        str(stats_path),
        "--set",
        f"display.size=[{SIZE[0]}, {SIZE[1]}]",
        "--set",
        f"display.fps={FPS}",
        "--set",
        "stats.interval_s=0.25",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    # The MP4: H.264, the size of the screen, one frame per 1/FPS of wall-clock show time.
    assert out.exists() and out.stat().st_size > 10_000
    written = int(re.search(r"recording finished: .*?, (\d+) frames written", proc.stderr).group(1))
    n_frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n_frames == written
    assert SECONDS * FPS * 0.9 <= n_frames <= SECONDS * FPS + 2
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = reader.__next__()
    assert meta["size"] == SIZE and "h264" in meta["codec"]
    frames = np.stack([np.frombuffer(f, np.uint8).reshape(SIZE[1], SIZE[0], 3) for f in reader]).astype(np.int16)
    assert frames.std(axis=(1, 2, 3)).min() > 10, "a blank frame was recorded"
    diffs = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    assert (diffs > 0.05).mean() > 0.5, "most consecutive frames are identical: the show is not animating"
    second_apart = np.abs(frames[FPS:] - frames[:-FPS]).mean(axis=(1, 2, 3))
    assert second_apart.min() > 0.5, "the picture stood still for a second"

    # Stats: sources are live, and loud sound moves the latent faster than near-silence.
    stats = read_stats(stats_path)
    assert len(stats) >= 24
    last = stats[-1]
    assert last["sources"]["camera"]["state"] == "live" and last["sources"]["microphone"]["state"] == "live"
    for key in ("fps", "generator_fps", "latency_ms_p50", "latency_ms_p95", "features", "preset", "model"):
        assert key in last
    assert max(s["features"]["motion"] for s in stats) > 0.1  # the camera video reached the senses
    # Compare while the camera is still, so only the sound differs.
    still = [s for s in stats[2:] if s["features"]["motion"] < 0.01]
    quiet = [s["latent_speed"] for s in still if s["features"]["loudness"] < 0.05]
    loud = [s["latent_speed"] for s in still if s["features"]["loudness"] > 0.8]
    assert len(quiet) >= 2 and len(loud) >= 2, [(s["features"]["loudness"], s["features"]["motion"]) for s in stats]
    assert np.median(loud) > 2.0 * np.median(quiet), (quiet, loud)


def test_record_fps_sets_the_recordings_frame_rate_not_the_shows(tmp_path):
    """record.fps = 15 on a 30 fps show: a 15 fps MP4 as long as the show (the encoder's CPU halves)."""
    out, stats_path = tmp_path / "half.mp4", tmp_path / "stats.jsonl"
    proc = run_main(
        "--headless",
        "--seconds",
        "4",
        "--record",
        str(out),
        "--camera",
        "none",
        "--mic",
        "none",
        "--stats",
        str(stats_path),
        "--set",
        "display.size=[192, 108]",
        "--set",
        "display.fps=30",
        "--set",
        "record.fps=15",
        "--set",
        "stats.interval_s=0.5",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    n_frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert 3.0 <= seconds <= 5.0 and abs(n_frames / seconds - 15) < 1.0, (n_frames, seconds)
    assert max(s["fps"] for s in read_stats(stats_path)) > 20  # the show itself kept its own, faster rate
