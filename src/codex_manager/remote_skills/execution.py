"""Running one call locally: look the skill up, validate, run the handler, convert the result.

Every outcome is an answer for the model; nothing here raises for a bad call. The kinds of
failure stay distinct in :class:`LocalOutcome.error_kind`: invalid arguments (the handler was not
run), a handler exception, a timeout, a result that cannot be converted, an unknown tool, or a
tool that was unregistered after the session was created.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import inspect
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias, TypeVar, cast

from codex_manager.remote_skills.calls import SkillAnswer, ToolCall
from codex_manager.remote_skills.content import (
    ResultConversionError,
    answer_items,
    to_content_items,
)
from codex_manager.remote_skills.context import SkillContext
from codex_manager.remote_skills.registry import MissingSkill, SkillRegistry
from codex_manager.remote_skills.skill import RemoteSkill
from codex_manager.remote_skills.validation import ArgumentProblem, normalize_arguments
from codex_manager.remote_skills.watchdog import shared_watchdog

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "ErrorKind",
    "ExecutionSettings",
    "LocalOutcome",
    "PreparedCall",
    "execute_async",
    "execute_sync",
    "prepare_call",
    "run_in_place",
    "timed_out",
]

_T = TypeVar("_T")

DEFAULT_TIMEOUT_SECONDS = 300.0
"""Default per-call handler timeout: generous, since tools may do real work."""

ErrorKind = Literal[
    "invalid_arguments",
    "handler_error",
    "timeout",
    "result_conversion",
    "unknown_tool",
    "unavailable",
    "cancelled",
]
"""Why a call did not produce a handler result."""


@dataclass(frozen=True, slots=True)
class ExecutionSettings:
    """Registry-wide execution options."""

    default_timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS
    """Timeout for skills without their own; ``None`` disables it."""
    mask_errors: bool = False
    """Hide exception details from the model (the text then says only that the tool failed)."""


@dataclass(frozen=True, slots=True)
class LocalOutcome:
    """The result of running one call locally."""

    answer: SkillAnswer
    """What the model will read."""
    handled: bool
    """True when the handler ran and returned a converted result."""
    error: str | None
    """Failure description (full detail, even when masked for the model)."""
    error_kind: ErrorKind | None
    """Which failure, or ``None`` on success."""


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """A call ready to run: skill found, arguments bound."""

    skill: RemoteSkill
    args: list[object]
    kwargs: dict[str, object]
    timeout: float | None


def prepare_call(
    registry: SkillRegistry, call: ToolCall, session_id: str | None, settings: ExecutionSettings
) -> PreparedCall | LocalOutcome:
    """Find the skill and validate the arguments, or produce the failure answer."""
    found = registry.lookup(call.tool)
    if isinstance(found, MissingSkill):
        text = found.text(call.tool)
        return LocalOutcome(SkillAnswer.failure(text), False, text, found.kind)
    skill = found
    arguments = normalize_arguments(call.arguments)
    bound = (
        arguments if isinstance(arguments, ArgumentProblem) else skill.validator.validate(arguments)
    )
    if isinstance(bound, ArgumentProblem):
        text = bound.text(skill.name)
        return LocalOutcome(SkillAnswer.failure(text), False, text, "invalid_arguments")
    context = SkillContext(
        skill_name=skill.name,
        session_id=session_id,
        thread_id=call.thread_id,
        turn_id=call.turn_id,
        call_id=call.call_id,
        request_id=call.request_id,
    )
    args, kwargs = skill.plan.call_arguments(bound.values, bound.extras, context)
    timeout = (
        skill.timeout_seconds
        if skill.timeout_seconds is not None
        else settings.default_timeout_seconds
    )
    return PreparedCall(skill, args, kwargs, timeout)


def _finish(skill: RemoteSkill, value: object, settings: ExecutionSettings) -> LocalOutcome:
    # A SkillAnswer returned is the answer itself, its success flag included (as JSON, a
    # failure would have gone out as a success carrying the dataclass).
    answer = value if type(value) is SkillAnswer else None
    try:
        items = to_content_items(value) if answer is None else answer_items(answer.content_items)
    except ResultConversionError as exc:
        detail = f"Tool {skill.name!r} returned a result that cannot be sent: {exc}"
        # The reason may quote the value or an exception raised while serialising it.
        shown = (
            f"Tool {skill.name!r} returned a result that cannot be sent. "
            "(Details are hidden by the client application.)"
            if settings.mask_errors
            else detail
        )
        return LocalOutcome(SkillAnswer.failure(shown), False, detail, "result_conversion")
    return LocalOutcome(
        SkillAnswer(True if answer is None else answer.success, tuple(items)), True, None, None
    )


_PLAIN_RESULTS = frozenset({str, dict, list, tuple, int, float, bool, bytes, type(None)})
"""Result types that are finished for sure: every call checks its result, most are these."""


def _unfinished(value: object) -> bool:
    """Whether a handler's result still has its work to do: an iterator (a generator, a
    ``map``), a coroutine or other awaitable, an async iterator (a decorated ``async def``,
    say, or one with ``yield``). It is run to its end as part of the call, under the call's
    deadline."""
    if type(value) in _PLAIN_RESULTS:
        return False
    return isinstance(value, Iterator | AsyncIterator) or inspect.isawaitable(value)


def _in_daemon_thread(function: Callable[[], _T]) -> concurrent.futures.Future[_T]:
    """Run ``function`` in a thread of its own that never keeps the process alive, with the
    caller's context variables (as the handler's own thread has them)."""
    future: concurrent.futures.Future[_T] = concurrent.futures.Future()
    context = contextvars.copy_context()

    def run() -> None:
        if not future.set_running_or_notify_cancel():  # given up on before it started
            return
        try:
            future.set_result(context.run(function))
        except BaseException as exc:  # the waiting side's to raise
            future.set_exception(exc)

    threading.Thread(target=run, name="remote-skill-result", daemon=True).start()
    return future


async def _run_to_end(value: object) -> object:
    """What an unfinished result (see :func:`_unfinished`) comes to, on an event loop: an
    iterator is drained in a thread (its items may take long: the loop goes on, and the
    call's deadline, around this, still counts)."""
    while inspect.isawaitable(value):
        value = await value
    if isinstance(value, AsyncIterator):
        return [item async for item in value]
    if isinstance(value, Iterator):
        iterator, stop = value, threading.Event()
        try:
            return await asyncio.wrap_future(_in_daemon_thread(lambda: _drain(iterator, stop)))
        finally:
            stop.set()  # cancelled at the deadline: the drain ends at its next item
    return value


class _ExpiredError(Exception):
    """The skill's own deadline passed (as opposed to a TimeoutError raised by the handler)."""


class _DrainStoppedError(_ExpiredError):
    """The call was over (its deadline passed) before the iterator it returned ran out.

    An expiry: the worker draining the iterator may notice the deadline before the caller
    waiting for it does (the two clocks start apart, and threads wake when the GIL allows).
    """


def _drain(
    iterator: Iterator[object],
    stop: threading.Event | None = None,
    deadline: float | None = None,
) -> list[object]:
    """The items of ``iterator``, taken one by one so that an endless one (``itertools.count``)
    ends at the call's deadline instead of filling the memory."""
    items: list[object] = []
    clock = time.monotonic
    for item in iterator:
        if (stop is not None and stop.is_set()) or (deadline is not None and clock() > deadline):
            raise _DrainStoppedError
        items.append(item)
    return items


def _run_blocking(value: object, deadline: float | None) -> object:
    """Run an ``async def`` skill's coroutine, or an awaitable or async iterator a plain
    handler returned, to its end on a loop of its own (the sync client), under the call's
    deadline: cancelled at it."""

    async def run() -> object:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        scope = asyncio.timeout(left)
        try:
            async with scope:
                result = await _run_to_end(value)
        except TimeoutError:
            if scope.expired():
                raise _ExpiredError from None
            raise
        except asyncio.CancelledError as exc:  # nothing else cancels this loop's one task
            raise _HandlerCancelledError from exc
        if scope.expired():  # the handler swallowed the cancel and returned: late all the same
            raise _ExpiredError
        return result

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run())
    # A loop runs in this thread already (a sync call from an async stream handler): the
    # result's own loop runs in another thread.
    return _in_daemon_thread(lambda: asyncio.run(run())).result()


