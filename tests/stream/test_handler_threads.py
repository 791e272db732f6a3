"""Worker threads shared by the sync streams: reused, bounded per stream, given back."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from codex_manager.stream.dispatch import ThreadDispatcher, in_handler_worker
from codex_manager.stream.handler_threads import HandlerThreads, shared_handler_threads

from .dispatch_support import CONTEXT, entry
from .ws_server import Recorder


def _wait_until(condition: object, timeout: float = 10.0) -> bool:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class _HeldCalls:
    """A handler that waits for ``gate``, counting how many of its calls run at once."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.running = 0
        self.most = 0
        self.finished: Recorder[object] = Recorder()
        self._counted = threading.Lock()

    def __call__(self, item: object, context: object) -> None:
        with self._counted:
            self.running += 1
            self.most = max(self.most, self.running)
        assert self.gate.wait(10)
        with self._counted:
            self.running -= 1
        self.finished.add(item)


def test_one_worker_serves_jobs_one_after_another() -> None:
    threads = HandlerThreads("t-reuse")
    threads.reserve(4)
    names: Recorder[str] = Recorder()
    for _ in range(20):
        done = threading.Event()

        def job(done: threading.Event = done) -> None:
            names.add(threading.current_thread().name)
            done.set()

        threads.run(job)
        assert done.wait(10)
        assert _wait_until(lambda: threads.workers == 1)
    assert set(names.snapshot()) == {"t-reuse-1"}
    threads.release(4)
    assert _wait_until(lambda: threads.workers == 0)


def test_workers_grow_to_the_largest_bound_and_leave_when_released() -> None:
    threads = HandlerThreads("t-grow")
    threads.reserve(2)
    threads.reserve(3)
    assert threads.limit == 3
    gate = threading.Event()
    started: Recorder[str] = Recorder()
    finished: Recorder[str] = Recorder()

    def job() -> None:
        started.add(threading.current_thread().name)
        assert gate.wait(10)
        finished.add("done")

    for _ in range(5):
        threads.run(job)
    assert len(set(started.wait_for(3))) == 3
    time.sleep(0.05)  # a fourth job would have started by now if the limit leaked
    assert len(started.snapshot()) == 3
    assert threads.workers == 3
    gate.set()
    # The queued jobs run in the same three workers as they come free.
    assert len(finished.wait_for(5)) == 5
    assert len(set(started.snapshot())) == 3
    threads.release(3)
    assert threads.limit == 2
    assert _wait_until(lambda: threads.workers == 2)
    threads.release(2)
    assert threads.limit == 0
    assert _wait_until(lambda: threads.workers == 0)


def test_a_raising_job_is_logged_and_the_worker_lives_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    threads = HandlerThreads("t-raise")
    threads.reserve(1)
    ran = threading.Event()

    def bad() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="codex_manager.stream"):
        threads.run(bad)
        assert _wait_until(lambda: any("a job raised" in r.message for r in caplog.records))
    threads.run(ran.set)
    assert ran.wait(10)
    assert threads.workers == 1
    threads.release(1)
    assert _wait_until(lambda: threads.workers == 0)


def test_on_start_runs_in_every_worker() -> None:
    marked: Recorder[str] = Recorder()
    threads = HandlerThreads("t-mark", on_start=lambda: marked.add("marked"))
    threads.reserve(1)
    done = threading.Event()
    threads.run(done.set)
    assert done.wait(10)
    assert marked.wait_for(1) == ["marked"]
    threads.release(1)


def test_each_stream_keeps_its_own_bound() -> None:
    held = _HeldCalls()
    dispatcher = ThreadDispatcher(
        max_workers=2, max_pending=100, report=lambda e, x, i: None, name="bound"
    )
    registered = entry(held)
    for number in range(6):
        assert dispatcher.submit(registered, number, CONTEXT, f"t{number}", ordered=False)
    assert _wait_until(lambda: held.running == 2)
    time.sleep(0.05)  # a third call would have started by now if the bound leaked
    assert held.most == 2
    held.gate.set()
    assert sorted(held.finished.wait_for(6), key=str) == list(range(6))
    assert held.most == 2
    dispatcher.shutdown(10)


def test_a_stream_full_of_stuck_handlers_leaves_the_other_threads_to_others() -> None:
    threads = HandlerThreads("t-stuck")
    gate = threading.Event()
    stuck: Recorder[object] = Recorder()
    served: Recorder[object] = Recorder()

    def stuck_handler(item: object, context: object) -> None:
        stuck.add(item)
        assert gate.wait(10)

    def quick_handler(item: object, context: object) -> None:
        served.add(item)

    def dispatcher(bound: int) -> ThreadDispatcher:
        return ThreadDispatcher(
            max_workers=bound,
            max_pending=100,
            report=lambda e, x, i: None,
            name="d",
            threads=threads,
        )

    busy = dispatcher(3)
    free = dispatcher(8)
    for number in range(5):
        busy.submit(entry(stuck_handler), number, CONTEXT, "busy", ordered=False)
    stuck.wait_for(3)
    for number in range(10):
        free.submit(entry(quick_handler), number, CONTEXT, "free")
    assert served.wait_for(10) == list(range(10))
    assert len(stuck.snapshot()) == 3  # busy's own bound holds its last two back
    free.shutdown(10)
    gate.set()
    assert busy.wait_idle(10)
    assert len(stuck.snapshot()) == 5
    busy.shutdown(10)
    assert _wait_until(lambda: threads.workers == 0)


