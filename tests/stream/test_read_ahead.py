"""The read-ahead gate: readers wait while the loop has handler tasks it has not started."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import cast

import pytest

from codex_manager.stream.dispatch import TaskDispatcher
from codex_manager.stream.read_ahead import (
    IN_PROGRESS_PER_TASK,
    READ_AHEAD_TASKS,
    ReadAheadGate,
    read_ahead_gate,
)

from .dispatch_support import CONTEXT, entry


async def _noop() -> None:
    return None


async def _started(gate: ReadAheadGate, count: int) -> list[asyncio.Task[None]]:
    tasks = []
    for _ in range(count):
        tasks.append(asyncio.create_task(_noop()))
        gate.task_created()
    return tasks


async def test_the_gate_closes_at_its_limit_and_opens_on_the_next_pass() -> None:
    gate = ReadAheadGate(limit=3)
    tasks = await _started(gate, 2)
    open_below_the_limit = not gate.closed
    tasks += await _started(gate, 1)
    assert open_below_the_limit
    assert gate.closed
    assert gate.unstarted == 3
    await asyncio.wait_for(gate.wait_open(), 5)
    assert gate.unstarted < 3
    await asyncio.gather(*tasks)
    assert gate.unstarted == 0


async def test_a_task_cancelled_before_its_first_step_releases_its_count() -> None:
    gate = ReadAheadGate(limit=1)
    (task,) = await _started(gate, 1)
    task.cancel()
    assert gate.closed
    await asyncio.wait_for(gate.wait_open(), 5)
    assert gate.unstarted == 0
    assert task.cancelled()


async def test_waiters_are_let_through_in_arrival_order() -> None:
    gate = ReadAheadGate(limit=1)
    order: list[int] = []

    async def reader(number: int) -> None:
        await gate.wait_open()
        order.append(number)
        gate.task_created()  # each admitted reader starts a task: the gate closes again

    readers = [asyncio.create_task(reader(number)) for number in range(4)]
    gate.task_created()  # closed before any reader runs
    await asyncio.wait_for(asyncio.gather(*readers), 5)
    assert order == [0, 1, 2, 3]


async def test_a_cancelled_waiter_passes_its_opening_on() -> None:
    gate = ReadAheadGate(limit=1)
    first = asyncio.create_task(gate.wait_open())
    second = asyncio.create_task(gate.wait_open())
    gate.task_created()  # closed before either waiter runs
    await asyncio.sleep(0)  # both wait; then the count is released and `first` is woken
    assert gate.unstarted == 0
    assert not first.done()
    first.cancel()  # before `first` runs: the opening it got must go to `second`
    await asyncio.wait_for(second, 5)
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_every_stream_on_a_loop_shares_one_gate() -> None:
    loop = asyncio.get_running_loop()
    assert read_ahead_gate(loop) is read_ahead_gate(loop)
    other = asyncio.new_event_loop()
    try:
        assert read_ahead_gate(other) is not read_ahead_gate(loop)
    finally:
        other.close()


def test_a_finished_loop_is_not_kept_alive_by_its_gate() -> None:
    """Neither the gate nor a waiter abandoned in it holds on to the loop."""

    async def use_the_gate() -> None:
        gate = read_ahead_gate(asyncio.get_running_loop())
        for _ in range(READ_AHEAD_TASKS):
            gate.task_created()  # closed until the loop's next pass
        abandoned = gate.wait_open()
        abandoned.send(None)  # waiting now: its future is queued in the gate
        with pytest.raises(asyncio.CancelledError):
            abandoned.throw(asyncio.CancelledError())

    loop = asyncio.new_event_loop()
    loop.run_until_complete(use_the_gate())
    loop.close()
    alive = weakref.ref(loop)
    del loop
    gc.collect()
    assert alive() is None


def test_a_loop_without_weak_references_still_gets_a_gate() -> None:
    class SlottedLoop:  # stands in for an event loop written without __weakref__
        __slots__ = ()

    loop = cast(asyncio.AbstractEventLoop, SlottedLoop())
    first = read_ahead_gate(loop)
    assert not first.closed
    assert read_ahead_gate(loop) is not first  # not shared, but each stream is still bounded


async def test_a_busy_loop_keeps_the_reader_from_running_ahead() -> None:
    """A burst of calls becomes at most READ_AHEAD_TASKS unstarted tasks, and all of them run."""
    gate = read_ahead_gate(asyncio.get_running_loop())
    seen: list[int] = []
    most_unstarted = 0

    async def handler(item: object, _context: object) -> None:
        nonlocal most_unstarted
        most_unstarted = max(most_unstarted, gate.unstarted)
        assert isinstance(item, int)
        seen.append(item)

    dispatcher = TaskDispatcher(
        max_concurrency=256, max_pending=1024, report=lambda e, x, i: None, name="t"
    )
    registered = entry(handler)
    waited = 0
    for number in range(100):
        if gate.closed:
            waited += 1
        assert await dispatcher.submit(registered, number, CONTEXT, "t", ordered=False)
        assert gate.unstarted <= READ_AHEAD_TASKS
    await dispatcher.shutdown(5)
    assert sorted(seen) == list(range(100))
    assert waited > 0  # the submits in one pass filled the gate and had to wait
    assert most_unstarted <= READ_AHEAD_TASKS


async def test_joining_a_running_lane_does_not_wait_for_the_gate() -> None:
    """Ordered calls behind a running one start no task, so a closed gate does not hold them."""
    gate = read_ahead_gate(asyncio.get_running_loop())
    release = asyncio.Event()
    seen: list[object] = []

    async def handler(item: object, _context: object) -> None:
        await release.wait()
        seen.append(item)

    dispatcher = TaskDispatcher(
        max_concurrency=4, max_pending=1024, report=lambda e, x, i: None, name="t"
    )
    registered = entry(handler)
    assert await dispatcher.submit(registered, 0, CONTEXT, "lane", ordered=True)
    await asyncio.sleep(0)  # the lane's task has started and waits on `release`
    for _ in range(READ_AHEAD_TASKS):
        gate.task_created()  # closed until the loop's next pass
    assert gate.closed
    for number in range(1, 5):
        submitted = dispatcher.submit(registered, number, CONTEXT, "lane", ordered=True)
        with pytest.raises(StopIteration) as finished:
            submitted.send(None)  # completes without suspending: no wait for the gate
        assert finished.value.value is True
    release.set()
    await dispatcher.shutdown(5)
    assert seen == [0, 1, 2, 3, 4]


async def test_the_limit_grows_with_the_tasks_in_progress_and_shrinks_after() -> None:
    # Slow handlers keep many tasks in progress; each loop pass then resumes many of them, and
    # a fixed limit let readers start too few tasks per pass to keep up (measured: 20 ms
    # handlers at 0.75x the throughput of instant ones with 8).
    gate = ReadAheadGate(limit=8)
    release = asyncio.Event()

    async def slow() -> None:
        await release.wait()

    tasks = []
    for _ in range(IN_PROGRESS_PER_TASK * 20):
        tasks.append(asyncio.create_task(slow()))
        gate.task_created()
        await asyncio.sleep(0)  # started: in progress, not unstarted
    assert gate.unstarted == 0
    assert gate.unfinished == IN_PROGRESS_PER_TASK * 20
    assert gate.limit == 20
    more = await _started(gate, 12)
    assert not gate.closed  # 12 unstarted, below the grown limit (8 would have closed it)
    release.set()
    for task in tasks:
        await task
        gate.task_finished()
    await asyncio.gather(*more)
    for _ in more:
        gate.task_finished()
    assert (gate.unfinished, gate.limit) == (0, 8)


async def test_the_dispatcher_counts_its_tasks_done_on_the_gate() -> None:
    gate = read_ahead_gate(asyncio.get_running_loop())
    done = asyncio.Event()

    async def handler(item: object, _context: object) -> None:
        await done.wait()

    dispatcher = TaskDispatcher(
        max_concurrency=256, max_pending=1024, report=lambda e, x, i: None, name="t"
    )
    registered = entry(handler)
    for number in range(30):
        assert await dispatcher.submit(registered, number, CONTEXT, "t", ordered=False)
    await asyncio.sleep(0)
    assert gate.unfinished == 30
    done.set()
    await dispatcher.shutdown(5)
    assert gate.unfinished == 0
