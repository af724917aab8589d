"""MIDI in: performers' knobs, pads and a DAW's clock (docs/midi.md).

MidiInput owns one thread ("midi") that finds and opens input ports through mido (python-rtmidi
underneath: ALSA, JACK, CoreMIDI or Windows MM) and picks up controllers plugged in later. Each
port's callback runs on rtmidi's (or JACK's) thread and only translates: knobs and pads become
MidiEvent commands, MIDI clock goes through a ClockTracker (midi_clock.py) into ClockBeat/ClockStop;
everything is put on the CommandQueue. Under JACK, ports are listed by midi_jack.py. MidiRouter
(midi_router.py) runs on the main thread: it maps MidiEvents through the preset's [[midi]] bindings
into commands, and does MIDI learn. When there is no MIDI system the show goes on without it and the
thread looks again quietly.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from typing import Any

from installation.config import MidiConfig
from installation.control import commands as c
from installation.control.midi_clock import CLOCK_HOLD_S, CLOCK_TYPES, ClockTracker
from installation.control.midi_jack import JackLister, abandon
from installation.control.midi_router import MidiRouter as MidiRouter  # re-exported: live.py imports it from here
from installation.ratelimit import RateLimitedLog
from installation.sources.base import Backoff
from installation.sources.jack_metadata import ensure_usable

log = logging.getLogger(__name__)

VIRTUAL_PORT = "Reverie"  # the virtual input a DAW can send to (midi.virtual)
ALSA_SEQ = "/dev/snd/seq"
OWN_CLIENT = "RtMidiIn Client"  # rtmidi's client name for inputs: never one of our sources
MAX_RETRY_S = 10.0  # while the MIDI system is missing, look again at most this far apart
JOIN_TIMEOUT_S = 2.0


def _explain(exc: BaseException, backend: str) -> str:
    """What is missing, in words an operator can act on."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ImportError):
        return f"the MIDI backend {backend!r} cannot be loaded ({text}); install python-rtmidi or fix midi.backend"
    if "ALSA" in text and not os.path.exists(ALSA_SEQ):
        return (
            f"there is no ALSA sequencer ({ALSA_SEQ} is missing: load the snd-seq module, or give the "
            "container /dev/snd)"
        )
    if "ALSA" in text and not os.access(ALSA_SEQ, os.R_OK | os.W_OK):
        return f"no permission to use {ALSA_SEQ} (add the show's user to the audio group)"
    if "JACK" in text:
        return 'the JACK server is not running (start jackd or qjackctl, or set midi.backend = "" for ALSA)'
    return text


