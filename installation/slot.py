"""A latest-value slot: the one way values cross threads in Reverie.

A producer overwrites; a consumer reads the newest value. Nothing queues up, so a slow
consumer never builds a backlog and memory stays flat for weeks of running.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Holds the newest value and a version counter that rises on every put."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._value: T | None = None
        self._version = 0
        self._wakes = 0  # rises on every wake(): ends the waits in progress without a value

    def put(self, value: T) -> int:
        """Replace the held value (an unread older value is dropped). Returns the new version."""
        with self._cond:
            self._value = value
            self._version += 1
            self._cond.notify_all()
            return self._version

    def get(self) -> tuple[T | None, int]:
        """The newest value and its version, without waiting (None, 0 before the first put)."""
        with self._cond:
            return self._value, self._version

    def get_newer(self, seen_version: int) -> tuple[T | None, int]:
        """The newest value if its version is above seen_version, else (None, seen_version)."""
        with self._cond:
            if self._version > seen_version:
                return self._value, self._version
            return None, seen_version

    def wait_newer(self, seen_version: int, timeout_s: float) -> tuple[T | None, int]:
        """Block up to timeout_s for a version above seen_version; (None, seen_version) on timeout.

        Consumers threads use this instead of polling, so an idle worker costs no CPU.
        """
        with self._cond:
            wakes = self._wakes
            # wake() must end the wait: wait_for re-checks its predicate, so it has to see the wake too
            self._cond.wait_for(lambda: self._version > seen_version or self._wakes != wakes, timeout=timeout_s)
            if self._version > seen_version:
                return self._value, self._version
            return None, seen_version

    def wake(self) -> None:
        """End every wait in progress without a new value (used on shutdown): they return (None, seen)."""
        with self._cond:
            self._wakes += 1
            self._cond.notify_all()

    def discard(self) -> int:
        """Drop the held value unread (a request made stale by a model swap): a consumer's next
        wait_newer returns (None, version) instead of it. The version still rises, so no wait hangs."""
        with self._cond:
            self._value = None
            self._version += 1
            self._cond.notify_all()
            return self._version
