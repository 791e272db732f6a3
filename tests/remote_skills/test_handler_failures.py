"""Every way a handler can fail becomes a ``handler_error`` answer, never an escaping
exception and never an answer that cannot be sent."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.remote_skills import SessionSkills
from codex_manager.remote_skills.execution import (
    ExecutionSettings,
    LocalOutcome,
    execute_async,
    execute_sync,
    run_in_place,
)
from codex_manager.remote_skills.skill import SkillHandler
from codex_manager.testing import FakeCodexManager

from .helpers import prepared_call as _prepared
from .helpers import send_calls

SETTINGS = ExecutionSettings()
NON_UTF8_NAME = os.fsdecode(b"caf\xe9.txt")  # what os.listdir() gives for that file name


class TemplateError(Exception):
    """An exception whose message is a template filled in ``__str__``; a field is missing."""

    def __str__(self) -> str:
        return "cannot reach {host}".format(**{})


def exits() -> str:
    """Exits, as argparse does on bad input."""
    raise SystemExit(2)


def cancels() -> str:
    """Raises asyncio's CancelledError from plain code."""
    raise asyncio.CancelledError


def broken_message() -> str:
    """Raises an exception whose message cannot be made."""
    raise TemplateError


def unreadable_file() -> str:
    """Fails naming a file whose name is not UTF-8."""
    raise FileNotFoundError(f"cannot read {NON_UTF8_NAME}")


async def exits_async() -> str:
    """Exits from a coroutine."""
    raise SystemExit(2)


class OutcomeError(BaseException):
    """Not an Exception, as pytest's ``Failed`` (raised by ``pytest.fail``) is not."""


def fails_a_test() -> str:
    """Fails the test that runs it."""
    raise OutcomeError("expected 2 tickets")


async def fails_a_test_async() -> str:
    """Fails the test that runs it, from a coroutine."""
    raise OutcomeError("expected 2 tickets")


def interrupts() -> str:
    """Raises KeyboardInterrupt itself (Ctrl-C never reaches a worker thread)."""
    raise KeyboardInterrupt


async def interrupts_async() -> str:
    """Raises KeyboardInterrupt on the event loop's thread."""
    raise KeyboardInterrupt


FAILING: list[tuple[str, SkillHandler, str]] = [
    ("exits", exits, "SystemExit: 2"),
    ("fails_a_test", fails_a_test, "OutcomeError: expected 2 tickets"),
    ("interrupts", interrupts, "KeyboardInterrupt"),
    ("cancels", cancels, "CancelledError"),
    ("broken_message", broken_message, "TemplateError"),
    ("unreadable_file", unreadable_file, "cannot read caf\\udce9.txt"),
]


@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown(wait=False, cancel_futures=True)


def _assert_sendable_failure(outcome: LocalOutcome, shown: str) -> None:
    assert outcome.error_kind == "handler_error"
    assert not outcome.answer.success
    assert shown in outcome.answer.text
    json.dumps(list(outcome.answer.content_items)).encode("utf-8")  # goes on the wire


@pytest.mark.parametrize(("name", "handler", "shown"), FAILING)
def test_a_failing_plain_handler_is_answered_from_a_worker_thread(
    executor: concurrent.futures.Executor, name: str, handler: SkillHandler, shown: str
) -> None:
    prepared = _prepared(name, handler)
    _assert_sendable_failure(execute_sync(prepared, SETTINGS, executor), shown)


@pytest.mark.parametrize(("name", "handler", "shown"), FAILING)
def test_a_failing_plain_handler_is_answered_in_place(
    name: str, handler: SkillHandler, shown: str
) -> None:
    prepared = _prepared(name, handler)
    _assert_sendable_failure(run_in_place(prepared, SETTINGS), shown)


@pytest.mark.parametrize(
    ("name", "handler", "shown"),
    [
        *FAILING,
        ("exits_async", exits_async, "SystemExit: 2"),
        ("fails_a_test_async", fails_a_test_async, "OutcomeError: expected 2 tickets"),
    ],
)
async def test_a_failing_handler_is_answered_on_the_event_loop(
    name: str, handler: SkillHandler, shown: str
) -> None:
    prepared = _prepared(name, handler)
    outcome = await execute_async(prepared, SETTINGS, None)
    _assert_sendable_failure(outcome, shown)


