"""The watchdog that keeps in-place handler deadlines: firing, cancelling, compaction."""

from __future__ import annotations

import threading

from codex_manager.remote_skills.watchdog import Watchdog


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
