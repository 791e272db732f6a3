"""A value made on first use, once, even when several threads ask for it at the same time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class OnFirstUse(Generic[T]):
    """Holds one ``T``; :meth:`get` makes it on first use (double-checked under a lock)."""

    def __init__(self) -> None:
        """Hold nothing yet."""
        self._value: T | None = None
        self._lock = threading.Lock()

    @property
    def value(self) -> T | None:
        """The object if it was made, else ``None`` (nothing is made)."""
        return self._value

    def get(self, make: Callable[[], T]) -> T:
        """The object, made by ``make`` if there is none yet."""
        value = self._value
        if value is None:
            with self._lock:
                value = self._value
                if value is None:
                    value = self._value = make()
        return value


__all__ = ["OnFirstUse"]