async def test_a_keyboard_interrupt_on_the_event_loops_thread_goes_through() -> None:
    # There it may be the user's Ctrl-C (a loop run without asyncio.run's SIGINT handling).
    with pytest.raises(KeyboardInterrupt):
        await execute_async(_prepared("interrupts_async", interrupts_async), SETTINGS, None)


async def test_a_plain_handler_still_queued_at_its_deadline_never_runs() -> None:
    # It was answered "timed out" while it waited for a thread, then ran all the same once
    # one was free: a side effect after the model was told it did not happen.
    release = threading.Event()
    ran: list[str] = []

    def hang() -> str:
        """Holds the only thread."""
        release.wait(10)
        return "done"

    def send_email() -> str:
        """A side effect."""
        ran.append("sent")
        return "sent"

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as single:
        holding = asyncio.ensure_future(execute_async(_prepared("hang", hang), SETTINGS, single))
        await asyncio.sleep(0.05)
        queued = _prepared("send_email", send_email, timeout=0.1)
        outcome = await execute_async(queued, SETTINGS, single)
        assert outcome.error_kind == "timeout"
        release.set()
        assert (await holding).answer.text == "done"
    assert ran == []


@pytest.mark.parametrize("handler", [unreadable_file, broken_message, exits])
def test_a_drain_answers_a_failure_it_could_not_send_before(
    handler: Callable[[], str],
) -> None:
    # The drain raised UnicodeEncodeError (or KeyError, SystemExit) at every attempt and the
    # call stayed pending for good.
    with FakeCodexManager() as server, CodexManager(server.base_url) as cm:
        _created, skills = cm.remote_skills.create_session(register=lambda s: s.skill(handler))
        send_calls(server, skills, f"CALL {handler.__name__} {{}}")
        [dispatch] = skills.drain_pending_calls()
        assert dispatch.submission_status == "accepted"
        assert dispatch.error_kind == "handler_error"
        assert server.pending_tool_calls(skills.session_id) == []


def test_an_async_handler_still_queued_at_its_deadline_times_out_on_the_sync_client() -> None:
    # It had no deadline while it waited for a worker thread: answered once the thread was
    # free (seconds later, or never), and run all the same.
    release = threading.Event()
    ran: list[str] = []

    async def send_email() -> str:
        """A side effect."""
        ran.append("sent")
        return "sent"

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as single:
        holding = single.submit(release.wait, 10)  # the only thread, busy
        queued = _prepared("send_email", send_email, timeout=0.1)
        outcome = execute_sync(queued, SETTINGS, single)
        assert outcome.error_kind == "timeout"
        release.set()
        holding.result(timeout=10)
    assert ran == []


class Interrupted(BaseException):
    """What a SIGINT handler of the test raises in the main thread (a Ctrl-C that pytest
    would take for its own)."""


@contextlib.contextmanager
def _ctrl_c_raises_interrupted() -> Iterator[None]:
    """SIGINT (Ctrl-C, sent by the test itself) raises :class:`Interrupted` meanwhile."""

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_interrupted_sync_drain_never_runs_the_handler_twice() -> None:
    # Interrupted while the handler ran in its worker thread, the call was released: the next
    # drain ran the handler a second time and the first result was thrown away.
    runs: list[int] = []
    finished = threading.Event()

    def transfer(amount: int) -> str:
        """Moves money (a side effect)."""
        runs.append(amount)
        time.sleep(0.5)
        finished.set()
        return f"transferred {amount}"

    with (
        _ctrl_c_raises_interrupted(),
        FakeCodexManager() as server,
        CodexManager(server.base_url) as cm,
    ):
        _created, skills = cm.remote_skills.create_session(register=lambda s: s.skill(transfer))
        send_calls(server, skills, 'CALL transfer {"amount": 100}')
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(Interrupted):
            skills.drain_pending_calls()
        [again] = skills.drain_pending_calls()  # the handler still runs
        assert again.duplicate
        assert finished.wait(5)
        # Its answer goes out once it returns, without a later drain (a program ending on
        # Ctrl-C has none: the next process's drain would have run it a second time).
        server.wait_for(lambda: len(server.answers) == 1, 5)
        assert skills.drain_pending_calls() == []
        [answer] = server.answers
        assert answer.status == 200
        assert answer.body == {
            "success": True,
            "contentItems": [{"type": "inputText", "text": "transferred 100"}],
        }
    assert runs == [100]