def _call_plain_in_thread(
    handler: Callable[..., object],
    args: list[object],
    kwargs: dict[str, object],
    timeout: float | None,
) -> object:
    """Call a plain handler in a worker thread; an iterator it returned is drained there,
    within the call's ``timeout`` (an awaitable goes back to the caller: the async client's
    event loop, or :func:`_call_plain`)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    value = handler(*args, **kwargs)
    if type(value) in _PLAIN_RESULTS or not isinstance(value, Iterator):
        return value
    return _drain(value, deadline=deadline)


def _call_plain(
    handler: Callable[..., object],
    args: list[object],
    kwargs: dict[str, object],
    timeout: float | None,
) -> object:
    """Call a plain handler in a thread of the sync client, and finish its result there (an
    awaitable too, on a loop of its own), within what is left of the call's ``timeout``."""
    started = time.monotonic()
    value = _call_plain_in_thread(handler, args, kwargs, timeout)
    if type(value) in _PLAIN_RESULTS or not _unfinished(value):
        return value
    return _run_blocking(value, None if timeout is None else started + timeout)


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not keep the call from being answered
        return f"{name} (its message could not be made)"
    return f"{name}: {message}" if message else name


def _failed(skill: RemoteSkill, exc: BaseException, settings: ExecutionSettings) -> LocalOutcome:
    detail = _describe(exc)
    if settings.mask_errors:
        shown = f"Tool {skill.name!r} failed. (Details are hidden by the client application.)"
    else:
        shown = f"Tool {skill.name!r} failed: {detail}"
    return LocalOutcome(SkillAnswer.failure(shown), False, detail, "handler_error")


