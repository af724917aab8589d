"""main.py --supervise: a killed or hung show comes back, with its state; crash loops back off."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from installation.config import SupervisorConfig
from installation.mapping.walk import LatentWalk
from installation.supervisor import Supervisor
from tests.runner import ROOT, app_env, main_cmd, wait_until

BACK_WITHIN_S = 5.0


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def start_supervised(log_dir: Path, *extra: str) -> subprocess.Popen[str]:
    fast = log_dir.parent / "fast.toml"  # a quick walk, so a restart that started over would show
    fast.write_text('name = "Fast"\n[walk]\nspeed = 0.5\n')
    args = [
        "--supervise",
        "--set",
        f'run.preset="{fast}"',
        "--headless",
        "--camera",
        "none",
        "--mic",
        "none",
        "--set",
        f'supervisor.log_dir="{log_dir}"',
        "--set",
        "supervisor.stable_s=2",
        "--set",
        "supervisor.hang_s=2",
        "--set",
        "state.interval_s=0.5",
        "--set",
        "health.interval_s=0.3",
        "--set",
        "display.size=[160, 90]",
        "--set",
        "display.fps=20",
        *extra,
    ]
    return subprocess.Popen(
        main_cmd(*args), cwd=ROOT, env=app_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )


def stop_supervised(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def child_pid(log_dir: Path) -> int:
    health = read_json(log_dir / "health.json")
    return int(health["pid"]) if health else 0


def test_kill_9_show_is_back_within_5_s_and_continues_its_latent_walk(tmp_path):
    log_dir = tmp_path / "state"
    proc = start_supervised(log_dir)
    try:
        first = wait_until(lambda: child_pid(log_dir), 90, "first show up", proc)
        # Wait until the walk has moved past its first keyframes, so a fresh start would look different.
        z_dim = wait_until(
            lambda: (read_json(log_dir / "state.json") or {}).get("latent", {}).get("walk", {}).get("z_dim"),
            30,
            "first state save",
            proc,
        )
        fresh = LatentWalk(z_dim, seed=1).export_state()  # where a show that started over would be
        wait_until(
            lambda: (
                (read_json(log_dir / "state.json") or {}).get("latent", {}).get("walk", {}).get("k0")
                not in (None, fresh["k0"], fresh["k1"])
            ),
            30,
            "walk stepped twice",
            proc,
        )
        # The replacement is a warm standby that has already imported torch (minutes of CPU on a busy PC).
        wait_until(lambda: "warm standby ready" in (log_dir / "reverie.log").read_text(), 120, "standby ready", proc)
        saved = read_json(log_dir / "state.json") or {}
        os.kill(first, signal.SIGKILL)
        t_kill = time.monotonic()
        second = wait_until(lambda: (pid := child_pid(log_dir)) != first and pid, 60, "show back", proc)
        back_s = time.monotonic() - t_kill
        assert second != first
        assert back_s < BACK_WITHIN_S, f"the show took {back_s:.1f} s to come back (presenting frames)"
        t_back_wall = time.time()
        wait_until(lambda: (log_dir / "state.json").stat().st_mtime > t_back_wall, 10, "the new show saved", proc)
        now = read_json(log_dir / "state.json") or {}
        assert now["latent"]["walk"]["k0"] in (saved["latent"]["walk"]["k0"], saved["latent"]["walk"]["k1"]), (
            "the walk started over"
        )
        assert (read_json(log_dir / "health.json") or {}).get("restarts") == 1
        assert stop_supervised(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (log_dir / "reverie.log").read_text()
    assert "was killed by signal 9" in log and "restart 1 in 0.0 s" in log
    assert "restored preset, latent from" in log


def test_stopped_show_counts_as_hung_and_is_restarted(tmp_path):
    log_dir = tmp_path / "state"
    proc = start_supervised(log_dir)
    try:
        first = wait_until(lambda: child_pid(log_dir), 90, "first show up", proc)
        # A stable run (past supervisor.stable_s = 2): the restart is then immediate.
        wait_until(lambda: (read_json(log_dir / "health.json") or {}).get("uptime_s", 0) > 2.5, 30, "stable run", proc)
        os.kill(first, signal.SIGSTOP)  # alive but frozen: no frames, no heartbeat
        wait_until(lambda: child_pid(log_dir) not in (0, first), 60, "show back after hang", proc)
        assert stop_supervised(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (log_dir / "reverie.log").read_text()
    assert "hung (no heartbeat for" in log


def test_crash_loop_backs_off_with_doubling_delays():
    crash = [sys.executable, "-c", "import sys; sys.exit(3)"]
    sup = Supervisor(crash, SupervisorConfig(backoff_s=0.1, max_backoff_s=0.4, stable_s=30.0))
    t0 = time.monotonic()
    assert sup.run(max_starts=5) == 1
    assert sup.delays_s == [0.1, 0.2, 0.4, 0.4]
    assert time.monotonic() - t0 >= 1.1
    assert sup.restarts == 4


def test_clean_exit_and_config_error_end_the_supervisor():
    assert Supervisor([sys.executable, "-c", "pass"], SupervisorConfig()).run() == 0
    assert Supervisor([sys.executable, "-c", "import sys; sys.exit(2)"], SupervisorConfig()).run() == 2


def test_the_show_gets_the_heap_settings_unless_the_operator_chose(tmp_path):
    """Two glibc arenas and a fixed mmap threshold keep freed model-swap memory from piling up."""
    seen = tmp_path / "heap.txt"
    names = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")
    code = f"import os; open({str(seen)!r}, 'w').write(' '.join(os.environ.get(n, '-') for n in {names!r}))"
    child = [sys.executable, "-c", code]
    env = {k: v for k, v in os.environ.items() if k not in names}
    assert Supervisor(child, SupervisorConfig(), env=env).run() == 0
    assert seen.read_text() == f"2 {4 * 2**20}"
    assert Supervisor(child, SupervisorConfig(), env={**env, "MALLOC_ARENA_MAX": "4"}).run() == 0
    assert seen.read_text() == f"4 {4 * 2**20}"


def test_a_show_that_never_beats_is_killed_after_startup_s():
    silent = [sys.executable, "-c", "import time; time.sleep(60)"]
    sup = Supervisor(silent, SupervisorConfig(startup_s=5.0, backoff_s=0.1, stable_s=30.0))
    t0 = time.monotonic()
    assert sup.run(max_starts=1) == 1
    assert 5.0 <= time.monotonic() - t0 < 15.0
