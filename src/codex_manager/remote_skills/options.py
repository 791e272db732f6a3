"""Tunable behaviour of a remote-skills registry."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from codex_manager._settings import check_count, is_number
from codex_manager.errors import ConfigError
from codex_manager.remote_skills.execution import DEFAULT_TIMEOUT_SECONDS, ExecutionSettings
from codex_manager.remote_skills.submit import (
    DEFAULT_MAX_SUBMIT_ATTEMPTS,
    DEFAULT_RETRY_DELAY_SECONDS,
    SubmissionPolicy,
)

__all__ = [
    "DEFAULT_ASYNC_CONCURRENT_CALLS",
    "DEFAULT_THREAD_CONCURRENT_CALLS",
    "RemoteSkillOptions",
]

DEFAULT_ASYNC_CONCURRENT_CALLS = 256
"""Default bound on calls handled at once by an async client (async handlers are cheap)."""

DEFAULT_THREAD_CONCURRENT_CALLS = 128
"""Default bound on worker threads running handlers on the sync client (the sync stream's
default too: see ``codex_manager.stream.context.DEFAULT_THREAD_CONCURRENCY``)."""


@dataclass(frozen=True, slots=True)
class RemoteSkillOptions:
    """Options shared by every session registry of a client (each may be overridden per session).

    Attributes:
        default_timeout_seconds: Handler timeout for skills registered without their own;
            ``None`` disables it. A sync handler that times out keeps its worker thread until
            it returns (Python cannot stop a thread); its late result is discarded.
        mask_errors: Hide exception details from the model (the dispatch record keeps them).
        max_submit_attempts: Attempts to deliver each answer (first one included).
        retry_delay_seconds: Linear backoff step between attempts; ``0`` retries at once. A
            429 or 5xx answer's ``Retry-After`` makes the wait longer (up to 60 s).
        max_concurrent_calls: Calls handled at the same time (async client: across all its
            sessions; sync client: worker threads running handlers for drains and for
            ``async def`` skills, while a plain skill answered from a stream handler runs in
            that handler's thread, bounded by ``StreamOptions.max_concurrency``). ``None``
            (the default) picks 256 on the async client, where ``async def`` handlers are
            cheap tasks, and 128 on the sync client, where each call holds a thread. A
            number sets both. Threads start only when needed.
        dedupe_memory: Finished calls remembered per session for exactly-once handling
            (calls in progress are never forgotten).
        ownership_check_after_seconds: When a handler ran at least this long (``0``: always;
            ``None``: never), check that the call is still pending in this session before
            posting the answer. Request ids restart with the server and the answer route does
            not check the session, so after a restart during a long handler an answer could
            otherwise land on another session's call. A check is also made before retrying
            after a transport error or 5xx, and before resubmitting a stored answer.
    """

    default_timeout_seconds: float | None = DEFAULT_TIMEOUT_SECONDS
    mask_errors: bool = False
    max_submit_attempts: int = DEFAULT_MAX_SUBMIT_ATTEMPTS
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS
    max_concurrent_calls: int | None = None
    dedupe_memory: int = 4096
    ownership_check_after_seconds: float | None = 1.0

    def __post_init__(self) -> None:
        timeout = self.default_timeout_seconds
        if timeout is not None and not (
            is_number(timeout) and 0 < timeout <= threading.TIMEOUT_MAX
        ):
            raise ConfigError(
                f"default_timeout_seconds must be > 0 (at most {threading.TIMEOUT_MAX:g}, the "
                f"longest wait the platform allows) or None (got {timeout!r})"
            )
        check_count(self.max_concurrent_calls, "max_concurrent_calls", optional=True)
        check_count(self.dedupe_memory, "dedupe_memory")
        check = self.ownership_check_after_seconds
        if check is not None and not (is_number(check) and math.isfinite(check) and check >= 0):
            raise ConfigError(f"ownership_check_after_seconds must be >= 0 or None (got {check!r})")
        self.submission_policy()  # validates the retry settings

    def call_bound(self) -> int:
        """Calls handled at once across the sessions of an async client (and its threads)."""
        bound = self.max_concurrent_calls
        return DEFAULT_ASYNC_CONCURRENT_CALLS if bound is None else bound

    def thread_bound(self) -> int:
        """Worker threads running handlers on the sync client."""
        bound = self.max_concurrent_calls
        return DEFAULT_THREAD_CONCURRENT_CALLS if bound is None else bound

    def execution_settings(self) -> ExecutionSettings:
        """The execution part of these options."""
        return ExecutionSettings(self.default_timeout_seconds, self.mask_errors)

    def submission_policy(self) -> SubmissionPolicy:
        """The delivery part of these options."""
        return SubmissionPolicy(self.max_submit_attempts, self.retry_delay_seconds)