def timed_out(prepared: PreparedCall) -> LocalOutcome:
    """The answer for a call whose handler missed its deadline."""
    return _timed_out(prepared.skill, prepared.timeout)


def _cancelled(skill: RemoteSkill) -> LocalOutcome:
    text = f"Tool {skill.name!r} was cancelled before it finished."
    return LocalOutcome(SkillAnswer.failure(text), False, text, "cancelled")


def _timed_out(skill: RemoteSkill, timeout: float | None) -> LocalOutcome:
    text = f"Tool {skill.name!r} did not finish within {timeout:g} seconds and was abandoned."
    return LocalOutcome(SkillAnswer.failure(text), False, text, "timeout")


class _HandlerCancelledError(Exception):
    """The handler raised ``CancelledError`` (a task it awaited was cancelled): its failure.

    ``CancelledError`` is a ``BaseException``: out of the handler's loop it would escape every
    ``except Exception`` and leave the call unanswered.
    """


def _cancelled_by_handler() -> bool:
    """In an ``except CancelledError``: whether it came from the handler, not a cancel of us."""
    task = asyncio.current_task()
    return task is None or not task.cancelling()


def _run_coroutine_to_end(prepared: PreparedCall) -> object:
    # A fresh loop in the worker thread: the handler is cancelled cleanly at its deadline.
    deadline = None if prepared.timeout is None else time.monotonic() + prepared.timeout
    coroutine = prepared.skill.handler(*prepared.args, **prepared.kwargs)
    return _run_blocking(coroutine, deadline)


SyncOutlived: TypeAlias = Callable[["concurrent.futures.Future[LocalOutcome]"], None]
"""Told, when the caller is interrupted (Ctrl-C) while the handler still runs in its worker
thread, of the outcome the handler will have: the call is not over yet."""


