"""Delivering an answer: ``POST /api/tool-calls/{requestId}/response`` with skill-level retries.

The loop owns the retries (the client call itself is made with retries disabled so the two
never multiply):

- 200 ``ok``: delivered;
- 404 ``not_found`` and 409 ``in_flight``: *idempotent completions* (already answered, expired,
  or another answer being delivered): nothing more to do, reported with ``idempotent=True``;
- 500 ``error`` (the server put the call back to pending), transport failures, other 5xx and
  a gateway's 429: retried, waiting ``retry_delay_seconds * attempt`` between attempts (linear;
  ``0`` retries at once, without sleeping), or what the answer's ``Retry-After`` asks when
  longer (up to 60 s); a close of the client cuts a wait short (the next attempt goes at once,
  within the time the close waits for it);
- anything else (other 4xx, a 200 without ``status: ok``): terminal failure, never success.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

from codex_manager._settings import check_count, is_number
from codex_manager.errors import (
    APIStatusError,
    CodexManagerError,
    ConfigError,
    ConnectError,
    RateLimitError,
    ServerError,
    TransportError,
)
from codex_manager.outcomes import (
    ToolCallAccepted,
    ToolCallInFlight,
    ToolCallNotFound,
    ToolCallResponseOutcome,
    ToolCallSubmitFailed,
)

__all__ = [
    "DEFAULT_MAX_SUBMIT_ATTEMPTS",
    "DEFAULT_RETRY_DELAY_SECONDS",
    "SubmissionPolicy",
    "SubmissionResult",
    "SubmissionStatus",
    "submit_async",
    "submit_sync",
]

DEFAULT_MAX_SUBMIT_ATTEMPTS = 3
"""Attempts per answer, the first included."""
DEFAULT_RETRY_DELAY_SECONDS = 0.05
"""Base delay between attempts; the n-th retry waits n times this."""

SubmissionStatus = Literal[
    "accepted", "not_found", "in_flight", "misrouted", "failed", "not_submitted"
]
"""How delivery ended: ``accepted`` (200), ``not_found`` (404, or the call is no longer pending
in its session) / ``in_flight`` (409) (idempotent completions), ``misrouted`` (accepted, but by
a call of another thread: a request id reused after a server restart), ``failed`` (gave up or
terminal error), ``not_submitted`` (nothing was sent)."""


@dataclass(frozen=True, slots=True)
class SubmissionPolicy:
    """How hard to try delivering one answer."""

    max_attempts: int = DEFAULT_MAX_SUBMIT_ATTEMPTS
    """Total attempts, at least 1."""
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS
    """Linear backoff step in seconds; ``0`` means immediate retries."""

    def __post_init__(self) -> None:
        check_count(self.max_attempts, "max_submit_attempts")
        delay = self.retry_delay_seconds
        if not (is_number(delay) and math.isfinite(delay) and delay >= 0):
            raise ConfigError(f"retry_delay_seconds must be a finite number >= 0 (got {delay!r})")

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return self.retry_delay_seconds * attempt

    def overridden(
        self, max_attempts: int | None = None, retry_delay_seconds: float | None = None
    ) -> SubmissionPolicy:
        """This policy with per-call overrides applied."""
        if max_attempts is None and retry_delay_seconds is None:
            return self
        return SubmissionPolicy(
            self.max_attempts if max_attempts is None else max_attempts,
            self.retry_delay_seconds if retry_delay_seconds is None else retry_delay_seconds,
        )


@dataclass(frozen=True, slots=True)
class SubmissionResult:
    """What happened to one answer."""

    status: SubmissionStatus
    """Final status."""
    idempotent: bool
    """True for 404/409: the server already had (or was delivering) an answer."""
    attempts: int
    """POSTs made."""
    error: str | None = None
    """What went wrong (``failed``, ``misrouted``, or a call no longer pending)."""
    too_large: bool = False
    """The server refused the answer as too large (413): the same answer never will be taken."""

    @property
    def completed(self) -> bool:
        """Whether nothing remains to be delivered (accepted or idempotent completion)."""
        return self.status in ("accepted", "not_found", "in_flight", "misrouted")


MAX_RETRY_AFTER_SECONDS: Final = 60.0
"""The longest wait a ``Retry-After`` header gets before an answer is sent again (the REST
client's :class:`~codex_manager.retry.RetryPolicy` caps it alike)."""


@dataclass(frozen=True, slots=True)
class _Retryable:
    reason: str
    server_may_have_restarted: bool
    may_have_arrived: bool = False
    """The POST may have reached the server and its answer been taken (the response lost)."""
    wait_at_least: float = 0.0
    """What the answer's ``Retry-After`` asked (capped), when more than the policy's delay."""


_Step = SubmissionResult | _Retryable
"""A terminal result, or a retryable failure."""

_NOT_OURS = (
    "the call is no longer pending in this session (answered elsewhere, expired, or the server "
    "restarted and its request id may now belong to another call); nothing was sent"
)


def _not_ours(attempts: int, lost_responses: int) -> SubmissionResult:
    """The call is not pending in its session any more, before attempt ``attempts + 1``;
    ``lost_responses`` of the attempts may have reached the server (their response lost)."""
    if not lost_responses:
        return SubmissionResult("not_found", True, attempts, _NOT_OURS)
    return SubmissionResult(
        "not_found",
        True,
        attempts,
        f"the call is no longer pending in this session after {lost_responses} answer "
        f"{'attempt' if lost_responses == 1 else 'attempts'} whose response was lost: most "
        "likely the server took the answer (else it was answered elsewhere, expired, or the "
        "server restarted); nothing more was sent",
    )


def _interpret(
    outcome: ToolCallResponseOutcome, attempt: int, expected_thread: str | None
) -> _Step:
    if isinstance(outcome, ToolCallAccepted):
        if (
            expected_thread is not None
            and outcome.thread_id is not None
            and outcome.thread_id != expected_thread
        ):
            return SubmissionResult(
                "misrouted",
                False,
                attempt,
                f"the answer was taken by a call of thread {outcome.thread_id!r}, not "
                f"{expected_thread!r} (request ids restart with the server)",
            )
        return SubmissionResult("accepted", False, attempt)
    if isinstance(outcome, ToolCallNotFound):
        return SubmissionResult("not_found", True, attempt)
    if isinstance(outcome, ToolCallInFlight):
        return SubmissionResult("in_flight", True, attempt)
    if isinstance(outcome, ToolCallSubmitFailed):
        return _Retryable("the server could not deliver the answer (500)", False)
    raise TypeError(f"unexpected tool-call response outcome {outcome!r}")  # pragma: no cover


def _interpret_error(exc: CodexManagerError, attempt: int) -> _Step:
    if isinstance(exc, TransportError):
        # A connection refused (a server restarting, say) carried nothing; a timeout or a
        # broken connection may have lost the response of an answer the server took.
        arrived = not isinstance(exc, ConnectError)
        return _Retryable(f"transport error: {exc}", True, arrived)
    if isinstance(exc, ServerError):
        # A gateway's 502/504: the request may have been passed on before it failed.
        arrived = exc.status_code in (502, 504)
        return _Retryable(f"server error {exc.status_code}: {exc}", True, arrived, _asked_wait(exc))
    if isinstance(exc, RateLimitError):  # a proxy's or gateway's: the answer was not taken
        return _Retryable(f"rate limited (429): {exc}", False, False, _asked_wait(exc))
    if isinstance(exc, APIStatusError):
        return SubmissionResult(
            "failed",
            False,
            attempt,
            f"rejected with {exc.status_code}: {exc}",
            too_large=exc.status_code == 413,
        )
    return SubmissionResult("failed", False, attempt, str(exc))


def _asked_wait(exc: APIStatusError) -> float:
    asked = getattr(exc, "retry_after", None)  # None on an error pickled by an older version
    return 0.0 if asked is None else min(asked, MAX_RETRY_AFTER_SECONDS)


_WAIT_SLICE_SECONDS: Final = 0.05
"""How often a long wait between attempts looks whether it should end early."""


def _naps(delay: float, cut_short: Callable[[], bool] | None) -> Iterator[float]:
    """The sleeps that make up a wait of ``delay``: one, or slices until ``cut_short``."""
    if cut_short is None or delay <= _WAIT_SLICE_SECONDS:
        yield delay
        return
    deadline = time.monotonic() + delay
    while not cut_short():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        yield min(left, _WAIT_SLICE_SECONDS)


def _gave_up(policy: SubmissionPolicy, last: str) -> SubmissionResult:
    return SubmissionResult(
        "failed",
        False,
        policy.max_attempts,
        f"gave up after {policy.max_attempts} attempts; {last}",
    )


def submit_sync(
    send: Callable[[], ToolCallResponseOutcome],
    policy: SubmissionPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    still_pending: Callable[[], bool | None] | None = None,
    check_first: bool = False,
    expected_thread: str | None = None,
    cut_short: Callable[[], bool] | None = None,
) -> SubmissionResult:
    """Deliver with retries; ``send`` makes one POST (with client retries disabled).

    ``still_pending`` tells whether the call is still pending in the owning session (``None``:
    cannot tell). It is consulted before the first attempt when ``check_first`` is set, and
    before any retry that follows a failure after which the server may have restarted, so an
    answer is never posted to a request id that now belongs to another session's call.
    ``cut_short`` tells a wait between attempts to end early (the client is closing: the next
    attempt goes at once, while the close still waits for it, instead of after the close).
    """
    last_error = ""
    check = check_first
    lost_responses = 0
    for attempt in range(1, policy.max_attempts + 1):
        if check and still_pending is not None and still_pending() is False:
            return _not_ours(attempt - 1, lost_responses)
        try:
            step = _interpret(send(), attempt, expected_thread)
        except CodexManagerError as exc:
            step = _interpret_error(exc, attempt)
        if isinstance(step, SubmissionResult):
            return step
        last_error = step.reason
        check = step.server_may_have_restarted
        lost_responses += step.may_have_arrived
        if attempt < policy.max_attempts:
            delay = max(policy.delay_after(attempt), step.wait_at_least)
            if delay > 0:
                for nap in _naps(delay, cut_short):
                    sleep(nap)
    return _gave_up(policy, last_error)


async def submit_async(
    send: Callable[[], Awaitable[ToolCallResponseOutcome]],
    policy: SubmissionPolicy,
    *,
    still_pending: Callable[[], Awaitable[bool | None]] | None = None,
    check_first: bool = False,
    expected_thread: str | None = None,
    cut_short: Callable[[], bool] | None = None,
) -> SubmissionResult:
    """Async twin of :func:`submit_sync`."""
    last_error = ""
    check = check_first
    lost_responses = 0
    for attempt in range(1, policy.max_attempts + 1):
        if check and still_pending is not None and await still_pending() is False:
            return _not_ours(attempt - 1, lost_responses)
        try:
            step = _interpret(await send(), attempt, expected_thread)
        except CodexManagerError as exc:
            step = _interpret_error(exc, attempt)
        if isinstance(step, SubmissionResult):
            return step
        last_error = step.reason
        check = step.server_may_have_restarted
        lost_responses += step.may_have_arrived
        if attempt < policy.max_attempts:
            delay = max(policy.delay_after(attempt), step.wait_at_least)
            if delay > 0:
                for nap in _naps(delay, cut_short):
                    await asyncio.sleep(nap)
    return _gave_up(policy, last_error)
