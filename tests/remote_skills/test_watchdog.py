"""The watchdog that keeps in-place handler deadlines: firing, cancelling, compaction."""

from __future__ import annotations

import functools
import gc
import os
import threading
import time
import weakref

import pytest

from codex_manager.remote_skills.watchdog import Watchdog, shared_watchdog


def test_fires_due_callbacks_in_deadline_order() -> None:
    watchdog = Watchdog()
    fired: list[str] = []
    done = threading.Event()

    def note(name: str) -> None:
        fired.append(name)
        if len(fired) == 2:
            done.set()

    watchdog.schedule(0.02, lambda: note("second"))
    watchdog.schedule(0.0, lambda: note("first"))
    assert done.wait(10)
    assert fired == ["first", "second"]


def test_cancelled_timer_never_fires() -> None:
    watchdog = Watchdog()
    fired = threading.Event()
    after = threading.Event()
    timer = watchdog.schedule(0.01, fired.set)
    assert watchdog.cancel(timer)
    assert not watchdog.cancel(timer)
    watchdog.schedule(0.02, after.set)  # fires after the cancelled one would have
    assert after.wait(10)
    assert not fired.is_set()


def test_cancel_after_firing_reports_false() -> None:
    watchdog = Watchdog()
    fired = threading.Event()
    timer = watchdog.schedule(0.0, fired.set)
    assert fired.wait(10)
    assert not watchdog.cancel(timer)


def test_cancelled_entries_do_not_accumulate() -> None:
    watchdog = Watchdog()
    for _ in range(5_000):
        watchdog.cancel(watchdog.schedule(300.0, lambda: None))
    assert len(watchdog._heap) <= 600


def test_an_earlier_deadline_wakes_a_watchdog_waiting_for_a_later_one() -> None:
    watchdog = Watchdog()
    fired = threading.Event()
    watchdog.schedule(300.0, lambda: None)
    time.sleep(0.05)  # the thread now sleeps until the 300 s deadline
    started = time.monotonic()
    watchdog.schedule(0.01, fired.set)
    assert fired.wait(5)
    assert time.monotonic() - started < 2.0


class _CountingCondition(threading.Condition):
    """A condition that counts the wake-ups asked of it."""

    def __init__(self) -> None:
        super().__init__(threading.Lock())
        self.notified = 0

    def notify(self, n: int = 1) -> None:
        self.notified += 1
        super().notify(n)


def test_timers_of_calls_that_end_first_do_not_wake_the_thread() -> None:
    # A busy stream: each call's timer is cancelled before the watchdog's thread looks at it.
    watchdog = Watchdog()
    wakeup = _CountingCondition()
    watchdog._wakeup = wakeup
    for _ in range(100):
        watchdog.cancel(watchdog.schedule(60.0, lambda: None))
        time.sleep(0.002)  # the thread runs meanwhile
    assert wakeup.notified <= 2


def test_a_deadline_before_the_thread_looks_again_still_wakes_it() -> None:
    watchdog = Watchdog()
    wakeup = _CountingCondition()
    watchdog._wakeup = wakeup
    watchdog.cancel(watchdog.schedule(300.0, lambda: None))
    limit = time.monotonic() + 10
    while watchdog._looks_at < time.monotonic() + 200:  # until it sleeps until that deadline
        assert time.monotonic() < limit
        time.sleep(0.005)
    fired = threading.Event()
    started = time.monotonic()
    watchdog.schedule(0.01, fired.set)
    assert fired.wait(5)
    assert time.monotonic() - started < 2.0


def test_a_nan_delay_is_refused() -> None:
    # At the heap's root it would never come due and hold back every later deadline.
    watchdog = Watchdog()
    with pytest.raises(ValueError, match="NaN"):
        watchdog.schedule(float("nan"), lambda: None)
    fired = threading.Event()
    watchdog.schedule(0.0, fired.set)
    assert fired.wait(5)


def test_a_thread_that_could_not_start_is_started_by_the_next_schedule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watchdog = Watchdog()
    start = threading.Thread.start

    def refuse(thread: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with pytest.raises(RuntimeError):
        watchdog.schedule(0.0, lambda: None)
    monkeypatch.setattr(threading.Thread, "start", start)
    fired = threading.Event()
    watchdog.schedule(0.0, fired.set)
    assert fired.wait(5)


def test_a_callback_that_raises_system_exit_leaves_the_thread_running() -> None:
    watchdog = Watchdog()

    def leave() -> None:
        raise SystemExit(1)

    watchdog.schedule(0.0, leave)
    fired = threading.Event()
    watchdog.schedule(0.01, fired.set)
    assert fired.wait(5)


def test_timers_from_many_threads_fire_once_unless_cancelled() -> None:
    watchdog = Watchdog()
    fired: list[int] = []
    lock = threading.Lock()

    def note(n: int) -> None:
        with lock:
            fired.append(n)

    def work(base: int) -> None:
        for i in range(1_000):
            n = base + i
            timer = watchdog.schedule(0.0 if i % 5 == 0 else 300.0, functools.partial(note, n))
            if i % 5 != 0:
                assert watchdog.cancel(timer)

    threads = [threading.Thread(target=work, args=(t * 1_000,)) for t in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = {t * 1_000 + i for t in range(len(threads)) for i in range(0, 1_000, 5)}
    deadline = time.monotonic() + 10
    while len(fired) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # nothing more may come
    assert sorted(fired) == sorted(expected)  # each due timer once, no cancelled one


def test_a_timer_is_settled_once_between_firing_and_cancelling() -> None:
    watchdog = Watchdog()
    for _ in range(200):
        fired = threading.Event()
        timer = watchdog.schedule(0.0, fired.set)
        cancelled = watchdog.cancel(timer)
        after = threading.Event()
        watchdog.schedule(0.0, after.set)  # fires after the first would have (deadline order)
        assert after.wait(10)
        assert cancelled != fired.is_set()  # exactly one of the two
    assert not watchdog.cancel(timer)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads (3.12+)
def test_a_forked_child_fires_its_timers_on_a_thread_of_its_own() -> None:
    parent = shared_watchdog()
    started = threading.Event()
    parent.schedule(0.0, started.set)
    assert started.wait(10)  # the parent's watchdog thread exists when it forks
    pid = os.fork()
    if pid == 0:  # the child has no watchdog thread: its timers must still fire
        code = 1
        try:
            fired = threading.Event()
            shared_watchdog().schedule(0.0, fired.set)
            code = 0 if fired.wait(10) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_cancelled_timer_lets_go_of_its_callback() -> None:
    """Cancelled entries wait in the heap; what the callback holds (a call's arguments) must not."""
    watchdog = Watchdog()

    class Held:
        pass

    held = Held()
    alive = weakref.ref(held)
    timer = watchdog.schedule(300.0, functools.partial(lambda value: None, held))
    del held
    assert watchdog.cancel(timer)
    gc.collect()
    assert alive() is None