def execute_sync(
    prepared: PreparedCall,
    settings: ExecutionSettings,
    executor: concurrent.futures.Executor,
    outlived: SyncOutlived | None = None,
) -> LocalOutcome:
    """Run a prepared call from synchronous code.

    The handler runs on ``executor`` so its timeout can be enforced (a sync handler that times
    out keeps its worker thread until it returns; Python cannot stop a thread). Async handlers
    get their own event loop in that worker.
    """
    skill = prepared.skill
    if skill.is_async:
        target: Callable[[], object] = functools.partial(_run_coroutine_to_end, prepared)
    else:
        target = functools.partial(
            _call_plain, skill.handler, prepared.args, prepared.kwargs, prepared.timeout
        )
    context = contextvars.copy_context()
    deadline = None if prepared.timeout is None else time.monotonic() + prepared.timeout
    # The future is made here, not by submit(): a Ctrl-C landing inside submit() (while it
    # starts a worker thread, which may run the handler at once) would leave this call
    # without it, released while its handler runs.
    future: concurrent.futures.Future[object] = concurrent.futures.Future()
    submitted = False
    try:
        queued = executor.submit(_job(future, functools.partial(context.run, target)))
        submitted = True
        queued.add_done_callback(_cancel_with(future))  # a pool shutting down cancels it
        if skill.is_async:
            value = _async_result(future, prepared.timeout)
        else:
            value = future.result(timeout=prepared.timeout)
    except _ExpiredError:
        return _timed_out(skill, prepared.timeout)
    except _HandlerCancelledError as exc:
        return _failed(skill, exc.__cause__ or exc, settings)
    except TimeoutError as exc:
        if future.done():  # the handler itself raised TimeoutError: that is its own failure
            return _failed(skill, exc, settings)
        future.cancel()
        return _timed_out(skill, prepared.timeout)
    except Exception as exc:
        if not submitted:
            raise  # the pool refused the job (shut down): the handler never ran
        return _failed(skill, exc, settings)
    except BaseException as exc:
        # The handler's (SystemExit, CancelledError...), passed on by its worker thread;
        # anything else (Ctrl-C while this thread waited) is the caller's. A job that has
        # not started never will: the call stays pending; one running still answers it.
        if future.done() and not future.cancelled() and future.exception() is exc:
            return _failed(skill, exc, settings)
        if outlived is not None and not future.cancel():
            left = None if deadline is None else deadline - time.monotonic()
            outlived(_sync_outcome_when_done(future, prepared, settings, left))
        raise
    return _finish(skill, value, settings)


def _cancel_with(
    future: concurrent.futures.Future[object],
) -> Callable[[concurrent.futures.Future[None]], None]:
    """A done-callback for a pool's future of :func:`_job`: a cancel of it cancels ``future``."""

    def follow(queued: concurrent.futures.Future[None]) -> None:
        if queued.cancelled():
            future.cancel()

    return follow


def _job(
    future: concurrent.futures.Future[object], target: Callable[[], object]
) -> Callable[[], None]:
    """A pool job running ``target`` into ``future`` (unless it was cancelled first)."""

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = target()
        except BaseException as exc:  # the caller's to judge
            future.set_exception(exc)
        else:
            future.set_result(result)

    return run


def _sync_outcome_when_done(
    running: concurrent.futures.Future[object],
    prepared: PreparedCall,
    settings: ExecutionSettings,
    seconds_left: float | None,
) -> concurrent.futures.Future[LocalOutcome]:
    """The outcome of a handler still running in its worker thread: what it returns, or the
    timeout failure once ``seconds_left`` (of its timeout) have passed, whichever is first."""
    skill = prepared.skill
    outcome: concurrent.futures.Future[LocalOutcome] = concurrent.futures.Future()

    def settle(value: LocalOutcome) -> None:
        with contextlib.suppress(concurrent.futures.InvalidStateError):  # the other was first
            outcome.set_result(value)

    def done(finished: concurrent.futures.Future[object]) -> None:
        if timer is not None:
            shared_watchdog().cancel(timer)
        if finished.cancelled():  # never started (the pool shut down): it must not stay taken
            settle(_failed(skill, concurrent.futures.CancelledError(), settings))
            return
        error = finished.exception()
        if error is None:
            settle(_finish(skill, finished.result(), settings))
        elif isinstance(error, _ExpiredError):
            settle(_timed_out(skill, prepared.timeout))
        elif isinstance(error, _HandlerCancelledError):
            settle(_failed(skill, error.__cause__ or error, settings))
        else:
            settle(_failed(skill, error, settings))

    timer = (
        None
        if seconds_left is None
        else shared_watchdog().schedule(
            max(0.0, seconds_left), lambda: settle(_timed_out(skill, prepared.timeout))
        )
    )
    running.add_done_callback(done)
    return outcome


