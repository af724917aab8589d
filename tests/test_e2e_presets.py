"""Every shipped preset, run as the real show: video file as camera, WAV as microphone, recorded.

The camera is still for 2 s then moving for 2 s (looping); the sound is near-silent for 4 s then
loud for 4 s. From --stats: louder sound and more motion each move the latent measurably more than
their absence. Touch is covered in-process below (a headless subprocess has no pointer)."""

import imageio_ffmpeg
import numpy as np
import pygame
import pytest

from installation.app import App
from installation.config import load_config
from installation.mapping.presets import list_presets
from tests.media import write_still_then_moving, write_test_wav
from tests.runner import read_stats, run_main

PRESETS = list_presets()
RATIO = 1.3  # "measurably more"


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    video = write_still_then_moving(d / "room.avi")
    wav = write_test_wav(d / "music.wav", segments=[(4.0, 0.0005, 110.0), (4.0, 0.6, 110.0)])
    return video, wav


def median_speed(stats, keep):
    values = [s["latent_speed"] for s in stats[2:] if keep(s["features"])]
    return float(np.median(values)) if len(values) >= 2 else None


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_responds_to_sound_and_motion_in_the_running_show(preset, media, tmp_path):
    video, wav = media
    out, stats_path = tmp_path / "out.mp4", tmp_path / "stats.jsonl"
    proc = run_main(
        "--headless",
        "--seconds",
        "9",
        "--record",
        str(out),
        "--camera",
        str(video),
        "--mic",
        str(wav),
        "--stats",
        str(stats_path),
        "--set",
        f'run.preset="{preset}"',
        "--set",
        "display.size=[192, 108]",
        "--set",
        "display.fps=30",
        "--set",
        "stats.interval_s=0.25",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = read_stats(stats_path)
    assert stats and stats[-1]["preset"]
    quiet_still = median_speed(stats, lambda f: f["loudness"] < 0.05 and f["motion"] < 0.01)
    quiet_moving = median_speed(stats, lambda f: f["loudness"] < 0.05 and f["motion"] > 0.04)
    loud = median_speed(stats, lambda f: f["loudness"] > 0.8)
    assert None not in (quiet_still, quiet_moving, loud), [
        (s["features"]["loudness"], s["features"]["motion"]) for s in stats
    ]
    assert loud > RATIO * quiet_still, (preset, quiet_still, loud)
    assert quiet_moving > RATIO * quiet_still, (preset, quiet_still, quiet_moving)
    n_frames, _ = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n_frames >= 200


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_responds_to_touch(preset):
    speeds = {}
    for touched in (False, True):
        config = load_config(
            None,
            [
                "display.mode=headless",
                "display.size=[160, 90]",
                "camera.source=none",
                "microphone.source=none",
                f'run.preset="{preset}"',
            ],
        )
        app = App(config)
        app.setup()
        try:
            total = 0.0
            for i in range(90):
                if touched:
                    pos = (40 + i % 30 * 3, 45)
                    kind = pygame.MOUSEBUTTONDOWN if i == 0 else pygame.MOUSEMOTION
                    pygame.event.post(
                        pygame.event.Event(kind, pos=pos, button=1, buttons=(1, 0, 0), rel=(3, 0), touch=False)
                    )
                app.update(1 / 60)
                total += app.out.state.latent_speed if i > 10 else 0.0
            speeds[touched] = total
        finally:
            app.close()
    assert speeds[True] > RATIO * speeds[False], (preset, speeds)
