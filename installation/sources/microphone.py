"""The microphone input: the newest audio in a preallocated ring, whatever feeds it.

A sound device (via sounddevice/PortAudio), a sound file played back in real time "as if it were
the room", or a synthetic test signal writes into the ring; read_latest() copies the newest samples
out. When the device is missing or dies, the show hears silence while a thread keeps retrying.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from installation.sources.base import Backoff, SourceStatus
from installation.sources.jack_metadata import ensure_usable
from installation.sources.ring import SampleRing
from installation.sources.soundfile import decode_with_ffmpeg, load_sound_file, read_wav_mono, resample_linear
from installation.sources.synthetic import BEAT_S, synthetic_signal

log = logging.getLogger(__name__)
SILENT_POLL_S = 0.05  # while silent, wait_block wakes this often to notice the source going live

BLOCKSIZE = 256  # ~6 ms at 44.1 kHz: each block wakes the hearing thread (issue #12: sound-to-photon)
STALL_S = 2.0  # a running stream with no callback for this long is dead (e.g. unplugged)
FIRST_BLOCK_S = 6.0  # PulseAudio via ALSA can take ~2 s before the first block arrives
POLL_S = 0.1  # how often the device thread checks the stream's health
PLAYER_TICK_S = 0.005  # file/synthetic playback writes ~5 ms per tick, like a 256-sample device block
JOIN_TIMEOUT_S = 2.0
# A PortAudio call (open, abort/close) that has not returned after this long will not return: when
# PulseAudio dies before a stream's first block, PortAudio's ALSA thread spins for good (burning a
# core, flooding stderr) and the abort waits on it forever. Only a new process clears that; the
# caretaker asks the supervisor for one (installation/care.py).
STUCK_S = 10.0
AUDIO_FILE_EXTS = {".wav", ".wave", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff"}
PORTAUDIO_FIX = "sudo apt-get install libportaudio2 (Debian/Ubuntu)"


_STUCK_SOURCES: set[str] = set()  # microphones whose device thread was left inside PortAudio at close


def portaudio_stuck() -> bool:
    """A microphone was closed while its thread was stuck inside PortAudio: the process should end
    with os._exit (the interpreter's normal shutdown crashes with that thread spinning)."""
    return bool(_STUCK_SOURCES)


class MicrophoneSource:
    """spec: "auto"/"default" | device name substring | device index | sound file | "synthetic" | "none"."""

    def __init__(
        self,
        spec: str,
        samplerate: int = 44100,
        ring_s: float = 2.0,
        retry_s: float = 2.0,
        max_retry_s: float = 30.0,
    ) -> None:
        self.spec = spec.strip()
        self.samplerate = samplerate
        self._ring = SampleRing(max(BLOCKSIZE, int(ring_s * samplerate)))
        self._backoff = Backoff(retry_s, max_retry_s)
        self._status = SourceStatus("microphone", "off", "microphone: not started yet")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._silent = True  # read_latest() gives fresh silence: off, falling back, or not started
        self._in_outage = False  # one warning per outage, not per retry
        # Written by the audio callback / finished_callback, read by the device thread.
        self._stream_finished = False
        self._pending_live = ""  # an opened stream's description, until its first block arrives
        self._status_flag_count = 0
        self._stream_opened_s = 0.0
        self._in_portaudio_since_s: float | None = None  # perf_counter() when a PortAudio call began
        self._sd: ModuleType | None = None

        lower = self.spec.lower()
        self._device: int | str | None = None
        self._path: str | None = None
        if lower == "none":
            self._mode = "none"
            self._status = SourceStatus("microphone", "off", "microphone off (spec 'none')")
        elif lower == "synthetic":
            self._mode = "synthetic"
        elif _looks_like_file(self.spec):
            self._mode, self._path = "file", self.spec
        else:
            self._mode = "device"
            if lower not in ("auto", "default"):
                self._device = int(self.spec) if self.spec.isdigit() else self.spec

    # --- public API -------------------------------------------------------------------------

    def start(self) -> None:
        if self._mode == "none" or self._thread is not None:
            return
        target = {"device": self._run_device, "file": self._run_file, "synthetic": self._run_synthetic}
        self._thread = threading.Thread(target=target[self._mode], name="microphone", daemon=True)
        self._thread.start()

    def read_latest(self, n_samples: int) -> tuple[np.ndarray, float]:
        """The newest n_samples mono float32 samples in [-1, 1] and perf_counter() of the newest one.

        Zeros where nothing has arrived yet; fresh silence (time = now) when off or falling back.
        """
        if self._silent:
            return np.zeros(n_samples, np.float32), time.perf_counter()
        samples, written, t_newest_s = self._ring.read(n_samples)
        return samples, (t_newest_s if written else time.perf_counter())

    def wait_block(self, seen: int, timeout_s: float) -> int:
        """Wait for the next block of samples (at most timeout_s); returns the samples-written count
        to pass as `seen` next time. Lets the hearing thread wake per block instead of on a tick."""
        if self._silent:  # nothing arrives yet: poll briefly (a source may go live any moment), hear silence
            self._stop.wait(min(timeout_s, SILENT_POLL_S))
            return seen
        return self._ring.wait_written(seen, timeout_s)

    def status(self) -> SourceStatus:
        return self._status

    def stuck_s(self, now_s: float | None = None) -> float:
        """How long the device thread has been inside one PortAudio call (0 = not in one).

        Past STUCK_S the call will not return and the microphone cannot come back in this process."""
        since_s = self._in_portaudio_since_s
        if since_s is None:
            return 0.0
        return (time.perf_counter() if now_s is None else now_s) - since_s

    def close(self) -> None:
        """Stop the thread (which closes the stream) and join it."""
        self._stop.set()
        if self._thread is not None:
            timeout_s = 0.2 if self.stuck_s() >= STUCK_S else JOIN_TIMEOUT_S  # a stuck call will not return
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("microphone: thread did not stop within %.1f s", timeout_s)
                if self.stuck_s() > 0 and self._sd is not None:
                    # sounddevice's exit handler aborts every open stream: on the stuck one it would
                    # hang the exit, and the supervisor would wait hang_s before killing us.
                    atexit.unregister(self._sd._exit_handler)
                    _STUCK_SOURCES.add(self.spec)
                    log.warning("microphone: PortAudio is stuck; it is not shut down at exit")
            self._thread = None
        self._silent = True

    # --- state changes ----------------------------------------------------------------------

    def _go_live(self, detail: str, label: str) -> None:
        if self._in_outage:
            log.info("%s is back: %d Hz", label, self.samplerate)
        else:
            log.info("microphone: %s", detail)
        self._in_outage = False
        self._backoff.reset()
        self._silent = False
        self._status = SourceStatus("microphone", "live", detail)

    def _fall_back(self, error: str, retrying: bool = True) -> None:
        self._silent = True
        detail = f"{error} -> silence"
        if retrying:
            detail += f"; {self._backoff.describe()}"
        self._status = SourceStatus("microphone", "fallback", detail, error)  # before logging, which can block
        if not self._in_outage:
            log.warning("microphone: %s", detail)
            self._in_outage = True
        else:
            log.debug("microphone: retry failed: %s", error)

    # --- sound device -----------------------------------------------------------------------

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: copy into the ring and note the time. No DSP, logging or allocation."""
        self._ring.write(indata[:, 0], time.perf_counter())
        if status:
            self._status_flag_count += 1

    def _on_finished(self) -> None:
        self._stream_finished = True

    def _run_device(self) -> None:
        jack_problem = ensure_usable()  # a JACK database left locked by a killed program hangs PortAudio's start
        if jack_problem:  # the import below will wait on it: say why the microphone stays silent
            self._status = SourceStatus("microphone", "fallback", "PortAudio cannot start -> silence", jack_problem)
        sd, error = _import_sounddevice()
        if sd is None:
            self._fall_back(f"PortAudio library not found ({error}); fix: {PORTAUDIO_FIX}", retrying=False)
            return
        self._sd = sd
        label = "microphone 'default'" if self._device is None else f"microphone {self._device!r}"
        stream: Any = None
        next_try_s = 0.0
        tried = False
        seen_flags = 0
        try:
            while not self._stop.is_set():
                now_s = time.perf_counter()
                if stream is None and now_s >= next_try_s:
                    self._in_portaudio_since_s = now_s
                    stream, error = self._open_stream(sd, label, rescan=tried)
                    self._in_portaudio_since_s = None
                    tried = True
                    if stream is None:
                        self._fall_back(error)
                        next_try_s = now_s + self._backoff.next_delay_s()
                elif stream is not None:
                    error = self._stream_problem(stream, now_s)
                    if error:
                        # Report first: PortAudio's abort can hang while its ALSA thread spins on a
                        # dead PulseAudio server (seen here); the show must not stay "live" and deaf.
                        self._fall_back(f"{label}: {error}")
                        self._in_portaudio_since_s = time.perf_counter()
                        _close_stream(stream)
                        self._in_portaudio_since_s = None
                        stream = None
                        next_try_s = now_s + self._backoff.next_delay_s()
                    elif self._pending_live and self._ring.newest()[0]:  # live = sound arrives, not "opened"
                        self._go_live(self._pending_live, label)
                        self._pending_live = ""
                    elif self._status_flag_count != seen_flags:
                        seen_flags = self._status_flag_count
                        log.debug("microphone: %d overflow/underflow blocks so far", seen_flags)
                self._stop.wait(POLL_S)
        except Exception:  # a crash here would leave the show deaf silently; say why instead
            log.exception("microphone: device thread crashed")
            self._silent = True
            self._status = SourceStatus("microphone", "off", f"{label}: crashed", "see log")
        finally:
            if stream is not None:
                _close_stream(stream)

    def _open_stream(self, sd: ModuleType, label: str, rescan: bool) -> tuple[Any, str]:
        if rescan:
            try:  # PortAudio lists devices only at initialisation; no stream is open here
                sd._terminate()
                sd._initialize()
            except Exception as exc:  # noqa: BLE001 - the open below reports the real problem
                log.debug("microphone: PortAudio re-initialisation failed: %s", exc)
        self._ring.clear()
        self._stream_finished = False
        try:
            stream = sd.InputStream(
                device=self._device,
                channels=1,
                samplerate=self.samplerate,
                dtype="float32",
                blocksize=BLOCKSIZE,
                callback=self._callback,
                finished_callback=self._on_finished,
            )
            stream.start()
            name = sd.query_devices(stream.device)["name"]
        except Exception as exc:  # PortAudioError, ValueError (no such name), ...
            if not _has_input_device(sd):
                return None, f"no audio input device found for {label}"
            return None, f"cannot open {label}: {exc}"
        self._stream_opened_s = time.perf_counter()
        self._pending_live = f"{label} ('{name}') {self.samplerate} Hz mono"  # live with the first block
        if not self._in_outage:  # (during an outage the outage's own status stands until then)
            self._status = SourceStatus(
                "microphone", "fallback", f"{label} opened; waiting for its first block -> silence", ""
            )
        return stream, ""

    def _stream_problem(self, stream: Any, now_s: float) -> str:
        """Why the running stream is no good any more, or ""."""
        if self._stream_finished or not stream.active:
            return "input stream stopped"
        written, t_newest_s = self._ring.newest()
        if not written and now_s - self._stream_opened_s > FIRST_BLOCK_S:
            return f"no audio within {FIRST_BLOCK_S:g} s of opening"
        if written and now_s - t_newest_s > STALL_S:
            return f"no audio for {now_s - t_newest_s:.1f} s (unplugged?)"
        return ""

    # --- sound file and synthetic playback --------------------------------------------------

    def _run_file(self) -> None:
        assert self._path is not None
        while not self._stop.is_set():
            samples, error = load_sound_file(self._path, self.samplerate)
            if samples is not None:
                name = os.path.basename(self._path)
                seconds = samples.shape[0] / self.samplerate
                self._go_live(f"sound file {name} ({seconds:.1f} s, looping)", f"sound file {name}")
                self._play(_looping(samples))
                return
            self._fall_back(error)
            self._stop.wait(self._backoff.next_delay_s())

    def _run_synthetic(self) -> None:
        detail = f"synthetic test signal: soft drone + a hit every {BEAT_S:g} s"
        self._go_live(detail, "synthetic signal")
        self._play(lambda start, n: synthetic_signal(start, n, self.samplerate))

    def _play(self, samples_at: Callable[[int, int], np.ndarray]) -> None:
        """Write samples into the ring as fast as real time passes (monotonic clock, no drift)."""
        self._ring.clear()
        t0_s = time.perf_counter()
        played = 0
        ring_n = self._ring.size
        while not self._stop.is_set():
            due = int((time.perf_counter() - t0_s) * self.samplerate)
            played = max(played, due - ring_n)  # after a long stall, skip what the ring cannot hold
            if due > played:
                self._ring.write(samples_at(played, due - played), t0_s + due / self.samplerate)
                played = due
            self._stop.wait(PLAYER_TICK_S)


def _looks_like_file(spec: str) -> bool:
    ext = os.path.splitext(spec)[1].lower()
    return ext in AUDIO_FILE_EXTS or os.sep in spec or os.path.isfile(spec)


def _import_sounddevice() -> tuple[ModuleType | None, str]:
    try:
        import sounddevice
    except OSError as exc:  # the Python package is there but libportaudio is not
        return None, str(exc)
    return sounddevice, ""


def _has_input_device(sd: ModuleType) -> bool:
    try:
        return any(device["max_input_channels"] > 0 for device in sd.query_devices())
    except Exception:  # noqa: BLE001 - cannot even list devices: then there is none to use
        return False


def _close_stream(stream: Any) -> None:
    try:
        stream.abort(ignore_errors=True)
        stream.close(ignore_errors=True)
    except Exception as exc:  # noqa: BLE001 - a dead device may refuse even this
        log.debug("microphone: closing the stream failed: %s", exc)


__all__ = ["MicrophoneSource", "decode_with_ffmpeg", "load_sound_file", "read_wav_mono", "resample_linear"]


def _looping(samples: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """samples_at for _play: n samples from start, wrapping round the end (a sound file loops)."""
    return lambda start, n: np.take(samples, np.arange(start, start + n), mode="wrap")
