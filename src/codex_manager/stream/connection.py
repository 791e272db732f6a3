"""Classifying websocket connection failures (shared by the sync and async streams)."""

from __future__ import annotations

from typing import Final

from websockets.exceptions import InvalidStatus

from codex_manager.stream.errors import StreamConnectionError, StreamRefusedError

# 4xx answers that may pass: request timeout and rate limiting.
_TRANSIENT_CLIENT_ERRORS: Final = frozenset({408, 429})


def connection_problem(error: BaseException, url: str) -> StreamConnectionError:
    """The typed error for a failed or lost connection."""
    if isinstance(error, InvalidStatus):
        status = error.response.status_code
        if 400 <= status < 500 and status not in _TRANSIENT_CLIENT_ERRORS:
            refused = StreamRefusedError(status, url)
            refused.__cause__ = error
            return refused
    problem = StreamConnectionError(
        f"stream connection failed: {type(error).__name__}: {error}", url
    )
    problem.__cause__ = error
    return problem


__all__ = ["connection_problem"]
