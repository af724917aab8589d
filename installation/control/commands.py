"""Commands: what performers' controllers (OSC, MIDI, keys) ask the show to do.

Controller threads only build a frozen command and put it in the CommandQueue; the main thread
drains the queue once per frame and applies each command (installation/control/live.py). The
queue is bounded: a flood drops the oldest commands, counts them and never grows memory.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field

MAX_QUEUED = 512  # a MIDI knob sends ~100/s; a frame drains them all long before this fills
MAX_PER_FRAME = 256  # a flood cannot hold up one frame for long


@dataclass(frozen=True)
class SwitchPreset:
    spec: str  # a preset name, a 1-based index ("3"), "next" or "previous"
    quantised: bool = True  # wait for the next beat/bar when tempo.quantise asks for it


@dataclass(frozen=True)
class SwitchModel:
    spec: str  # a name from --list-models
    quantised: bool = True


@dataclass(frozen=True)
class SetParam:
    name: str  # a parameter name (installation/mapping/names.py PARAMETERS)
    value: float  # the parameter's new base value (the room's rules still add to it), clamped to its range


@dataclass(frozen=True)
class ResetParam:
    name: str  # a parameter name, or "" for all: back to the preset's own base


@dataclass(frozen=True)
class Pulse:
    size: float = 1.0  # a jump through latent space, as an onset/tap triggers


@dataclass(frozen=True)
class NewKeyframe:
    pass  # head for a fresh keyframe now


@dataclass(frozen=True)
class Drag:
    dx: float  # latent units along the drag plane, as a touch drag gives
    dy: float


@dataclass(frozen=True)
class Snapshot:
    pass  # save the generated picture (never the camera)


@dataclass(frozen=True)
class Tap:
    t_s: float  # time.perf_counter() when the tap arrived (stamped by the receiving thread)


@dataclass(frozen=True)
class SetTempo:
    bpm: float  # an explicit tempo (OSC); the phase is kept


@dataclass(frozen=True)
class TempoNudge:
    beats: float  # shift the beat phase by this many beats (+ = later downbeat arrives sooner)


@dataclass(frozen=True)
class ClockBeat:
    """MIDI clock: a beat (24 clocks) began at t_s (perf_counter); beat_index counts from the last Start."""

    t_s: float
    bpm: float  # measured from the clock interval
    beat_index: int


@dataclass(frozen=True)
class ClockStop:
    pass  # MIDI Stop: the clock no longer drives the tempo


@dataclass(frozen=True)
class SetRecording:
    on: bool | None = None  # None toggles


@dataclass(frozen=True)
class MidiEvent:
    """A raw controller event for the main thread's MIDI router (bindings and learn)."""

    kind: str  # "cc" | "note_on" | "note_off"
    channel: int  # 0..15
    number: int  # controller or note number, 0..127
    value: int  # 0..127 (velocity for notes)
    port: str = ""
    t_s: float = field(default=0.0, compare=False)  # perf_counter when it arrived (taps keep their timing)


@dataclass(frozen=True)
class MidiLearn:
    target: str  # a parameter name or action (installation/control/bindings.py); "" cancels


@dataclass(frozen=True)
class WekinatorOutputs:
    values: tuple[float, ...]  # /wek/outputs: 0..1 each, mapped onto osc.wekinator_outputs


Command = (
    SwitchPreset
    | SwitchModel
    | SetParam
    | ResetParam
    | Pulse
    | NewKeyframe
    | Drag
    | Snapshot
    | Tap
    | SetTempo
    | TempoNudge
    | ClockBeat
    | ClockStop
    | SetRecording
    | MidiEvent
    | MidiLearn
    | WekinatorOutputs
)


class CommandQueue:
    """Bounded, thread-safe FIFO of commands. put never blocks; a full queue drops the oldest."""

    def __init__(self, maxlen: int = MAX_QUEUED) -> None:
        self._items: collections.deque[Command] = collections.deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.dropped = 0
        self.received = 0

    def put(self, command: Command) -> None:
        with self._lock:
            if len(self._items) == self._items.maxlen:
                self.dropped += 1
            self._items.append(command)
            self.received += 1

    def drain(self, limit: int = MAX_PER_FRAME) -> list[Command]:
        """Up to limit commands, oldest first."""
        with self._lock:
            n = min(limit, len(self._items))
            return [self._items.popleft() for _ in range(n)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
