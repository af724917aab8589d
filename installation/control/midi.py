"""MIDI in: performers' knobs, pads and a DAW's clock (docs/midi.md).

MidiInput owns one thread ("midi") that finds and opens input ports through mido (python-rtmidi
underneath: ALSA, JACK, CoreMIDI or Windows MM) and picks up controllers plugged in later. Each
port's callback runs on rtmidi's (or JACK's) thread and only translates: knobs and pads become
MidiEvent commands, MIDI clock goes through a ClockTracker into ClockBeat/ClockStop; everything is
put on the CommandQueue. MidiRouter runs on the main thread: it maps MidiEvents through the
preset's [[midi]] bindings into commands, and does MIDI learn. When there is no MIDI system the
show goes on without it and the thread looks again quietly.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import functools
import logging
import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from installation.config import MidiConfig
from installation.control import commands as c
from installation.control.bindings import ACTIONS, TARGETS, MidiBinding, merge, save_learned
from installation.mapping.names import PARAMETER_RANGES
from installation.ratelimit import RateLimitedLog
from installation.sources.base import Backoff

log = logging.getLogger(__name__)

VIRTUAL_PORT = "Reverie"  # the virtual input a DAW can send to (midi.virtual)
ALSA_SEQ = "/dev/snd/seq"
OWN_CLIENT = "RtMidiIn Client"  # rtmidi's client name for inputs: never one of our sources
MAX_RETRY_S = 10.0  # while the MIDI system is missing, look again at most this far apart
JOIN_TIMEOUT_S = 2.0

CLOCK_PPQN = 24  # MIDI clock: pulses per quarter note
CLOCK_WINDOW = 48  # pulse intervals kept for the tempo estimate (two beats)
CLOCK_MIN_PULSES = 7  # timestamps needed before a tempo is trusted (a quarter beat)
CLOCK_GAP_S = 0.25  # a pause this long between pulses (slower than 10 BPM) restarts the estimate
CLOCK_HOLD_S = 1.0  # a second port's clock is ignored while the current source ticked this recently
MIN_BPM, MAX_BPM = 20.0, 400.0
CLOCK_TYPES = frozenset({"clock", "start", "stop", "continue", "songpos"})


# ---------------------------------------------------------------------------- clock
class ClockTracker:
    """MIDI clock (24 pulses per beat) -> one ClockBeat per beat, with a smoothed tempo.

    Time comes in with each message (t_s, perf_counter seconds), so tests can feed exact pulses.
    Start resets the beat count (the next pulse is the DAW's downbeat, beat 0); Continue keeps it;
    Song Position moves it; Stop emits ClockStop and no beats follow until Start or Continue.
    A clock with no Start counts beats from the first pulse seen. Not thread-safe: one caller at a time.
    """

    def __init__(self) -> None:
        self._times_s: collections.deque[float] = collections.deque(maxlen=CLOCK_WINDOW + 1)
        self._pulse = 0  # pulses since Start (or the first pulse); a beat begins where pulse % 24 == 0
        self.running = True  # False after Stop: pulses still measure the tempo but make no beats
        self.bpm = 0.0  # the last tempo emitted (0 = none yet)
        self.last_pulse_s = -math.inf
        self.rejected = 0  # beats not emitted because the tempo was absurd or not known yet

    def feed(self, kind: str, t_s: float, position: int = 0) -> c.ClockBeat | c.ClockStop | None:
        """One realtime message: "clock" | "start" | "stop" | "continue" | "songpos" (position in 16ths)."""
        if kind == "clock":
            return self._pulse_at(t_s)
        if kind == "start":
            self._pulse, self.running = 0, True
        elif kind == "continue":
            self.running = True
        elif kind == "stop":
            self.running = False
            return c.ClockStop()
        elif kind == "songpos":
            self._pulse = max(0, int(position)) * (CLOCK_PPQN // 4)  # a sixteenth is 6 pulses
        return None

    def _pulse_at(self, t_s: float) -> c.ClockBeat | None:
        if self._times_s and not 0.0 <= t_s - self._times_s[-1] <= CLOCK_GAP_S:
            self._times_s.clear()  # the clock paused (or time went backwards): old intervals say nothing
        self._times_s.append(t_s)
        self.last_pulse_s = t_s
        pulse = self._pulse
        self._pulse += 1
        if not self.running or pulse % CLOCK_PPQN:
            return None
        bpm = self.measure_bpm() or self.bpm  # just after a pause (DAWs stop the clock with the transport): as before
        if not MIN_BPM <= bpm <= MAX_BPM:
            self.rejected += 1
            return None
        self.bpm = bpm
        return c.ClockBeat(t_s=t_s, bpm=bpm, beat_index=pulse // CLOCK_PPQN)

    def measure_bpm(self) -> float:
        """Tempo from the median of k-pulse spans (k up to a beat) over the last two beats; 0 if unknown.

        Spans rather than single intervals: drivers deliver clock in bursts (JACK once per period),
        which makes single intervals useless but barely moves a span of 24 pulses.
        """
        times_s = self._times_s
        n = len(times_s)
        if n < CLOCK_MIN_PULSES:
            return 0.0
        k = min(CLOCK_PPQN, n - 1)
        interval_s = statistics.median((times_s[i + k] - times_s[i]) / k for i in range(n - k))
        return 60.0 / (CLOCK_PPQN * interval_s) if interval_s > 0.0 else 0.0


# ---------------------------------------------------------------------------- ports
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


def _libjack() -> ctypes.CDLL:
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


class _JackLister:
    """Lists JACK's MIDI outputs through one passive client, and hears when the server goes.

    mido lists ports by making and activating two new JACK clients; each activation stalls the
    JACK graph for 0.1-0.3 s (MIDI clock arrives in a lump; audio apps may drop out), so every
    rescan would. This client is made once and never activated. jack_on_shutdown tells us the
    server died before we touch a port of it (see _abandon for why that order matters).
    """

    NO_START_SERVER = 0x01
    PORT_IS_OUTPUT = 0x2
    MIDI_TYPE = b"8 bit raw midi"

    def __init__(self) -> None:
        lib = _libjack()
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


def _abandon(thing: Any) -> None:
    """Never close or free a port (or the lister) of a JACK server that died under a failed connect.

    Once a jack_client_open has failed in this process, closing or freeing a client of the dead
    server segfaults (libjack 1.9.21). Normally _JackLister's shutdown notice lets us close them
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
        self._jack: _JackLister | None = None  # JACK only: lists ports without stalling the graph
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

            self._backend = mido.Backend(self.config.backend or None, load=True)
        backend = self._backend
        if sys.platform.startswith("linux") and backend.api in (None, "LINUX_ALSA") and not os.path.exists(ALSA_SEQ):
            # Asked anyway, ALSA prints an error line to stderr on every try, for weeks.
            raise RuntimeError(f"ALSA: {ALSA_SEQ} is missing")
        if backend.api == "UNIX_JACK":
            if self._jack is not None and self._jack.dead.is_set():
                raise RuntimeError("the JACK server stopped (JACK server not running?)")  # _lost closes all
            if self._jack is None:
                self._jack = _JackLister()
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
            _abandon(port)
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
                _abandon(self._jack)
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


# ---------------------------------------------------------------------------- routing
class MidiRouter:
    """Main thread: MidiEvents through the bindings into commands, and MIDI learn. No I/O but save()."""

    def __init__(
        self,
        bindings: tuple[MidiBinding, ...] = (),
        learned: tuple[MidiBinding, ...] = (),
        nudge_beats: float = 0.0625,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.nudge_beats = nudge_beats
        self._clock = clock  # stamps Tap commands
        self._cc_values: dict[tuple[str, int, int], int] = {}  # (port, channel, cc) -> last value, for thresholds
        self.armed = ""  # the target the next control moved is bound to; "" = not learning
        self._armed_arg = ""
        self.last_control = ""  # e.g. "cc 7 ch 1 = 64", for the HUD learn page
        self.last_learned: MidiBinding | None = None
        self.unsaved = False  # learned since the last save()
        self.preset_bindings: tuple[MidiBinding, ...] = ()
        self.learned: tuple[MidiBinding, ...] = ()  # from <preset>.midi.json plus this session's
        self.bindings: tuple[MidiBinding, ...] = ()  # the preset's with the learned ones winning
        self.set_bindings(bindings, learned)

    def set_bindings(self, preset_bindings: tuple[MidiBinding, ...], learned: tuple[MidiBinding, ...]) -> None:
        self.preset_bindings = tuple(preset_bindings)
        self.learned = tuple(learned)
        self.bindings = merge(self.preset_bindings, self.learned)

    def arm(self, target: str, arg: str = "") -> None:
        """Bind the next knob moved or pad hit to target ("" cancels). ValueError on an unknown name."""
        if target and target not in TARGETS:
            raise ValueError(f"MIDI learn: unknown target {target!r}; valid names: {', '.join(TARGETS)}")
        if target in ("preset", "model") and not arg:
            raise ValueError(f"MIDI learn: the {target!r} action needs the {target}'s name")
        self.armed, self._armed_arg = target, arg

    def save(self, path: Path) -> None:
        """Write the learned bindings beside the preset (OSError on a full or read-only disk)."""
        save_learned(path, self.learned)
        self.unsaved = False

    def route(self, event: c.MidiEvent) -> list[c.Command]:
        """The commands this event asks for ([] while it is being learned)."""
        kind = "note_off" if event.kind == "note_on" and event.value == 0 else event.kind  # running-status note-off
        self.last_control = f"{kind} {event.number} ch {event.channel + 1} = {event.value}"
        crossed = False
        if kind == "cc":
            key = (event.port, event.channel, event.number)
            crossed = self._cc_values.get(key, 0) < 64 <= event.value
            self._cc_values[key] = event.value
        if self.armed and kind in ("cc", "note_on"):
            self._learn(event)
            return []
        # Learned bindings win over the preset's, also over a preset's any-channel binding.
        matching = [b for b in self.learned if b.matches(kind, event.channel, event.number)]
        if not matching:
            matching = [b for b in self.bindings if b.matches(kind, event.channel, event.number)]
        commands: list[c.Command] = []
        for binding in matching:
            if is_action(binding):
                if kind == "note_on" or crossed:
                    size = event.value / 127.0 * 2.0 if kind == "note_on" else 1.0
                    commands.append(self._action(binding, size, event.t_s))
            else:
                lo, hi = binding.value_range()
                if kind == "cc":
                    commands.append(c.SetParam(binding.target, lo + (hi - lo) * event.value / 127.0))
                else:
                    commands.append(c.SetParam(binding.target, hi if kind == "note_on" else lo))
        return commands

    def _learn(self, event: c.MidiEvent) -> None:
        self.bind(event, self.armed, self._armed_arg)
        self.armed, self._armed_arg = "", ""

    def bind(self, event: c.MidiEvent, target: str, arg: str = "") -> MidiBinding:
        """Bind the control that sent event to target, replacing its old binding (learn, HUD page)."""
        binding = MidiBinding(
            number=event.number,
            target=target,
            kind="cc" if event.kind == "cc" else "note",
            channel=event.channel,
            arg=arg,
        )
        learned = tuple(b for b in self.learned if not b.same_control(binding)) + (binding,)
        self.set_bindings(self.preset_bindings, learned)
        self.last_learned = binding
        self.unsaved = True
        return binding

    def clear_learned(self) -> None:
        self.set_bindings(self.preset_bindings, ())
        self.unsaved = True

    def _action(self, binding: MidiBinding, size: float, t_s: float = 0.0) -> c.Command:
        match binding.target:
            case "pulse":
                return c.Pulse(size)
            case "keyframe":
                return c.NewKeyframe()
            case "tap":
                return c.Tap(t_s or self._clock())  # stamped on arrival when the input thread did
            case "snapshot":
                return c.Snapshot()
            case "record":
                return c.SetRecording(None)
            case "next_preset":
                return c.SwitchPreset("next")
            case "previous_preset":
                return c.SwitchPreset("previous")
            case "preset":
                return c.SwitchPreset(binding.arg)
            case "model":
                return c.SwitchModel(binding.arg)
            case "nudge_forward":
                return c.TempoNudge(self.nudge_beats)
            case "nudge_back":
                return c.TempoNudge(-self.nudge_beats)
        raise ValueError(f"unknown MIDI action {binding.target!r}")  # ACTIONS and this match disagree


def is_action(binding: MidiBinding) -> bool:
    """ "pulse" names both a parameter and an action: a pad (note) fires the jump, a knob (cc) sets the size."""
    if binding.target not in ACTIONS:
        return False
    return binding.kind == "note" or binding.target not in PARAMETER_RANGES
