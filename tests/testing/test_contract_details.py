"""Details of the real server the fake reproduces: thread-less notifications, the order of
expiry frames, codex's thread status, and zod's issues for a bad ``limit`` query."""

from __future__ import annotations

import threading

import httpx
import pytest

from codex_manager.json_types import JSONValue
from codex_manager.testing import FakeCodexManager, FakeServerError, SyncTurnContext, TurnContext

from .helpers import LOOKUP_TICKET, open_stream, payload_of

RATE_LIMITS = "account/rateLimits/updated"


def test_a_notification_without_a_thread_is_enveloped_aliased_and_raw(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    # Contract section 5: every notification without a thread is re-published as an
    # app_server.* envelope; section 4: its raw frame after the specific handling, and the
    # account-wide alias as a broadcast. Filtered sockets get the broadcast only.
    with open_stream(server) as everything, open_stream(server, session_id) as following:
        everything.next()
        following.next()
        http.post(f"/api/sessions/{session_id}/messages", json={"text": "hi"})
        following.until("app_server.turn.completed")
        everything.until("notification", where=lambda f: payload_of(f)["method"] == RATE_LIMITS)
        followed = following.quiet(0.3)
    thread_less = [
        frame
        for frame in everything.frames[1:]  # after ready
        if frame["threadId"] is None
    ]
    assert [frame["type"] for frame in thread_less[:3]] == [
        "app_server.account.rate_limits.updated",
        "account_rate_limits_updated",
        "notification",
    ]
    envelope = payload_of(thread_less[0])
    assert envelope["method"] == RATE_LIMITS
    assert envelope["context"] == {"threadId": None, "turnId": None}
    assert envelope["session"] is None
    assert payload_of(thread_less[1]) == envelope["params"]
    seen_by_follower = {
        str(frame["type"])
        for frame in [*following.frames, *followed]
        if frame["threadId"] is None and frame["type"] != "ready"
    }
    assert seen_by_follower == {"account_rate_limits_updated"}


def test_a_turn_end_expires_approvals_before_its_raw_frame(server: FakeCodexManager) -> None:
    async def script(turn: TurnContext) -> None:
        turn.start_tool_call("lookup_ticket", {"ticket_id": "X"})
        await turn.request_approval("ls")

    session = server.create_session(script=script, dynamic_tools=[LOOKUP_TICKET])
    with open_stream(server, session) as stream, httpx.Client(base_url=server.base_url) as http:
        stream.next()
        http.post(f"/api/sessions/{session}/messages", json={"text": "x"})
        stream.until("approval")
        http.post(f"/api/sessions/{session}/interrupt", json={})
        stream.until("notification", where=lambda f: payload_of(f)["method"] == "turn/completed")
    types = stream.types()
    end = types.index("app_server.turn.completed")
    assert types[end:] == [
        "app_server.turn.completed",
        "tool_call_resolved",
        "approval_resolved",
        "notification",
    ]


def test_an_active_thread_status_carries_its_flags(server: FakeCodexManager) -> None:
    release = threading.Event()

    def script(turn: SyncTurnContext) -> None:
        release.wait(10)

    session = server.create_session(script=script)
    try:
        with httpx.Client(base_url=server.base_url) as http:
            http.post(f"/api/sessions/{session}/messages", json={"text": "x"})
            thread = http.get(f"/api/sessions/{session}").json()["thread"]
            assert thread["status"] == {"type": "active", "activeFlags": []}
            release.set()
            server.wait_idle()
            thread = http.get(f"/api/sessions/{session}").json()["thread"]
            assert thread["status"] == {"type": "idle"}
    finally:
        release.set()


@pytest.mark.parametrize(
    ("limit", "issue"),
    [
        (
            "0",
            {
                "origin": "number",
                "code": "too_small",
                "minimum": 1,
                "inclusive": True,
                "path": ["limit"],
                "message": "Too small: expected number to be >=1",
            },
        ),
        (
            "201",
            {
                "origin": "number",
                "code": "too_big",
                "maximum": 200,
                "inclusive": True,
                "path": ["limit"],
                "message": "Too big: expected number to be <=200",
            },
        ),
        (
            "abc",
            {
                "expected": "number",
                "code": "invalid_type",
                "received": "NaN",
                "path": ["limit"],
                "message": "Invalid input: expected number, received NaN",
            },
        ),
        (
            "2.5",
            {
                "expected": "int",
                "format": "safeint",
                "code": "invalid_type",
                "path": ["limit"],
                "message": "Invalid input: expected int, received number",
            },
        ),
    ],
)
def test_a_bad_limit_gets_zods_issue(http: httpx.Client, limit: str, issue: JSONValue) -> None:
    answer = http.get("/api/sessions", params={"limit": limit})
    assert answer.status_code == 400
    assert answer.json()["issues"] == [issue]


@pytest.mark.parametrize(("limit", "count"), [(" 2 ", 2), ("0x2", 2), ("1e0", 1)])
def test_a_limit_is_coerced_as_javascript_numbers_are(
    server: FakeCodexManager, http: httpx.Client, limit: str, count: int
) -> None:
    for _ in range(3):
        server.create_session()
    answer = http.get("/api/sessions", params={"limit": limit})
    assert answer.status_code == 200
    assert len(answer.json()["data"]) == count


@pytest.mark.parametrize(
    "limit", ["infinity", "+-Infinity", "0x1_0", "0x 10", "1_0", "\uff11\uff10"]
)
def test_what_javascript_reads_as_nan_is_refused(http: httpx.Client, limit: str) -> None:
    # Python's int() and float() take these; JavaScript's Number() gives NaN.
    [issue] = http.get("/api/sessions", params={"limit": limit}).json()["issues"]
    assert issue["received"] == "NaN"


def test_infinity_is_a_number_zod_refuses(http: httpx.Client) -> None:
    [issue] = http.get("/api/sessions", params={"limit": "Infinity"}).json()["issues"]
    assert issue["message"] == "Invalid input: expected number, received Infinity"


def test_a_body_above_the_limit_is_answered_413_as_fastify_answers_it() -> None:
    with FakeCodexManager(noise=False, body_limit=1_000) as server:
        url = f"{server.api_base}/tool-calls/0/response"
        too_large = httpx.post(url, json={"text": "x" * 2_000})
        assert too_large.status_code == 413
        assert too_large.json() == {
            "status": "error",
            "code": "request_failed",
            "message": "Request body is too large",
        }
        assert httpx.post(url, json={"text": "x"}).status_code == 404  # read, no such call


def test_the_body_limit_must_be_positive() -> None:
    with pytest.raises(FakeServerError, match="body_limit"):
        FakeCodexManager(body_limit=0)


@pytest.mark.parametrize("route", ["/sessions", "/models"])
def test_a_cursor_of_digits_that_are_not_ascii_reads_as_the_first_page(route: str) -> None:
    # "²".isdigit() is true and int("²") fails: the fake answered 500.
    with FakeCodexManager(noise=False) as server:
        answer = httpx.get(f"{server.api_base}{route}", params={"cursor": "²"})
    assert answer.status_code == 200