def test_ctrl_c_while_an_answer_waits_to_be_sent_again_still_sends_it() -> None:
    # The handler had returned; its answer met a 500 and waited to go again when Ctrl-C came:
    # it was kept in memory only, and the next process's drain charged the card again.
    runs: list[int] = []

    def charge(amount: int) -> str:
        """Charges a card (a side effect)."""
        runs.append(amount)
        return f"charged {amount}"

    with _ctrl_c_raises_interrupted(), FakeCodexManager() as server:
        with CodexManager(server.base_url) as cm:
            _created, skills = cm.remote_skills.create_session(register=lambda s: s.skill(charge))
            send_calls(server, skills, 'CALL charge {"amount": 5}')
            server.fail_next_answers(1)
            threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
            with pytest.raises(Interrupted):
                skills.drain_pending_calls(retry_delay_seconds=5.0)
        # The close at the end of the with block waited for the answer.
        assert [answer.status for answer in server.answers] == [500, 200]
        assert server.pending_tool_calls(skills.session_id) == []
    assert runs == [5]


async def test_a_cancel_while_an_answer_waits_to_be_sent_again_still_sends_it() -> None:
    runs: list[int] = []

    def charge(amount: int) -> str:
        """Charges a card (a side effect)."""
        runs.append(amount)
        return f"charged {amount}"

    with FakeCodexManager() as server:
        async with AsyncCodexManager(server.base_url) as acm:
            _created, skills = await acm.remote_skills.create_session(
                register=lambda s: s.skill(charge)
            )
            await skills.send('CALL charge {"amount": 5}', inject_skills=False)
            await asyncio.to_thread(server.wait_for_tool_call, skills.session_id)
            server.fail_next_answers(1)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(skills.drain_pending_calls(retry_delay_seconds=5.0), 0.5)
        assert [answer.status for answer in server.answers] == [500, 200]
    assert runs == [5]


async def test_an_answer_going_on_in_the_background_keeps_its_call_taken() -> None:
    # Its delivery cut by a cancel, the answer went on in the background without the call's
    # claim: a drain meanwhile took the call as a resubmission and posted it a second time.
    with FakeCodexManager() as server:
        async with AsyncCodexManager(server.base_url) as acm:
            _created, skills = await acm.remote_skills.create_session(
                register=lambda s: s.skill(_add)
            )
            await skills.send('CALL _add {"a": 1, "b": 2}', inject_skills=False)
            await asyncio.to_thread(server.wait_for_tool_call, skills.session_id)
            server.fail_next_answers(2)
            first = asyncio.ensure_future(
                skills.drain_pending_calls(max_submit_attempts=5, retry_delay_seconds=0.5)
            )
            await asyncio.to_thread(server.wait_for, lambda: len(server.answers) == 1, 5)
            first.cancel()
            with pytest.raises(asyncio.CancelledError):
                await first
            [second] = await skills.drain_pending_calls(retry_delay_seconds=0.01)
            assert second.duplicate  # the background answer has it
            await asyncio.to_thread(server.wait_for, lambda: len(server.answers) == 3, 5)
        assert [answer.status for answer in server.answers] == [500, 500, 200]


def _add(a: int, b: int) -> int:
    """Adds."""
    return a + b


def test_ctrl_c_during_a_one_call_drain_still_sends_its_answer_before_close() -> None:
    # The program ends on Ctrl-C, its client closing on the way out: the call the handler
    # finished was left pending, for the next process's drain to charge again.
    runs: list[int] = []
    started = threading.Event()

    def charge(amount: int) -> str:
        """Charges a card (a side effect)."""
        started.set()
        time.sleep(0.5)
        runs.append(amount)
        return f"charged {amount}"

    def interrupt_once_charging() -> None:
        started.wait(5)
        os.kill(os.getpid(), signal.SIGINT)

    def drain_then_close(server: FakeCodexManager) -> SessionSkills:
        with CodexManager(server.base_url) as cm:
            _created, skills = cm.remote_skills.create_session(register=lambda s: s.skill(charge))
            send_calls(server, skills, 'CALL charge {"amount": 5}')
            threading.Thread(target=interrupt_once_charging).start()
            try:
                skills.drain_pending_calls()
            except Interrupted:
                return skills  # leaving the with block closes the client
        raise AssertionError("the drain was not interrupted")

    with _ctrl_c_raises_interrupted(), FakeCodexManager() as server:
        skills = drain_then_close(server)
        # close() (the with block, left by the interrupt) waited for the answer.
        assert runs == [5]
        assert [answer.status for answer in server.answers] == [200]
        assert server.pending_tool_calls(skills.session_id) == []


