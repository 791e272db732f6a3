"""A small thread-safe LRU mapping for the objects registration shares."""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Final, Generic, TypeVar

__all__ = ["BoundedCache"]

_DEFAULT_SIZE: Final = 1024

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A thread-safe least-recently-used mapping of at most ``size`` entries."""

    def __init__(self, size: int = _DEFAULT_SIZE) -> None:
        """Create an empty cache."""
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            # A child made by fork() while another thread held the lock would wait on it
            # for ever: it gets a fresh one (the entries are plain data, good in the child).
            mine = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _renew_lock(mine))

    def get(self, key: K) -> V | None:
        """The cached value, or ``None``."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> V:
        """Store ``value`` unless another thread stored one first; returns the kept value."""
        with self._lock:
            kept = self._entries.setdefault(key, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
            return kept

    def get_or_build(self, key: K, build: Callable[[], V]) -> V:
        """The cached value, else ``build()`` stored (built outside the lock)."""
        found = self.get(key)
        return found if found is not None else self.put(key, build())

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        """Number of entries."""
        return len(self._entries)


def _renew_lock(cache: weakref.ref[BoundedCache[K, V]]) -> None:
    alive = cache()
    if alive is not None:
        alive._lock = threading.Lock()
