"""One object per process: made once, shared by threads, made again in a forked child."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from codex_manager._per_process import PerProcess


def test_made_once_however_many_threads_ask() -> None:
    holder: PerProcess[object] = PerProcess()
    made: list[object] = []
    start = threading.Barrier(8)
    got: list[object] = []

    def make() -> object:
        made.append(object())
        return made[-1]

    def ask() -> None:
        start.wait()
        got.append(holder.get(make))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    assert all(value is made[0] for value in got)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads (3.12+)
def test_a_forked_child_makes_its_own() -> None:
    holder: PerProcess[list[int]] = PerProcess()
    parent = holder.get(lambda: [os.getpid()])
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            mine = holder.get(lambda: [os.getpid()])
            code = 0 if mine is not parent and mine == [os.getpid()] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert holder.get(lambda: [0]) is parent  # the parent keeps its own


def _in_a_child_forked_while_held(
    lock_of: Callable[[], AbstractContextManager[object]], use: Callable[[], object]
) -> int:
    """Fork while another thread holds ``lock_of()``; the child's exit code after ``use()``
    (0), or 3 if it did not return within a second (it waited on the inherited lock)."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock_of():
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(1)  # a child stuck on the lock ends with SIGALRM
            use()
            code = 0
        finally:
            os._exit(code)
    release.set()
    holder.join()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads (3.12+)
def test_a_child_forked_while_a_cache_or_the_serving_lock_was_held_does_not_hang() -> None:
    from codex_manager.client import _transport
    from codex_manager.remote_skills._cache import BoundedCache

    cache: BoundedCache[str, int] = BoundedCache()
    assert _in_a_child_forked_while_held(lambda: cache._lock, lambda: cache.put("a", 1)) == 0
    assert (
        _in_a_child_forked_while_held(
            lambda: _transport._SERVING_LOCK, lambda: _transport._SERVING_LOCK.acquire()
        )
        == 0
    )