def test_ctrl_c_during_a_drain_of_several_calls_returns_at_once() -> None:
    # The drain's waiting threads were joined on the way out: the interrupt surfaced only once
    # every handler had returned (a hung one: its whole timeout).
    release = threading.Event()
    runs: list[str] = []

    def slow(tag: str) -> str:
        """Takes its time."""
        runs.append(tag)
        release.wait(10)
        return f"done {tag}"

    with _ctrl_c_raises_interrupted():
        try:
            with FakeCodexManager() as server:
                with CodexManager(server.base_url) as cm:
                    _created, skills = cm.remote_skills.create_session(
                        register=lambda s: s.skill(slow)
                    )
                    send_calls(
                        server,
                        skills,
                        'PARALLEL\nCALL slow {"tag": "a"}\nCALL slow {"tag": "b"}',
                        2,
                    )
                    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
                    started = time.monotonic()
                    with pytest.raises(Interrupted):
                        skills.drain_pending_calls()
                    assert time.monotonic() - started < 5  # not after the handlers' 10 s
                    threading.Timer(0.3, release.set).start()
                # The calls already started were answered in the background, once each: closing
                # the client (the end of its with block) waited for them.
                answers = server.answers
                assert [answer.status for answer in answers] == [200, 200]
                assert len({answer.request_id for answer in answers}) == 2
        finally:
            release.set()
    assert sorted(runs) == ["a", "b"]


async def test_a_cancel_landing_as_a_plain_handler_returns_keeps_its_answer() -> None:
    # The thread had already returned when the caller was cancelled: its result was dropped,
    # the call released, and the next drain ran the handler again. Now it is sent.
    runs: list[int] = []
    holder: dict[str, asyncio.Task[object]] = {}
    with FakeCodexManager() as server:
        async with AsyncCodexManager(server.base_url) as acm:
            loop = asyncio.get_running_loop()

            def transfer(amount: int) -> str:
                """Moves money (a side effect)."""
                runs.append(amount)
                loop.call_soon_threadsafe(holder["task"].cancel)  # lands as it returns
                return f"transferred {amount}"

            _created, skills = await acm.remote_skills.create_session(
                register=lambda s: s.skill(transfer)
            )
            await skills.send('CALL transfer {"amount": 100}', inject_skills=False)
            await asyncio.to_thread(server.wait_for_tool_call, skills.session_id)
            [row] = (await acm.session(skills.session_id).tool_calls.list())["data"]
            holder["task"] = task = asyncio.create_task(skills.respond_to_pending_call(row))
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.to_thread(server.wait_for, lambda: len(server.answers) == 1, 5)
            assert await skills.drain_pending_calls() == []
        [answer] = server.answers
        assert answer.body == {
            "success": True,
            "contentItems": [{"type": "inputText", "text": "transferred 100"}],
        }
    assert runs == [100]


def test_ctrl_c_landing_inside_submit_once_the_handler_started_keeps_the_call() -> None:
    # submit() starts a worker thread and waits for it to run; the worker may run the
    # handler at once. A Ctrl-C landing in that wait left the caller without the job's
    # future: the call was released while its handler ran, and answered by no one.
    started, release = threading.Event(), threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(1)

    def charge() -> str:
        started.set()
        release.wait(5)
        return "charged"

    class InterruptedInSubmit(concurrent.futures.Executor):
        def submit(  # type: ignore[override]  # the test's own narrow signature
            self, fn: Callable[[], None], /
        ) -> concurrent.futures.Future[None]:
            pool.submit(fn)
            assert started.wait(5)  # the handler runs, the caller is still in submit()
            raise Interrupted

    kept: list[concurrent.futures.Future[LocalOutcome]] = []
    with pytest.raises(Interrupted):
        execute_sync(_prepared("charge", charge), SETTINGS, InterruptedInSubmit(), kept.append)
    release.set()
    [outcome] = kept
    assert outcome.result(timeout=5).answer.text == "charged"
    pool.shutdown()


