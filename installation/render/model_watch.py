"""Hot swap: when the file behind the running model spec is replaced, load it again.

An artist copies a retrained model over the old file (or a disk hiccup corrupts it): once a second
the show looks at the file's size, mtime and inode; after a change has settled for SETTLE_S (so a
half-copied file is not read) the model is reloaded in the background. A file that does not load
is reported once and the current model stays (installation/render/loading.py keep_on_failure).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from models.registry import default_model_name, resolve

log = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0
SETTLE_S = 1.0


def model_file(spec: str) -> Path | None:
    """The file a spec loads from; None for a built-in model or a name that matches nothing."""
    try:
        return resolve(default_model_name() if spec == "auto" else spec).path
    except ValueError:
        return None


class ModelFileWatch:
    """changed(spec, now_s) is True once per settled change of the spec's file."""

    def __init__(self, every_s: float = CHECK_EVERY_S, settle_s: float = SETTLE_S) -> None:
        self.every_s = every_s
        self.settle_s = settle_s
        self._due_s = 0.0
        self._spec = ""
        self._path: Path | None = None
        self._signature: tuple[int, int, int] | None = None
        self._changed_s: float | None = None  # when the file last changed and was not reloaded yet

    def changed(self, spec: str, now_s: float) -> bool:
        if now_s < self._due_s:
            return False
        self._due_s = now_s + self.every_s
        if spec != self._spec:  # a new model: start watching its file as it is now
            self._spec, self._path = spec, model_file(spec)
            self._signature, self._changed_s = self._stat(), None
            return False
        signature = self._stat()
        if signature != self._signature:
            self._signature = signature
            self._changed_s = now_s if signature is not None else None  # deleted: wait for the new file
            return False
        if self._changed_s is not None and now_s - self._changed_s >= self.settle_s:
            self._changed_s = None
            log.info("model file %s was replaced: loading it", self._path)
            return True
        return False

    def _stat(self) -> tuple[int, int, int] | None:
        if self._path is None:
            return None
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino
