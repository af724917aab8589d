"""Run main.py as a real process and read back what it wrote (stats lines, log)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def app_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("SDL_VIDEODRIVER", None)  # the app picks its driver from its own mode
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def main_cmd(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), *args]


def run_main(*args: str, timeout_s: float = 120.0, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(main_cmd(*args), cwd=ROOT, env=env or app_env(), capture_output=True, text=True,
                          timeout=timeout_s)


def read_stats(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