def test_ctrl_c_landing_inside_submit_before_the_job_ran_releases_the_call() -> None:
    # Not started, it never will: the call stays pending for a later drain, with no answer
    # to wait for.
    ran: list[bool] = []

    class InterruptedBeforeQueuing(concurrent.futures.Executor):
        def submit(  # type: ignore[override]  # the test's own narrow signature
            self, fn: Callable[[], None], /
        ) -> concurrent.futures.Future[None]:
            raise Interrupted

    kept: list[concurrent.futures.Future[LocalOutcome]] = []
    with pytest.raises(Interrupted):
        execute_sync(
            _prepared("charge", lambda: ran.append(True)),
            SETTINGS,
            InterruptedBeforeQueuing(),
            kept.append,
        )
    assert (kept, ran) == ([], [])


def test_a_kept_call_whose_job_was_cancelled_is_not_left_taken() -> None:
    # The pool's shutdown cancelled a job an interrupted caller was waiting for: the
    # done-callback raised on the cancelled future, the outcome never came, and the call
    # stayed taken for good.
    from codex_manager.remote_skills.execution import _sync_outcome_when_done

    job: concurrent.futures.Future[object] = concurrent.futures.Future()
    outcome = _sync_outcome_when_done(job, _prepared("exits", exits), SETTINGS, None)
    assert job.cancel()
    assert outcome.result(timeout=1).error_kind == "handler_error"


async def _swallows_the_cancel() -> str:
    """Ignores its cancellation and returns (past its deadline)."""
    for _ in range(3):
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.2)
    return "done"


def test_a_sync_call_whose_async_handler_swallows_its_cancel_is_a_timeout() -> None:
    # It was answered with its result ("done"), although its deadline had passed.
    prepared = _prepared("stubborn", _swallows_the_cancel, timeout=0.1)
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        outcome = execute_sync(prepared, SETTINGS, executor)
    assert outcome.error_kind == "timeout"


async def test_an_async_call_whose_handler_swallows_its_cancel_is_a_timeout() -> None:
    outcome = await execute_async(
        _prepared("stubborn", _swallows_the_cancel, timeout=0.1), SETTINGS, None
    )
    assert outcome.error_kind == "timeout"


def test_ctrl_c_does_not_lift_the_handlers_timeout() -> None:
    # Interrupted, a call waited for its handler however long it ran (the timeout ignored),
    # and close() with it.
    finished = threading.Event()

    def slow(amount: int) -> str:
        """Takes far longer than its timeout."""
        time.sleep(3)
        finished.set()
        return "late"

    with _ctrl_c_raises_interrupted(), FakeCodexManager() as server:
        with CodexManager(server.base_url) as cm:
            _created, skills = cm.remote_skills.create_session(
                register=lambda s: s.register("slow", slow, timeout_seconds=0.5)
            )
            send_calls(server, skills, 'CALL slow {"amount": 1}')
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
            with pytest.raises(Interrupted):
                skills.drain_pending_calls()
        assert not finished.is_set()  # close() did not wait for the handler itself
        [answer] = server.answers
        assert answer.body == {
            "success": False,
            "contentItems": [
                {
                    "type": "inputText",
                    "text": "Tool 'slow' did not finish within 0.5 seconds and was abandoned.",
                }
            ],
        }


def test_a_sync_call_whose_async_handler_outlives_its_cancel_is_answered_at_its_deadline() -> None:
    # Waiting on a thread, a cancelled coroutine's loop waits for the thread when it closes:
    # the call was answered only when the thread ended, however long after the deadline.
    release = threading.Event()
    thread_done = threading.Event()

    def blocking_work() -> None:
        release.wait(3)
        thread_done.set()

    async def waits_on_a_thread() -> str:
        """Hands blocking work to a thread."""
        await asyncio.to_thread(blocking_work)
        return "done"

    prepared = _prepared("threaded", waits_on_a_thread, timeout=0.1)
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        outcome = execute_sync(prepared, SETTINGS, executor)
        assert outcome.error_kind == "timeout"
        assert not thread_done.is_set()  # answered before the thread's work ended
        release.set()
