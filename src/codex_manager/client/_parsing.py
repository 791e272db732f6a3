"""Helpers shared by the generated method groups: request bodies and typed outcomes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from codex_manager._omit import Omit
from codex_manager.client._transport import HttpAnswer
from codex_manager.errors import InvalidRequestBodyError
from codex_manager.outcomes import (
    ToolCallAccepted,
    ToolCallInFlight,
    ToolCallNotFound,
    ToolCallResponseOutcome,
    ToolCallSubmitFailed,
)


def _fields(values: Mapping[str, object]) -> dict[str, object]:
    """A request body from camelCase keys; keys whose value is ``OMIT`` are left out."""
    return {key: value for key, value in values.items() if not isinstance(value, Omit)}


_Items = TypeVar("_Items", bound=Sequence[object])


def _array(name: str, value: _Items | Omit) -> _Items | Omit:
    """``value`` of a list parameter, unless it is a string (a ``Sequence[str]`` to the type
    checker, but one value, not a list).

    Raises:
        InvalidRequestBodyError: ``value`` is a ``str`` or ``bytes``; nothing was sent.
    """
    if isinstance(value, str | bytes):
        raise InvalidRequestBodyError(
            f"{name} must be a list, not a {type(value).__name__} (e.g. [{value!r}])"
        )
    return value


def _whole_body(value: Mapping[str, object] | Omit) -> dict[str, object]:
    """A request body passed as one mapping (``OMIT``: an empty object)."""
    return {} if isinstance(value, Omit) else dict(value)


def tool_call_outcome(answer: HttpAnswer, request_id: str) -> ToolCallResponseOutcome:
    """The typed outcome of ``POST /api/tool-calls/{requestId}/response``.

    The server names the request in every such body (the URL's string), and a 200 its
    thread: an answer that does not is no outcome of this one (a proxy's page, another
    route's answer).

    Raises:
        ServerError: A 500 whose body is not the documented ``{"status": "error",
            "requestId": ...}`` (the server's generic failure, a proxy's error page, an empty
            body): a server error like any other, which the answer submission retries.
        UnexpectedResponseError: The body does not carry the status its HTTP code documents
            (e.g. a 200 without ``"status": "ok"``, a 404 without ``"status": "not_found"``),
            or does not name this request, so it cannot count as an outcome.
    """
    code = answer.status_code
    body = answer.body
    if code == 500 and not (
        isinstance(body, dict)
        and body.get("status") == "error"
        and body.get("requestId") == request_id
    ):
        raise answer.status_error()
    body = answer.json_object()
    status = body.get("status")
    echoed = body.get("requestId")
    if echoed != request_id:
        raise answer.unexpected(f"the answer names request {echoed!r}, not {request_id!r}")
    if code == 200:
        if status != "ok":
            raise answer.unexpected('a 200 answer must carry "status": "ok"')
        thread = body.get("threadId")
        if not isinstance(thread, str):
            # The thread it names is how an answer taken by another session's call (request
            # ids restart with the server) is told from one taken by its own.
            raise answer.unexpected('a 200 answer must name its "threadId"')
        return ToolCallAccepted(request_id=request_id, thread_id=thread, body=body)
    if code == 404:
        if status != "not_found":
            raise answer.unexpected('a 404 answer must carry "status": "not_found"')
        return ToolCallNotFound(request_id=request_id, body=body)
    if code == 409:
        if body.get("code") != "in_flight" and status != "conflict":
            raise answer.unexpected('a 409 answer must carry "code": "in_flight"')
        return ToolCallInFlight(request_id=request_id, body=body)
    if code == 500:
        return ToolCallSubmitFailed(request_id=request_id, body=body)
    raise answer.status_error()  # pragma: no cover - the transport only lets 200/404/409/500 in


__all__ = ["tool_call_outcome"]
