"""JACK for MIDI input: list ports without stalling the graph, and survive a server that dies.

Plain ctypes on the libjack that rtmidi itself loaded; no JACK Python package is needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


def libjack() -> ctypes.CDLL:
    """The libjack rtmidi uses (python-rtmidi wheels bring their own), else the system's."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "libjack" in line and line.split()[-1].startswith("/")}
    except OSError:  # not Linux
        paths = set()
    for path in sorted(paths) + [ctypes.util.find_library("jack") or "libjack.so.0"]:
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    raise RuntimeError("libjack not found")


class JackLister:
    """Lists JACK's MIDI outputs through one passive client, and hears when the server goes.

    mido lists ports by making and activating two new JACK clients; each activation stalls the
    JACK graph for 0.1-0.3 s (MIDI clock arrives in a lump; audio apps may drop out), so every
    rescan would. This client is made once and never activated. jack_on_shutdown tells us the
    server died before we touch a port of it (see abandon for why that order matters).
    """

    NO_START_SERVER = 0x01
    PORT_IS_OUTPUT = 0x2
    MIDI_TYPE = b"8 bit raw midi"

    def __init__(self) -> None:
        lib = libjack()
        lib.jack_client_open.restype = ctypes.c_void_p
        lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        lib.jack_get_ports.restype = ctypes.POINTER(ctypes.c_char_p)
        lib.jack_get_ports.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]
        lib.jack_free.argtypes = [ctypes.c_void_p]
        lib.jack_client_close.argtypes = [ctypes.c_void_p]
        shutdown_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
        lib.jack_on_shutdown.argtypes = [ctypes.c_void_p, shutdown_type, ctypes.c_void_p]
        self._lib = lib
        self.dead = threading.Event()
        self._on_shutdown = shutdown_type(lambda arg: self.dead.set())  # libjack's thread; kept alive here
        status = ctypes.c_int()
        self._client = lib.jack_client_open(b"Reverie MIDI", self.NO_START_SERVER, ctypes.byref(status))
        if not self._client:
            raise RuntimeError(f"JACK server not running? (jack_client_open status 0x{status.value:x})")
        lib.jack_on_shutdown(self._client, self._on_shutdown, None)

    def names(self) -> list[str]:
        array = self._lib.jack_get_ports(self._client, None, self.MIDI_TYPE, self.PORT_IS_OUTPUT)
        names: list[str] = []
        if array:
            i = 0
            while array[i] is not None:
                names.append(array[i].decode("utf-8", "replace"))
                i += 1
            self._lib.jack_free(array)
        return names

    def close(self) -> None:
        if self._client:
            self._lib.jack_client_close(self._client)
            self._client = None


def abandon(thing: Any) -> None:
    """Never close or free a port (or the lister) of a JACK server that died under a failed connect.

    Once a jack_client_open has failed in this process, closing or freeing a client of the dead
    server segfaults (libjack 1.9.21). Normally JackLister's shutdown notice lets us close them
    first; if the server died in the middle of a scan, the port is silenced (its messages stay in
    rtmidi's bounded queue) and one reference is leaked on purpose: a few objects per JACK crash.
    """
    rt = getattr(thing, "_rt", None)
    if rt is not None:
        try:
            rt.cancel_callback()  # rtmidi-only, in-process: no JACK call
            thing._callback = None  # and let go of the MidiInput
        except Exception as exc:
            log.debug("MIDI: silencing an orphaned port: %s", exc)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(thing))