def test_all_streams_together_run_at_most_the_largest_bound() -> None:
    threads = HandlerThreads("t-cap")
    held = _HeldCalls()
    streams = [
        ThreadDispatcher(
            max_workers=2, max_pending=100, report=lambda e, x, i: None, name="s", threads=threads
        )
        for _ in range(3)
    ]
    for index, stream in enumerate(streams):
        for number in range(3):
            stream.submit(entry(held), (index, number), CONTEXT, None, ordered=False)
    assert _wait_until(lambda: held.running == 2)
    time.sleep(0.05)
    assert held.most == 2
    held.gate.set()
    assert len(held.finished.wait_for(9)) == 9
    for stream in streams:
        stream.shutdown(10)
    assert held.most == 2
    assert _wait_until(lambda: threads.workers == 0)


def test_a_handler_raising_system_exit_is_reported_and_its_lane_goes_on() -> None:
    failures: Recorder[str] = Recorder()
    seen: Recorder[object] = Recorder()

    def handler(item: object, context: object) -> None:
        if item == 0:
            raise SystemExit(3)
        seen.add(item)

    dispatcher = ThreadDispatcher(
        max_workers=1,
        max_pending=10,
        report=lambda e, x, i: failures.add(type(x).__name__),
        name="exit",
    )
    registered = entry(handler)
    for number in range(3):
        dispatcher.submit(registered, number, CONTEXT, "lane")
    assert seen.wait_for(2) == [1, 2]
    assert failures.wait_for(1) == ["SystemExit"]
    assert dispatcher.wait_idle(10)
    dispatcher.shutdown(10)


def test_a_reporter_that_raises_leaves_the_lane_and_the_bound_working(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An on_error handler that calls sys.exit(), say: its worker must not die with the lane.
    seen: Recorder[object] = Recorder()

    def handler(item: object, context: object) -> None:
        if item == 0:
            raise ValueError("boom")
        seen.add(item)

    def report(registered: object, error: BaseException, item: object) -> None:
        raise SystemExit(1)

    dispatcher = ThreadDispatcher(max_workers=1, max_pending=10, report=report, name="quits")
    registered = entry(handler)
    with caplog.at_level(logging.ERROR, logger="codex_manager.stream"):
        for number in range(3):
            dispatcher.submit(registered, number, CONTEXT, "lane")
        assert seen.wait_for(2) == [1, 2]
        assert dispatcher.wait_idle(10)
    assert any("reporting" in record.getMessage() for record in caplog.records)
    dispatcher.submit(registered, 3, CONTEXT, "lane")  # the bound's one slot is free again
    assert seen.wait_for(3) == [1, 2, 3]
    dispatcher.shutdown(10)


def test_a_stream_reserves_its_bound_while_it_runs_and_gives_it_back_once() -> None:
    shared = shared_handler_threads()
    before = shared.limit
    dispatcher = ThreadDispatcher(
        max_workers=before + 3, max_pending=1, report=lambda e, x, i: None, name="twice"
    )
    assert shared.limit == before + 3
    dispatcher.shutdown(1)
    dispatcher.shutdown(1)
    assert shared.limit == before


def test_the_shared_workers_are_marked_as_handler_workers() -> None:
    marked: Recorder[bool] = Recorder()
    dispatcher = ThreadDispatcher(
        max_workers=2, max_pending=4, report=lambda e, x, i: None, name="marked"
    )
    dispatcher.submit(
        entry(lambda item, context: marked.add(in_handler_worker())), 1, CONTEXT, None
    )
    assert marked.wait_for(1) == [True]
    assert not in_handler_worker()
    dispatcher.shutdown(10)


def test_a_worker_that_cannot_start_leaves_the_job_queued_for_the_next_free_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    threads = HandlerThreads("refused")
    threads.reserve(4)
    gate = threading.Event()
    ran: Recorder[str] = Recorder()

    def first() -> None:
        gate.wait(10)
        ran.add("first")

    threads.run(first)  # one worker, busy
    start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with caplog.at_level(logging.WARNING, logger="codex_manager.stream"):
        threads.run(lambda: ran.add("second"))  # no new worker: queued, not raised
    monkeypatch.setattr(threading.Thread, "start", start)
    assert any("could not start a worker" in record.getMessage() for record in caplog.records)
    assert threads.workers == 1
    gate.set()
    assert ran.wait_for(2) == ["first", "second"]  # the busy worker took it after its job
    threads.release(4)
    assert _wait_until(lambda: threads.workers == 0)
