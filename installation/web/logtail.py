"""The last WARNING/ERROR log lines, for the web panel. A logging.Handler with a bounded deque.

In the --supervise process the show's own lines arrive as INFO records of "reverie.show" whose text
starts "<date> <time> <LEVEL> ..." (main.py's format): their level is read from the text.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque

MAX_LINES = 60
MAX_CHARS = 400  # a runaway line (a tensor printed into an error) is cut, not kept whole
SHOW_LOGGER = "reverie.show"
_SHOW_LEVEL = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL)\b")


class LogTail(logging.Handler):
    def __init__(self, maxlen: int = MAX_LINES) -> None:
        super().__init__(logging.NOTSET)  # pass-through show lines are INFO records: filtered in handle()
        self._lines: deque[tuple[float, str, str]] = deque(maxlen=maxlen)  # (unix time, level, text)
        self._lines_lock = threading.Lock()

    def handle(self, record: logging.LogRecord) -> bool:
        if record.name != SHOW_LOGGER and record.levelno < logging.WARNING:
            return False  # the cheap, common case first
        try:
            text = record.getMessage()
        except Exception:  # a bad format string elsewhere must not break logging here
            return False
        if record.name == SHOW_LOGGER:
            match = _SHOW_LEVEL.match(text)
            if match is None:
                return False
            level, text = match.group(1), text[match.end() :].strip()
        else:
            level, text = record.levelname, f"{record.name}: {text}"
        with self._lines_lock:
            self._lines.append((record.created, level, text[:MAX_CHARS]))
        return True

    def emit(self, record: logging.LogRecord) -> None:  # handle() does the work
        pass

    def lines(self) -> list[dict[str, object]]:
        with self._lines_lock:
            items = list(self._lines)
        return [
            {"t": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)), "level": level, "text": text}
            for t, level, text in items
        ]

    def install(self) -> LogTail:
        logging.getLogger().addHandler(self)
        return self

    def remove(self) -> None:
        logging.getLogger().removeHandler(self)
