"""Bounded handler execution: lanes keep order, backpressure stops the reader."""

from __future__ import annotations

import asyncio
import threading

from codex_manager.stream.dispatch import TaskDispatcher, ThreadDispatcher

from .dispatch_support import CONTEXT, entry
from .ws_server import Recorder


def test_thread_backpressure_blocks_the_submitter() -> None:
    gate = threading.Event()
    started: Recorder[object] = Recorder()
    failures: list[BaseException] = []

    def blocked(item: object, context: object) -> None:
        started.add(item)
        assert gate.wait(10)

    dispatcher = ThreadDispatcher(
        max_workers=4, max_pending=2, report=lambda e, x, i: failures.append(x), name="t"
    )
    handler = entry(blocked)
    abort = threading.Event()
    assert dispatcher.submit(handler, 1, CONTEXT, "a", abort)
    assert dispatcher.submit(handler, 2, CONTEXT, "b", abort)
    started.wait_for(2)
    # Full: a third call waits; with `abort` set the wait gives up instead of queueing.
    abort.set()
    assert not dispatcher.submit(handler, 3, CONTEXT, "c", abort)
    gate.set()
    assert dispatcher.wait_idle(10)
    assert dispatcher.submit(handler, 4, CONTEXT, "c", abort)
    dispatcher.shutdown(10)
    assert sorted(started.snapshot(), key=str) == [1, 2, 4]
    assert failures == []


def test_thread_lanes_keep_order_and_isolate_threads() -> None:
    seen: Recorder[tuple[str, int]] = Recorder()
    gate = threading.Event()

    def handler(item: object, context: object) -> None:
        assert isinstance(item, tuple)
        thread, number = item
        if (thread, number) == ("slow", 0):
            assert gate.wait(10)
        seen.add((thread, number))

    dispatcher = ThreadDispatcher(
        max_workers=4, max_pending=100, report=lambda e, x, i: None, name="t"
    )
    registered = entry(handler)
    for number in range(10):
        dispatcher.submit(registered, ("slow", number), CONTEXT, "slow")
        dispatcher.submit(registered, ("fast", number), CONTEXT, "fast")
    # The fast lane finishes while the slow lane's first call is held.
    assert [n for t, n in seen.wait_for(10) if t == "fast"] == list(range(10))
    gate.set()
    everything = seen.wait_for(20)
    assert [n for t, n in everything if t == "slow"] == list(range(10))
    dispatcher.shutdown(10)


def test_thread_dispatcher_reports_failures_and_runs_async_handlers() -> None:
    failures: Recorder[tuple[str, str]] = Recorder()

    async def async_handler(item: object, context: object) -> None:
        await asyncio.sleep(0)
        raise ValueError(f"async {item}")

    def sync_handler(item: object, context: object) -> None:
        raise KeyError(item)

    dispatcher = ThreadDispatcher(
        max_workers=2,
        max_pending=10,
        report=lambda e, x, i: failures.add((e.name, type(x).__name__)),
        name="t",
    )
    dispatcher.submit(entry(async_handler, "a"), 1, CONTEXT, None)
    dispatcher.submit(entry(sync_handler, "s"), 2, CONTEXT, None)
    assert sorted(failures.wait_for(2)) == [("a", "ValueError"), ("s", "KeyError")]
    dispatcher.shutdown(10)


