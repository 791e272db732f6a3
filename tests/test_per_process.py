"""One object per process: made once, shared by threads, made again in a forked child."""

from __future__ import annotations

import os
import threading

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
