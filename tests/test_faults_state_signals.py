"""Fault: SIGKILL/SIGTERM/SIGINT in the middle of writing state.

Log: nothing for a kill -9 (the process is gone); for SIGTERM/SIGINT "stopping: signal" and a last
save. Visitor: the supervisor restarts the show (tests/test_supervisor.py). Saved: state.json is at
every instant either the old or the new complete JSON, never a half file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

from installation.state import AtomicFileWriter
from tests.runner import ROOT, app_env, main_cmd

# A writer that saves ever-changing, large state as fast as it can (a ~200 KB file per write).
WRITER = """
import signal
import sys
from installation.state import write_json_atomic
# Ctrl-C raises KeyboardInterrupt even when this test runs in a background job (a shell starts
# those with SIGINT ignored, the child inherits it, and a SIGINT round then never ends)
signal.signal(signal.SIGINT, signal.default_int_handler)
i = 0
while True:
    i += 1
    write_json_atomic(sys.argv[1], {"i": i, "pad": [i] * 40000})
    if i == 1:
        print("started", flush=True)
"""


def test_kill_during_state_writes_never_leaves_a_half_file(tmp_path):
    path = tmp_path / "state.json"
    rng = random.Random(6)
    seen = set()
    for round_ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "started"
        time.sleep(rng.uniform(0.0, 0.3))  # land the signal anywhere in a write
        proc.send_signal([signal.SIGKILL, signal.SIGTERM, signal.SIGINT][round_ % 3])
        proc.wait(10)
        data = json.loads(path.read_text())  # raises on a half file
        assert data["pad"] == [data["i"]] * 40000
        seen.add(data["i"])
    assert len(seen) > 1
    # A kill -9 may leave a temp file; it is never read, and the next start of a writer removes it.
    writer = AtomicFileWriter(path)
    writer.start()
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.bak"]


def test_sigterm_makes_the_show_save_its_state_and_exit_0(tmp_path):
    state = tmp_path / "state.json"
    proc = subprocess.Popen(
        main_cmd(
            "--headless",
            "--camera",
            "none",
            "--mic",
            "none",
            "--set",
            f'state.path="{state}"',
            "--set",
            "state.interval_s=600",
            "--set",
            "display.size=[160, 90]",
        ),
        cwd=ROOT,
        env=app_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            if "opening hours" in line or time.monotonic() > deadline:
                break
        time.sleep(0.5)
        assert not state.exists()  # the periodic save is 10 minutes away: only the final save can write it
        os.kill(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopping: signal" in out
    saved = json.loads(state.read_text())
    assert saved["format"] == "reverie-state/1" and saved["preset"] == "6-ink" and "k0" in saved["latent"]["walk"]
