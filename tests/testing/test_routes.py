"""Session guards, settings/controls, approvals/tool input, projects and every other route."""

from __future__ import annotations

import httpx
import pytest

from codex_manager import CodexManager
from codex_manager.json_types import JSONObject, JSONValue
from codex_manager.testing import FakeCodexManager, TurnContext

from .helpers import LOOKUP_TICKET, as_object, dig, open_stream, payload_of

GUARDED_POSTS = [
    "messages",
    "resume",
    "interrupt",
    "fork",
    "compact",
    "rollback",
    "background-terminals/clean",
    "review",
    "archive",
    "approval-policy",
    "session-controls",
    "settings",
    "suggested-request",
    "suggested-request/jobs",
    "suggested-request/upsert",
]


def test_guard_order_purged_then_system_then_existence(
    server: FakeCodexManager, http: httpx.Client
) -> None:
    system = server.create_session(system_owned=True)
    deleted = server.create_session()
    server.delete_session(deleted)
    for suffix in GUARDED_POSTS:
        # A bad body on a deleted session still yields 410 (guards come first).
        gone = http.post(f"/api/sessions/{deleted}/{suffix}", json={"bogus": 1})
        assert gone.status_code in (410, 400), suffix
        if suffix not in ("resume",):
            assert gone.status_code == 410, suffix
        forbidden = http.post(f"/api/sessions/{system}/{suffix}", json={})
        assert forbidden.status_code == 403, suffix
        assert forbidden.json() == {
            "status": "error",
            "code": "system_session",
            "sessionId": system,
            "message": "system-owned sessions are reserved for orchestrator workers",
        }
    assert http.get(f"/api/sessions/{deleted}").status_code == 410
    body = http.get(f"/api/sessions/{deleted}").json()
    assert set(body) == {"status", "sessionId", "title", "message", "deletedAt"}
    # System-owned sessions are readable and hidden from the list.
    assert http.get(f"/api/sessions/{system}").status_code == 200
    assert system not in [row["sessionId"] for row in http.get("/api/sessions").json()["data"]]
    listed = http.get("/api/sessions", params={"includeSystemOwned": "true"}).json()["data"]
    assert system in [row["sessionId"] for row in listed]
    unknown = "00000000-0000-7000-8000-000000000000"
    assert http.post(f"/api/sessions/{unknown}/messages", json={"text": "x"}).json() == {
        "status": "not_found",
        "sessionId": unknown,
    }
    assert http.get(f"/api/sessions/{unknown}").status_code == 500  # real server: generic 500
    assert http.post(f"/api/sessions/{unknown}/resume").json()["code"] == "internal_error"
    assert http.get(f"/api/sessions/{unknown}/tool-calls").json() == {"data": []}
    assert http.delete(f"/api/sessions/{unknown}").status_code == 404
    assert http.delete(f"/api/sessions/{system}").status_code == 403


INVALID_BODIES: list[tuple[str, JSONValue]] = [
    ("fork", [1]),  # an object is expected
    ("compact", [1]),
    ("background-terminals/clean", [1]),
    ("rollback", {"numTurns": 0}),  # at least 1
    ("review", {"delivery": "sideways"}),  # inline or detached
    ("turns/some-turn/steer", {}),  # input is required
]


@pytest.mark.parametrize(("suffix", "body"), INVALID_BODIES, ids=[c[0] for c in INVALID_BODIES])
def test_session_actions_check_the_guards_before_the_body(
    server: FakeCodexManager, http: httpx.Client, suffix: str, body: JSONValue
) -> None:
    # Contract section 0: only resume, settings GET/DELETE and the decision routes validate
    # first. These answered 400 for a deleted or system-owned session.
    deleted = server.create_session()
    server.delete_session(deleted)
    assert http.post(f"/api/sessions/{deleted}/{suffix}", json=body).status_code == 410
    system = server.create_session(system_owned=True)
    assert http.post(f"/api/sessions/{system}/{suffix}", json=body).status_code == 403
    live = server.create_session()
    assert http.post(f"/api/sessions/{live}/{suffix}", json=body).status_code == 400


