"""RetryPolicy, Backoff and Retry-After parsing (pure logic)."""

from __future__ import annotations

import httpx
import pytest

from codex_manager.errors import ConfigError
from codex_manager.retry import Backoff, RetryPolicy, parse_retry_after, retry_after_from_headers


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay=0.5, multiplier=2, max_delay=3, jitter=0, max_attempts=9)
    assert [policy.delay_for(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_removes_up_to_its_fraction() -> None:
    low = RetryPolicy(initial_delay=1, jitter=0.5, random=lambda: 0.999999)
    high = RetryPolicy(initial_delay=1, jitter=0.5, random=lambda: 0.0)
    assert low.delay_for(1) == pytest.approx(0.5, abs=1e-5)
    assert high.delay_for(1) == 1.0


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(initial_delay=5, max_retry_after=10)
    assert policy.delay_for(1, retry_after=2.0) == 2.0
    assert policy.delay_for(1, retry_after=120.0) == 10.0
    ignoring = RetryPolicy(initial_delay=5, jitter=0, respect_retry_after=False)
    assert ignoring.delay_for(1, retry_after=2.0) == 5


def test_which_statuses_are_transient() -> None:
    policy = RetryPolicy()
    assert policy.is_retryable_status(503, idempotent=True)
    assert policy.is_retryable_status(429, idempotent=True)
    assert not policy.is_retryable_status(500, idempotent=True)
    assert not policy.is_retryable_status(503, idempotent=False)
    assert RetryPolicy(retry_non_idempotent=True).is_retryable_status(503, idempotent=False)
    assert policy.is_idempotent("get")
    assert not policy.is_idempotent("POST")


def test_disabled_makes_one_attempt() -> None:
    assert not RetryPolicy.disabled().allows_another(1)
    assert RetryPolicy(max_attempts=3).allows_another(2)
    assert not RetryPolicy(max_attempts=3).allows_another(3)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"initial_delay": -1}, {"jitter": 2}, {"multiplier": 0.5}],
)
def test_invalid_policy_is_a_config_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="invalid RetryPolicy"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]  # each value is valid for its key


def test_backoff_counts_and_resets() -> None:
    backoff = Backoff(RetryPolicy(initial_delay=1, jitter=0, max_attempts=3))
    assert backoff.next_delay() == 1
    assert backoff.next_delay() == 2
    assert (backoff.failures, backoff.exhausted) == (2, False)
    backoff.next_delay()
    assert (backoff.failures, backoff.exhausted) == (3, True)
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.next_delay() == 1


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.25 ") == 0.25
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_445_412_470.0  # 2015-10-21 07:27:50 UTC
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: now) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=lambda: now) == 0.0


def test_retry_after_headers_prefer_milliseconds() -> None:
    assert retry_after_from_headers({"Retry-After-Ms": "250", "Retry-After": "9"}) == 0.25
    assert retry_after_from_headers({"retry-after": "2"}) == 2.0
    assert retry_after_from_headers({}) is None


def test_disabled_policy_is_one_shared_single_attempt_instance() -> None:
    assert RetryPolicy.disabled().max_attempts == 1
    assert RetryPolicy.disabled() is RetryPolicy.disabled()


def test_two_retry_after_headers_joined_by_httpx_give_the_first() -> None:
    headers = httpx.Headers([("Retry-After", "2"), ("Retry-After", "3")])
    assert headers["retry-after"] == "2, 3"
    assert retry_after_from_headers(headers) == 2.0
    now = 1_445_412_470.0  # a date keeps its own comma
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: now) == 10.0


def test_a_connection_resets_the_count_only_once_it_lasted() -> None:
    now = [0.0]
    backoff = Backoff(RetryPolicy(initial_delay=1, jitter=0, max_attempts=3), clock=lambda: now[0])
    assert backoff.next_delay() == 1
    backoff.connected()
    now[0] += 0.01  # closed at once: one more failure
    assert backoff.next_delay() == 2
    assert backoff.failures == 2
    backoff.connected()
    now[0] += 5  # lasted: the failures before it are forgotten
    assert backoff.next_delay() == 1
    assert backoff.failures == 1
