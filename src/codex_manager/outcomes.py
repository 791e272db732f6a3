"""Typed outcomes of ``POST /api/tool-calls/{requestId}/response``.

The server answers a tool-call response with one of four documented statuses, and each is a
normal outcome the caller must handle, not an exception:

=====  ============  ==========================================================
200    ``ok``        :class:`ToolCallAccepted`: forwarded to codex app-server
404    ``not_found`` :class:`ToolCallNotFound`: unknown, already answered or expired
409    ``in_flight`` :class:`ToolCallInFlight`: another answer is being delivered
500    ``error``     :class:`ToolCallSubmitFailed`: delivery failed; the call is pending
                     again and a later retry can succeed
=====  ============  ==========================================================

Any other status raises an :class:`~codex_manager.errors.APIStatusError`; a 200 body without
``"status": "ok"`` raises :class:`~codex_manager.errors.UnexpectedResponseError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, TypeAlias

from codex_manager.json_types import JSONValue


@dataclass(frozen=True)
class ToolCallAccepted:
    """200: the answer was accepted and forwarded to codex.

    Attributes:
        request_id: The answered request id.
        thread_id: The thread (session) that owned the call.
        body: The parsed JSON body.
    """

    request_id: str
    thread_id: str | None
    body: JSONValue
    status: ClassVar[Literal["ok"]] = "ok"
    http_status: ClassVar[Literal[200]] = 200
    delivered: ClassVar[bool] = True


@dataclass(frozen=True)
class ToolCallNotFound:
    """404: no pending call has this request id (unknown, already answered or expired).

    Attributes:
        request_id: The request id that was answered.
        body: The parsed JSON body.
    """

    request_id: str
    body: JSONValue
    status: ClassVar[Literal["not_found"]] = "not_found"
    http_status: ClassVar[Literal[404]] = 404
    delivered: ClassVar[bool] = False


@dataclass(frozen=True)
class ToolCallInFlight:
    """409: an answer for this request id is being delivered right now.

    Attributes:
        request_id: The request id that was answered.
        body: The parsed JSON body.
    """

    request_id: str
    body: JSONValue
    status: ClassVar[Literal["in_flight"]] = "in_flight"
    http_status: ClassVar[Literal[409]] = 409
    delivered: ClassVar[bool] = False


@dataclass(frozen=True)
class ToolCallSubmitFailed:
    """500: codex-manager could not deliver the answer; the call is pending again.

    Attributes:
        request_id: The request id that was answered.
        body: The parsed JSON body.
    """

    request_id: str
    body: JSONValue
    status: ClassVar[Literal["error"]] = "error"
    http_status: ClassVar[Literal[500]] = 500
    delivered: ClassVar[bool] = False


ToolCallResponseOutcome: TypeAlias = (
    ToolCallAccepted | ToolCallNotFound | ToolCallInFlight | ToolCallSubmitFailed
)
"""Any outcome of a tool-call response; ``match`` on the class or compare ``.status``."""

__all__ = [
    "ToolCallAccepted",
    "ToolCallInFlight",
    "ToolCallNotFound",
    "ToolCallResponseOutcome",
    "ToolCallSubmitFailed",
]
