"""The SDK's exception tree.

One root, :class:`CodexManagerError`, with two main branches:

- :class:`TransportError` when no usable HTTP answer arrived (connect failure, timeout,
  broken protocol);
- :class:`APIStatusError` when the server answered with a status the called method does not
  treat as a result; one subclass per status family, each carrying the status code, the
  parsed body, the operation id, the method and the URL.

Other modules (stream, remote skills) derive their own errors from :class:`CodexManagerError`.
No exception message ever contains request headers, so tokens cannot leak through them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar, TypeAlias

from codex_manager.json_types import JSONObject, JSONValue

ResponseBody = JSONValue
"""A parsed response body: decoded JSON, or the raw text when the body was not JSON."""


def _rebuilt(
    cls: type[CodexManagerError], args: tuple[object, ...], state: dict[str, object]
) -> CodexManagerError:
    """An error as pickled: its message arguments and attributes, without calling __init__."""
    error = cls.__new__(cls)
    error.args = args
    for name, value in state.items():
        object.__setattr__(error, name, value)  # a slot or an entry of __dict__ alike
    return error


def _state(error: BaseException) -> dict[str, object]:
    """An error's attributes: its ``__dict__`` and any ``__slots__`` a subclass declares."""
    state = dict(getattr(error, "__dict__", {}))
    for cls in type(error).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):  # stored name-mangled
                name = f"_{cls.__name__.lstrip('_')}{name}"
            if hasattr(error, name):
                state[name] = getattr(error, name)
    return state


Reduced: TypeAlias = tuple[
    Callable[
        [type["CodexManagerError"], tuple[object, ...], dict[str, object]], "CodexManagerError"
    ],
    tuple[type["CodexManagerError"], tuple[object, ...], dict[str, object]],
]
"""What an SDK error's ``__reduce__`` returns: the function that rebuilds it and its pieces."""


class CodexManagerError(Exception):
    """Root of every error raised by the SDK."""

    def __reduce__(self) -> Reduced:
        # Exception's own pickling calls type(error)(*error.args), which the errors whose
        # __init__ takes keywords (status, operation, ...) refuse: an SDK error raised in a
        # worker process (concurrent.futures, multiprocessing) could not come back.
        return (_rebuilt, (type(self), self.args, _state(self)))


class ConfigError(CodexManagerError, ValueError):
    """A configuration value (argument, environment variable, profile key) is malformed.

    The message names the variable or key, and the value when it is not a secret.
    """


class UnknownOperationError(CodexManagerError, ValueError):
    """An operation id passed to the SDK (e.g. to a hook) is not one of the server's."""


class InvalidRequestBodyError(CodexManagerError, ValueError):
    """The arguments do not form a request body the spec accepts; nothing was sent.

    For example a content item whose ``type`` is neither ``inputText`` nor ``inputImage``.
    """


class ClientClosedError(CodexManagerError, RuntimeError):
    """The client was closed (``close()``, ``aclose()``, the end of its ``with`` block);
    nothing was sent. Make a new client."""


class InvalidPathParameterError(CodexManagerError, ValueError):
    """A path parameter that cannot be sent as written; nothing was sent.

    An empty one would take a segment out of the route (``sessions.get("")`` would read
    ``GET /api/sessions/``). A value of ``.`` or ``..`` is sent percent-encoded, so that it
    stays one segment; aiohttp (the async client's default transport) decodes and resolves it
    away all the same, which would send the request to another route (``DELETE
    .../settings/..`` deleting the session).
    The stock httpx transport (``http_transport="httpx"``) sends it.
    """


class TransportError(CodexManagerError):
    """No usable HTTP answer: the request failed below the HTTP status level.

    Attributes:
        operation_id: The OpenAPI operation id of the call (``""`` when not known).
        method: HTTP method.
        url: Request URL.
    """

    def __init__(self, message: str, *, operation_id: str = "", method: str = "", url: str = ""):
        super().__init__(message)
        self.operation_id = operation_id
        self.method = method
        self.url = url


