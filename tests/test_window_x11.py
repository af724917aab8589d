"""The real fullscreen window under Xvfb + openbox: screenshot it, drag on it, try to escape it."""

import subprocess
import time

import cv2
import numpy as np

from tests.runner import app_env, main_cmd, read_stats, stderr_file, wait_until
from tests.system import require_tools, start_xvfb

W, H = 1024, 576


def screenshot(env: dict, path) -> np.ndarray:
    subprocess.run(["/usr/bin/import", "-window", "root", str(path)], env=env, check=True, timeout=20)
    image = cv2.imread(str(path))
    assert image is not None, f"ImageMagick wrote no readable image at {path}"
    return image


def xdotool(env: dict, *args: str) -> str:
    return subprocess.run(["xdotool", *args], env=env, check=True, capture_output=True, text=True, timeout=20).stdout


def test_fullscreen_window_fills_the_screen_takes_a_drag_and_resists_escape(tmp_path):
    require_tools("Xvfb", "openbox", "xdotool", "import")
    stats_path = tmp_path / "stats.jsonl"
    with start_xvfb(W, H) as display:
        env = app_env(DISPLAY=display)
        proc = subprocess.Popen(
            main_cmd("--stats", str(stats_path), "--mic", "none", "--set", "stats.interval_s=0.25"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file(tmp_path / "show.stderr"),
            text=True,
        )
        proc.stderr_path = tmp_path / "show.stderr"
        try:
            wait_until(
                lambda: any(s["frames"] > 30 for s in read_stats(stats_path)), 60, "frames", proc, interval_s=0.2
            )
            first = read_stats(stats_path)[-1]
            assert first["mode"] == "fullscreen" and first["screen"] == [W, H]

            # The window covers the whole screen and shows a picture that fills it (cover fit: no bars).
            assert xdotool(env, "getactivewindow", "getwindowname").strip() == "Reverie"  # focused: keys reach it
            geometry = xdotool(env, "getactivewindow", "getwindowgeometry")
            assert f"Geometry: {W}x{H}" in geometry, geometry
            shot1 = screenshot(env, tmp_path / "shot1.png")
            assert shot1.shape == (H, W, 3)
            assert shot1.std() > 20, "the screen is blank"
            gray = shot1.mean(axis=2)
            assert gray.mean(axis=1).min() > 3 and gray.mean(axis=0).min() > 3, "black bars: the picture does not fill"
            time.sleep(1.0)
            shot2 = screenshot(env, tmp_path / "shot2.png")
            assert np.abs(shot1.astype(int) - shot2.astype(int)).mean() > 1.0, "the picture is frozen"

            # A real drag with the mouse reaches the mapping as a touch nudge.
            events_before = read_stats(stats_path)[-1]["touch"]["events"]
            xdotool(env, "mousemove", "300", "300", "mousedown", "1")
            for x in range(320, 820, 50):
                xdotool(env, "mousemove", str(x), "320")
                time.sleep(0.03)
            xdotool(env, "mouseup", "1")
            dragged = wait_until(
                lambda: [
                    s
                    for s in read_stats(stats_path)
                    if s["touch"]["events"] > events_before and s["touch"]["drag_total"] > 0.3
                ],
                10,
                "the drag in the stats",
                proc,
                interval_s=0.2,
            )
            assert max(s["nudge"] for s in read_stats(stats_path)) > 0.5, dragged[-1]

            # Visitors' keys do not end a fullscreen show; the operator's chord does.
            xdotool(env, "key", "Escape")
            xdotool(env, "key", "q")
            time.sleep(1.5)
            assert proc.poll() is None, "Esc/Q ended the fullscreen show"
            xdotool(env, "key", "ctrl+shift+alt+q")
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