def test_message_validation_after_guards(http: httpx.Client, session_id: str) -> None:
    for body in ({}, {"text": "   "}, {"text": 5}, {"text": "x", "effort": "max"}):
        response = http.post(f"/api/sessions/{session_id}/messages", json=body)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_request"
    empty = http.post(
        f"/api/sessions/{session_id}/messages",
        content=b"",
        headers={"content-type": "application/json"},
    )
    assert empty.status_code == 400
    assert empty.json()["code"] == "request_failed"
    broken = http.post(
        f"/api/sessions/{session_id}/messages",
        content=b"{",
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 400


def test_unknown_route_is_fastify_404(http: httpx.Client) -> None:
    response = http.get("/api/nope?x=1")
    assert response.status_code == 404
    assert response.json() == {
        "message": "Route GET:/api/nope?x=1 not found",
        "error": "Not Found",
        "statusCode": 404,
    }
    assert http.put("/api/health").status_code == 404


def test_later_dynamic_tools_are_recorded_and_ignored(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    other_tool = {**LOOKUP_TICKET, "name": "other_tool"}
    assert (
        http.post(f"/api/sessions/{session_id}/resume", json={"dynamicTools": [other_tool]})
    ).status_code == 200
    sent = http.post(
        f"/api/sessions/{session_id}/messages",
        json={"text": "CALL other_tool {}", "dynamicTools": [other_tool]},
    )
    assert sent.status_code == 202
    server.wait_idle()
    assert server.turns(session_id)[0].replies == (
        "ECHO: CALL other_tool {} (tool 'other_tool' not offered)",
    )
    assert [(c.source, c.names, c.applied) for c in server.catalogs] == [
        ("create", ("lookup_ticket",), True),
        ("resume", ("other_tool",), False),
        ("messages", ("other_tool",), False),
    ]
    assert server.catalog(session_id) == ("lookup_ticket",)
    assert server.messages[0].text == "CALL other_tool {}"


def test_echo_and_interrupt(server: FakeCodexManager, http: httpx.Client, session_id: str) -> None:
    http.post(f"/api/sessions/{session_id}/messages", json={"text": "hello"})
    server.wait_idle()
    assert server.turns(session_id)[0].replies == ("ECHO: hello",)
    no_turn = http.post(f"/api/sessions/{session_id}/interrupt")
    assert no_turn.status_code == 409
    assert no_turn.json() == {"status": "no_active_turn", "sessionId": session_id}

    with open_stream(server, session_id) as stream:
        stream.next()
        turn_id = http.post(
            f"/api/sessions/{session_id}/messages", json={"text": "CALL lookup_ticket {}"}
        ).json()["turnId"]
        request_id = payload_of(stream.until("tool_call_requested"))["requestId"]
        interrupted = http.post(f"/api/sessions/{session_id}/interrupt", json={})
        assert interrupted.json() == {"status": "ok", "sessionId": session_id, "turnId": turn_id}
        completed = stream.until("app_server.turn.completed")
        assert dig(completed, "payload", "params", "turn", "status") == "interrupted"
        expired = stream.until("tool_call_resolved")
        assert payload_of(expired)["requestId"] == request_id
        assert payload_of(expired)["status"] == "expired"
    detail = http.get(f"/api/sessions/{session_id}").json()
    assert detail["thread"]["turns"][1]["status"] == "interrupted"


def test_settings_and_controls(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    base = f"/api/sessions/{session_id}"
    assert http.get(f"{base}/settings").json() == {
        "status": "ok",
        "sessionId": session_id,
        "scope": "session",
        "settings": {},
    }
    put = http.post(f"{base}/settings", json={"scope": "session", "key": "k", "value": None})
    assert put.json() == {
        "status": "ok",
        "sessionId": session_id,
        "scope": "session",
        "key": "k",
        "settings": {"k": None},
    }
    same = http.post(f"{base}/settings", json={"scope": "session", "key": "k", "value": None})
    assert same.json()["status"] == "unchanged"
    merged = http.post(f"{base}/settings", json={"scope": "session", "settings": {"a": 1}})
    assert merged.json()["settings"] == {"k": None, "a": 1}
    replaced = http.post(
        f"{base}/settings", json={"scope": "session", "settings": {"b": 2}, "mode": "replace"}
    )
    assert replaced.json()["settings"] == {"b": 2}
    key = http.get(f"{base}/settings", params={"key": "b"}).json()
    assert (key["found"], key["value"]) == (True, 2)
    for bad in ({"scope": "session"}, {"scope": "session", "key": "x"}, {"scope": "x"}):
        assert http.post(f"{base}/settings", json=bad).status_code == 400
    both = {"scope": "session", "key": "x", "value": 1, "settings": {}}
    assert http.post(f"{base}/settings", json=both).status_code == 400
    removed = http.delete(f"{base}/settings/b").json()
    assert (removed["removed"], removed["settings"]) == (True, {})
    assert http.delete(f"{base}/settings/b").json()["status"] == "unchanged"

    controls = http.get(f"{base}/session-controls").json()
    assert controls["controls"]["approvalPolicy"] == "untrusted"
    assert controls["defaultsEditable"] is True
    applied = http.post(
        f"{base}/session-controls",
        json={
            "scope": "session",
            "controls": {
                "model": None,
                "approvalPolicy": "never",
                "networkAccess": "enabled",
                "filesystemSandbox": "workspace-write",
            },
        },
    ).json()
    assert applied["status"] == "ok"
    assert applied["applied"]["settings"] == {}  # kept from before
    policy = http.post(f"{base}/approval-policy", json={"approvalPolicy": "on-request"})
    assert policy.json() == {
        "status": "ok",
        "sessionId": session_id,
        "approvalPolicy": "on-request",
    }
    summary = http.get(base).json()["session"]
    assert summary["approvalPolicy"] == "on-request"


def test_defaults_locked_answers_423() -> None:
    with (
        FakeCodexManager(defaults_locked=True) as locked,
        httpx.Client(base_url=locked.base_url) as http,
    ):
        sid = locked.create_session()
        base = f"/api/sessions/{sid}"
        write = http.post(f"{base}/settings", json={"scope": "default", "settings": {"a": 1}})
        assert write.status_code == 423
        assert write.json()["status"] == "locked"
        assert http.delete(f"{base}/settings/a", params={"scope": "default"}).status_code == 423
        assert http.get(f"{base}/session-controls").json()["defaultsEditable"] is False


def test_approvals_and_tool_input(server: FakeCodexManager, http: httpx.Client) -> None:
    outcomes: list[JSONValue] = []

    async def asks(turn: TurnContext) -> None:
        outcomes.append(await turn.request_approval("rm -rf build"))
        outcomes.append(
            await turn.request_user_input(
                [{"id": "q1", "header": "Pick", "question": "Which?", "options": None}]
            )
        )
        turn.reply("asked")

    sid = server.create_session(script=asks)
    with open_stream(server, sid) as stream:
        stream.next()
        http.post(f"/api/sessions/{sid}/messages", json={"text": "go"})
        signal = stream.until("app_server.request.item.command_execution.request_approval")
        approval = stream.next()
        assert approval["type"] == "approval"
        approval_id = payload_of(approval)["approvalId"]
        assert payload_of(signal)["requestId"] == int(str(approval_id))
        listed = http.get(f"/api/sessions/{sid}/approvals").json()["data"]
        assert [row["approvalId"] for row in listed] == [approval_id]
        assert http.post("/api/approvals/nope/decision", json={"decision": "accept"}).json() == {
            "status": "not_found",
            "approvalId": "nope",
        }
        assert http.post(f"/api/approvals/{approval_id}/decision", json={}).status_code == 400
        decided = http.post(f"/api/approvals/{approval_id}/decision", json={"decision": "accept"})
        assert decided.json() == {"status": "ok", "approvalId": approval_id, "threadId": sid}
        assert payload_of(stream.until("approval_resolved"))["decision"] == "accept"

        asked = stream.until("tool_user_input_requested")
        request_id = payload_of(asked)["requestId"]
        assert http.get(f"/api/sessions/{sid}/tool-input").json()["data"][0]["questions"]
        server.fail_next_decisions(1)
        body = {"decision": "accept", "answers": {"q1": {"answers": ["A"]}}}
        assert http.post(f"/api/tool-input/{request_id}/decision", json=body).status_code == 500
        assert http.post(f"/api/tool-input/{request_id}/decision", json=body).status_code == 200
        stream.until("app_server.turn.completed")
    assert outcomes == [
        {"decision": "accept", "scope": "turn"},
        {"answers": {"q1": {"answers": ["A"]}}},
    ]


def test_projects_store(http: httpx.Client, session_id: str) -> None:
    created = http.post("/api/projects", json={"name": "Alpha"}).json()
    project_id = created["project"]["projectId"]
    assert http.post("/api/projects", json={"name": "alpha"}).json() == {
        "status": "duplicate_name",
        "projectId": project_id,
    }
    assert http.post("/api/projects", json={"name": ""}).status_code == 400
    renamed = http.post(f"/api/projects/{project_id}/rename", json={"name": "Beta"}).json()
    assert renamed["project"]["name"] == "Beta"
    assigned = http.post(f"/api/sessions/{session_id}/project", json={"projectId": project_id})
    assert assigned.json() == {
        "status": "ok",
        "sessionId": session_id,
        "projectId": project_id,
        "previousProjectId": None,
    }
    missing = http.post(f"/api/sessions/{session_id}/project", json={"projectId": "nope"})
    assert missing.status_code == 404
    assert missing.json()["status"] == "project_not_found"
    assert http.delete(f"/api/projects/{project_id}").json()["status"] == "project_not_empty"
    moved = http.post(
        f"/api/projects/{project_id}/chats/move-all", json={"destination": "unassigned"}
    )
    assert moved.json()["movedSessionCount"] == 1
    assert http.delete(f"/api/projects/{project_id}").status_code == 200
    assert http.get("/api/projects").json() == {"data": []}
    assert http.delete(f"/api/projects/{project_id}").status_code == 404


CANNED: list[tuple[str, str, JSONValue]] = [
    ("GET", "/api", None),
    ("GET", "/api/capabilities", None),
    ("GET", "/api/features/experimental?limit=1", None),
    ("GET", "/api/collaboration/modes", None),
    ("GET", "/api/apps", None),
    ("GET", "/api/skills", None),
    ("POST", "/api/skills/config", {"path": "/x/SKILL.md", "enabled": False}),
    ("GET", "/api/skills/remote", None),
    ("POST", "/api/skills/remote", {"hazelnutId": "h1", "isPreload": True}),
    ("POST", "/api/mcp/reload", {}),
    ("POST", "/api/mcp/servers/docs/oauth/login", {"scopes": ["read"]}),
    ("GET", "/api/mcp/servers", None),
    ("GET", "/api/account", None),
    ("POST", "/api/account/login/start", {"type": "apiKey", "apiKey": "sk-test"}),
    ("POST", "/api/account/logout", {}),
    ("GET", "/api/account/rate-limits", None),
    ("GET", "/api/config", None),
    ("GET", "/api/config/requirements", None),
    ("POST", "/api/config/value", {"keyPath": ["model"], "mergeStrategy": "replace", "value": "m"}),
    (
        "POST",
        "/api/config/batch",
        {"edits": [{"keyPath": ["model"], "mergeStrategy": "upsert", "value": "m"}]},
    ),
    ("POST", "/api/commands/exec", {"command": ["ls"]}),
    ("POST", "/api/feedback", {"classification": "bug", "includeLogs": False}),
    ("GET", "/api/models", None),
    ("GET", "/api/agents/extensions", None),
    ("POST", "/api/agents/extensions/reload", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), CANNED)
def test_canned_proxy_routes_answer_200(
    http: httpx.Client, method: str, path: str, body: JSONValue
) -> None:
    response = (
        http.request(method, path, json=body) if body is not None else http.request(method, path)
    )
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), dict)


def test_session_actions(server: FakeCodexManager, http: httpx.Client, session_id: str) -> None:
    base = f"/api/sessions/{session_id}"
    assert http.post(f"{base}/archive").json() == {
        "status": "not_materialized",
        "sessionId": session_id,
    }
    http.post(f"{base}/messages", json={"text": "hi"})
    server.wait_idle()
    assert http.post(f"{base}/archive").json() == {"status": "ok", "sessionId": session_id}
    assert (
        http.get("/api/sessions", params={"archived": "true"}).json()["data"][0]["sessionId"]
        == session_id
    )
    assert http.post(f"{base}/unarchive").json()["session"]["sessionId"] == session_id
    assert (
        http.post(f"{base}/rename", json={"title": "Tickets"}).json()["session"]["title"]
        == "Tickets"
    )
    fork = http.post(f"{base}/fork").json()
    assert fork["sourceSessionId"] == session_id
    assert fork["session"]["sessionId"] != session_id
    assert http.post(f"{base}/compact").json()["status"] == "ok"
    assert http.post(f"{base}/background-terminals/clean").json()["status"] == "ok"
    assert http.post(f"{base}/review", json={"targetType": "uncommittedChanges"}).status_code == 200
    assert http.post(f"{base}/turns/t-1/steer", json={"input": "go"}).status_code == 409
    rolled = http.post(f"{base}/rollback", json={"numTurns": 1}).json()
    assert rolled["numTurns"] == 1
    assert http.get(base).json()["thread"]["turns"] == []
    suggestion = http.post(f"{base}/suggested-request", json={"draft": "next"})
    assert suggestion.json()["status"] == "ok"
    assert http.post(f"{base}/suggested-request/jobs").status_code == 202
    upsert = {"requestKey": "k", "status": "complete", "suggestion": "Try again"}
    assert (
        http.post(f"{base}/suggested-request/upsert", json=upsert).json()["entry"]["suggestion"]
        == "Try again"
    )
    incomplete = {"requestKey": "k", "status": "complete"}
    assert http.post(f"{base}/suggested-request/upsert", json=incomplete).status_code == 400
    entry = {
        "messageId": "m1",
        "turnId": "t1",
        "role": "system",
        "type": "note",
        "content": "hello",
        "status": "complete",
    }
    assert http.post(f"{base}/transcript/upsert", json=entry).json()["entry"] == entry
    assert http.get(base).json()["transcript"][-1] == entry


async def _asks_for_approval(turn: TurnContext) -> None:
    await turn.request_approval("ls -la")
    turn.reply("approved")


async def _asks_for_input(turn: TurnContext) -> None:
    await turn.request_user_input(
        [{"id": "q1", "header": "Pick", "question": "Which?", "options": None}]
    )
    turn.reply("answered")


DECISION_KINDS = {
    "approval": (_asks_for_approval, "approvals", "approvalId", "approval", "/api/approvals"),
    "tool_input": (_asks_for_input, "tool-input", "requestId", "tool_input", "/api/tool-input"),
}


@pytest.mark.parametrize("kind", list(DECISION_KINDS))
def test_a_pending_decision_expires_with_its_turn(
    server: FakeCodexManager, http: httpx.Client, kind: str
) -> None:
    # Contract 6.6-6.7: approvals and tool-input requests expire on turn/completed like tool
    # calls. They stayed listed, and a late decision was accepted where the server says 404.
    script, listing, id_key, row_kind, decide = DECISION_KINDS[kind]
    sid = server.create_session(script=script)
    with open_stream(server, sid) as stream:
        stream.next()
        turn_id = http.post(f"/api/sessions/{sid}/messages", json={"text": "go"}).json()["turnId"]
        server.wait_for(lambda: bool(http.get(f"/api/sessions/{sid}/{listing}").json()["data"]))
        record = http.get(f"/api/sessions/{sid}/{listing}").json()["data"][0]
        key = record[id_key]
        row = _transcript_row(
            http, sid, f"{'approval' if kind == 'approval' else 'tool-input'}-{key}"
        )
        assert (row["type"], row["status"], row["turnId"]) == (
            f"{row_kind}.request",
            "streaming",
            turn_id,
        )
        http.post(f"/api/sessions/{sid}/interrupt", json={"turnId": turn_id})
        resolved = stream.until(
            "approval_resolved" if kind == "approval" else "tool_user_input_resolved"
        )
        assert payload_of(resolved) == {id_key: key, "status": "expired"}
    assert http.get(f"/api/sessions/{sid}/{listing}").json() == {"data": []}
    late = http.post(f"{decide}/{key}/decision", json={"decision": "accept"})
    assert late.status_code == 404
    row = _transcript_row(http, sid, str(row["messageId"]))
    assert (row["type"], row["status"]) == (f"{row_kind}.resolved", "complete")
    assert "expired" in str(row["content"])


def test_a_decided_approval_leaves_a_resolution_row(
    server: FakeCodexManager, http: httpx.Client
) -> None:
    sid = server.create_session(script=_asks_for_approval)
    http.post(f"/api/sessions/{sid}/messages", json={"text": "go"})
    server.wait_for(lambda: bool(http.get(f"/api/sessions/{sid}/approvals").json()["data"]))
    key = http.get(f"/api/sessions/{sid}/approvals").json()["data"][0]["approvalId"]
    http.post(f"/api/approvals/{key}/decision", json={"decision": "decline"})
    server.wait_idle()
    row = _transcript_row(http, sid, f"approval-{key}")
    assert (row["role"], row["type"], row["status"]) == ("system", "approval.resolved", "complete")
    assert row["content"] == "Approval resolved (decline)"


def _transcript_row(http: httpx.Client, session_id: str, message_id: str) -> JSONObject:
    transcript = http.get(f"/api/sessions/{session_id}").json()["transcript"]
    (row,) = [entry for entry in transcript if entry["messageId"] == message_id]
    return as_object(row)


def test_an_ipv6_fake_server_has_usable_urls() -> None:
    # http://::1:PORT: the SDK refused it ("base_url has no host").
    with FakeCodexManager(host="::1") as server, CodexManager(server.base_url) as cm:
        assert server.base_url.startswith("http://[::1]:")
        assert server.ws_url.startswith("ws://[::1]:")
        assert cm.system.health()["status"] == "ok"
