"""Run main.py as a real process and read back what it wrote (stats lines, log)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def app_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SDL_VIDEODRIVER", None)  # the app picks its driver from its own mode
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def main_cmd(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), *args]


def run_main(
    *args: str, timeout_s: float = 120.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        main_cmd(*args), cwd=ROOT, env=env or app_env(), capture_output=True, text=True, timeout=timeout_s
    )


def read_stats(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_main(*args: str, env: dict[str, str] | None = None, log_path: Path | None = None) -> subprocess.Popen[str]:
    """main.py in the background (stdout+stderr to log_path, or discarded); stop it with stop_main."""
    out = open(log_path, "w") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        main_cmd(*args), cwd=ROOT, env=env or app_env(), stdout=out, stderr=subprocess.STDOUT, text=True
    )


def stop_main(proc: subprocess.Popen[str], timeout_s: float = 30.0) -> int:
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"main.py did not stop within {timeout_s:g} s of SIGTERM") from None


def wait_stats(path: Path, predicate, timeout_s: float, proc: subprocess.Popen[str] | None = None) -> dict:
    """The first stats line written after this call that satisfies predicate (so an old line from
    before the awaited change never answers); AssertionError on timeout or exit."""
    import time

    def lines() -> list[dict]:
        if not path.exists():
            return []
        complete = path.read_text().split("\n")[:-1]  # the last piece may be a line being written
        return [json.loads(line) for line in complete if line.strip()]

    seen = len(lines())
    deadline = time.monotonic() + timeout_s
    last: list[dict] = []
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"main.py exited with {proc.returncode} while waiting")
        last = lines()
        for record in last[seen:]:
            if predicate(record):
                return record
        time.sleep(0.1)
    raise AssertionError(f"no stats line matched within {timeout_s:g} s; last: {last[-1] if last else None}")


def stderr_file(path: Path):
    """A file for a long-running child's stderr. An undrained PIPE fills (64 KB) and then blocks the
    child's logging, and with it the show: seen when PortAudio printed errors in a loop."""
    return open(path, "w")  # noqa: SIM115 (the child holds it; closed when the test's process ends)


def read_stderr(proc: subprocess.Popen) -> str:
    path = getattr(proc, "stderr_path", None)
    return Path(path).read_text(errors="replace") if path else ""


def wait_for(predicate: Callable[[], object], timeout_s: float = 3.0, interval_s: float = 0.01) -> bool:
    """Poll predicate every interval_s until it is true or timeout_s passed; its last answer."""
    import time

    deadline_s = time.monotonic() + timeout_s
    while time.monotonic() < deadline_s:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())


def wait_until(
    predicate: Callable[[], T | None],
    timeout_s: float,
    what: str,
    proc: subprocess.Popen | None = None,
    interval_s: float = 0.05,
) -> T:
    """wait_for that returns predicate's first true value and fails loudly: AssertionError naming
    `what` on timeout, or at once when proc (the process under test) exits, with its stderr's end."""
    import time

    deadline_s = time.monotonic() + timeout_s
    while time.monotonic() < deadline_s:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"{what}: the process exited ({proc.returncode}) while waiting\n{read_stderr(proc)[-3000:]}"
            )
        time.sleep(interval_s)
    raise AssertionError(f"{what}: not within {timeout_s:g} s")
