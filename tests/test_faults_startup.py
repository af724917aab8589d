"""Faults at start-up, each injected into a real show process; the show always starts.

- PortAudio missing: `import sounddevice` raises OSError (as it does without libportaudio2). Log: one
  WARNING naming `sudo apt-get install libportaudio2`. Visitor: the show runs, silent.
- No display: DISPLAY unset in fullscreen mode. Log: one WARNING "no display could be opened for
  fullscreen mode (...); running headless instead". Visitor: nothing (there is no screen); the show
  runs, and stats/recording/health work, so the technician sees why.
- Corrupt or truncated weights: Log: one ERROR "cannot load model '...' (... corrupt ...); falling back
  to the built-in 'seeded-cppn'". Visitor: the built-in abstract patterns instead of the trained model.
"""

from __future__ import annotations

import json

from models.checkpoint import save_checkpoint
from models.cppn import CPPN, CPPNConfig
from tests.runner import app_env, read_stats, run_main

SHOW = (
    "--headless",
    "--seconds",
    "3",
    "--camera",
    "none",
    "--set",
    "display.size=[160, 90]",
    "--set",
    "stats.interval_s=0.5",
)

# What the real package raises when the shared library is missing (sounddevice.py, _ffi lookup).
PORTAUDIO_SHIM = 'raise OSError("PortAudio library not found")\n'


def test_portaudio_missing(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sounddevice.py").write_text(PORTAUDIO_SHIM)
    stats = tmp_path / "stats.jsonl"
    env = app_env(PYTHONPATH=str(shim))
    proc = run_main(*SHOW, "--mic", "auto", "--stats", str(stats), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, warnings
    assert "libportaudio2" in warnings[0] and "PortAudio library not found" in warnings[0]
    last = read_stats(stats)[-1]
    assert last["sources"]["microphone"]["state"] != "live" and last["frames"] > 10


def test_no_display_at_start_falls_back_to_headless(tmp_path):
    stats = tmp_path / "stats.jsonl"
    env = app_env()
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    proc = run_main(
        "--seconds",
        "3",
        "--camera",
        "none",
        "--mic",
        "none",
        "--stats",
        str(stats),
        "--set",
        "display.size=[160, 90]",
        "--set",
        "stats.interval_s=0.5",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "no display could be opened for fullscreen mode" in warnings[0], proc.stderr
    assert "running headless instead" in warnings[0]
    last = read_stats(stats)[-1]
    assert last["mode"] == "headless" and last["frames"] > 10


def test_truncated_weights_fall_back_to_the_builtin_model(tmp_path):
    path = save_checkpoint(CPPN(CPPNConfig()), "cppn", tmp_path / "trained.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a copy interrupted half-way
    health = tmp_path / "health.json"
    proc = run_main(*SHOW, "--mic", "none", "--model", str(path), "--set", f'health.path="{health}"')
    assert proc.returncode == 0, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, errors
    assert "cannot load model" in errors[0] and "falling back to the built-in 'seeded-cppn'" in errors[0]
    assert json.loads(health.read_text())["model"] == "seeded-cppn"


def test_corrupt_weights_fall_back_to_the_builtin_model(tmp_path):
    path = save_checkpoint(CPPN(CPPNConfig()), "cppn", tmp_path / "trained.safetensors")
    data = bytearray(path.read_bytes())
    for i in range(len(data) - 2000, len(data), 7):  # bit rot in the tensor data: NaN/garbage floats
        data[i] = 0xFF
    path.write_bytes(bytes(data))
    proc = run_main(*SHOW, "--mic", "none", "--model", str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cannot load model" in proc.stderr and "falling back to the built-in 'seeded-cppn'" in proc.stderr