class ConnectError(TransportError):
    """The connection could not be established (refused, DNS failure, connect timeout).

    The request never reached the server, so retrying it is always safe.
    """


class RequestTimeoutError(TransportError):
    """The server did not answer (read/write/pool timeout) within the configured timeout."""


class ProtocolError(TransportError):
    """The connection broke or the peer spoke invalid HTTP."""


def _summary(body: ResponseBody) -> str:
    """A short, secret-free description of an error body for exception messages."""
    if isinstance(body, dict):
        parts = [
            f"{key}={body[key]!r}"
            for key in ("status", "code", "message", "error")
            if isinstance(body.get(key), str)
        ]
        if parts:
            return ", ".join(parts)
    text = body if isinstance(body, str) else repr(body)
    return text if len(text) <= 200 else text[:200] + "..."


class APIStatusError(CodexManagerError):
    """The server answered with an HTTP status the called method reports as an error.

    Attributes:
        status_code: HTTP status code.
        body: Parsed JSON body (or raw text when it was not JSON).
        operation_id: The OpenAPI operation id of the call.
        method: HTTP method.
        url: Request URL.
        retry_after: Seconds the answer's ``Retry-After`` header asked to wait before trying
            again (``None`` without one).
    """

    status_family: ClassVar[str] = "unexpected status"

    def __init__(
        self,
        status_code: int,
        body: ResponseBody,
        *,
        operation_id: str,
        method: str,
        url: str,
        message: str | None = None,
        retry_after: float | None = None,
    ):
        self.status_code = status_code
        self.body = body
        self.operation_id = operation_id
        self.method = method
        self.url = url
        self.retry_after = retry_after
        super().__init__(
            message
            or f"{operation_id}: {method} {url} answered {status_code} "
            f"({self.status_family}): {_summary(body)}"
        )

    @property
    def body_object(self) -> JSONObject:
        """The body if it is a JSON object, else an empty dict."""
        return self.body if isinstance(self.body, dict) else {}

    @property
    def code(self) -> str | None:
        """The body's ``code`` field (e.g. ``"invalid_request"``, ``"system_session"``)."""
        code = self.body_object.get("code")
        return code if isinstance(code, str) else None


class BadRequestError(APIStatusError):
    """400: the request failed validation; :attr:`issues` lists the server's findings."""

    status_family = "bad request"

    @property
    def issues(self) -> list[JSONObject]:
        """The validation issues (zod issue objects) of a 400 ``invalid_request`` body."""
        issues = self.body_object.get("issues")
        if not isinstance(issues, list):
            return []
        return [issue for issue in issues if isinstance(issue, dict)]


class AuthenticationError(APIStatusError):
    """401: credentials are missing or invalid (also codex ``auth_required``)."""

    status_family = "authentication required"


class PermissionDeniedError(APIStatusError):
    """403: not allowed; on session routes usually a system-owned session (``system_session``)."""

    status_family = "permission denied"


class NotFoundError(APIStatusError):
    """404: the session, request, project or route does not exist."""

    status_family = "not found"


class ConflictError(APIStatusError):
    """409: the resource is in a conflicting state (in flight, no active turn, ...)."""

    status_family = "conflict"


class GoneError(APIStatusError):
    """410: the session was permanently deleted; :attr:`body` is the deleted-session payload."""

    status_family = "gone"


class LockedError(APIStatusError):
    """423: the settings scope is locked (``Managed by harness configuration``)."""

    status_family = "locked"


class RateLimitError(APIStatusError):
    """429: too many requests; retried automatically by the default retry policy."""

    status_family = "rate limited"


class ServerError(APIStatusError):
    """5xx: the server or codex app-server failed (500, 501 not supported, 503, 504, ...)."""

    status_family = "server error"


