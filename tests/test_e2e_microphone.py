"""The show's default microphone is a real PulseAudio source: sound played into it moves the stats."""

import subprocess
import time

from tests.media import write_test_wav
from tests.runner import main_cmd, read_stats, read_stderr, stderr_file
from tests.system import NULL_SINK, start_pulseaudio


def test_show_hears_sound_played_into_the_default_input(tmp_path):
    wav = write_test_wav(tmp_path / "loud.wav", segments=[(4.0, 0.7, 330.0)], samplerate=44100)
    stats_path = tmp_path / "stats.jsonl"
    with start_pulseaudio() as env:
        env = {**env, "PYTHONUNBUFFERED": "1"}
        env.pop("SDL_VIDEODRIVER", None)
        proc = subprocess.Popen(
            main_cmd(
                "--headless",
                "--camera",
                "none",
                "--stats",
                str(stats_path),
                "--set",
                "display.size=[160, 90]",
                "--set",
                "stats.interval_s=0.25",
                "--seconds",
                "40",
            ),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file(tmp_path / "show.stderr"),
            text=True,
        )
        proc.stderr_path = tmp_path / "show.stderr"
        try:
            deadline = time.monotonic() + 30
            while (
                time.monotonic() < deadline
                and proc.poll() is None
                and not (
                    len(read_stats(stats_path)) >= 6
                    and read_stats(stats_path)[-1]["sources"]["microphone"]["state"] == "live"
                )
            ):
                time.sleep(0.2)  # live = the first block arrived (PulseAudio's can take ~2 s)
            quiet = read_stats(stats_path)
            assert len(quiet) >= 6, read_stderr(proc) if proc.poll() is not None else "no stats"
            mic = quiet[-1]["sources"]["microphone"]
            assert mic["state"] == "live", mic
            quiet_db = max(s["features"]["loudness_db"] for s in quiet[2:])
            subprocess.run(["paplay", f"--device={NULL_SINK}", str(wav)], env=env, check=True, timeout=30)
            loud = read_stats(stats_path)[len(quiet) :]
            assert loud, "no stats while the sound played"
            loud_db = max(s["features"]["loudness_db"] for s in loud)
            assert loud_db > quiet_db + 30, (quiet_db, loud_db)
            assert max(s["features"]["loudness"] for s in loud) > 0.8
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert proc.returncode == 0, read_stderr(proc)[-3000:]
