"""Every status maps to its documented outcome or exception, from both clients.

A scripted loopback server answers with exactly the status, body and headers each test needs.
"""

from __future__ import annotations

import json

import pytest

from codex_manager import AsyncCodexManager, CodexManager, RetryPolicy
from codex_manager.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GoneError,
    LockedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
)
from codex_manager.outcomes import (
    ToolCallAccepted,
    ToolCallInFlight,
    ToolCallNotFound,
    ToolCallSubmitFailed,
)
from codex_manager.remote_skills.submit import SubmissionPolicy, submit_sync
from tests.client.conftest import Reply, ScriptedServer

NO_RETRY = RetryPolicy.disabled()

STATUS_CLASSES: list[tuple[int, type[APIStatusError]]] = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, ConflictError),
    (410, GoneError),
    (418, APIStatusError),
    (423, LockedError),
    (429, RateLimitError),
    (500, ServerError),
    (501, ServerError),
    (503, ServerError),
    (504, ServerError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_sync_status_classes(scripted: ScriptedServer, status: int, cls: type[Exception]) -> None:
    body = {"status": "error", "code": "some_code", "message": "nope"}
    scripted.queue(Reply(status, body))
    with CodexManager(scripted.base_url, retry=NO_RETRY) as cm, pytest.raises(cls) as caught:
        cm.session("s-1").settings.get()
    error = caught.value
    assert type(error) is cls
    assert isinstance(error, APIStatusError)
    assert error.status_code == status
    assert error.body == body
    assert error.operation_id == "getSessionSettings"
    assert error.method == "GET"
    assert error.url.endswith("/api/sessions/s-1/settings")
    assert error.code == "some_code"
    assert f"answered {status}" in str(error)
    assert "getSessionSettings" in str(error)


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
async def test_async_status_classes(
    scripted: ScriptedServer, status: int, cls: type[Exception]
) -> None:
    scripted.queue(Reply(status, {"status": "error"}))
    async with AsyncCodexManager(scripted.base_url, retry=NO_RETRY) as cm:
        with pytest.raises(cls) as caught:
            await cm.session("s-1").settings.get()
    assert type(caught.value) is cls


def test_bad_request_exposes_validation_issues(scripted: ScriptedServer) -> None:
    issues = [{"code": "too_small", "path": ["text"], "message": "required"}]
    scripted.queue(
        Reply(
            400,
            {
                "status": "error",
                "code": "invalid_request",
                "message": "request validation failed",
                "issues": issues,
            },
        )
    )
    with CodexManager(scripted.base_url) as cm, pytest.raises(BadRequestError) as caught:
        cm.session("s").messages.send("hi")
    assert caught.value.issues == issues
    assert "invalid_request" in str(caught.value)


def test_gone_and_forbidden_on_tool_call_list(scripted: ScriptedServer) -> None:
    deleted = {"status": "deleted", "sessionId": "s", "message": "gone", "deletedAt": "x"}
    system = {"status": "error", "code": "system_session", "sessionId": "s", "message": "m"}
    scripted.queue(Reply(410, deleted), Reply(403, system))
    with CodexManager(scripted.base_url) as cm:
        with pytest.raises(GoneError) as gone:
            cm.session("s").tool_calls.list()
        assert gone.value.body == deleted
        with pytest.raises(PermissionDeniedError) as forbidden:
            cm.session("s").tool_calls.list()
        assert forbidden.value.code == "system_session"


def test_non_json_error_body_is_kept_as_text(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(502, b"<html>bad gateway</html>"))
    with (
        CodexManager(scripted.base_url, retry=NO_RETRY) as cm,
        pytest.raises(ServerError) as caught,
    ):
        cm.system.health()
    assert caught.value.body == "<html>bad gateway</html>"


def test_success_without_json_object_is_unexpected(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(200, b"not json"), Reply(200, [1, 2]))
    with CodexManager(scripted.base_url) as cm:
        with pytest.raises(UnexpectedResponseError, match="expected a JSON object"):
            cm.system.health()
        with pytest.raises(UnexpectedResponseError):
            cm.sessions.list()


def test_success_with_the_wrong_shape_is_unexpected(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(200, {"status": "ok"}), Reply(202, {"status": "accepted"}))
    with CodexManager(scripted.base_url) as cm:
        with pytest.raises(UnexpectedResponseError, match="not the documented schema") as caught:
            cm.system.health()
        assert caught.value.body == {"status": "ok"}
        with pytest.raises(UnexpectedResponseError, match=r"sessionId|turnId"):
            cm.session("s").messages.send("hi")


def _respond_replies() -> list[Reply]:
    return [
        Reply(200, {"status": "ok", "requestId": "7", "threadId": "t-1"}),
        Reply(404, {"status": "not_found", "requestId": "7"}),
        Reply(409, {"status": "conflict", "code": "in_flight", "requestId": "7"}),
        Reply(500, {"status": "error", "requestId": "7"}),
    ]


def test_sync_tool_call_outcomes(scripted: ScriptedServer) -> None:
    scripted.queue(*_respond_replies())
    with CodexManager(scripted.base_url) as cm:
        accepted = cm.tool_calls.respond("7", text="done")
        assert accepted == ToolCallAccepted(
            request_id="7",
            thread_id="t-1",
            body={"status": "ok", "requestId": "7", "threadId": "t-1"},
        )
        assert accepted.http_status == 200
        assert accepted.status == "ok"
        assert isinstance(cm.tool_calls.respond("7", text="x"), ToolCallNotFound)
        assert isinstance(cm.tool_calls.respond("7", text="x"), ToolCallInFlight)
        failed = cm.tool_calls.respond("7", text="x")
        assert isinstance(failed, ToolCallSubmitFailed)
        assert failed.http_status == 500
    sent = json.loads(scripted.received[0].body)
    assert sent == {"text": "done"}
    assert scripted.received[0].path == "/api/tool-calls/7/response"


async def test_async_tool_call_outcomes(scripted: ScriptedServer) -> None:
    scripted.queue(*_respond_replies())
    async with AsyncCodexManager(scripted.base_url) as cm:
        outcomes = [
            await cm.tool_calls.respond("7", content_items=[{"type": "inputText", "text": "a"}]),
            await cm.tool_calls.respond("7", response=None),
            await cm.tool_calls.respond("7", response={"contentItems": [], "success": False}),
            await cm.tool_calls.respond("7", text="x", success=False),
        ]
    assert [type(o) for o in outcomes] == [
        ToolCallAccepted,
        ToolCallNotFound,
        ToolCallInFlight,
        ToolCallSubmitFailed,
    ]
    bodies = [json.loads(r.body) for r in scripted.received]
    assert bodies[0] == {"contentItems": [{"type": "inputText", "text": "a"}]}
    assert bodies[1] == {"response": None}  # JSON null is sent: it is not "omitted"
    assert bodies[2] == {"response": {"contentItems": [], "success": False}}
    assert bodies[3] == {"success": False, "text": "x"}


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, {"requestId": "7"}),
        Reply(200, {"status": "error", "requestId": "7"}),
        Reply(404, {"status": "ok"}),
        # Each must name this request: a 404 for another one says nothing of this answer.
        Reply(404, {"status": "not_found", "requestId": "8"}),
        Reply(404, {"status": "not_found"}),
        Reply(409, {"status": "conflict", "code": "in_flight"}),
        Reply(200, {"status": "ok", "requestId": "8", "threadId": "t"}),
        # A 200 names its request and its thread (how a misrouted answer is told apart).
        Reply(200, {"status": "ok", "threadId": "t"}),
        Reply(200, {"status": "ok", "requestId": "7"}),
    ],
)
def test_tool_call_outcome_must_match_its_status(scripted: ScriptedServer, reply: Reply) -> None:
    scripted.queue(reply)
    with CodexManager(scripted.base_url) as cm, pytest.raises(UnexpectedResponseError):
        cm.tool_calls.respond("7", text="x")


