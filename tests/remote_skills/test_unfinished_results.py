"""A handler's result that still has work to do (a generator, an async generator, a
coroutine from a decorated ``async def``) is run to its end as part of the call: under the
call's deadline, in the call's thread or loop, its failures masked like any other."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import itertools
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import ParamSpec, TypeVar

import pytest
from pydantic import BaseModel, computed_field

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.remote_skills.execution import (
    ExecutionSettings,
    execute_async,
    execute_sync,
    run_in_place,
)
from codex_manager.remote_skills.skill import SkillHandler
from codex_manager.testing import FakeCodexManager

from .helpers import prepared_call as _prepared
from .helpers import send_calls

P = ParamSpec("P")
R = TypeVar("R")
SETTINGS = ExecutionSettings()
MASKED = ExecutionSettings(mask_errors=True)


def logged(function: Callable[P, R]) -> Callable[P, R]:
    """A decorator as people write them: the wrapper is a plain function."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return function(*args, **kwargs)

    return wrapper


def rows(count: int = 3) -> Iterator[int]:
    """Yields rows."""
    yield from range(count)


async def rows_async(count: int = 3) -> AsyncIterator[int]:
    """Yields rows from a coroutine."""
    for index in range(count):
        await asyncio.sleep(0)
        yield index


@logged
async def fetch(url: str = "http://x") -> str:
    """Fetches, behind a plain decorator."""
    await asyncio.sleep(0)
    return f"fetched {url}"


def later(value: str = "v") -> Awaitable[str]:
    """Returns a coroutine from plain code."""

    async def compute() -> str:
        return value

    return compute()


UNFINISHED: list[tuple[str, SkillHandler, str]] = [
    ("rows", rows, "[0,1,2]"),
    ("rows_async", rows_async, "[0,1,2]"),
    ("fetch", fetch, "fetched http://x"),
    ("later", later, "v"),
]


def slow_rows() -> Iterator[int]:
    """Each row takes a while: the whole generator outlives its deadline."""
    for index in range(20):
        time.sleep(0.05)
        yield index


class Account(BaseModel):
    """A result whose serialisation fails, naming a secret."""

    name: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def balance(self) -> int:
        raise RuntimeError("db password=hunter2 rejected")


def account() -> Account:
    """Returns a model that cannot be serialised."""
    return Account(name="a")


@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


@pytest.mark.parametrize(("name", "handler", "text"), UNFINISHED)
def test_the_sync_client_runs_an_unfinished_result_to_its_end(
    executor: concurrent.futures.Executor, name: str, handler: SkillHandler, text: str
) -> None:
    for outcome in (
        execute_sync(_prepared(name, handler), SETTINGS, executor),
        run_in_place(_prepared(name, handler), SETTINGS),
    ):
        assert outcome.handled, outcome.error
        assert outcome.answer.text == text


@pytest.mark.parametrize(("name", "handler", "text"), UNFINISHED)
async def test_the_async_client_runs_an_unfinished_result_to_its_end(
    executor: concurrent.futures.Executor, name: str, handler: SkillHandler, text: str
) -> None:
    for pool in (None, executor):
        outcome = await execute_async(_prepared(name, handler), SETTINGS, pool)
        assert outcome.handled, outcome.error
        assert outcome.answer.text == text


def test_a_generator_keeps_its_deadline_on_the_sync_client(
    executor: concurrent.futures.Executor,
) -> None:
    # The generator's body used to run while its result was converted, after the deadline
    # check: a 1 s body under a 0.3 s timeout answered success.
    outcome = execute_sync(_prepared("slow_rows", slow_rows, timeout=0.1), SETTINGS, executor)
    assert outcome.error_kind == "timeout"


async def test_a_generator_keeps_its_deadline_on_the_async_client(
    executor: concurrent.futures.Executor,
) -> None:
    # ... and on the async client it ran on the event loop, stalling every other call.
    prepared = _prepared("slow_rows", slow_rows, timeout=0.1)
    outcome = await execute_async(prepared, SETTINGS, executor)
    assert outcome.error_kind == "timeout"


def test_a_result_that_fails_to_serialise_is_masked_when_errors_are(
    executor: concurrent.futures.Executor,
) -> None:
    outcome = execute_sync(_prepared("account", account), MASKED, executor)
    assert outcome.error_kind == "result_conversion"
    assert "hunter2" not in outcome.answer.text
    assert "Details are hidden" in outcome.answer.text
    assert outcome.error is not None
    assert "hunter2" in outcome.error
    shown = execute_sync(_prepared("account", account), SETTINGS, executor)
    assert "hunter2" in shown.answer.text


def _register(skills: object) -> None:
    register = getattr(skills, "register")  # noqa: B009 - sync and async registries alike
    register("fetch", fetch)
    register("rows_async", rows_async)


def test_decorated_and_generator_skills_over_the_fake_server() -> None:
    with FakeCodexManager(noise=False) as server, CodexManager(server.base_url) as cm:
        _created, skills = cm.remote_skills.create_session(register=_register)
        texts: list[str] = []
        send_calls(server, skills, 'CALL fetch {"url": "u"}\nCALL rows_async {}')
        while len(texts) < 2:  # the fake agent makes one call at a time
            server.wait_for(lambda: bool(server.pending_tool_calls(skills.session_id)), 10)
            texts += [dispatch.answer_text for dispatch in skills.drain_pending_calls()]
    assert sorted(texts) == ["[0,1,2]", "fetched u"]


