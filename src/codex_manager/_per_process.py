"""One object per process, made on first use; a forked child makes its own.

The SDK's process-wide helpers (the sync streams' socket hub and handler threads, the
handler-timeout watchdog) own threads, and a child made by ``os.fork()`` inherits none of
them, and perhaps a lock that a parent thread held at the fork. So the child forgets the
parent's object and makes a new one on first use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    """Holds one ``T`` for the current process; :meth:`get` makes it on first use."""

    def __init__(self) -> None:
        """Hold nothing yet; a forked child starts again from nothing."""
        self._value: T | None = None
        self._lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget)

    def get(self, make: Callable[[], T]) -> T:
        """This process's object, made by ``make`` if there is none yet."""
        value = self._value
        if value is None:
            with self._lock:
                value = self._value
                if value is None:
                    value = self._value = make()
        return value

    def _forget(self) -> None:
        self._value = None
        self._lock = threading.Lock()


__all__ = ["PerProcess"]
