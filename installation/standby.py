"""Warm standby: a show process that has done its slow imports and waits for the supervisor's go.

The supervisor keeps one spare show waiting, so a crashed or hung show is replaced in well under a
second instead of the several seconds that importing torch takes on a small PC. Without the
environment variable (not supervised) `wait_for_go` returns at once.
"""

from __future__ import annotations

import logging
import os
import select

log = logging.getLogger(__name__)

GO_ENV = "REVERIE_GO_FD"  # read end of a pipe; the supervisor writes "<restarts>\n" to start the show
RESTARTS_ENV = "REVERIE_RESTARTS"  # how many times the supervisor restarted the show (for the health file)


def wait_for_go() -> bool:
    """Block until the supervisor says go (True), or its end of the pipe closes (False: exit quietly)."""
    raw = os.environ.pop(GO_ENV, "")
    if not raw.isdigit():
        return True
    fd, data = int(raw), b""
    if not select.select([fd], [], [], 0)[0]:  # no go yet: this process is the spare
        log.info("warm standby ready (pid %d), waiting for the supervisor's go", os.getpid())
    try:
        while not data.endswith(b"\n"):
            chunk = os.read(fd, 64)
            if not chunk:
                return False
            data += chunk
    except KeyboardInterrupt:  # Ctrl+C in the supervisor's terminal reaches the standby too
        return False
    finally:
        os.close(fd)
    restarts = data.strip().decode("ascii", "replace")
    if restarts.isdigit():
        os.environ[RESTARTS_ENV] = restarts
    return True