_CANCEL_GRACE_S: Final = 1.0
"""How long past its deadline an async handler of the sync client has to end once cancelled."""


def _async_result(future: concurrent.futures.Future[object], timeout: float | None) -> object:
    """The result of an async handler run by :func:`_run_coroutine_to_end`.

    Once started, it keeps its deadline in its own loop (so it is cancelled); still waiting
    for a worker thread at the deadline, it never starts. One that does not end within a
    second of being cancelled (it swallows the cancel, or waits on a thread, which its loop
    waits for when it closes) is left to its thread, and the call is a timeout.
    """
    try:
        return future.result(timeout=timeout)
    except TimeoutError:
        if future.done():  # its own TimeoutError: its failure
            return future.result()
        if future.cancel():  # never started
            raise _ExpiredError from None
    try:
        return future.result(timeout=_CANCEL_GRACE_S)
    except TimeoutError:
        if future.done():
            return future.result()
        raise _ExpiredError from None


def run_in_place(prepared: PreparedCall, settings: ExecutionSettings) -> LocalOutcome:
    """Run a plain (not async) handler in the calling thread; no timeout is enforced here.

    For callers that keep the deadline themselves (see ``SessionSkills``): it saves the hop to
    a pool thread and back when the caller is already a worker thread. Whatever the handler
    raises is its failure, ``KeyboardInterrupt`` and other ``BaseException`` subclasses (a
    test's ``pytest.fail``) included: Ctrl-C reaches the main thread only, never a worker.
    """
    skill = prepared.skill
    context = contextvars.copy_context()
    try:
        value = context.run(
            _call_plain, skill.handler, prepared.args, prepared.kwargs, prepared.timeout
        )
    except _ExpiredError:  # a coroutine it returned was cancelled at the deadline
        return _timed_out(skill, prepared.timeout)
    except _HandlerCancelledError as exc:
        return _failed(skill, exc.__cause__ or exc, settings)
    except BaseException as exc:
        return _failed(skill, exc, settings)
    return _finish(skill, value, settings)


Outlived: TypeAlias = Callable[["asyncio.Future[LocalOutcome]"], None]
"""Told, when the caller is cancelled while a plain handler still runs in its thread (Python
cannot stop it), of the outcome the handler will have: the call is not over yet; or, when the
cancel cut short a handler running on the loop, of the ``cancelled`` outcome (done already)."""


