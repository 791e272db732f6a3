"""What a timed-out ``cm.wait.turn`` says the session waits on, and what asking may cost."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import cast

import pytest

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.client._resources_async import AsyncResourceGroups
from codex_manager.client._resources_sync import ResourceGroups
from codex_manager.errors import NotFoundError, TurnWaitTimeoutError
from codex_manager.testing import FakeCodexManager
from codex_manager.types import ReadSessionResponse
from codex_manager.wait import AsyncTurnWaiter, TurnWaiter
from tests.fake_scripts import ask_which_ticket

HANG_SECONDS = 5.0


def _running_turn(session_id: str) -> ReadSessionResponse:
    return cast(
        "ReadSessionResponse",
        {
            "session": {"sessionId": session_id},
            "thread": {"turns": [{"id": "turn-1", "status": "inProgress"}]},
            "transcript": [],
        },
    )


class _HangingLookups:
    """A server that answers the polls, then hangs when asked what the turn waits on."""

    def get(self, session_id: str, **_: object) -> ReadSessionResponse:
        return _running_turn(session_id)

    def _hang(self, session_id: str, **_: object) -> object:
        time.sleep(HANG_SECONDS)
        return {"data": []}

    list_tool_calls = list_approvals = list_tool_input = _hang


class _AsyncHangingLookups:
    async def get(self, session_id: str, **_: object) -> ReadSessionResponse:
        return _running_turn(session_id)

    async def _hang(self, session_id: str, **_: object) -> object:
        await asyncio.sleep(HANG_SECONDS)
        return {"data": []}

    list_tool_calls = list_approvals = list_tool_input = _hang


class _Client:
    def __init__(self, sessions: object) -> None:
        self.sessions = sessions


def test_a_server_that_hangs_when_asked_costs_the_sync_wait_about_a_second() -> None:
    waiter = TurnWaiter(cast("ResourceGroups", _Client(_HangingLookups())))
    started = time.monotonic()
    with pytest.raises(TurnWaitTimeoutError) as caught:
        waiter.turn("s", "turn-1", timeout=0.2, poll_interval=0.05)
    assert time.monotonic() - started < 0.2 + HANG_SECONDS / 2  # not the lookups' full time
    assert caught.value.pending_tool_calls is None  # no answer in time: no hint
    assert "inProgress" in str(caught.value)


async def test_the_async_wait_is_bounded_the_same_way() -> None:
    waiter = AsyncTurnWaiter(cast("AsyncResourceGroups", _Client(_AsyncHangingLookups())))
    started = time.monotonic()
    # A caller's own bound a little past the wait's: the wait's error must come first.
    async with asyncio.timeout(0.2 + HANG_SECONDS / 2):
        with pytest.raises(TurnWaitTimeoutError) as caught:
            await waiter.turn("s", "turn-1", timeout=0.2, poll_interval=0.05)
    assert time.monotonic() - started < 0.2 + HANG_SECONDS / 2
    assert caught.value.pending_tool_calls is None


class _SlowAndPartialLookups:
    """Each question takes 0.4 s (three in a row would pass the one-second bound); the
    tool-input route is missing (an older server): what the others say is kept."""

    def get(self, session_id: str, **_: object) -> ReadSessionResponse:
        return _running_turn(session_id)

    def list_tool_calls(self, session_id: str, **_: object) -> object:
        time.sleep(0.4)
        return {"data": [{}, {}]}

    def list_approvals(self, session_id: str, **_: object) -> object:
        time.sleep(0.4)
        return {"data": [{}]}

    def list_tool_input(self, session_id: str, **_: object) -> object:
        raise NotFoundError(404, {}, operation_id="listSessionToolInput", method="GET", url="u")


def test_the_questions_go_at_once_and_what_is_answered_is_kept() -> None:
    waiter = TurnWaiter(cast("ResourceGroups", _Client(_SlowAndPartialLookups())))
    with pytest.raises(TurnWaitTimeoutError) as caught:
        waiter.turn("s", "turn-1", timeout=0.2, poll_interval=0.05)
    error = caught.value
    assert (error.pending_tool_calls, error.pending_approvals, error.pending_user_inputs) == (
        2,
        1,
        None,
    )
    assert "2 tool calls pending" in str(error)


def test_questions_still_waiting_on_the_server_are_not_asked_again() -> None:
    # A loop of short waits against a server that hangs on those routes must not pile up
    # threads and connections: while the last hint's questions wait, no new ones go.
    def hint_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "codex-manager-wait-hint"}

    before = hint_threads()  # other tests' questions, still asleep
    waiter = TurnWaiter(cast("ResourceGroups", _Client(_HangingLookups())))
    for _ in range(5):
        with pytest.raises(TurnWaitTimeoutError):
            waiter.turn("s", "turn-1", timeout=0.05, poll_interval=0.01)
    assert len(hint_threads() - before) == 3  # the first wait's three questions, none after


def test_waits_in_several_threads_share_one_set_of_questions() -> None:
    def hint_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "codex-manager-wait-hint"}

    before = hint_threads()
    waiter = TurnWaiter(cast("ResourceGroups", _Client(_HangingLookups())))

    def wait() -> None:
        with pytest.raises(TurnWaitTimeoutError):
            waiter.turn("s", "turn-1", timeout=0.05, poll_interval=0.01)

    waits = [threading.Thread(target=wait) for _ in range(4)]
    for thread in waits:
        thread.start()
    for thread in waits:
        thread.join()
    assert len(hint_threads() - before) == 3  # one wait asked; the others found it asking


async def test_a_caller_giving_up_takes_the_questions_with_it() -> None:
    waiter = AsyncTurnWaiter(cast("AsyncResourceGroups", _Client(_AsyncHangingLookups())))
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):  # fires while the questions wait on the server
            await waiter.turn("s", "turn-1", timeout=0.2, poll_interval=0.05)
    await asyncio.sleep(0)
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert all(task.done() for task in others)  # no question left running


def test_a_turn_waiting_for_user_input_says_so(fake_server: FakeCodexManager) -> None:
    with CodexManager(fake_server.base_url) as cm:
        session_id = cm.sessions.create()["session"]["sessionId"]
        fake_server.set_script(session_id, ask_which_ticket)
        accepted = cm.session(session_id).messages.send("hello")
        fake_server.wait_for(lambda: bool(cm.session(session_id).tool_input.list()["data"]), 5)
        with pytest.raises(TurnWaitTimeoutError) as caught:
            cm.wait.turn(session_id, accepted["turnId"], timeout=0.2, poll_interval=0.05)
    error = caught.value
    assert (error.pending_tool_calls, error.pending_approvals, error.pending_user_inputs) == (
        0,
        0,
        1,
    )
    assert "1 user-input request pending" in str(error)


async def test_the_async_wait_counts_user_input_too(fake_server: FakeCodexManager) -> None:
    async with AsyncCodexManager(fake_server.base_url) as acm:
        session_id = (await acm.sessions.create())["session"]["sessionId"]
        fake_server.set_script(session_id, ask_which_ticket)
        accepted = await acm.session(session_id).messages.send("hello")
        with CodexManager(fake_server.base_url) as cm:  # the asking turn is under way
            fake_server.wait_for(lambda: bool(cm.session(session_id).tool_input.list()["data"]), 5)
        with pytest.raises(TurnWaitTimeoutError) as caught:
            await acm.wait.turn(session_id, accepted["turnId"], timeout=0.2, poll_interval=0.05)
    assert caught.value.pending_user_inputs == 1
