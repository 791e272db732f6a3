"""The retry and backoff policy of the SDK's REST calls and websocket reconnects.

(A remote skill's answer is retried by its own quicker settings, ``RemoteSkillOptions``'
``max_submit_attempts`` and ``retry_delay_seconds``, a model waiting on it; a ``Retry-After``
lengthens those waits too.)

- :class:`RetryPolicy` says how many attempts, how long to wait between them (exponential
  backoff with jitter, capped), which HTTP statuses are transient, and whether
  non-idempotent requests may be replayed.
- :class:`Backoff` is a small stateful helper over a policy, for loops such as websocket
  reconnects (``next_delay()`` after each failure, ``reset()`` after a success).
- :func:`parse_retry_after` reads a ``Retry-After`` header (seconds or an HTTP date).

Randomness is injectable (``RetryPolicy(random=...)``) so delays are reproducible in tests;
sleeping is done by the caller, which is how tests avoid real waits.
"""

from __future__ import annotations

import email.utils
import math
import random as _random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from codex_manager.errors import ConfigError

DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({429, 502, 503, 504})
"""Statuses treated as transient by default: rate limiting and gateway/availability errors."""

IDEMPOTENT_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""HTTP methods that may be replayed without the caller opting in."""


@dataclass(frozen=True)
class RetryPolicy:
    """When and how to retry a failed request or reconnect.

    Attributes:
        max_attempts: Total attempts including the first one (1 = no retry).
        initial_delay: Delay in seconds before the second attempt.
        max_delay: Upper bound of the computed backoff delay, in seconds.
        multiplier: Growth factor of the delay per attempt.
        jitter: Fraction (0..1) of the delay removed at random, to spread clients apart.
        retry_on_statuses: HTTP statuses considered transient.
        retry_connect_errors: Retry when the connection could not be established.
        retry_non_idempotent: Also replay POST requests (off by default: a replayed POST may
            act twice), and the deletion of a session or a project after an attempt that may
            have been carried out (whose replay, after a deletion that worked, answers 410
            or 404). Connect errors are always safe to retry: nothing was sent.
        respect_retry_after: Wait what the server's ``Retry-After`` header asks.
        max_retry_after: Upper bound of a honoured ``Retry-After`` wait, in seconds.
        random: Source of randomness in ``[0, 1)`` (injectable for tests).
    """

    max_attempts: int = 3
    initial_delay: float = 0.5
    max_delay: float = 8.0
    multiplier: float = 2.0
    jitter: float = 0.25
    retry_on_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    retry_connect_errors: bool = True
    retry_non_idempotent: bool = False
    respect_retry_after: bool = True
    max_retry_after: float = 60.0
    random: Callable[[], float] = field(default=_random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if self.max_attempts < 1:
            problems.append(f"max_attempts must be >= 1 (got {self.max_attempts})")
        for name in ("initial_delay", "max_delay", "max_retry_after"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                problems.append(f"{name} must be a finite number >= 0 (got {value!r})")
        if not (self.multiplier >= 1):
            problems.append(f"multiplier must be >= 1 (got {self.multiplier!r})")
        if not (0 <= self.jitter <= 1):
            problems.append(f"jitter must be within 0..1 (got {self.jitter!r})")
        if problems:
            raise ConfigError("invalid RetryPolicy: " + "; ".join(problems))
        # Accept any iterable of ints for convenience, store a frozenset.
        object.__setattr__(self, "retry_on_statuses", frozenset(self.retry_on_statuses))

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt.

        The policy is immutable, so one instance per class is shared: answer submission asks
        for it on every call.
        """
        policy = _SINGLE_ATTEMPT.get(cls)
        if policy is None:
            policy = _SINGLE_ATTEMPT[cls] = cls(max_attempts=1)
        return policy

    def backoff_delay(self, attempt: int) -> float:
        """Backoff (with jitter) after failed attempt number ``attempt`` (1-based)."""
        exponent = max(attempt, 1) - 1
        # Cap the exponent so huge attempt numbers cannot overflow the float.
        base = self.initial_delay * self.multiplier ** min(exponent, 64)
        delay = min(self.max_delay, base)
        return delay * (1.0 - self.jitter * self.random())

    def delay_for(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        A server-provided ``Retry-After`` wins over the computed backoff when
        :attr:`respect_retry_after` is set; it is capped at :attr:`max_retry_after`.
        """
        if retry_after is not None and self.respect_retry_after:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return self.backoff_delay(attempt)

    def allows_another(self, attempt: int) -> bool:
        """Whether another attempt may follow failed attempt number ``attempt``."""
        return attempt < self.max_attempts

    def is_retryable_status(self, status_code: int, *, idempotent: bool) -> bool:
        """Whether an HTTP status is worth retrying for a request of this kind."""
        if status_code not in self.retry_on_statuses:
            return False
        return idempotent or self.retry_non_idempotent

    def is_idempotent(self, method: str) -> bool:
        """Whether ``method`` may be replayed without :attr:`retry_non_idempotent`."""
        return method.upper() in IDEMPOTENT_METHODS


_SINGLE_ATTEMPT: dict[type[RetryPolicy], RetryPolicy] = {}
"""The shared :meth:`RetryPolicy.disabled` instance of each class."""


HEALTHY_AFTER_SECONDS = 1.0
"""How long a connection must last before its loss no longer counts as a failed attempt."""


class Backoff:
    """Stateful delays over a :class:`RetryPolicy`, e.g. for websocket reconnects.

    Call :meth:`next_delay` after each failure and sleep for the result; call :meth:`reset`
    once a connection succeeded, or :meth:`connected` when it opened but has yet to prove
    itself. :attr:`exhausted` turns true when the policy's ``max_attempts`` is used up (a
    policy with a huge ``max_attempts`` retries "forever").
    """

    def __init__(
        self, policy: RetryPolicy | None = None, *, clock: Callable[[], float] = time.monotonic
    ):
        self.policy = policy or RetryPolicy()
        self._failures = 0
        self._clock = clock
        self._connected_at: float | None = None
        self._lost_at: float | None = None

    @property
    def failures(self) -> int:
        """Consecutive failures since the last :meth:`reset`."""
        return self._failures

    @property
    def exhausted(self) -> bool:
        """Whether no further attempt is allowed."""
        return not self.policy.allows_another(self._failures)

    def next_delay(self, retry_after: float | None = None) -> float:
        """Record one failure and return the seconds to wait before the next attempt.

        After :meth:`connected`, the failure is the loss of that connection: one that lasted
        :data:`HEALTHY_AFTER_SECONDS` wipes the failures before it; one that did not (a server
        that accepts, then closes at once) is one more failed attempt.
        """
        if self._connected_at is not None:
            ended = self._lost_at if self._lost_at is not None else self._clock()
            if ended - self._connected_at >= HEALTHY_AFTER_SECONDS:
                self._failures = 0
            self._connected_at = self._lost_at = None
        self._failures += 1
        return self.policy.delay_for(self._failures, retry_after)

    def connected(self) -> None:
        """A connection opened: losing it resets the count if it lasted (see :meth:`next_delay`)."""
        self._connected_at = self._clock()

    def lost(self, seen_at: float | None = None) -> None:
        """The connection of :meth:`connected` ended; ``seen_at``: when its end was first seen
        (the peer's close frame), if before now: closing may take ``close_timeout`` more, and
        that time does not make a connection healthy."""
        self._lost_at = seen_at

    def reset(self) -> None:
        """Forget past failures (after a success)."""
        self._failures = 0
        self._connected_at = self._lost_at = None


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value, or ``None`` if absent/unusable.

    Accepts delta-seconds (``"3"``; fractional values are tolerated) and HTTP dates
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``). Dates in the past give ``0.0``.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    # Two Retry-After headers reach us joined ("2, 3"): the first number counts. (A date has
    # a comma of its own, so only numbers are split.)
    first = text.split(",", 1)[0].strip()
    try:
        seconds = float(first)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - datetime.fromtimestamp(now(), tz=UTC)).total_seconds(), 0.0)


def retry_after_from_headers(headers: Mapping[str, str]) -> float | None:
    """Parse ``Retry-After`` (or ``retry-after-ms``) from response headers, if present."""
    lowered = {key.lower(): val for key, val in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(value, 0.0)
    return parse_retry_after(lowered.get("retry-after"))


__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "IDEMPOTENT_METHODS",
    "Backoff",
    "RetryPolicy",
    "parse_retry_after",
    "retry_after_from_headers",
]
