"""PulseAudio dies right after the show's microphone stream connected, before its first block
(issue #15). PortAudio's ALSA thread then spins for good and the stream's abort never returns, so
the microphone cannot come back inside that process.

Log: WARNING "microphone: ... no audio within 6 s of opening -> silence ...", then after
microphone.STUCK_S ERROR "microphone: PortAudio has not returned for 10 s ...; exiting with code 3 so
the supervisor restarts the show", then the supervisor's "restart N". Visitor: the picture goes on
(silent) and is replaced by the warm standby's within about a second; the microphone is live again.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from installation.chaos.audio import PulseServer, missing_tools
from tests.runner import app_env, main_cmd
from tests.system import require_tools

CYCLES = 12  # the hang comes in about every second try here; 12 misses in a row: ~1 in 4000


def health(log_dir: Path) -> dict:
    try:
        return json.loads((log_dir / "health.json").read_text())
    except (OSError, ValueError):
        return {}


def mic_state(log_dir: Path) -> str:
    return health(log_dir).get("microphone", {}).get("state", "")


def wait_until(predicate, timeout_s: float, proc: subprocess.Popen) -> bool:
    deadline_s = time.monotonic() + timeout_s
    while time.monotonic() < deadline_s:
        if predicate():
            return True
        assert proc.poll() is None, f"the supervisor exited with {proc.returncode}"
        time.sleep(0.1)
    return bool(predicate())


def provoke_the_hang(pulse: PulseServer, log_dir: Path, proc: subprocess.Popen) -> int:
    """Kill PulseAudio as the show's stream connects until PortAudio hangs; the hung show's pid."""
    pulse.start()
    assert wait_until(lambda: mic_state(log_dir) == "live", 120, proc), health(log_dir)
    for _cycle in range(CYCLES):
        pulse.kill()  # the live stream dies: the microphone falls back and retries every 0.3-0.6 s
        assert wait_until(lambda: mic_state(log_dir) == "fallback", 30, proc), health(log_dir)
        pid = health(log_dir)["pid"]
        pulse.start()
        pulse.kill_before_first_block()
        pulse.start()  # the server is back for good
        # A healthy retry is live within FIRST_BLOCK_S (6 s) + a retry + the first block.
        if not wait_until(lambda: mic_state(log_dir) == "live", 15, proc):
            return int(pid)
    raise AssertionError(f"PortAudio did not hang in {CYCLES} tries; the test proved nothing")


def test_microphone_comes_back_after_portaudio_hangs_on_a_dead_server(tmp_path: Path) -> None:
    require_tools(*missing_tools())  # skips (or fails on CI) naming what is missing
    pulse = PulseServer(tmp_path / "pulse")
    log_dir = tmp_path / "state"
    args = [
        "--supervise",
        "--headless",
        "--camera",
        "none",
        "--mic",
        "default",
        "--set",
        f'supervisor.log_dir="{log_dir}"',
        "--set",
        "supervisor.stable_s=5",
        "--set",
        "supervisor.backoff_s=0.5",
        "--set",
        "health.interval_s=0.3",
        "--set",
        "microphone.retry_s=0.3",
        "--set",
        "microphone.max_retry_s=0.6",
        "--set",
        "display.size=[160, 90]",
        "--set",
        "display.fps=20",
        "--set",
        "osc.enabled=false",
        "--set",
        "midi.enabled=false",
    ]
    with open(tmp_path / "supervisor.out", "w") as out:
        proc = subprocess.Popen(main_cmd(*args), env=app_env(**pulse.env), stdout=out, stderr=subprocess.STDOUT)
    try:
        hung_pid = provoke_the_hang(pulse, log_dir, proc)
        # Stuck for STUCK_S, then a fresh show (the warm standby) opens the microphone again.
        assert wait_until(
            lambda: health(log_dir).get("pid") not in (None, hung_pid) and mic_state(log_dir) == "live", 60, proc
        ), f"the microphone never came back: {health(log_dir)}"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        pulse.close()
    log_text = "".join(p.read_text(errors="replace") for p in log_dir.glob("reverie.log*"))
    assert "PortAudio has not returned for" in log_text and "exiting with code 3" in log_text


def test_a_show_without_supervisor_goes_on_silent_and_still_exits_cleanly(tmp_path: Path) -> None:
    """Alone, the show cannot restart itself: one ERROR, the picture goes on, and quitting is not held
    up by the stuck PortAudio thread (nor crashed by it: the interpreter's shutdown is skipped)."""
    require_tools(*missing_tools())
    pulse = PulseServer(tmp_path / "pulse")
    log_dir = tmp_path / "state"
    args = [
        "--headless",
        "--camera",
        "none",
        "--mic",
        "default",
        "--set",
        f'health.path="{log_dir / "health.json"}"',
        "--set",
        "health.interval_s=0.3",
        "--set",
        "microphone.retry_s=0.3",
        "--set",
        "microphone.max_retry_s=0.6",
        "--set",
        "display.size=[160, 90]",
        "--set",
        "display.fps=20",
        "--set",
        "osc.enabled=false",
        "--set",
        "midi.enabled=false",
    ]
    with open(tmp_path / "show.log", "w") as out:
        proc = subprocess.Popen(main_cmd(*args), env=app_env(**pulse.env), stdout=out, stderr=subprocess.STDOUT)
    try:
        provoke_the_hang(pulse, log_dir, proc)
        show_log = tmp_path / "show.log"
        assert wait_until(lambda: "the show goes on silent" in show_log.read_text(errors="replace"), 30, proc)
        frames = health(log_dir)["frames"]
        assert wait_until(lambda: health(log_dir).get("frames", 0) > frames + 20, 30, proc)  # the picture goes on
        t0 = time.monotonic()
        proc.terminate()
        code = proc.wait(30)
        assert code == 0 and time.monotonic() - t0 < 15, (code, show_log.read_text(errors="replace")[-2000:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        pulse.close()
    assert show_log.read_text(errors="replace").count("PortAudio has not returned") == 1
