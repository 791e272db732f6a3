"""One object per process, made on first use; a forked child makes its own.

The SDK's process-wide helpers (the sync streams' socket hub and handler threads, the
handler-timeout watchdog) own threads, and a child made by ``os.fork()`` inherits none of
them, and perhaps a lock that a parent thread held at the fork. So the child forgets the
parent's object and makes a new one on first use.
"""

from __future__ import annotations

import os
import threading
from typing import TypeVar

from codex_manager._first_use import OnFirstUse

T = TypeVar("T")


class PerProcess(OnFirstUse[T]):
    """Holds one ``T`` for the current process; :meth:`get` makes it on first use."""

    def __init__(self) -> None:
        """Hold nothing yet; a forked child starts again from nothing."""
        super().__init__()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._value = None
        self._lock = threading.Lock()


__all__ = ["PerProcess"]