class UnexpectedResponseError(CodexManagerError):
    """The server's answer does not have the documented shape.

    For example a 200 answer to a tool-call response without ``"status": "ok"``, or a
    body that is not JSON. Never treated as success.

    Attributes:
        status_code: HTTP status code.
        body: Parsed JSON body (or raw text).
        operation_id: The OpenAPI operation id of the call.
        method: HTTP method.
        url: Request URL.
    """

    def __init__(
        self,
        reason: str,
        *,
        status_code: int,
        body: ResponseBody,
        operation_id: str,
        method: str,
        url: str,
    ):
        self.reason = reason
        self.status_code = status_code
        self.body = body
        self.operation_id = operation_id
        self.method = method
        self.url = url
        super().__init__(
            f"{operation_id}: {method} {url} answered {status_code} with an unexpected body "
            f"({reason}): {_summary(body)}"
        )


class TurnWaitTimeoutError(CodexManagerError, TimeoutError):
    """A turn did not finish before the wait deadline.

    Attributes:
        session_id: The session polled.
        turn_id: The turn waited for.
        timeout: The deadline in seconds.
        last_status: The turn status seen last (``None`` if the turn never appeared).
        last_seen: Secret-free description of what the last poll showed.
        pending_tool_calls: Tool calls of the session waiting for an answer at the deadline
            (``None``: not asked, or the server did not say). A turn that waits on them ends
            only once they are answered: by a stream's handler, or ``drain_pending_calls()``.
        pending_approvals: Approvals of the session waiting for a decision, likewise.
        pending_user_inputs: User-input requests of the session waiting for an answer,
            likewise.
    """

    def __init__(
        self,
        *,
        session_id: str,
        turn_id: str,
        timeout: float,
        last_status: str | None,
        last_seen: str,
        pending_tool_calls: int | None = None,
        pending_approvals: int | None = None,
        pending_user_inputs: int | None = None,
    ):
        self.session_id = session_id
        self.turn_id = turn_id
        self.timeout = timeout
        self.last_status = last_status
        self.last_seen = last_seen
        self.pending_tool_calls = pending_tool_calls
        self.pending_approvals = pending_approvals
        self.pending_user_inputs = pending_user_inputs
        super().__init__(
            f"turn {turn_id!r} of session {session_id!r} did not finish within {timeout:g} s; "
            f"last seen: {last_seen}"
            + _waiting_on(pending_tool_calls or 0, pending_approvals or 0, pending_user_inputs or 0)
        )


def _waiting_on(tool_calls: int, approvals: int, user_inputs: int) -> str:
    """What a turn still running at the deadline waits on, if anything is pending."""
    parts = [
        f"{count} {noun}{'s' if count > 1 else ''} pending ({how})"
        for count, noun, how in (
            (
                tool_calls,
                "tool call",
                "answered by a running stream's handler or drain_pending_calls(): is one running?",
            ),
            (approvals, "approval", "decided with cm.session(id).approvals or a stream handler"),
            (
                user_inputs,
                "user-input request",
                "answered with cm.session(id).tool_input or a stream handler",
            ),
        )
        if count
    ]
    return "; the session waits on " + " and ".join(parts) if parts else ""


_STATUS_CLASSES: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    423: LockedError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The :class:`APIStatusError` subclass for an HTTP status code."""
    if status_code >= 500:
        return ServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


def api_status_error(
    status_code: int,
    body: ResponseBody,
    *,
    operation_id: str,
    method: str,
    url: str,
    retry_after: float | None = None,
) -> APIStatusError:
    """Build the exception matching ``status_code``."""
    cls = status_error_class(status_code)
    return cls(
        status_code,
        body,
        operation_id=operation_id,
        method=method,
        url=url,
        retry_after=retry_after,
    )


__all__ = [
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
    "ResponseBody",
    "ServerError",
    "TransportError",
    "TurnWaitTimeoutError",
    "UnexpectedResponseError",
    "UnknownOperationError",
    "api_status_error",
    "status_error_class",
]
