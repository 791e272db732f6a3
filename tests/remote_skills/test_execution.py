"""Local execution: lookup, validation, handler run, timeouts, failures."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator

import pytest

from codex_manager.json_types import JSONValue
from codex_manager.remote_skills.calls import SkillAnswer, ToolCall
from codex_manager.remote_skills.context import SkillContext
from codex_manager.remote_skills.execution import (
    ExecutionSettings,
    LocalOutcome,
    PreparedCall,
    execute_async,
    execute_sync,
    prepare_call,
)
from codex_manager.remote_skills.registry import SkillRegistry
from codex_manager.remote_skills.skill import SkillHandler, build_skill


@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


def _call(tool: str, arguments: JSONValue) -> ToolCall:
    return ToolCall(tool, arguments, "7", "call-1", "thread-1", "turn-1")


calls_made: list[str] = []


def add(a: int, b: int = 1) -> int:
    """Adds."""
    calls_made.append("add")
    return a + b


def boom(message: str) -> str:
    """Raises."""
    raise RuntimeError(message)


async def async_add(a: int, b: int) -> dict[str, int]:
    """Adds asynchronously."""
    await asyncio.sleep(0)
    return {"sum": a + b}


def who(ctx: SkillContext, /, greeting: str) -> str:
    """Uses the context."""
    return f"{greeting} {ctx.skill_name} {ctx.session_id} {ctx.call_id} {ctx.request_id}"


def _registry() -> SkillRegistry:
    registry = SkillRegistry()
    handlers: list[tuple[str, SkillHandler]] = [
        ("add", add),
        ("boom", boom),
        ("async_add", async_add),
        ("who", who),
    ]
    for name, handler in handlers:
        registry.add(build_skill(name, handler))
    return registry


def _run_sync(
    registry: SkillRegistry,
    call: ToolCall,
    executor: concurrent.futures.Executor,
    settings: ExecutionSettings | None = None,
) -> LocalOutcome:
    settings = settings or ExecutionSettings()
    prepared = prepare_call(registry, call, "thread-1", settings)
    if isinstance(prepared, LocalOutcome):
        return prepared
    return execute_sync(prepared, settings, executor)


async def _run_async(
    registry: SkillRegistry, call: ToolCall, settings: ExecutionSettings | None = None
) -> LocalOutcome:
    settings = settings or ExecutionSettings()
    prepared = prepare_call(registry, call, "thread-1", settings)
    if isinstance(prepared, LocalOutcome):
        return prepared
    return await execute_async(prepared, settings, None)


def test_success_sync(executor: concurrent.futures.Executor) -> None:
    outcome = _run_sync(_registry(), _call("add", {"a": 2, "b": "3"}), executor)
    assert outcome.handled
    assert outcome.error is None
    assert outcome.answer.success
    assert outcome.answer.text == "5"


def test_async_handler_from_sync_code(executor: concurrent.futures.Executor) -> None:
    outcome = _run_sync(_registry(), _call("async_add", {"a": 2, "b": 3}), executor)
    assert outcome.answer.text == '{"sum":5}'


def test_context_injected_positionally(executor: concurrent.futures.Executor) -> None:
    outcome = _run_sync(_registry(), _call("who", {"greeting": "hi"}), executor)
    assert outcome.answer.text == "hi who thread-1 call-1 7"


def test_invalid_arguments_do_not_call_handler(executor: concurrent.futures.Executor) -> None:
    calls_made.clear()
    outcome = _run_sync(_registry(), _call("add", {"a": "x"}), executor)
    assert calls_made == []
    assert not outcome.handled
    assert outcome.error_kind == "invalid_arguments"
    assert not outcome.answer.success
    assert "a: Input should be a valid integer" in outcome.answer.text


def test_handler_exception(executor: concurrent.futures.Executor) -> None:
    outcome = _run_sync(_registry(), _call("boom", {"message": "disk full"}), executor)
    assert outcome.error_kind == "handler_error"
    assert outcome.error == "RuntimeError: disk full"
    assert outcome.answer.text == "Tool 'boom' failed: RuntimeError: disk full"
    assert not outcome.answer.success


def test_handler_exception_masked(executor: concurrent.futures.Executor) -> None:
    settings = ExecutionSettings(mask_errors=True)
    outcome = _run_sync(_registry(), _call("boom", {"message": "secret"}), executor, settings)
    assert outcome.error == "RuntimeError: secret"
    assert "secret" not in outcome.answer.text
    assert "failed" in outcome.answer.text


def test_unknown_and_unavailable(executor: concurrent.futures.Executor) -> None:
    registry = _registry()
    outcome = _run_sync(registry, _call("nope", {}), executor)
    assert outcome.error_kind == "unknown_tool"
    assert outcome.answer.text.startswith("Unknown tool 'nope'")
    assert "add, async_add, boom, who" in outcome.answer.text
    registry.remove("add")
    outcome = _run_sync(registry, _call("add", {"a": 1}), executor)
    assert outcome.error_kind == "unavailable"
    assert "no longer available" in outcome.answer.text
    registry.mark_created(("gone_at_creation",))
    outcome = _run_sync(registry, _call("gone_at_creation", {}), executor)
    assert outcome.error_kind == "unavailable"
    # Removed before the session was created: the model was never offered it.
    assert _run_sync(registry, _call("add", {"a": 1}), executor).error_kind == "unknown_tool"
    registry.remove("who")  # removed after creation: "no longer available"
    assert _run_sync(registry, _call("who", {}), executor).error_kind == "unavailable"


def test_timeout_sync(executor: concurrent.futures.Executor) -> None:
    release = threading.Event()

    def stuck() -> str:
        release.wait(5)
        return "late"

    registry = SkillRegistry()
    registry.add(build_skill("stuck", stuck, timeout_seconds=0.05))
    try:
        outcome = _run_sync(registry, _call("stuck", {}), executor)
    finally:
        release.set()
    assert outcome.error_kind == "timeout"
    assert "did not finish within 0.05 seconds" in outcome.answer.text


def test_registry_default_timeout_applies(executor: concurrent.futures.Executor) -> None:
    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    registry = SkillRegistry()
    registry.add(build_skill("slow", slow))
    settings = ExecutionSettings(default_timeout_seconds=0.05)
    outcome = _run_sync(registry, _call("slow", {}), executor, settings)
    assert outcome.error_kind == "timeout"


def test_own_timeout_error_is_a_handler_error(executor: concurrent.futures.Executor) -> None:
    def raises_timeout() -> str:
        raise TimeoutError("upstream timed out")

    registry = SkillRegistry()
    registry.add(build_skill("t", raises_timeout))
    outcome = _run_sync(registry, _call("t", {}), executor)
    assert outcome.error_kind == "handler_error"
    assert outcome.error == "TimeoutError: upstream timed out"


def test_unconvertible_result(executor: concurrent.futures.Executor) -> None:
    def weird() -> object:
        return object()

    registry = SkillRegistry()
    registry.add(build_skill("weird", weird))
    outcome = _run_sync(registry, _call("weird", {}), executor)
    assert outcome.error_kind == "result_conversion"


def test_a_returned_skill_answer_is_sent_as_it_is(executor: concurrent.futures.Executor) -> None:
    # Serialised as JSON, SkillAnswer.failure(...) went out as a success carrying
    # {"success": false, "content_items": [...]} for the model to read.
    def refuse(amount: int) -> SkillAnswer:
        return SkillAnswer.failure(f"{amount} is over the limit")

    def both() -> SkillAnswer:
        return SkillAnswer(True, ({"type": "inputText", "text": "ok"},))

    def broken() -> SkillAnswer:
        return SkillAnswer(True, ({"type": "inputText", "text": 3},))  # type: ignore[typeddict-item]

    registry = SkillRegistry()
    for name, handler in (("refuse", refuse), ("both", both), ("broken", broken)):
        registry.add(build_skill(name, handler))
    refused = _run_sync(registry, _call("refuse", {"amount": 500}), executor)
    assert (refused.handled, refused.error_kind) == (True, None)
    assert refused.answer == SkillAnswer(
        False, ({"type": "inputText", "text": "500 is over the limit"},)
    )
    assert _run_sync(registry, _call("both", {}), executor).answer == SkillAnswer(
        True, ({"type": "inputText", "text": "ok"},)
    )
    assert _run_sync(registry, _call("broken", {}), executor).error_kind == "result_conversion"


async def test_async_execution_kinds() -> None:
    registry = _registry()
    assert (await _run_async(registry, _call("async_add", {"a": 1, "b": 2}))).answer.text == (
        '{"sum":3}'
    )
    sync_in_thread = await _run_async(registry, _call("add", {"a": 1}))
    assert sync_in_thread.answer.text == "2"
    failed = await _run_async(registry, _call("boom", {"message": "m"}))
    assert failed.error_kind == "handler_error"


async def test_async_timeout_and_own_timeout_error() -> None:
    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    async def raises_timeout() -> str:
        raise TimeoutError("mine")

    registry = SkillRegistry()
    registry.add(build_skill("slow", slow, timeout_seconds=0.05))
    registry.add(build_skill("mine", raises_timeout))
    assert (await _run_async(registry, _call("slow", {}))).error_kind == "timeout"
    assert (await _run_async(registry, _call("mine", {}))).error_kind == "handler_error"


async def test_sync_handler_does_not_block_loop() -> None:
    started = threading.Event()
    release = threading.Event()

    def blocking() -> str:
        started.set()
        release.wait(5)
        return "done"

    registry = SkillRegistry()
    registry.add(build_skill("blocking", blocking))
    settings = ExecutionSettings()
    prepared = prepare_call(registry, _call("blocking", {}), None, settings)
    assert isinstance(prepared, PreparedCall)
    task = asyncio.create_task(execute_async(prepared, settings, None))
    await asyncio.to_thread(started.wait, 5)
    # The loop still runs other work while the sync handler blocks its worker thread.
    fast = await _run_async(_registry(), _call("async_add", {"a": 1, "b": 1}))
    assert fast.answer.text == '{"sum":2}'
    release.set()
    assert (await task).answer.text == "done"


async def _cancelled_inside() -> str:
    """Awaits a task that something else cancels (a library cancelling its own request)."""
    inner = asyncio.ensure_future(asyncio.sleep(10))
    asyncio.get_running_loop().call_soon(inner.cancel)
    await inner
    return "never"


def _cancelling_registry() -> SkillRegistry:
    registry = SkillRegistry()
    registry.add(build_skill("cancelled_inside", _cancelled_inside))
    return registry


async def test_a_handler_that_raises_cancelled_error_has_failed() -> None:
    outcome = await _run_async(_cancelling_registry(), _call("cancelled_inside", {}))
    assert outcome.error_kind == "handler_error"
    assert "CancelledError" in outcome.answer.text


def test_a_handler_that_raises_cancelled_error_has_failed_on_the_sync_client(
    executor: concurrent.futures.Executor,
) -> None:
    outcome = _run_sync(_cancelling_registry(), _call("cancelled_inside", {}), executor)
    assert outcome.error_kind == "handler_error"
    assert "CancelledError" in outcome.answer.text


async def test_cancelling_the_caller_still_cancels() -> None:
    started = asyncio.Event()

    async def waits() -> str:
        started.set()
        await asyncio.sleep(10)
        return "late"

    registry = SkillRegistry()
    registry.add(build_skill("waits", waits))
    running = asyncio.ensure_future(_run_async(registry, _call("waits", {})))
    await started.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
