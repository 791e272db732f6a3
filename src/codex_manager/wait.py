"""Waiting for a turn to finish, by polling ``GET /api/sessions/{id}``.

``cm.wait.turn(session_id, turn_id)`` polls until ``thread.turns[]`` shows the turn in a final
status, then returns a :class:`TurnResult` with that status and the assistant's reply taken
from the transcript. ``cm.wait.send_message_and_wait_reply(session_id, text)`` sends a message
and waits for the turn it started. Polling starts fast and slows down to
``max_poll_interval``; when the deadline passes, :class:`TurnWaitTimeoutError` says what the
last poll showed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from codex_manager._omit import OMIT, Omit
from codex_manager.errors import (
    CodexManagerError,
    ConfigError,
    RateLimitError,
    ServerError,
    TransportError,
    TurnWaitTimeoutError,
)
from codex_manager.retry import RetryPolicy

if TYPE_CHECKING:
    from codex_manager.client._resources_async import AsyncResourceGroups
    from codex_manager.client._resources_sync import ResourceGroups
    from codex_manager.types import (
        ApprovalPolicy,
        CodexTurn,
        DynamicToolDefinition,
        FilesystemSandbox,
        NetworkAccess,
        ReadSessionResponse,
        ReasoningEffort,
        TranscriptEntry,
    )

FINAL_TURN_STATUSES: Final = frozenset(
    {"completed", "failed", "interrupted", "cancelled", "canceled", "error", "aborted"}
)
"""Turn statuses after which nothing more happens in the turn."""

DEFAULT_WAIT_TIMEOUT: Final = 300.0
DEFAULT_POLL_INTERVAL: Final = 0.1
DEFAULT_MAX_POLL_INTERVAL: Final = 1.0


@dataclass(frozen=True)
class TurnResult:
    """A finished turn.

    Attributes:
        session_id: The session.
        turn_id: The turn.
        status: The turn's final status (``"completed"``, ``"failed"``, ``"interrupted"``...).
        reply: The last complete assistant message of the turn (``None`` if there is none).
        assistant_messages: Every complete assistant message of the turn, in order.
        turn: The turn as the server reported it.
        transcript: The transcript entries of this turn.
    """

    session_id: str
    turn_id: str
    status: str
    reply: str | None
    assistant_messages: tuple[str, ...]
    turn: CodexTurn
    transcript: tuple[TranscriptEntry, ...]

    @property
    def completed(self) -> bool:
        """Whether the turn completed normally."""
        return self.status == "completed"


@dataclass(frozen=True)
class _Observation:
    result: TurnResult | None
    status: str | None
    seen: str


def _observe(read: ReadSessionResponse, session_id: str, turn_id: str) -> _Observation:
    """What one read of the session says about the turn."""
    turns: Sequence[CodexTurn] = read["thread"].get("turns") or []
    turn = next((t for t in turns if t.get("id") == turn_id), None)
    entries = tuple(e for e in read.get("transcript", []) if e.get("turnId") == turn_id)
    assistant = [e for e in entries if e.get("role") == "assistant"]
    streaming = sum(1 for e in assistant if e.get("status") == "streaming")
    if turn is None:
        return _Observation(None, None, f"turn not listed yet (thread has {len(turns)} turns)")
    status = str(turn.get("status"))
    seen = f"turn status {status!r}, {len(assistant)} assistant entries ({streaming} streaming)"
    if status not in FINAL_TURN_STATUSES or streaming:
        return _Observation(None, status, seen)
    messages = tuple(str(e.get("content", "")) for e in assistant if e.get("status") == "complete")
    result = TurnResult(
        session_id=session_id,
        turn_id=turn_id,
        status=status,
        reply=messages[-1] if messages else None,
        assistant_messages=messages,
        turn=turn,
        transcript=entries,
    )
    return _Observation(result, status, seen)


def _check_timing(timeout: float, poll_interval: float, max_poll_interval: float) -> None:
    for name, value in (
        ("timeout", timeout),
        ("poll_interval", poll_interval),
        ("max_poll_interval", max_poll_interval),
    ):
        if not value > 0:
            raise ConfigError(f"{name} must be > 0 (got {value!r})")


class _Pacer:
    """Deadline and growing poll interval."""

    def __init__(self, timeout: float, first: float, most: float, clock: Callable[[], float]):
        self._clock = clock
        self.deadline = clock() + timeout
        self._interval = first
        self._most = max(most, first)

    def remaining(self) -> float:
        """Seconds left before the deadline (``0`` once it passed)."""
        return max(self.deadline - self._clock(), 0.0)

    def next_pause(self) -> float | None:
        """Seconds to sleep before the next poll, or ``None`` when the deadline passed."""
        remaining = self.deadline - self._clock()
        if remaining <= 0:
            return None
        pause = min(self._interval, remaining)
        self._interval = min(self._interval * 1.5, self._most)
        return pause


_ONE_ATTEMPT: Final = RetryPolicy.disabled()
"""Polls make one attempt each: the polls are the retries (and the client's own retries,
attempts times its timeout, would run far past the deadline)."""

_GATEWAY_ERRORS: Final = frozenset({502, 503, 504})
"""Answers of a proxy in front of an unreachable server: polled through like transport errors
(a 500 is the server's own answer, an unknown session for one, and raises)."""


def _poll_again(error: Exception) -> bool:
    """Whether a failed poll is worth another: the server cannot be reached now, or it (or a
    proxy) asked to slow down (429; the polls' own pace is the slowing down)."""
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, ServerError):
        return error.status_code in _GATEWAY_ERRORS
    return True  # a transport error, or a poll cut at the deadline


