"""Typed Python SDK for codex-manager.

``CodexManager`` (sync) and ``AsyncCodexManager`` (async) expose every server operation as
a typed method; ``cm.stream`` is the websocket event stream and ``cm.remote_skills`` turns
Python functions into Codex dynamic tools. Names are imported on first use, so
``import codex_manager`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codex_manager._omit import OMIT, Omit
    from codex_manager.client import AsyncCodexManager, CodexManager, HttpTransportChoice
    from codex_manager.config import ClientConfig
    from codex_manager.errors import (
        APIStatusError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        CodexManagerError,
        ConfigError,
        ConflictError,
        ConnectError,
        GoneError,
        InvalidPathParameterError,
        InvalidRequestBodyError,
        LockedError,
        NotFoundError,
        PermissionDeniedError,
        ProtocolError,
        RateLimitError,
        RequestTimeoutError,
        ServerError,
        TransportError,
        TurnWaitTimeoutError,
        UnexpectedResponseError,
        UnknownOperationError,
    )
    from codex_manager.hooks import ErrorInfo, RequestInfo, ResponseInfo
    from codex_manager.outcomes import (
        ToolCallAccepted,
        ToolCallInFlight,
        ToolCallNotFound,
        ToolCallResponseOutcome,
        ToolCallSubmitFailed,
    )
    from codex_manager.remote_skills import (
        AsyncRemoteSkills,
        AsyncSessionSkills,
        CatalogSync,
        CatalogWarning,
        ImageContent,
        RemoteSkillDispatch,
        RemoteSkillError,
        RemoteSkillOptions,
        RemoteSkills,
        SessionSkills,
        SkillContext,
        SkillRegistrationError,
        TextContent,
    )
    from codex_manager.retry import Backoff, RetryPolicy
    from codex_manager.stream import (
        AppServerSignal,
        AsyncEventStream,
        Connected,
        DeadConnectionError,
        EventStream,
        HandlerContext,
        HandlerError,
        Reconnected,
        StreamConnectionError,
        StreamError,
        StreamEvent,
        StreamFrameError,
        StreamOptions,
        StreamRefusedError,
        StreamServerError,
        ToolCallParams,
    )
    from codex_manager.wait import TurnResult

_EXPORTS: dict[str, str] = {
    "OMIT": "codex_manager._omit",
    "Omit": "codex_manager._omit",
    "AsyncCodexManager": "codex_manager.client",
    "CodexManager": "codex_manager.client",
    "HttpTransportChoice": "codex_manager.client",
    "ClientConfig": "codex_manager.config",
    "ErrorInfo": "codex_manager.hooks",
    "RequestInfo": "codex_manager.hooks",
    "ResponseInfo": "codex_manager.hooks",
    "Backoff": "codex_manager.retry",
    "RetryPolicy": "codex_manager.retry",
    "TurnResult": "codex_manager.wait",
    **dict.fromkeys(
        [
            "APIStatusError",
            "AuthenticationError",
            "BadRequestError",
            "ClientClosedError",
            "CodexManagerError",
            "ConfigError",
            "ConflictError",
            "ConnectError",
            "GoneError",
            "InvalidPathParameterError",
            "InvalidRequestBodyError",
            "LockedError",
            "NotFoundError",
            "PermissionDeniedError",
            "ProtocolError",
            "RateLimitError",
            "RequestTimeoutError",
            "ServerError",
            "TransportError",
            "TurnWaitTimeoutError",
            "UnexpectedResponseError",
            "UnknownOperationError",
        ],
        "codex_manager.errors",
    ),
    **dict.fromkeys(
        [
            "ToolCallAccepted",
            "ToolCallInFlight",
            "ToolCallNotFound",
            "ToolCallResponseOutcome",
            "ToolCallSubmitFailed",
        ],
        "codex_manager.outcomes",
    ),
    **dict.fromkeys(
        [
            "AppServerSignal",
            "AsyncEventStream",
            "Connected",
            "DeadConnectionError",
            "EventStream",
            "HandlerContext",
            "HandlerError",
            "Reconnected",
            "StreamConnectionError",
            "StreamError",
            "StreamEvent",
            "StreamFrameError",
            "StreamOptions",
            "StreamRefusedError",
            "StreamServerError",
            "ToolCallParams",
        ],
        "codex_manager.stream",
    ),
    **dict.fromkeys(
        [
            "AsyncRemoteSkills",
            "AsyncSessionSkills",
            "CatalogSync",
            "CatalogWarning",
            "ImageContent",
            "RemoteSkillDispatch",
            "RemoteSkillError",
            "RemoteSkillOptions",
            "RemoteSkills",
            "SessionSkills",
            "SkillContext",
            "SkillRegistrationError",
            "TextContent",
        ],
        "codex_manager.remote_skills",
    ),
}


if not TYPE_CHECKING:  # seen by a type checker, it would make every misspelled import valid

    def __getattr__(name: str) -> object:
        """Import public names on first use (keeps ``import codex_manager`` light)."""
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'codex_manager' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "OMIT",
    "APIStatusError",
    "AppServerSignal",
    "AsyncCodexManager",
    "AsyncEventStream",
    "AsyncRemoteSkills",
    "AsyncSessionSkills",
    "AuthenticationError",
    "Backoff",
    "BadRequestError",
    "CatalogSync",
    "CatalogWarning",
    "ClientClosedError",
    "ClientConfig",
    "CodexManager",
    "CodexManagerError",
    "ConfigError",
    "ConflictError",
    "ConnectError",
    "Connected",
    "DeadConnectionError",
    "ErrorInfo",
    "EventStream",
    "GoneError",
    "HandlerContext",
    "HandlerError",
    "HttpTransportChoice",
    "ImageContent",
    "InvalidPathParameterError",
    "InvalidRequestBodyError",
    "LockedError",
    "NotFoundError",
    "Omit",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "Reconnected",
    "RemoteSkillDispatch",
    "RemoteSkillError",
    "RemoteSkillOptions",
    "RemoteSkills",
    "RequestInfo",
    "RequestTimeoutError",
    "ResponseInfo",
    "RetryPolicy",
    "ServerError",
    "SessionSkills",
    "SkillContext",
    "SkillRegistrationError",
    "StreamConnectionError",
    "StreamError",
    "StreamEvent",
    "StreamFrameError",
    "StreamOptions",
    "StreamRefusedError",
    "StreamServerError",
    "TextContent",
    "ToolCallAccepted",
    "ToolCallInFlight",
    "ToolCallNotFound",
    "ToolCallParams",
    "ToolCallResponseOutcome",
    "ToolCallSubmitFailed",
    "TransportError",
    "TurnResult",
    "TurnWaitTimeoutError",
    "UnexpectedResponseError",
    "UnknownOperationError",
]
