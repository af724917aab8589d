"""C libraries' stderr floods are rate-limited at the descriptor level, with a count of what was
dropped (issue #15: PortAudio prints "Expression ... failed" in a loop when PulseAudio dies under a
stream; a terminal or journald fills). The show's own log lines are not limited."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from installation.stderr_limit import BURST_LINES, LINES_PER_S
from tests.runner import ROOT, app_env

FLOOD_S = 4.0
MARK = "Expression 'alsa_flood_test' failed"

# The real show (main.main) in a child; a thread floods descriptor 2 through libc's write(), as C code
# does, from the moment the show's modules are imported until FLOOD_S later.
CHILD = rf"""
import ctypes, sys, threading, time
sys.path.insert(0, sys.argv[2])
import main
libc = ctypes.CDLL(None)
line = b"{MARK} in 'src/hostapi/alsa/pa_linux_alsa.c', line: 3958\n"
def flood():
    deadline = time.monotonic() + 120
    while "installation.app" not in sys.modules and time.monotonic() < deadline:
        time.sleep(0.01)
    written, end = 0, time.monotonic() + {FLOOD_S!r}
    while time.monotonic() < end:
        if libc.write(2, line, len(line)) == len(line):
            written += 1
    open(sys.argv[1], "w").write(str(written))
threading.Thread(target=flood, daemon=True).start()
sys.exit(main.main(["--headless", "--seconds", "{FLOOD_S + 6.0!r}", "--camera", "none", "--mic", "none",
                    "--set", "display.size=[160, 90]", "--set", "osc.enabled=false", "--set", "midi.enabled=false"]))
"""


def test_a_c_library_flooding_stderr_is_rate_limited_and_counted(tmp_path: Path) -> None:
    count_file = tmp_path / "written.txt"
    with open(tmp_path / "stderr.txt", "wb") as err:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(count_file), str(ROOT)],
            cwd=ROOT,
            env=app_env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
            timeout=240,
            check=False,
        )
    text = (tmp_path / "stderr.txt").read_text(errors="replace")
    assert done.returncode == 0, text[-3000:]
    written = int(count_file.read_text())
    seen = text.count(MARK + " in")  # whole flood lines that reached the real stderr
    assert written > 10_000, f"the flood wrote only {written} lines; the check proves nothing"
    # A burst, then LINES_PER_S a second (the show runs a few seconds past the flood).
    assert seen <= BURST_LINES + LINES_PER_S * (FLOOD_S + 10.0), f"{seen} of {written} flood lines got through"
    totals = [int(n) for n in re.findall(r"dropped \d+ line\(s\) from stderr in the last \d+ s \((\d+) in all\)", text)]
    assert totals, text[-3000:]
    assert written - seen <= totals[-1] <= written - seen + 100, (written, seen, totals)  # every line accounted for
    assert "rate-limited to" in text
    assert "generator:" in text  # the show's own INFO lines are not limited


SEGFAULT = r"""
import ctypes, sys, threading, time
sys.path.insert(0, sys.argv[1])
import main
def crash():  # a C library crashing on a thread once the show is up (libjack has done it here)
    deadline = time.monotonic() + 120
    while "installation.app" not in sys.modules and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(1.0)  # (the show's first frames; nothing is asserted on timing)
    ctypes.string_at(0)
threading.Thread(target=crash, name="crashing-c-library", daemon=True).start()
sys.exit(main.main(["--headless", "--seconds", "60", "--camera", "none", "--mic", "none",
                    "--set", "display.size=[160, 90]", "--set", "osc.enabled=false", "--set", "midi.enabled=false"]))
"""


def test_a_crash_in_c_code_leaves_a_traceback_on_the_real_stderr(tmp_path: Path) -> None:
    """With descriptor 2 a pipe, a crash's last words could die with the limiter's thread; the show
    enables faulthandler on the real stderr, so the supervisor's log says where it crashed."""
    with open(tmp_path / "stderr.txt", "wb") as err:
        done = subprocess.run(
            [sys.executable, "-c", SEGFAULT, str(ROOT)],
            cwd=ROOT,
            env=app_env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
            timeout=240,
            check=False,
        )
    text = (tmp_path / "stderr.txt").read_text(errors="replace")
    assert done.returncode == -11, (done.returncode, text[-2000:])  # the crash happened
    assert "Fatal Python error: Segmentation fault" in text, text[-2000:]
    assert "crash" in text[text.index("Fatal Python error") :]  # the crashing thread's stack: the function