async def execute_async(
    prepared: PreparedCall,
    settings: ExecutionSettings,
    executor: concurrent.futures.Executor | None,
    outlived: Outlived | None = None,
) -> LocalOutcome:
    """Run a prepared call on the event loop (async handlers) or in a worker thread (sync ones)."""
    skill = prepared.skill
    deadline = asyncio.timeout(prepared.timeout)
    running: asyncio.Future[object] | None = None
    job: concurrent.futures.Future[object] | None = None
    on_loop = False  # whether the handler's work runs in this task, where a cancel cuts it
    try:
        async with deadline:
            if skill.is_async:
                on_loop = True
                value = await cast(
                    Awaitable[object], skill.handler(*prepared.args, **prepared.kwargs)
                )
            else:
                loop = asyncio.get_running_loop()
                context = contextvars.copy_context()
                call = functools.partial(
                    context.run,
                    _call_plain_in_thread,
                    skill.handler,
                    prepared.args,
                    prepared.kwargs,
                    prepared.timeout,
                )
                if executor is None:
                    running = loop.run_in_executor(None, call)
                else:  # the job itself, to cancel at the deadline (the wrapper passes it on late)
                    job = executor.submit(call)
                    running = asyncio.wrap_future(job)
                try:
                    value = await asyncio.shield(running)
                except asyncio.CancelledError:
                    # Even when the thread has just returned: its result is the call's answer
                    # (dropped, the next drain would run the handler again).
                    if outlived is not None and not running.cancelled() and not deadline.expired():
                        outlived(
                            _outcome_when_done(running, prepared, settings, deadline.when(), job)
                        )
                    raise
            if _unfinished(value):
                on_loop = True
                value = await _run_to_end(value)
    except TimeoutError as exc:
        if deadline.expired():
            # Still waiting for a thread, it must not run after this.
            if job is not None:
                job.cancel()
            if running is not None:
                running.cancel()
            return _timed_out(skill, prepared.timeout)
        return _failed(skill, exc, settings)
    except asyncio.CancelledError as exc:
        if not _cancelled_by_handler():
            # The caller's task is being cancelled: not the handler's failure. Cut short
            # here, the handler ran part way: the call is answered so (released, the next
            # drain would run the handler a second time).
            if on_loop and outlived is not None:
                cut_short = asyncio.get_running_loop().create_future()
                cut_short.set_result(_cancelled(skill))
                outlived(cut_short)
            raise
        return _failed(skill, exc, settings)
    except GeneratorExit:
        raise  # this coroutine is being closed: not the handler's doing
    except KeyboardInterrupt as exc:
        if skill.is_async:
            raise  # raised on the loop's thread: it may be the user's Ctrl-C
        return _failed(skill, exc, settings)  # from the handler's worker thread: its own
    except BaseException as exc:
        # SystemExit escaping a task would end the event loop, every other call with it; any
        # other BaseException (a test's pytest.fail) would leave the call unanswered.
        return _failed(skill, exc, settings)
    if deadline.expired():  # the handler swallowed the cancel and returned: late all the same
        return _timed_out(skill, prepared.timeout)
    return _finish(skill, value, settings)


def _outcome_when_done(
    running: asyncio.Future[object],
    prepared: PreparedCall,
    settings: ExecutionSettings,
    deadline_at: float | None,
    job: concurrent.futures.Future[object] | None,
) -> asyncio.Future[LocalOutcome]:
    """The outcome of a plain handler still running in its thread: what it returns, or the
    timeout failure at ``deadline_at`` (the loop's time; ``None``: no deadline), whichever
    is first."""
    skill = prepared.skill
    loop = running.get_loop()
    outcome: asyncio.Future[LocalOutcome] = loop.create_future()

    def settle(value: LocalOutcome) -> None:
        if not outcome.done():  # the deadline or the thread was first
            outcome.set_result(value)

    def expire() -> None:
        if job is not None:
            job.cancel()  # still waiting for a thread: it must not run after its deadline
        settle(_timed_out(skill, prepared.timeout))

    timer = None if deadline_at is None else loop.call_at(deadline_at, expire)

    def done(finished: asyncio.Future[object]) -> None:
        if timer is not None:
            timer.cancel()
        error = asyncio.CancelledError() if finished.cancelled() else finished.exception()
        if error is None:
            value = finished.result()
            if _unfinished(value):  # never run: the call's task is gone
                _discard(value)
                error = RuntimeError("the call was cancelled before its result was awaited")
            else:
                settle(_finish(skill, value, settings))
                return
        settle(_failed(skill, error, settings))

    running.add_done_callback(done)
    return outcome


def _discard(value: object) -> None:
    """Close an unfinished result that will never run (no "never awaited" warning)."""
    close = getattr(value, "close", None)
    if inspect.iscoroutine(value) and callable(close):
        close()


def elapsed_since(start: float) -> float:
    """Seconds since ``start`` (a :func:`time.perf_counter` value)."""
    return time.perf_counter() - start
