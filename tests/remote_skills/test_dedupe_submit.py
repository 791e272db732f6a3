"""The exactly-once tracker and the submission loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from codex_manager.errors import (
    BadRequestError,
    ConnectError,
    ProtocolError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
)
from codex_manager.outcomes import (
    ToolCallAccepted,
    ToolCallInFlight,
    ToolCallNotFound,
    ToolCallResponseOutcome,
    ToolCallSubmitFailed,
)
from codex_manager.remote_skills.dedupe import CallTracker, call_key
from codex_manager.remote_skills.submit import SubmissionPolicy, submit_async, submit_sync


def test_keys() -> None:
    assert call_key("t", "c", "1", "u") == ("call", "t", "c")
    assert call_key("t", None, "1", "u") == ("request", "t", "1", "u")
    # After a server restart request ids start again at 0: a new call id is a new call.
    assert call_key("t", "c1", "0", "u1") != call_key("t", "c2", "0", "u2")


def test_claim_lifecycle() -> None:
    tracker: CallTracker[str] = CallTracker()
    key = call_key("t", "c", "0", None)
    assert tracker.claim(key).action == "run"
    assert tracker.claim(key).action == "busy"
    tracker.unsent(key, "answer")
    claim = tracker.claim(key)
    assert claim.action == "resubmit"
    assert claim.answer == "answer"
    assert tracker.claim(key).action == "busy"
    tracker.delivered(key)
    assert tracker.claim(key).action == "done"
    release_key = call_key("t", "d", "1", None)
    assert tracker.claim(release_key).action == "run"
    tracker.release(release_key)
    assert tracker.claim(release_key).action == "run"


def test_memory_is_bounded_but_running_calls_are_kept() -> None:
    tracker: CallTracker[str] = CallTracker(memory=3)
    running = call_key("t", "running", None, None)
    assert tracker.claim(running).action == "run"
    for index in range(10):
        key = call_key("t", f"c{index}", None, None)
        assert tracker.claim(key).action == "run"
        tracker.delivered(key)
    assert len(tracker) == 4
    assert tracker.running == 1
    assert tracker.claim(running).action == "busy"
    assert tracker.claim(call_key("t", "c9", None, None)).action == "done"
    # The oldest finished entries were forgotten.
    assert tracker.claim(call_key("t", "c0", None, None)).action == "run"
    with pytest.raises(ValueError, match="memory"):
        CallTracker(memory=0)


def _script(
    steps: list[ToolCallResponseOutcome | Exception],
) -> tuple[Callable[[], ToolCallResponseOutcome], list[int]]:
    made: list[int] = []

    def send() -> ToolCallResponseOutcome:
        made.append(1)
        step = steps[len(made) - 1]
        if isinstance(step, Exception):
            raise step
        return step

    return send, made


def _server_error(status: int) -> ServerError:
    return ServerError(status, {}, operation_id="respondToolCall", method="POST", url="/x")


ACCEPTED = ToolCallAccepted("1", "t", {"status": "ok"})
FAILED_500 = ToolCallSubmitFailed("1", {"status": "error"})


def test_submit_accepted_first_time() -> None:
    send, _made = _script([ACCEPTED])
    result = submit_sync(send, SubmissionPolicy())
    assert (result.status, result.idempotent, result.attempts) == ("accepted", False, 1)
    assert result.completed


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (ToolCallNotFound("1", {}), "not_found"),
        (ToolCallInFlight("1", {}), "in_flight"),
    ],
)
def test_submit_idempotent(outcome: ToolCallResponseOutcome, status: str) -> None:
    send, _ = _script([outcome])
    result = submit_sync(send, SubmissionPolicy())
    assert (result.status, result.idempotent, result.attempts) == (status, True, 1)
    assert result.completed


def test_submit_retries_500_then_success_with_linear_delays() -> None:
    send, _made = _script([FAILED_500, _server_error(503), ACCEPTED])
    sleeps: list[float] = []
    result = submit_sync(send, SubmissionPolicy(3, 0.05), sleep=sleeps.append)
    assert (result.status, result.attempts) == ("accepted", 3)
    assert sleeps == pytest.approx([0.05, 0.10])


def test_submit_zero_delay_never_sleeps() -> None:
    send, _ = _script([FAILED_500, FAILED_500, FAILED_500])
    sleeps: list[float] = []
    result = submit_sync(send, SubmissionPolicy(3, 0), sleep=sleeps.append)
    assert sleeps == []
    assert result.status == "failed"
    assert not result.completed
    assert result.error is not None
    assert "gave up after 3 attempts" in result.error


def test_submit_retries_a_429() -> None:
    # A gateway's "too many requests" failed the answer for good at once.
    limited = RateLimitError(429, {}, operation_id="respondToolCall", method="POST", url="/x")
    send, made = _script([limited, ACCEPTED])
    result = submit_sync(send, SubmissionPolicy(3, 0))
    assert (result.status, result.attempts, len(made)) == ("accepted", 2, 2)


def test_submit_waits_what_retry_after_asks_up_to_a_minute() -> None:
    # A gateway's 429 with Retry-After: 2 was retried 50 and 100 ms later and failed for good.
    limited = RateLimitError(
        429, {}, operation_id="respondToolCall", method="POST", url="/x", retry_after=2.0
    )
    busy = ServerError(
        503, {}, operation_id="respondToolCall", method="POST", url="/x", retry_after=600.0
    )
    send, made = _script([limited, busy, ACCEPTED])
    sleeps: list[float] = []
    result = submit_sync(send, SubmissionPolicy(3, 0.05), sleep=sleeps.append)
    assert (result.status, len(made)) == ("accepted", 3)
    assert sleeps == pytest.approx([2.0, 60.0])
    # Less than the policy's own delay: the policy's.
    quick = RateLimitError(
        429, {}, operation_id="respondToolCall", method="POST", url="/x", retry_after=0.01
    )
    send, made = _script([quick, ACCEPTED])
    sleeps.clear()
    submit_sync(send, SubmissionPolicy(3, 0.05), sleep=sleeps.append)
    assert sleeps == pytest.approx([0.05])


def test_submit_transport_error_retried() -> None:
    send, _ = _script([ConnectError("refused"), ACCEPTED])
    result = submit_sync(send, SubmissionPolicy(3, 0))
    assert (result.status, result.attempts) == ("accepted", 2)


def test_submit_terminal_errors() -> None:
    bad = BadRequestError(400, {}, operation_id="respondToolCall", method="POST", url="/x")
    send, made = _script([bad, ACCEPTED])
    result = submit_sync(send, SubmissionPolicy(3, 0))
    assert (result.status, result.attempts, len(made)) == ("failed", 1, 1)
    odd = UnexpectedResponseError(
        "no status", status_code=200, body={}, operation_id="r", method="POST", url="/x"
    )
    send, made = _script([odd])
    result = submit_sync(send, SubmissionPolicy(3, 0))
    assert (result.status, result.attempts) == ("failed", 1)


def test_policy_checks_and_overrides() -> None:
    with pytest.raises(ValueError, match="max_submit_attempts"):
        SubmissionPolicy(0)
    with pytest.raises(ValueError, match="retry_delay_seconds"):
        SubmissionPolicy(3, -1)
    base = SubmissionPolicy()
    assert base.overridden() is base
    assert base.overridden(max_attempts=5) == SubmissionPolicy(5, 0.05)
    assert base.overridden(retry_delay_seconds=0) == SubmissionPolicy(3, 0)


async def test_submit_async_retries() -> None:
    steps: list[ToolCallResponseOutcome] = [FAILED_500, ACCEPTED]

    async def send() -> ToolCallResponseOutcome:
        await asyncio.sleep(0)
        return steps.pop(0)

    result = await submit_async(send, SubmissionPolicy(3, 0))
    assert (result.status, result.attempts) == ("accepted", 2)


def test_ownership_checks() -> None:
    send, made = _script([ACCEPTED])
    result = submit_sync(send, SubmissionPolicy(), still_pending=lambda: False, check_first=True)
    assert (result.status, result.idempotent, result.attempts, len(made)) == (
        "not_found",
        True,
        0,
        0,
    )
    # Unknown ownership (the check itself failed) does not block delivery.
    send, made = _script([ACCEPTED])
    result = submit_sync(send, SubmissionPolicy(), still_pending=lambda: None, check_first=True)
    assert result.status == "accepted"
    # After a transport error the server may have restarted: check before retrying.
    checks: list[int] = []

    def gone() -> bool:
        checks.append(1)
        return False

    send, made = _script([ConnectError("refused"), ACCEPTED])
    result = submit_sync(send, SubmissionPolicy(3, 0), still_pending=gone)
    assert (result.status, result.attempts, len(made), len(checks)) == ("not_found", 1, 1, 1)
    # A refused connection carried nothing.
    assert result.error is not None
    assert "nothing was sent" in result.error
    # A broken connection may have lost the response of an answer the server took: the
    # record must not say nothing was sent.
    send, made = _script([ProtocolError("server disconnected"), ACCEPTED])
    result = submit_sync(send, SubmissionPolicy(3, 0), still_pending=gone)
    assert (result.status, result.attempts, len(made)) == ("not_found", 1, 1)
    assert result.error is not None
    assert "after 1 answer attempt whose response was lost" in result.error
    assert "most likely" in result.error
    assert "nothing was sent" not in result.error
    # A plain 500 puts the call back: no check needed before the retry.
    checks.clear()
    send, made = _script([FAILED_500, ACCEPTED])
    result = submit_sync(send, SubmissionPolicy(3, 0), still_pending=gone)
    assert (result.status, len(checks)) == ("accepted", 0)


def test_misrouted_answer_detected() -> None:
    send, _ = _script([ToolCallAccepted("0", "other-thread", {"status": "ok"})])
    result = submit_sync(send, SubmissionPolicy(), expected_thread="my-thread")
    assert result.status == "misrouted"
    assert result.completed
    assert result.error is not None
    assert "other-thread" in result.error