async def test_decorated_and_generator_skills_over_the_fake_server_async() -> None:
    with FakeCodexManager(noise=False) as server:
        async with AsyncCodexManager(server.base_url) as cm:
            _created, skills = await cm.remote_skills.create_session(register=_register)
            await skills.send('CALL fetch {"url": "u"}\nCALL rows_async {}', inject_skills=False)
            texts: list[str] = []
            while len(texts) < 2:
                await asyncio.to_thread(
                    server.wait_for, lambda: bool(server.pending_tool_calls(skills.session_id)), 10
                )
                texts += [dispatch.answer_text for dispatch in await skills.drain_pending_calls()]
    assert sorted(texts) == ["[0,1,2]", "fetched u"]


def slow_map() -> Iterator[int]:
    """A lazy map whose items take long: not a generator, an iterator all the same."""

    def make(index: int) -> int:
        time.sleep(0.05)
        return index

    return map(make, range(20))


async def returns_slow_rows() -> Iterator[int]:
    """An async handler returning a generator whose items take long."""
    return slow_rows()


@logged
async def sleeps_long() -> str:
    """A decorated async def that outlives its deadline."""
    await asyncio.sleep(30)
    return "late"


@pytest.mark.parametrize(("name", "handler"), [("slow_map", slow_map), ("slow", returns_slow_rows)])
def test_any_iterator_keeps_its_deadline_on_the_sync_client(
    executor: concurrent.futures.Executor, name: str, handler: SkillHandler
) -> None:
    # A map() was drained while converting, past the deadline; an async handler's generator
    # was drained on its loop, where the deadline could not cut in.
    outcome = execute_sync(_prepared(name, handler, timeout=0.1), SETTINGS, executor)
    assert outcome.error_kind == "timeout"


@pytest.mark.parametrize(("name", "handler"), [("slow_map", slow_map), ("slow", returns_slow_rows)])
async def test_any_iterator_keeps_its_deadline_and_the_loop_free_on_the_async_client(
    executor: concurrent.futures.Executor, name: str, handler: SkillHandler
) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        outcome = await execute_async(_prepared(name, handler, timeout=0.2), SETTINGS, executor)
    finally:
        ticker.cancel()
    assert outcome.error_kind == "timeout"
    assert ticks >= 5  # the loop was not held while the items were made


def test_a_decorated_async_def_is_cancelled_at_its_deadline_on_the_sync_client() -> None:
    # It was run without a deadline: the caller got the timeout answer while the coroutine
    # kept its pool thread until it finished on its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as one_thread:
        outcome = execute_sync(
            _prepared("sleeps_long", sleeps_long, timeout=0.1), SETTINGS, one_thread
        )
        assert outcome.error_kind == "timeout"
        assert one_thread.submit(lambda: "free").result(timeout=5) == "free"


async def test_a_plain_call_in_a_thread_that_runs_a_loop_still_finishes_its_result() -> None:
    # asyncio.run() cannot start where a loop runs (an async stream handler of the sync
    # client calling a sync API): the decorated coroutine failed as a handler error.
    outcome = run_in_place(_prepared("fetch", fetch), SETTINGS)
    assert outcome.handled, outcome.error
    assert outcome.answer.text == "fetched http://x"


REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST", default="<unset>")


async def returns_tagged_rows() -> Iterator[str]:
    """A generator that reads a context variable as it runs."""

    def rows() -> Iterator[str]:
        yield f"request_id={REQUEST.get()}"

    return rows()


async def test_an_iterator_drained_off_the_loop_sees_the_call_s_context() -> None:
    # The thread that drained it started without the caller's context variables.
    token = REQUEST.set("abc-123")
    try:
        outcome = await execute_async(_prepared("tagged", returns_tagged_rows), SETTINGS, None)
    finally:
        REQUEST.reset(token)
    assert outcome.answer.text == '["request_id=abc-123"]'


async def endless() -> Iterator[int]:
    """An async handler returning an endless iterator (itertools.count runs in C)."""
    return itertools.count()


async def test_an_endless_iterator_stops_at_the_deadline() -> None:
    # list() of it could not be stopped: it took the GIL (itertools.count) or the memory.
    outcome = await execute_async(_prepared("endless", endless, timeout=0.2), SETTINGS, None)
    assert outcome.error_kind == "timeout"
    await asyncio.sleep(0.1)
    assert not [t for t in threading.enumerate() if t.name == "remote-skill-result"]


def test_a_returned_coroutine_gets_what_is_left_of_the_deadline() -> None:
    # It got a fresh timeout after the handler had used part of it: up to twice as long.
    finished: list[float] = []

    def slow_then_later() -> Awaitable[str]:
        time.sleep(0.3)

        async def rest() -> str:
            await asyncio.sleep(0.3)
            finished.append(time.monotonic())
            return "late"

        return rest()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as one_thread:
        began = time.monotonic()
        outcome = execute_sync(
            _prepared("slow_then_later", slow_then_later, timeout=0.45), SETTINGS, one_thread
        )
        assert outcome.error_kind == "timeout"
        one_thread.submit(lambda: None).result(timeout=5)  # its thread is free again
    assert finished == [] or finished[0] - began < 0.5


class _LateWaiter(concurrent.futures.ThreadPoolExecutor):
    """A pool whose futures' waiter wakes late (busy GIL): the worker meets the deadline first."""

    def submit(
        self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[R]:
        future = super().submit(fn, *args, **kwargs)
        on_time = future.result

        def late(timeout: float | None = None) -> R:
            time.sleep(0.4)
            return on_time(timeout=0)

        future.result = late  # type: ignore[method-assign]  # the waiter, made late
        return future


def test_a_drain_that_meets_the_deadline_first_is_a_timeout() -> None:
    # The worker draining the generator raised its stop at the deadline before the caller's
    # own wait ran out: the call was reported as the handler's failure (a flaky CI run).
    with _LateWaiter(max_workers=1) as late:
        outcome = execute_sync(_prepared("slow_rows", slow_rows, timeout=0.1), SETTINGS, late)
    assert outcome.error_kind == "timeout"
