"""JACK's metadata database: found locked by a dead program, and cleared when nobody uses it.

libjack opens a Berkeley DB in /dev/shm/jack_db-<uid> at every client open, even when no JACK
server runs, and PortAudio opens a JACK client at initialisation: so every microphone start goes
through it, as does JACK MIDI. A program killed while it held that database's lock (a SIGKILLed
show, a crashed MIDI tool) leaves it locked, and from then on every libjack user on the machine
waits forever: the microphone never opens, jack_lsp never returns, until the next reboot empties
/dev/shm. Seen on a CI machine whose /dev/shm outlives its runs, and after chaos soaks here.

The database only holds properties of the ports of running JACK programs: when no process maps it,
it holds nothing anyone needs, and libjack makes a new one at the next client open.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

SHM = Path("/dev/shm")  # libjack's fixed folder on Linux (jack_server_dir)
PROBE_TIMEOUT_S = 5.0  # a healthy open takes ~0.1 s; a locked one never returns
ABSENT_SERVER = "reverie-probe-absent"  # the probe must not join (or start) a real server
NO_LIBJACK_EXIT = 3
REMOVED = "removed it"  # in repair()'s message when it cleared the database

# A child process opens a client the way PortAudio does; the metadata database is opened before
# libjack looks for the server, so a locked one hangs here and a healthy one fails fast.
PROBE = f"""
import ctypes, ctypes.util, sys
try:
    lib = ctypes.CDLL(ctypes.util.find_library("jack") or "libjack.so.0")
except OSError:
    sys.exit({NO_LIBJACK_EXIT})
lib.jack_client_open.restype = ctypes.c_void_p
lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
lib.jack_client_close.argtypes = [ctypes.c_void_p]
status = ctypes.c_int()
client = lib.jack_client_open(b"reverie-probe", 1, ctypes.byref(status))  # 1: JackNoStartServer
if client:
    lib.jack_client_close(client)
"""

_once_lock = threading.Lock()
_checked = False
_problem = ""  # what repair() could not clear in this process ("" = nothing)


def metadata_dir(shm: Path = SHM) -> Path:
    return shm / f"jack_db-{os.getuid()}"


def users(folder: Path) -> list[int]:
    """Processes that have a file of `folder` mapped (libjack keeps the database mapped while open)."""
    prefix = str(folder) + "/"
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            with open(entry / "maps", encoding="utf-8", errors="replace") as maps:
                if any(prefix in line for line in maps):
                    pids.append(int(entry.name))
        except OSError:  # gone, or another user's process (whose database is another folder)
            continue
    return pids


def probe_hangs(timeout_s: float = PROBE_TIMEOUT_S) -> bool | None:
    """Does opening a JACK client hang? None when libjack is not installed (nothing can hang)."""
    env = {**os.environ, "JACK_DEFAULT_SERVER": ABSENT_SERVER, "JACK_NO_START_SERVER": "1"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:  # run() has killed it: a waiter holds no lock
        return True
    return None if done.returncode == NO_LIBJACK_EXIT else False


def repair(shm: Path = SHM, timeout_s: float = PROBE_TIMEOUT_S) -> str:
    """Clear a locked, unused JACK metadata database. Returns what was found ("" when all is well)."""
    folder = metadata_dir(shm)
    if not sys.platform.startswith("linux") or not folder.is_dir() or not probe_hangs(timeout_s):
        return ""
    holders = users(folder)
    if holders:
        why = (
            f"JACK's metadata database {folder} is locked and still mapped by process(es) "
            f"{', '.join(map(str, holders))}: every JACK client (the microphone via PortAudio, JACK MIDI) "
            "hangs until they end; the show goes on without them (restart the JACK programs, or reboot)"
        )
        log.error(why)
        return why
    shutil.rmtree(folder, ignore_errors=True)
    why = (
        f"JACK's metadata database {folder} was left locked by a killed program and no program uses it: "
        f"{REMOVED} (libjack makes a new one; without this the microphone and JACK MIDI hang for good)"
    )
    log.warning(why)
    return why


def ensure_usable() -> str:
    """repair() once per process, before this process's first JACK client (PortAudio, MIDI); returns
    what it could not clear ("" when JACK is usable).

    Under one lock: a second thread waits here rather than hanging in libjack, where it would map
    the database and make it look in use. A restart would not help while the holder lives, so a
    caller goes on without JACK rather than asking for one."""
    global _checked, _problem
    with _once_lock:
        if not _checked:
            try:
                why = repair()
                _problem = "" if not why or REMOVED in why else why
            except Exception as exc:  # noqa: BLE001 - a check that fails must not cost the microphone
                log.debug("JACK metadata check failed: %s", exc)
            _checked = True
        return _problem
