"""A strictly typed user program over the sync client (checked by ``mypy --strict``).

``assert_type`` pins the exact static types users see; ``run`` also executes it against a
server (the tests point it at ``FakeCodexManager``).
"""

from __future__ import annotations

from typing import assert_type

from codex_manager import CodexManager, RetryPolicy, ToolCallResponseOutcome
from codex_manager.errors import GoneError
from codex_manager.hooks import RequestInfo
from codex_manager.outcomes import ToolCallAccepted, ToolCallNotFound
from codex_manager.types import (
    CreateSessionResponse,
    HealthResponse,
    ListProjectsResponse,
    ListSessionApprovalsResponse,
    ListSessionToolCallsResponse,
    ListSessionToolInputResponse,
    PendingToolCall,
    SendSessionMessageAcceptedResponse,
    SessionControlsResponse,
    SessionSettingsResponse,
    SessionSettingValueResponse,
    SetSessionSettingsResponse,
    TurnResult,
)


def run(base_url: str) -> list[str]:
    """Touch ten domains of the API; returns a log of what happened."""
    log: list[str] = []
    with CodexManager(base_url, retry=RetryPolicy(max_attempts=2)) as cm:

        @cm.hooks.before("*")
        def trace(request: RequestInfo) -> None:
            request.headers["x-trace"] = request.operation_id

        health = cm.system.health()  # 1 system
        assert_type(health, HealthResponse)
        log.append(health["status"])

        created = cm.sessions.create(cwd=".", approval_policy="never")  # 2 sessions
        assert_type(created, CreateSessionResponse)
        session_id: str = created["session"]["sessionId"]
        handle = cm.session(session_id)

        accepted = handle.messages.send("hello")  # 3 messages
        assert_type(accepted, SendSessionMessageAcceptedResponse)
        turn_id: str = accepted["turnId"]

        result = cm.wait.turn(session_id, turn_id, timeout=10)  # 4 wait
        assert_type(result, TurnResult)
        log.append(result.reply or "")

        calls = handle.tool_calls.list()  # 5 tool calls
        assert_type(calls, ListSessionToolCallsResponse)
        first: list[PendingToolCall] = calls["data"]
        log.append(f"pending={len(first)}")

        outcome = cm.tool_calls.respond("999999", text="late")
        assert_type(outcome, ToolCallResponseOutcome)
        match outcome:
            case ToolCallAccepted(thread_id=thread):
                log.append(f"accepted by {thread}")
            case ToolCallNotFound(request_id=rid):
                log.append(f"not found {rid}")
            case _:
                log.append(outcome.status)

        approvals = handle.approvals.list()  # 6 approvals
        assert_type(approvals, ListSessionApprovalsResponse)
        tool_input = handle.tool_input.list()  # 7 tool input
        assert_type(tool_input, ListSessionToolInputResponse)

        settings = handle.settings.set(scope="session", settings={"k": 1})  # 8 settings
        assert_type(settings, SetSessionSettingsResponse)
        one = handle.settings.get(key="k")  # with a key: one value, not a union to narrow
        assert_type(one, SessionSettingValueResponse)
        log.append(f"k={one['value']}")
        every = cm.sessions.get_settings(session_id)
        assert_type(every, SessionSettingsResponse)
        log.append(f"keys={sorted(every['settings'])}")
        controls = handle.controls.get()  # 9 controls
        assert_type(controls, SessionControlsResponse)
        log.append(controls["controls"]["approvalPolicy"])

        cm.projects.create("typed usage")  # 10 projects
        projects = cm.projects.list()
        assert_type(projects, ListProjectsResponse)
        log.append(projects["data"][0]["name"])

        handle.delete()
        try:
            handle.read()
        except GoneError as gone:
            log.append(f"gone {gone.status_code}")
    return log