class _TurnPoll:
    """What the sync and async waits share: the pacing, the last observation, the verdict."""

    def __init__(
        self,
        session_id: str,
        turn_id: str,
        timeout: float,
        poll_interval: float,
        max_poll_interval: float,
    ) -> None:
        _check_timing(timeout, poll_interval, max_poll_interval)
        self._session_id = session_id
        self._turn_id = turn_id
        self._timeout = timeout
        self.pacer = _Pacer(timeout, poll_interval, max_poll_interval, time.monotonic)
        self._seen: _Observation | None = None
        self._failure: Exception | None = None

    def failed(self, error: Exception) -> bool:
        """Note a failed poll; ``False`` when it is not the unreachable kind (re-raise it)."""
        if not _poll_again(error):
            return False
        self._failure = error  # poll again until the deadline
        return True

    def answered(self, read: ReadSessionResponse) -> TurnResult | None:
        """Note an answered poll; the result once the turn reached a final status."""
        self._failure = None
        self._seen = _observe(read, self._session_id, self._turn_id)
        return self._seen.result

    def next_pause(self) -> float | None:
        """Seconds to sleep before the next poll; ``None`` once the deadline passed."""
        return self.pacer.next_pause()

    @property
    def worth_asking_what_blocks(self) -> bool:
        """Whether the turn was seen running and the server answered last: then the pending
        tool calls, approvals and user-input requests may say why it has not finished."""
        last = self._seen
        return self._failure is None and last is not None and last.status is not None

    def timed_out(self, pending: _Pending | None) -> TurnWaitTimeoutError:
        """The error for a deadline passed (the last failed poll is its cause)."""
        last = self._seen
        error = TurnWaitTimeoutError(
            session_id=self._session_id,
            turn_id=self._turn_id,
            timeout=self._timeout,
            last_status=None if last is None else last.status,
            last_seen="no poll answered in time" if last is None else last.seen,
            pending_tool_calls=None if pending is None else pending.tool_calls,
            pending_approvals=None if pending is None else pending.approvals,
            pending_user_inputs=None if pending is None else pending.user_inputs,
        )
        error.__cause__ = self._failure
        return error


@dataclass(frozen=True)
class _Pending:
    """What the session waits on; ``None`` where the server did not say in time."""

    tool_calls: int | None
    approvals: int | None
    user_inputs: int | None


_BLOCKER_LOOKUP_SECONDS: Final = 1.0
"""The most a wait spends, past its deadline, asking what the turn waits on (a hint only:
a server slow to say gives the error without it)."""


