"""SOAK (CI, about 75 s): the 60-second version of `python -m installation.soak`.

The whole show, headless, with a generated video camera, a WAV microphone and touch storms.
Skip it locally with `-m "not soak"`; the 30-minute figures are in docs/reliability.md.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.runner import ROOT, app_env


@pytest.mark.soak
def test_one_minute_soak_has_no_crash_and_no_leak(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "installation.soak", "--minutes", "1", "--workdir", str(tmp_path)],
        cwd=ROOT,
        env=app_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0 and last.startswith("soak PASS"), f"{last}\n{proc.stderr[-3000:]}"
    assert "crashes 0" in last
