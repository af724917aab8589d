"""Saved show state: atomic JSON files that survive power cuts, kills and full disks.

A write goes to a temp file, is fsynced, the current file is hard-linked as `<name>.bak`, the temp
file is renamed over the name and the directory fsynced. So at every instant the file on disk is
either the old or the new complete JSON, and `.bak` holds the previous good copy.
Reading tries the file, then `.bak`; a corrupt or half file is reported and skipped, never trusted.

`StateStore` gathers named providers (export/import callables) into one JSON object, so later parts
of the show (presets, engagement statistics) plug in with `store.register(name, export, import_)`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from installation.slot import LatestSlot

log = logging.getLogger(__name__)

FORMAT = "reverie-state/1"


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some systems cannot open directories; the rename is still atomic there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _keep_backup(path: Path) -> None:
    """The current file also becomes `.bak`, while `path` itself stays in place (readers never miss it)."""
    link = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.bak-link")
    try:
        os.link(path, link)  # a second name for the same complete file: no copy, atomic
    except OSError:  # file systems without hard links (FAT on a USB stick): copy instead
        link.write_bytes(path.read_bytes())
    os.replace(link, backup_path(path))


def write_text_atomic(path: str | Path, text: str, keep_backup: bool = True) -> None:
    """Replace `path` by `text` atomically (see module docstring). Raises OSError (e.g. disk full)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before any name points at it
        if keep_backup and path.exists():
            _keep_backup(path)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def write_json_atomic(path: str | Path, data: Any, keep_backup: bool = True) -> None:
    write_text_atomic(path, json.dumps(data, separators=(",", ":")), keep_backup)


def read_json_safe(path: str | Path) -> dict[str, Any] | None:
    """The saved object from `path`, else from its `.bak`; None (with a warning) when neither is usable."""
    path = Path(path)
    for candidate in (path, backup_path(path)):
        try:
            data = json.loads(candidate.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:  # half-written by a foreign tool, bit rot, not UTF-8
            log.warning("state file %s is unreadable (%s); ignoring it", candidate, exc)
            continue
        if not isinstance(data, dict):
            log.warning("state file %s does not hold a JSON object; ignoring it", candidate)
            continue
        if candidate != path:
            log.warning("using the previous state copy %s", candidate)
        return data
    return None


@dataclass(frozen=True)
class PendingText:
    text: str  # complete file contents, serialised on the producer's thread
    seq: int


class AtomicFileWriter:
    """A thread that writes the newest text handed to it to one file, so the display loop never
    waits on a disk. A write error is logged once (and once more when writing works again)."""

    def __init__(self, path: str | Path, keep_backup: bool = True, name: str = "file-writer") -> None:
        self.path = Path(path)
        self.keep_backup = keep_backup
        self._slot: LatestSlot[PendingText] = LatestSlot()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._seq = 0
        self.error = ""  # last write error, "" while writes succeed
        self.written = 0

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for stale in (
            *self.path.parent.glob(f".{self.path.name}.*.tmp"),
            *self.path.parent.glob(f".{self.path.name}.*.bak-link"),
        ):
            stale.unlink(missing_ok=True)  # left by a process killed mid-write; never read
        self._thread.start()

    def put(self, text: str) -> None:
        self._seq += 1
        self._slot.put(PendingText(text, self._seq))

    def write_now(self, text: str) -> bool:
        """Synchronous write (used on close, after the thread is stopped). True on success."""
        return self._write(text)

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._slot.wake()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        seen = 0
        while not self._stop.is_set():
            pending, seen = self._slot.wait_newer(seen, timeout_s=0.5)
            if pending is not None:
                self._write(pending.text)

    def _write(self, text: str) -> bool:
        try:
            write_text_atomic(self.path, text, self.keep_backup)
        except OSError as exc:
            if not self.error:
                log.error("cannot write %s (%s); the show goes on, the last good copy is kept", self.path, exc)
            self.error = f"{type(exc).__name__}: {exc}"
            return False
        if self.error:
            log.info("writing %s works again", self.path)
            self.error = ""
        self.written += 1
        return True


Exporter = Callable[[], Any]
Importer = Callable[[Any], None]


class StateStore:
    """Named state providers <-> one atomically saved JSON object.

    Each provider exports plain JSON values and imports what it exported; a provider whose saved part
    does not fit (ValueError, TypeError, KeyError) is skipped with a warning and starts fresh.
    """

    def __init__(self, path: str | Path | None) -> None:
        """path None: providers can register, but nothing is saved or restored."""
        self.path = Path(path).expanduser() if path else None
        self._providers: dict[str, tuple[Exporter, Importer]] = {}
        self._writer = AtomicFileWriter(self.path, keep_backup=True, name="state-writer") if self.path else None

    def register(self, name: str, export: Exporter, import_: Importer) -> None:
        self._providers[name] = (export, import_)

    @property
    def error(self) -> str:
        return self._writer.error if self._writer is not None else ""

    def start(self) -> None:
        if self._writer is None:
            return
        try:
            self._writer.start()
        except OSError as exc:
            log.error("cannot create the state folder for %s (%s); state will not be saved", self.path, exc)

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT}
        for name, (export, _) in self._providers.items():
            out[name] = export()
        return out

    def save(self) -> None:
        """Hand the current state to the writer thread (serialised here, written there)."""
        if self._writer is None:
            return
        self._writer.put(json.dumps(self.snapshot(), separators=(",", ":")))

    def restore(self) -> list[str]:
        """Import what was saved; returns the names of the providers restored."""
        if self.path is None:
            return []
        data = read_json_safe(self.path)
        if data is None:
            return []
        if data.get("format") != FORMAT:
            log.warning(
                "state file %s has format %r, expected %r; starting fresh", self.path, data.get("format"), FORMAT
            )
            return []
        restored = []
        for name, (_, import_) in self._providers.items():
            if name not in data:
                continue
            try:
                import_(data[name])
                restored.append(name)
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("saved %s in %s does not fit this show (%s); starting it fresh", name, self.path, exc)
        if restored:
            log.info("restored %s from %s", ", ".join(restored), self.path)
        return restored

    def close(self) -> None:
        """Stop the writer and save once more, synchronously, so nothing since the last save is lost."""
        if self._writer is None:
            return
        self._writer.close()
        self._writer.write_now(json.dumps(self.snapshot(), separators=(",", ":")))