async def test_task_backpressure_and_order() -> None:
    gate = asyncio.Event()
    seen: list[object] = []

    async def handler(item: object, context: object) -> None:
        if item == 0:
            await gate.wait()
        seen.append(item)

    dispatcher = TaskDispatcher(
        max_concurrency=2, max_pending=3, report=lambda e, x, i: None, name="t"
    )
    registered = entry(handler)
    for number in range(3):
        await dispatcher.submit(registered, number, CONTEXT, "lane")
    # The bound is reached: the next submit waits until the held call finishes.
    fourth = asyncio.create_task(dispatcher.submit(registered, 3, CONTEXT, "lane"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not fourth.done()
    assert seen == []  # the lane is serial: 1 and 2 wait behind 0
    gate.set()
    await fourth
    await dispatcher.shutdown(10)
    assert seen == [0, 1, 2, 3]


async def test_task_shutdown_cancels_stuck_handlers() -> None:
    never = asyncio.Event()

    async def stuck(item: object, context: object) -> None:
        await never.wait()

    dispatcher = TaskDispatcher(
        max_concurrency=2, max_pending=3, report=lambda e, x, i: None, name="t"
    )
    await dispatcher.submit(entry(stuck), 1, CONTEXT, None)
    await dispatcher.shutdown(0.01)


def is_waiting(dispatcher: TaskDispatcher) -> bool:
    """Read the property afresh (a plain attribute read would be narrowed by mypy)."""
    return dispatcher.waiting_for_slot


async def test_task_abort_releases_a_submit_waiting_for_a_slot() -> None:
    never = asyncio.Event()
    seen: list[object] = []

    async def stuck(item: object, context: object) -> None:
        seen.append(item)
        await never.wait()

    dispatcher = TaskDispatcher(
        max_concurrency=2, max_pending=2, report=lambda e, x, i: None, name="t"
    )
    registered = entry(stuck)
    assert await dispatcher.submit(registered, 1, CONTEXT, "a")
    assert await dispatcher.submit(registered, 2, CONTEXT, "b")
    assert not is_waiting(dispatcher)
    third = asyncio.create_task(dispatcher.submit(registered, 3, CONTEXT, "c"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert is_waiting(dispatcher)
    assert not third.done()
    dispatcher.abort()
    assert await third is False  # dropped, not queued
    assert not is_waiting(dispatcher)
    assert not await dispatcher.submit(registered, 4, CONTEXT, "d")  # still full: no wait
    await dispatcher.shutdown(0.01)
    assert seen == [1, 2]


async def test_task_slot_freed_by_a_finished_call_wakes_the_waiting_submit() -> None:
    gate = asyncio.Event()
    seen: list[object] = []

    async def held(item: object, context: object) -> None:
        if item == 1:
            await gate.wait()
        seen.append(item)

    dispatcher = TaskDispatcher(
        max_concurrency=2, max_pending=1, report=lambda e, x, i: None, name="t"
    )
    registered = entry(held)
    assert await dispatcher.submit(registered, 1, CONTEXT, "a")
    waiting = [asyncio.create_task(dispatcher.submit(registered, n, CONTEXT, "b")) for n in (2, 3)]
    for _ in range(20):
        await asyncio.sleep(0)
    waiting[0].cancel()  # a cancelled waiter must not swallow the wake-up
    gate.set()
    async with asyncio.timeout(10):
        assert await waiting[1]
    await dispatcher.shutdown(10)
    assert seen == [1, 3]


def test_thread_unordered_calls_of_one_thread_run_concurrently() -> None:
    second_started = threading.Event()
    first_saw_second: Recorder[bool] = Recorder()
    failures: list[BaseException] = []

    def handler(item: object, context: object) -> None:
        if item == 0:
            first_saw_second.add(second_started.wait(10))  # a lane would block here
        else:
            second_started.set()

    dispatcher = ThreadDispatcher(
        max_workers=4, max_pending=10, report=lambda e, x, i: failures.append(x), name="t"
    )
    registered = entry(handler)
    assert dispatcher.submit(registered, 0, CONTEXT, "t1", ordered=False)
    assert dispatcher.submit(registered, 1, CONTEXT, "t1", ordered=False)
    assert first_saw_second.wait_for(1) == [True]
    assert dispatcher.wait_idle(10)
    dispatcher.shutdown(10)
    assert failures == []


def test_thread_unordered_calls_still_hold_pending_slots() -> None:
    gate = threading.Event()
    started: Recorder[object] = Recorder()

    def blocked(item: object, context: object) -> None:
        started.add(item)
        assert gate.wait(10)

    dispatcher = ThreadDispatcher(
        max_workers=4, max_pending=2, report=lambda e, x, i: None, name="t"
    )
    handler = entry(blocked)
    abort = threading.Event()
    assert dispatcher.submit(handler, 1, CONTEXT, "t1", abort, ordered=False)
    assert dispatcher.submit(handler, 2, CONTEXT, "t1", abort, ordered=False)
    started.wait_for(2)
    abort.set()
    assert not dispatcher.submit(handler, 3, CONTEXT, "t1", abort, ordered=False)
    gate.set()
    assert dispatcher.wait_idle(10)
    dispatcher.shutdown(10)
    assert sorted(started.snapshot(), key=str) == [1, 2]


async def test_task_unordered_calls_run_concurrently_under_the_bound() -> None:
    gate = asyncio.Event()
    running = 0
    most = 0
    started: list[object] = []

    async def handler(item: object, context: object) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        started.append(item)
        await gate.wait()
        running -= 1

    dispatcher = TaskDispatcher(
        max_concurrency=2, max_pending=4, report=lambda e, x, i: None, name="t"
    )
    registered = entry(handler)
    for number in range(4):
        await dispatcher.submit(registered, number, CONTEXT, "t1", ordered=False)
    # Full: a fifth submit waits for a slot.
    fifth = asyncio.create_task(dispatcher.submit(registered, 4, CONTEXT, "t1", ordered=False))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not fifth.done()
    assert sorted(started, key=str) == [0, 1]  # same thread, yet both run; the bound is 2
    gate.set()
    assert await fifth
    await dispatcher.shutdown(10)
    assert sorted(started, key=str) == [0, 1, 2, 3, 4]
    assert most == 2


class _OutcomeError(BaseException):
    """Not an Exception, as pytest's ``Failed`` is not."""


async def test_task_a_handler_raising_another_base_exception_has_failed_and_its_lane_goes_on() -> (
    None
):
    # pytest.fail() in a handler: it was raised out of the lane's task, never reported (the
    # test passed), and the events queued behind it in the lane were dropped.
    seen: list[object] = []
    failures: list[str] = []

    async def handler(item: object, context: object) -> None:
        if item == 0:
            raise _OutcomeError("expected 2 tickets")
        seen.append(item)

    def report(registered: object, error: BaseException, item: object) -> None:
        failures.append(type(error).__name__)

    dispatcher = TaskDispatcher(max_concurrency=4, max_pending=8, report=report, name="lane")
    registered = entry(handler)
    for number in range(4):
        assert await dispatcher.submit(registered, number, CONTEXT, "lane")
    await dispatcher.shutdown(5)
    assert failures == ["_OutcomeError"]
    assert seen == [1, 2, 3]


async def test_task_a_handler_raising_cancelled_error_has_failed_and_its_lane_goes_on() -> None:
    seen: list[object] = []
    failures: list[str] = []

    async def handler(item: object, context: object) -> None:
        if item == 0:  # cancels a helper and awaits it: CancelledError, the task not cancelled
            helper = asyncio.ensure_future(asyncio.sleep(10))
            await asyncio.sleep(0)
            helper.cancel()
            await helper
        seen.append(item)

    def report(registered: object, error: BaseException, item: object) -> None:
        failures.append(type(error).__name__)
        if item == 1:
            raise RuntimeError("the reporter fails too")

    def plain(item: object, context: object) -> None:
        raise SystemExit(3)  # sys.exit() in a worker thread ends the call, not the program

    dispatcher = TaskDispatcher(max_concurrency=4, max_pending=3, report=report, name="lane")
    registered = entry(handler)
    for number in range(3):
        assert await dispatcher.submit(registered, number, CONTEXT, "lane")
    assert await dispatcher.submit(entry(plain), 1, CONTEXT, "other")
    for number in range(3, 6):  # more than max_pending: the slots all came back
        assert await dispatcher.submit(registered, number, CONTEXT, "lane")
    await dispatcher.shutdown(5)
    assert seen == [1, 2, 3, 4, 5]
    assert sorted(failures) == ["CancelledError", "SystemExit"]