class MidiInput:
    """Listens to MIDI input ports on its own thread; its callbacks only translate and enqueue."""

    def __init__(self, config: MidiConfig, queue: c.CommandQueue) -> None:
        self.config = config
        self.queue = queue
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backend: Any = None  # a mido.Backend once loaded
        self._inputs: dict[str, Any] = {}  # port name -> open mido input (the midi thread's alone)
        self._virtual: Any = None
        self._virtual_failed = False  # this system cannot make virtual ports: stop trying
        self._jack: JackLister | None = None  # JACK only: lists ports without stalling the graph
        self._jack_poisoned = False  # a JACK connect failed while we held ports: never close those
        self._ports: tuple[str, ...] = ()  # what status() and ports show; replaced whole, never mutated
        self._outage = ""  # why MIDI is off, "" while it works
        self._unwanted_seen: tuple[str, ...] = ()
        self._warn = RateLimitedLog(log)
        self._clock = ClockTracker()
        self._clock_lock = threading.Lock()  # callbacks of different ports run on different threads
        self._clock_port = ""
        self.errors = 0  # messages whose handling raised (counted, logged once a minute)
        self.received = 0  # messages that became a command
        self._status = "MIDI off (midi.enabled = false)" if not config.enabled else "MIDI: starting"

    # --- public API -------------------------------------------------------------------------

    def start(self) -> None:
        if not self.config.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="midi", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread, which closes every port, and join it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("MIDI: thread did not stop within %.0f s", JOIN_TIMEOUT_S)
            self._thread = None
        if self.config.enabled:
            self._status = "MIDI closed"

    @property
    def ports(self) -> tuple[str, ...]:
        """The input ports open now (the virtual port included, by the name we gave it)."""
        return self._ports

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> str:
        """One line for the HUD: which ports are open, or why none."""
        line = self._status
        clock = self._clock
        if self.config.clock and clock.bpm > 0.0 and time.perf_counter() - clock.last_pulse_s < CLOCK_HOLD_S:
            line += f"; clock {clock.bpm:.1f} BPM from {self._clock_port}"
        return line

    # --- the port callbacks (rtmidi's or JACK's threads: translate and enqueue, nothing else) --

    def _on_message(self, port: str, message: Any, t_s: float | None = None) -> None:
        """Never raises: a message we cannot make sense of is counted and logged once a minute."""
        if t_s is None:
            t_s = time.perf_counter()
        try:
            kind = message.type
            command: c.Command | None = None
            if kind == "control_change":
                command = c.MidiEvent("cc", message.channel, message.control, message.value, port, t_s)
            elif kind == "note_on":
                command = c.MidiEvent(
                    "note_on" if message.velocity > 0 else "note_off",
                    message.channel,
                    message.note,
                    message.velocity,
                    port,
                    t_s,
                )
            elif kind == "note_off":
                command = c.MidiEvent("note_off", message.channel, message.note, message.velocity, port, t_s)
            elif kind in CLOCK_TYPES and self.config.clock:
                command = self._on_clock(port, kind, t_s, getattr(message, "pos", 0))
            # everything else (sysex, aftertouch, pitchwheel, program change...) is not ours
            if command is not None:
                self.queue.put(command)
                self.received += 1
        except Exception as exc:  # garbage from a port must never reach rtmidi's thread
            self.errors += 1
            self._warn.warn(
                f"message:{port}:{type(exc).__name__}",
                f"MIDI: ignored a message from {port!r} that could not be read ({exc!r})",
            )

    def _on_clock(self, port: str, kind: str, t_s: float, position: int) -> c.ClockBeat | c.ClockStop | None:
        with self._clock_lock:
            if port != self._clock_port:
                if t_s - self._clock.last_pulse_s < CLOCK_HOLD_S:
                    return None  # two clocks at once make nonsense: the first one keeps the tempo
                self._clock_port, self._clock = port, ClockTracker()
            return self._clock.feed(kind, t_s, position)

    # --- the midi thread --------------------------------------------------------------------

    def _run(self) -> None:
        rescan_s = self.config.rescan_s
        backoff = Backoff(rescan_s, max(rescan_s, MAX_RETRY_S))
        try:
            while not self._stop.is_set():
                try:
                    self._scan()
                except Exception as exc:  # no MIDI system (yet): the show goes on without it
                    self._lost(_explain(exc, self.config.backend or "mido's default"), backoff)
                    self._stop.wait(backoff.next_delay_s())
                    continue
                if self._outage:
                    log.info("MIDI is back (%s)", self._status)
                    self._outage = ""
                backoff.reset()
                self._stop.wait(rescan_s)
        finally:
            self._close_all()

    def _lost(self, why: str, backoff: Backoff) -> None:
        self._close_all()
        if not self._outage:
            # A warning only when MIDI was asked for by name (or a virtual port): a show that merely
            # listens for any controller that might be plugged in has lost nothing yet.
            level = logging.WARNING if self.config.port or self.config.virtual else logging.INFO
            log.log(
                level,
                "MIDI off: %s. The show goes on without MIDI; looking again quietly (%s)",
                why,
                backoff.describe(),
            )
        elif why != self._outage:
            log.debug("MIDI still off: %s", why)
        self._outage = why
        self._status = f"MIDI off: {why}"

    def _scan(self) -> None:
        """Load the backend, open the virtual port and new matching ports, drop vanished ones."""
        if self._backend is None:
            import mido  # here, so a broken install is reported like a missing MIDI system

            ensure_usable()  # before our first JACK client: a locked JACK database hangs it for good

            self._backend = mido.Backend(self.config.backend or None, load=True)
        backend = self._backend
        if sys.platform.startswith("linux") and backend.api in (None, "LINUX_ALSA") and not os.path.exists(ALSA_SEQ):
            # Asked anyway, ALSA prints an error line to stderr on every try, for weeks.
            raise RuntimeError(f"ALSA: {ALSA_SEQ} is missing")
        if backend.api == "UNIX_JACK":
            if self._jack is not None and self._jack.dead.is_set():
                raise RuntimeError("the JACK server stopped (JACK server not running?)")  # _lost closes all
            if self._jack is None:
                self._jack = JackLister()
        if self.config.virtual and self._virtual is None and not self._virtual_failed:
            self._open_virtual(backend)
        names = self._jack.names() if self._jack is not None else backend.get_input_names()
        for name in [n for n in self._inputs if n not in names]:
            self._close(name)
            log.info("MIDI: %r is gone; it is picked up again when it is back", name)
        wanted = [n for n in names if self._wanted(n)]
        for name in wanted:
            if name not in self._inputs and not self._stop.is_set():
                self._open(backend, name)
        unwanted = tuple(n for n in names if n not in wanted and not _is_own(n))
        if unwanted and not wanted and unwanted != self._unwanted_seen:
            log.info("MIDI: no port matches midi.port %r; ports there: %s", self.config.port, ", ".join(unwanted))
        self._unwanted_seen = unwanted
        self._ports = tuple(self._inputs) + ((VIRTUAL_PORT,) if self._virtual is not None else ())
        self._status = self._describe()

    def _wanted(self, name: str) -> bool:
        if _is_own(name):
            return False
        return not self.config.port or self.config.port.lower() in name.lower()

    def _open(self, backend: Any, name: str) -> None:
        try:
            self._inputs[name] = backend.open_input(name, callback=functools.partial(self._on_message, name))
        except Exception as exc:  # busy (Windows), vanished between listing and opening...
            self._note_failed_connect(exc)
            self._warn.warn(
                f"open:{name}", f"MIDI: cannot open {name!r} ({exc}); trying again every {self.config.rescan_s:g} s"
            )
            return
        log.info("MIDI: listening to %r", name)

    def _open_virtual(self, backend: Any) -> None:
        try:
            self._virtual = backend.open_input(
                VIRTUAL_PORT, virtual=True, callback=functools.partial(self._on_message, VIRTUAL_PORT)
            )
        except NotImplementedError as exc:  # Windows MM has no virtual ports
            self._virtual_failed = True
            log.warning("MIDI: no virtual port on this system (%s); use loopMIDI and midi.port instead", exc)
            return
        except Exception as exc:
            self._note_failed_connect(exc)
            self._warn.warn("virtual", f"MIDI: virtual port {VIRTUAL_PORT!r} not opened ({exc}); trying again")
            return
        log.info("MIDI: virtual input port %r is open for a DAW to send to", VIRTUAL_PORT)

    def _close(self, name: str) -> None:
        port = self._inputs.pop(name, None)
        if port is not None:
            self._close_port(port)

    def _close_port(self, port: Any) -> None:
        if self._jack_poisoned:
            abandon(port)
            return
        try:
            port.close()
        except Exception as exc:
            log.debug("MIDI: closing %r: %s", getattr(port, "name", port), exc)

    def _note_failed_connect(self, exc: Exception) -> None:
        if self._jack is not None and "JACK" in str(exc) and (self._inputs or self._virtual is not None):
            self._jack_poisoned = True  # the server died in the middle of this scan

    def _close_all(self) -> None:
        """Close every port (or, after a JACK connect failed under them, leave them be: see _abandon)."""
        ports = [*self._inputs.values(), *([self._virtual] if self._virtual is not None else [])]
        for port in ports:
            self._close_port(port)
        if self._jack_poisoned and ports:
            log.info("MIDI: left %d port(s) of the stopped JACK server unclosed (closing them is unsafe)", len(ports))
        self._inputs.clear()
        self._virtual = None
        self._ports = ()
        if self._jack is not None:
            if self._jack_poisoned:
                abandon(self._jack)
            else:
                self._jack.close()
            self._jack = None
        self._jack_poisoned = False

    def _describe(self) -> str:
        every = f"looking every {self.config.rescan_s:g} s"
        if not self._ports:
            wanted = f"matching {self.config.port!r} " if self.config.port else ""
            return f"MIDI: no input port {wanted}yet ({every})"
        return f"MIDI: {', '.join(self._ports)}"


def _is_own(name: str) -> bool:
    """rtmidi's input clients (ours, the virtual port too) have no ports to read from; never listen to them."""
    return name.startswith(OWN_CLIENT) or name == VIRTUAL_PORT