class TurnWaiter:
    """``cm.wait`` of :class:`~codex_manager.CodexManager`."""

    def __init__(self, client: ResourceGroups, *, sleep: Callable[[float], None] = time.sleep):
        self._client = client
        self._sleep = sleep
        # Threads of hints still asking the server, across the waits of every thread.
        self._hint_lock = threading.Lock()
        self._hint_threads: set[threading.Thread] = set()

    def turn(
        self,
        session_id: str,
        turn_id: str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> TurnResult:
        """Wait until turn ``turn_id`` of ``session_id`` reaches a final status.

        Args:
            session_id: The session.
            turn_id: The turn (from ``messages.send(...)["turnId"]``).
            timeout: Seconds before giving up.
            poll_interval: First pause between polls, in seconds (grows by half each poll).
            max_poll_interval: Longest pause between polls.

        Returns:
            The final status and the assistant's reply.

        Raises:
            TurnWaitTimeoutError: The turn was still running at the deadline, or the server
                could not be reached until then (the last failure is its ``__cause__``). A
                poll is one attempt; a sync one in flight at the deadline may end after it.
            GoneError: The session was deleted meanwhile.
        """
        poll = _TurnPoll(session_id, turn_id, timeout, poll_interval, max_poll_interval)
        while True:
            try:
                read = self._client.sessions.get(session_id, retry=_ONE_ATTEMPT)
            except (TransportError, ServerError, RateLimitError) as exc:
                if not poll.failed(exc):
                    raise
            else:
                result = poll.answered(read)
                if result is not None:
                    return result
            pause = poll.next_pause()
            if pause is None:
                raise poll.timed_out(self._pending(session_id, poll))
            self._sleep(pause)

    def _pending(self, session_id: str, poll: _TurnPoll) -> _Pending | None:
        """What the session waits on at the deadline (``None``: not asked).

        The three questions go at once, each in a daemon thread, and what is answered within
        :data:`_BLOCKER_LOOKUP_SECONDS` is kept: a server that hangs now costs the caller that
        second, not the client's request timeouts. While the last hint's questions still wait
        on the server, none are added.
        """
        if not poll.worth_asking_what_blocks:
            return None
        sessions = self._client.sessions
        asks: tuple[Callable[[], int], ...] = (
            lambda: len(sessions.list_tool_calls(session_id, retry=_ONE_ATTEMPT)["data"]),
            lambda: len(sessions.list_approvals(session_id, retry=_ONE_ATTEMPT)["data"]),
            lambda: len(sessions.list_tool_input(session_id, retry=_ONE_ATTEMPT)["data"]),
        )
        counts: list[int | None] = [None] * len(asks)

        def ask(index: int) -> None:
            with contextlib.suppress(CodexManagerError):  # a hint only: the timeout is the news
                counts[index] = asks[index]()

        with self._hint_lock:
            self._hint_threads = {thread for thread in self._hint_threads if thread.is_alive()}
            if self._hint_threads:
                return None  # earlier questions still wait on the server: none piled on
            threads = [
                threading.Thread(
                    target=ask, args=(index,), name="codex-manager-wait-hint", daemon=True
                )
                for index in range(len(asks))
            ]
            self._hint_threads.update(threads)
            for thread in threads:
                thread.start()
        deadline = time.monotonic() + _BLOCKER_LOOKUP_SECONDS
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        return _Pending(*counts)  # what was answered by now

    def send_message_and_wait_reply(
        self,
        session_id: str,
        text: str,
        *,
        model: str | Omit = OMIT,
        effort: ReasoningEffort | Omit = OMIT,
        approval_policy: ApprovalPolicy | Omit = OMIT,
        network_access: NetworkAccess | Omit = OMIT,
        filesystem_sandbox: FilesystemSandbox | Omit = OMIT,
        dynamic_tools: Sequence[DynamicToolDefinition] | Omit = OMIT,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> TurnResult:
        """Send ``text`` to the session and wait for the turn it starts to finish.

        The message arguments are those of ``cm.session(id).messages.send``; the timing
        arguments those of :meth:`turn`.
        """
        _check_timing(timeout, poll_interval, max_poll_interval)
        accepted = self._client.session(session_id).messages.send(
            text,
            model=model,
            effort=effort,
            approval_policy=approval_policy,
            network_access=network_access,
            filesystem_sandbox=filesystem_sandbox,
            dynamic_tools=dynamic_tools,
        )
        return self.turn(
            session_id,
            accepted["turnId"],
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
        )


class AsyncTurnWaiter:
    """``cm.wait`` of :class:`~codex_manager.AsyncCodexManager`."""

    def __init__(self, client: AsyncResourceGroups) -> None:
        self._client = client

    async def turn(
        self,
        session_id: str,
        turn_id: str,
        *,
        # Same keyword as the sync client's, for parity; it bounds polling, not one await.
        timeout: float = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> TurnResult:
        """Wait until turn ``turn_id`` of ``session_id`` reaches a final status.

        See :meth:`TurnWaiter.turn`.
        """
        poll = _TurnPoll(session_id, turn_id, timeout, poll_interval, max_poll_interval)
        while True:
            try:
                # A poll ends at the deadline too (a last one gets at least one poll interval).
                async with asyncio.timeout(max(poll.pacer.remaining(), poll_interval)):
                    read = await self._client.sessions.get(session_id, retry=_ONE_ATTEMPT)
            except (TimeoutError, TransportError, ServerError, RateLimitError) as exc:
                if not poll.failed(exc):
                    raise
            else:
                result = poll.answered(read)
                if result is not None:
                    return result
            pause = poll.next_pause()
            if pause is None:
                raise poll.timed_out(await self._pending(session_id, poll))
            await asyncio.sleep(pause)

    async def _pending(self, session_id: str, poll: _TurnPoll) -> _Pending | None:
        """See :meth:`TurnWaiter._pending`: the same three questions at once, what is
        answered within :data:`_BLOCKER_LOOKUP_SECONDS` kept, the rest cancelled."""
        if not poll.worth_asking_what_blocks:
            return None
        sessions = self._client.sessions

        async def tool_calls() -> int:
            return len((await sessions.list_tool_calls(session_id, retry=_ONE_ATTEMPT))["data"])

        async def approvals() -> int:
            return len((await sessions.list_approvals(session_id, retry=_ONE_ATTEMPT))["data"])

        async def user_inputs() -> int:
            return len((await sessions.list_tool_input(session_id, retry=_ONE_ATTEMPT))["data"])

        tasks = [asyncio.ensure_future(ask()) for ask in (tool_calls, approvals, user_inputs)]
        try:
            await asyncio.wait(tasks, timeout=_BLOCKER_LOOKUP_SECONDS)
        finally:  # also when the caller gives up meanwhile: no question outlives the wait
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        counts = [
            task.result() if not task.cancelled() and task.exception() is None else None
            for task in tasks
        ]
        return _Pending(*counts)

    async def send_message_and_wait_reply(
        self,
        session_id: str,
        text: str,
        *,
        model: str | Omit = OMIT,
        effort: ReasoningEffort | Omit = OMIT,
        approval_policy: ApprovalPolicy | Omit = OMIT,
        network_access: NetworkAccess | Omit = OMIT,
        filesystem_sandbox: FilesystemSandbox | Omit = OMIT,
        dynamic_tools: Sequence[DynamicToolDefinition] | Omit = OMIT,
        timeout: float = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    ) -> TurnResult:
        """Send ``text`` to the session and wait for the turn it starts to finish.

        See :meth:`TurnWaiter.send_message_and_wait_reply`.
        """
        _check_timing(timeout, poll_interval, max_poll_interval)
        accepted = await self._client.session(session_id).messages.send(
            text,
            model=model,
            effort=effort,
            approval_policy=approval_policy,
            network_access=network_access,
            filesystem_sandbox=filesystem_sandbox,
            dynamic_tools=dynamic_tools,
        )
        return await self.turn(
            session_id,
            accepted["turnId"],
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
        )


__all__ = ["FINAL_TURN_STATUSES", "AsyncTurnWaiter", "TurnResult", "TurnWaiter"]
