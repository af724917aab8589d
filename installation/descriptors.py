"""Descriptors a child program must not inherit.

Python opens every descriptor close-on-exec (PEP 446), but C libraries do not always: PortAudio/ALSA,
libjack, SDL and OpenCV's backends open sockets, devices and pipes without O_CLOEXEC, and the
supervisor hands the show its heartbeat and go pipes as inheritable descriptors. A child started
with posix_spawn (ffmpeg for recordings) would keep all of them open for its whole life: a held
heartbeat pipe hides the show's death from the supervisor, a held device can stay busy.
"""

from __future__ import annotations

import fcntl
import logging
import os

log = logging.getLogger(__name__)

_FD_DIRS = ("/proc/self/fd", "/dev/fd")  # Linux, then macOS/BSD


def open_descriptors() -> list[int]:
    """This process's open descriptors (best effort: [] where the system does not list them)."""
    for folder in _FD_DIRS:
        try:
            names = os.listdir(folder)  # the listing's own descriptor shows up too; it is closed by now
        except OSError:
            continue
        return sorted(int(name) for name in names if name.isdigit())
    return []


def close_on_exec_all(keep: tuple[int, ...] = (0, 1, 2)) -> int:
    """Mark every descriptor but `keep` close-on-exec; returns how many were inheritable.

    Call right before spawning. A descriptor another thread opens without O_CLOEXEC between this
    call and the spawn still leaks; the window is microseconds. Marking is harmless for the show
    itself: close-on-exec only matters to a program that execs, and the show never execs itself.
    """
    marked = 0
    for fd in open_descriptors():
        if fd in keep:
            continue
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFD)
            if not flags & fcntl.FD_CLOEXEC:
                fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
                marked += 1
        except OSError:  # closed meanwhile (or the listing's own descriptor): nothing to inherit
            continue
    if marked:
        log.debug("marked %d inheritable descriptor(s) close-on-exec before spawning", marked)
    return marked