BARE_500_BODIES: list[object] = [
    b"<html>proxy error</html>",
    None,
    {"error": "internal_error"},
    # The server's generic failure (an uncaught exception), which names no request.
    {"status": "error", "code": "internal_error", "message": "internal server error"},
]


@pytest.mark.parametrize("body", BARE_500_BODIES)
def test_a_500_without_the_error_outcome_body_is_a_server_error(
    scripted: ScriptedServer, body: object
) -> None:
    # A proxy's page or the generic 500 is a server failure (retried by the answer
    # submission), not a malformed success: it used to fail the answer for good.
    accepted = Reply(200, {"status": "ok", "requestId": "7", "threadId": "t"})
    scripted.queue(Reply(500, body))
    with CodexManager(scripted.base_url, retry=NO_RETRY) as cm:
        with pytest.raises(ServerError) as raised:
            cm.tool_calls.respond("7", text="x")
        assert raised.value.status_code == 500
        scripted.queue(Reply(500, body), accepted)
        result = submit_sync(lambda: cm.tool_calls.respond("7", text="x"), SubmissionPolicy(3, 0))
    assert (result.status, result.attempts) == ("accepted", 2)


@pytest.mark.parametrize("body", BARE_500_BODIES)
async def test_async_a_500_without_the_error_outcome_body_is_a_server_error(
    scripted: ScriptedServer, body: object
) -> None:
    scripted.queue(Reply(500, body))
    async with AsyncCodexManager(scripted.base_url, retry=NO_RETRY) as cm:
        with pytest.raises(ServerError):
            await cm.tool_calls.respond("7", text="x")


@pytest.mark.parametrize("status", [400, 401, 410, 423, 502])
def test_other_tool_call_statuses_raise(scripted: ScriptedServer, status: int) -> None:
    scripted.queue(Reply(status, {"status": "error"}))
    with CodexManager(scripted.base_url, retry=NO_RETRY) as cm, pytest.raises(APIStatusError):
        cm.tool_calls.respond("7", text="x")


def test_suggest_request_returns_either_documented_success(scripted: ScriptedServer) -> None:
    queued = {
        "status": "queued",
        "sessionId": "s",
        "requestKey": "k",
        "jobId": "j",
        "projectId": "p",
        "dedupe": "enqueued",
    }
    scripted.queue(Reply(202, queued))
    with CodexManager(scripted.base_url) as cm:
        assert cm.session("s").suggest_request() == queued
