"""Every method of ``SessionSkills`` (sync client) against the fake server."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator

import pytest

from codex_manager import CodexManager
from codex_manager.json_types import JSONObject
from codex_manager.remote_skills import (
    CatalogWarning,
    RemoteSkillDispatch,
    RemoteSkillOptions,
    SessionNotBoundError,
    SessionSkills,
    SkillNotFoundError,
    SkillRegistrationError,
    TextContent,
)
from codex_manager.stream import (
    AppServerSignal,
    Connected,
    HandlerContext,
    PendingToolCall,
    StreamEvent,
)
from codex_manager.stream.dispatch import _mark_handler_worker as mark_handler_worker
from codex_manager.testing import FakeCodexManager

from .helpers import (
    FailingRoutes,
    call_anything,
    last_reply,
    send_calls,
    tool_call_signal,
    wait_pending,
)

TICKET_SCHEMA: JSONObject = {"type": "object", "properties": {"ticket_id": {"type": "string"}}}


def lookup_ticket(ticket_id: str) -> dict[str, str]:
    """Look a ticket up.

    Args:
        ticket_id: The ticket id.

    Returns:
        The ticket's status.
    """
    return {"ticketId": ticket_id, "status": "open"}


def add(a: int, b: int = 1) -> int:
    """Add two numbers."""
    return a + b


@pytest.fixture
def created(cm: CodexManager) -> tuple[str, SessionSkills]:
    """A session created with ``lookup_ticket`` and ``add``."""

    def register(skills: SessionSkills) -> None:
        skills.register("lookup_ticket", lookup_ticket, input_schema=TICKET_SCHEMA)
        skills.skill(add)

    response, skills = cm.remote_skills.create_session(register=register, cwd=".")
    return response["session"]["sessionId"], skills


# Tests below register on a created session on purpose: the warning that says the model may
# never call such a skill is the subject of one test only.
pytestmark = pytest.mark.filterwarnings(
    "ignore:remote skill .* was registered after its session was created"
)


def test_a_skill_registered_after_creation_is_warned_about_at_the_users_line(
    cm: CodexManager, created: tuple[str, SessionSkills]
) -> None:
    _, skills = created
    with pytest.warns(CatalogWarning, match="'late' was registered after") as caught:
        skills.register("late", add)
    assert caught[0].filename == __file__  # the user's line, not the SDK's
    with (
        pytest.warns(CatalogWarning, match="'scoped' was registered after") as caught,
        contextlib.ExitStack() as stack,
    ):
        stack.enter_context(skills.using(add, name="scoped"))  # through contextlib: still here
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        skills.register("add", add, replace=True)  # offered at creation: nothing to say
        skills.unregister("late")
        # A registry of a session created elsewhere: its catalog is unknown, nothing to say.
        cm.remote_skills.session("created-elsewhere").register("other", add)
        cm.remote_skills.create_session(register=lambda fresh: fresh.skill(add))


# -- creation -------------------------------------------------------------------------------


def test_create_session_sends_catalog(
    server: FakeCodexManager, created: tuple[str, SessionSkills]
) -> None:
    session_id, skills = created
    assert skills.session_id == session_id
    assert server.catalog(session_id) == ("lookup_ticket", "add")
    (record,) = [c for c in server.catalogs if c.source == "create"]
    assert record.tools[0] == {
        "name": "lookup_ticket",
        "description": "Look a ticket up.",
        "inputSchema": TICKET_SCHEMA,
    }
    assert skills.catalog_view().model_tools == ("lookup_ticket", "add")


def test_create_session_forwards_kwargs(server: FakeCodexManager, cm: CodexManager) -> None:
    created, skills = cm.remote_skills.create_session(
        cwd="/tmp", model="gpt-test", approval_policy="never", filesystem_sandbox="read-only"
    )
    assert created["session"]["cwd"] == "/tmp"
    assert skills.names() == ()
    assert server.catalog(created["session"]["sessionId"]) == ()


def test_sync_client_refuses_async_callback(server: FakeCodexManager, cm: CodexManager) -> None:
    async def register(skills: SessionSkills) -> None:
        skills.skill(add)

    with pytest.raises(TypeError, match="AsyncCodexManager"):
        cm.remote_skills.create_session(register=register)
    assert server.session_ids == ()


def test_callback_errors_create_nothing(server: FakeCodexManager, cm: CodexManager) -> None:
    def bad_schema(skills: SessionSkills) -> None:
        skills.register("x", add, input_schema={"type": "array"})

    with pytest.raises(SkillRegistrationError, match="object at the top level"):
        cm.remote_skills.create_session(register=bad_schema)

    def too_early(skills: SessionSkills) -> None:
        skills.send("hello")

    with pytest.raises(SessionNotBoundError):
        cm.remote_skills.create_session(register=too_early)
    assert server.session_ids == ()


def test_session_lookup_is_stable(cm: CodexManager, created: tuple[str, SessionSkills]) -> None:
    session_id, skills = created
    assert cm.remote_skills.session(session_id) is skills
    other = cm.remote_skills.session("some-other-session")
    assert other is cm.remote_skills.session("some-other-session")
    assert other.catalog_view().model_tools is None


# -- registry ---------------------------------------------------------------------------------


def test_registry_methods(created: tuple[str, SessionSkills]) -> None:
    _, skills = created

    @skills.skill
    def bare(x: str) -> str:
        return x

    @skills.skill(name="named", description="Named tool", timeout_seconds=5)
    def decorated(y: int) -> int:
        return y

    assert decorated(3) == 3  # the decorator returns the function unchanged
    assert skills.names() == ("lookup_ticket", "add", "bare", "named")
    assert "named" in skills
    assert len(skills) == 4
    named = skills.get("named")
    assert named is not None
    assert named.timeout_seconds == 5
    with pytest.raises(SkillRegistrationError, match="already registered"):
        skills.skill(bare)
    skills.register("bare", lambda x: x.upper(), replace=True, input_schema={"type": "object"})
    tools = skills.dynamic_tools()
    assert [tool["name"] for tool in tools] == ["lookup_ticket", "add", "bare", "named"]
    assert all(tool["inputSchema"]["type"] == "object" for tool in tools)
    assert skills.unregister("named") is True
    assert skills.unregister("named") is False
    with pytest.raises(SkillNotFoundError, match="named"):
        skills.unregister("named", missing_ok=False)
    assert skills.clear() == ("lookup_ticket", "add", "bare")
    assert skills.dynamic_tools() == []
    assert skills.instruction_text() == ""
    assert skills.inject_request("hi") == "hi"


def test_instruction_text_is_deterministic(created: tuple[str, SessionSkills]) -> None:
    _, skills = created
    text = skills.instruction_text()
    assert text == skills.instruction_text()
    assert text.splitlines()[1] == "- add: Add two numbers."
    assert "- lookup_ticket: Look a ticket up." in text
    assert "output: The ticket's status.; schema " in text
    assert skills.inject_request("Do it") == text + "\n\nDo it"


def test_using_scopes(created: tuple[str, SessionSkills]) -> None:
    _, skills = created
    with skills.using(lookup_ticket, name="scoped") as scoped:
        assert scoped is skills
        assert "scoped" in skills
    assert "scoped" not in skills
    with skills.using():
        skills.register("temp1", add)
        skills.skill(name="temp2")(add)
    assert skills.names() == ("lookup_ticket", "add")


# -- sending and catalog --------------------------------------------------------------------


def test_send_includes_catalog_and_instructions(
    server: FakeCodexManager, created: tuple[str, SessionSkills]
) -> None:
    session_id, skills = created
    accepted = skills.send("ping")
    assert accepted["status"] == "accepted"
    message = server.messages[-1]
    assert message.text.endswith("\n\nping")
    assert message.text.startswith("Tools provided by the client application")
    body_tools = message.body["dynamicTools"]
    assert isinstance(body_tools, list)
    assert [tool["name"] for tool in body_tools if isinstance(tool, dict)] == [
        "lookup_ticket",
        "add",
    ]
    skills.send("plain", inject_skills=False, dynamic_tools=[], model="m")
    message = server.messages[-1]
    assert message.text == "plain"
    assert message.body["dynamicTools"] == []
    assert message.body["model"] == "m"
    assert last_reply(server, session_id) == "ECHO: plain"


def test_sync_runtime_is_honest(
    server: FakeCodexManager, created: tuple[str, SessionSkills]
) -> None:
    session_id, skills = created
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = skills.sync_runtime()  # nothing changed: no warning
    assert result.pushed
    assert result.warning is None
    skills.unregister("add")
    skills.register("late", lookup_ticket, input_schema=TICKET_SCHEMA)
    with pytest.warns(CatalogWarning, match="late") as caught:
        result = skills.sync_runtime()
    assert caught[0].filename == __file__  # at the user's line
    assert result.method == "resume"
    assert result.tools_sent == ("lookup_ticket", "late")
    assert result.model_tools == ("lookup_ticket", "add")
    assert result.local_only == ("late",)
    assert result.removed == ("add",)
    assert result.warning is not None
    assert "no longer available" in result.warning
    resumed = [c for c in server.catalogs if c.source == "resume"]
    assert [tool["name"] for tool in resumed[-1].tools] == ["lookup_ticket", "late"]
    assert not resumed[-1].applied
    # The model still has the creation catalog.
    assert server.catalog(session_id) == ("lookup_ticket", "add")


def test_prepare_catalog_and_send_prepared(
    server: FakeCodexManager, created: tuple[str, SessionSkills]
) -> None:
    session_id, skills = created
    prepared = skills.send_prepared('CALL add {"a": 1}', inject_skills=False)
    assert prepared.catalog.method == "resume"
    assert prepared.response["sessionId"] == session_id
    wait_pending(server, session_id)
    (record,) = skills.drain_pending_calls()
    assert record.answer_text == "2"
    assert last_reply(server, session_id) == "TOOL RESULT: 2"


def test_prepare_catalog_falls_back(server: FakeCodexManager) -> None:
    transport = FailingRoutes({("POST", "/resume"): (500, {"status": "error"})})
    with CodexManager(server.base_url, transport=transport) as client:
        created, skills = client.remote_skills.create_session()
        # A fresh session is not materialized: the catalog rides on the next send.
        result = skills.prepare_catalog()
        assert result.method == "deferred_to_send"
        assert not result.pushed
        skills.send("first")
        last_reply(server, created["session"]["sessionId"])
        failed = skills.prepare_catalog()
        assert failed.method == "failed"
        assert failed.error is not None
        assert "resume failed" in failed.error
        transport.rules[("GET", created["session"]["sessionId"])] = (500, {"status": "error"})
        unreadable = skills.prepare_catalog()
        assert unreadable.method == "failed"
        assert unreadable.error is not None
        assert "read failed" in unreadable.error
        with pytest.raises(Exception, match="500"):
            skills.sync_runtime()


# -- dispatch ---------------------------------------------------------------------------------


def test_matches_and_local_dispatch(
    server: FakeCodexManager, created: tuple[str, SessionSkills]
) -> None:
    session_id, skills = created
    signal = tool_call_signal(session_id)
    assert skills.matches_signal(signal)
    assert not skills.matches_signal(tool_call_signal("other-session"))
    notification = AppServerSignal(
        signal_type="notification", method="turn/started", thread_id=session_id
    )
    assert not skills.matches_signal(notification)
    assert not skills.matches_signal(StreamEvent("tool_call_resolved", session_id, {}))
    record = skills.dispatch_app_server_signal(signal)
    assert record is not None
    assert record.handled
    assert record.answer_text == "5"
    assert record.submission_status == "not_submitted"
    assert record.submission_attempts == 0
    assert server.answers == ()
    assert skills.dispatch_app_server_signal(tool_call_signal("other-session")) is None
    assert skills.dispatch_app_server_signal(notification) is None


def test_respond_to_signal_ignores_others(created: tuple[str, SessionSkills]) -> None:
    session_id, skills = created
    assert skills.respond_to_signal(tool_call_signal("other-session")) is None
    notification = AppServerSignal(
        signal_type="notification", method="turn/started", thread_id=session_id
    )
    assert skills.respond_to_signal(notification) is None
    frame: JSONObject = {"type": "app_server.turn.started", "threadId": session_id, "payload": {}}
    assert skills.respond_to_signal(frame) is None


def test_respond_to_signal_over_the_stream(
    server: FakeCodexManager, cm: CodexManager, created: tuple[str, SessionSkills]
) -> None:
    session_id, skills = created
    records = []

    @cm.on_app_server_request("item.tool.call")
    def on_call(signal: AppServerSignal, ctx: object) -> None:
        records.append(skills.respond_to_signal(signal))

    @cm.on_app_server("turn.completed")
    def on_done(signal: AppServerSignal, ctx: object) -> None:
        cm.stream.stop()

    def user() -> None:
        server.wait_for(lambda: server.websocket_count > 0, 10)
        skills.send('CALL lookup_ticket {"ticket_id": "A"}\nCALL add {"a": 5}')

    threading.Thread(target=user, daemon=True).start()
    cm.stream.run_forever(thread_id=session_id)
    assert [r.answer_text if r else None for r in records] == [
        '{"ticketId":"A","status":"open"}',
        "6",
    ]
    assert all(r is not None and r.submission_status == "accepted" for r in records)
    assert last_reply(server, session_id) == (
        'TOOL RESULT: {"ticketId":"A","status":"open"}\nTOOL RESULT: 6'
    )


def test_respond_to_pending_call(
    server: FakeCodexManager, cm: CodexManager, created: tuple[str, SessionSkills]
) -> None:
    session_id, skills = created
    send_calls(server, skills, 'CALL add {"a": 10, "b": 5}')
    (row,) = cm.session(session_id).tool_calls.list()["data"]
    other = cm.remote_skills.session("another-session")
    assert other.respond_to_pending_call(row) is None
    record = skills.respond_to_pending_call(row)
    assert record is not None
    assert (record.tool, record.request_id, record.call_id) == (
        "add",
        row["requestId"],
        row["callId"],
    )
    assert record.thread_id == session_id
    assert record.arguments == {"a": 10, "b": 5}
    assert record.answer_text == "15"
    assert record.success
    assert record.submission_status == "accepted"
    assert (record.submission_idempotent, record.submission_attempts) == (False, 1)
    assert record.duration_seconds >= 0
    # Answering the same row again runs nothing and posts nothing.
    again = skills.respond_to_pending_call(row)
    assert again is not None
    assert again.duplicate
    assert again.answer is None
    assert len(server.answers) == 1
    assert last_reply(server, session_id) == "TOOL RESULT: 15"


def test_drain_empty_for_deleted_and_system_sessions(
    server: FakeCodexManager, cm: CodexManager, created: tuple[str, SessionSkills]
) -> None:
    session_id, skills = created
    assert skills.drain_pending_calls() == []
    system_id = server.create_session()
    server.mark_system_owned(system_id)
    assert cm.remote_skills.session(system_id).drain_pending_calls() == []
    cm.sessions.delete(session_id)
    assert skills.drain_pending_calls() == []


def test_drain_rejects_malformed_payload(server: FakeCodexManager) -> None:
    transport = FailingRoutes({("GET", "/tool-calls"): (200, {"items": []})})
    with CodexManager(server.base_url, transport=transport) as client:
        _, skills = client.remote_skills.create_session()
        with pytest.raises(ValueError, match="'data'"):
            skills.drain_pending_calls()


# -- failure records --------------------------------------------------------------------------


@pytest.fixture
def anything_goes(server: FakeCodexManager) -> Iterator[None]:
    server.set_default_script(call_anything)
    yield
    server.set_default_script(None)


def boom(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"cannot do it: {reason}")


def test_failure_records(server: FakeCodexManager, cm: CodexManager, anything_goes: None) -> None:
    def register(skills: SessionSkills) -> None:
        skills.skill(add)
        skills.skill(boom)
        skills.skill(lookup_ticket)

    created, skills = cm.remote_skills.create_session(register=register)
    session_id = created["session"]["sessionId"]
    skills.unregister("lookup_ticket")
    skills.send(
        'CALL boom {"reason": "disk"}\nCALL add {"a": "x"}\nCALL nope {}\n'
        'CALL lookup_ticket {"ticket_id": "1"}',
        inject_skills=False,
    )
    records = []
    for _ in range(4):
        wait_pending(server, session_id)
        records.extend(skills.drain_pending_calls())
    by_tool = {record.tool: record for record in records}
    raised = by_tool["boom"]
    assert (raised.handled, raised.success, raised.error_kind) == (False, False, "handler_error")
    assert raised.error == "RuntimeError: cannot do it: disk"
    assert raised.answer_text == "Tool 'boom' failed: RuntimeError: cannot do it: disk"
    invalid = by_tool["add"]
    assert invalid.error_kind == "invalid_arguments"
    assert "a: Input should be a valid integer" in invalid.answer_text
    unknown = by_tool["nope"]
    assert unknown.error_kind == "unknown_tool"
    assert unknown.answer_text.startswith("Unknown tool 'nope'")
    gone = by_tool["lookup_ticket"]
    assert gone.error_kind == "unavailable"
    assert "no longer available" in gone.answer_text
    assert all(r.submission_status == "accepted" for r in records)
    reply = last_reply(server, session_id)
    assert "TOOL RESULT: Tool 'boom' failed" in reply
    assert server.answers[0].forwarded == {
        "success": False,
        "contentItems": [
            {"type": "inputText", "text": "Tool 'boom' failed: RuntimeError: cannot do it: disk"}
        ],
    }


def test_masked_errors(server: FakeCodexManager, cm: CodexManager) -> None:
    options = RemoteSkillOptions(mask_errors=True)
    _, skills = cm.remote_skills.create_session(
        register=lambda s: s.skill(boom), skill_options=options
    )
    send_calls(server, skills, 'CALL boom {"reason": "secret"}')
    (record,) = skills.drain_pending_calls()
    assert "secret" not in record.answer_text
    assert record.error == "RuntimeError: cannot do it: secret"


def list_names() -> str:
    """Names as os.listdir gives them: a non-UTF-8 one holds a lone surrogate."""
    return os.fsdecode(b"report-\xff.txt")


def count_letters(word: str) -> TextContent:
    """Count letters (wrongly: a number where the text belongs)."""
    return TextContent(len(word))  # type: ignore[arg-type]  # the mistake under test


@pytest.mark.parametrize(
    ("handler", "call", "explained"),
    [
        (list_names, "CALL list_names {}", "not valid Unicode"),
        (count_letters, 'CALL count_letters {"word": "abc"}', "where text or a URL"),
    ],
    ids=["lone surrogate", "content object without text"],
)
def test_a_result_that_cannot_be_sent_is_answered_as_a_failure(
    server: FakeCodexManager,
    cm: CodexManager,
    handler: Callable[..., object],
    call: str,
    explained: str,
) -> None:
    _, skills = cm.remote_skills.create_session(register=lambda s: s.skill(handler))
    send_calls(server, skills, call)
    (record,) = skills.drain_pending_calls()
    assert record.error_kind == "result_conversion"
    assert record.submission_status == "accepted"
    assert explained in record.answer_text
    assert server.pending_tool_calls(skills.session_id) == []


def test_a_lone_surrogate_in_the_arguments_reads_alike_on_a_drain_and_on_the_stream(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    # Node writes "\ud83d" for a string cut inside an emoji. The stream made it U+FFFD; a
    # drain handed the handler a str that no answer could hold (and the fake answered the
    # list with a 500).
    seen: list[str] = []

    def echo(text: str) -> str:
        seen.append(text)
        return text

    _, skills = cm.remote_skills.create_session(register=lambda s: s.skill(echo))
    send_calls(server, skills, 'CALL echo {"text": "cut \\ud83d"}')
    (drained,) = skills.drain_pending_calls()
    assert (drained.error_kind, drained.answer_text) == (None, "cut \ufffd")
    assert drained.arguments == {"text": "cut \ufffd"}

    def answer(signal: AppServerSignal, _ctx: HandlerContext[CodexManager]) -> None:
        skills.respond_to_signal(signal)
        cm.stream.stop()

    cm.on_app_server_request("item.tool.call")(answer)
    listener = threading.Thread(target=cm.stream.run_forever, args=(skills.session_id,))
    listener.start()
    server.wait_for(lambda: server.websocket_count > 0)
    skills.send('CALL echo {"text": "cut \\ud83d"}', inject_skills=False)
    listener.join(10)
    assert seen == ["cut \ufffd", "cut \ufffd"]


def test_a_result_too_large_for_the_server_is_answered_with_a_short_failure() -> None:
    # The server's body limit (Fastify's 1 MiB) refused the answer with 413: kept, it was
    # sent again by every drain and refused again, and the model waited until the call
    # expired, never told why.
    def read_log() -> str:
        return "x" * 2_000_000

    with FakeCodexManager(noise=False, body_limit=1_048_576) as server:
        client = CodexManager(server.base_url)
        _, skills = client.remote_skills.create_session(register=lambda s: s.skill(read_log))
        send_calls(server, skills, "CALL read_log {}")
        (record,) = skills.drain_pending_calls()
        assert record.submission_status == "accepted"
        assert (record.handled, record.success, record.error_kind) == (
            True,
            False,
            "result_conversion",
        )
        assert record.answer_text == (
            "Tool 'read_log' returned a result too large for the server to take (about "
            "2,000,000 characters); nothing of it was delivered."
        )
        assert record.submission_attempts == 2  # the refused answer, then the failure
        [delivered] = server.answers  # the fake records the answers its route took
        assert delivered.body == {
            "success": False,
            "contentItems": [{"type": "inputText", "text": record.answer_text}],
        }
        assert skills.drain_pending_calls() == []
        client.close()


def test_an_answer_whose_delivery_failed_after_the_client_gave_up_is_sent_again(
    server: FakeCodexManager,
) -> None:
    # The answer's POST times out while the server holds it in flight; the retry finds the
    # call not pending (a call being delivered is not listed). Then the server's delivery
    # fails and puts the call back to pending: a later drain must answer it, unrun again.
    runs: list[int] = []

    def add(a: int, b: int = 1) -> int:
        runs.append(a)
        return a + b

    with CodexManager(server.base_url, timeout=0.3) as client:
        created, skills = client.remote_skills.create_session(register=lambda s: s.skill(add))
        session_id = created["session"]["sessionId"]
        send_calls(server, skills, 'CALL add {"a": 1}')
        server.hold_in_flight(0.8)
        server.fail_next_answers(1)
        (first,) = skills.drain_pending_calls()
        assert first.submission_status in ("not_found", "in_flight")
        wait_pending(server, session_id)  # back to pending once the delivery failed
        (again,) = skills.drain_pending_calls()
        assert (again.resubmitted, again.submission_status) == (True, "accepted")
        assert server.pending_tool_calls(session_id) == []
        assert runs == [1]


def test_500s_then_success(server: FakeCodexManager, created: tuple[str, SessionSkills]) -> None:
    session_id, skills = created
    send_calls(server, skills, 'CALL add {"a": 1}')
    server.fail_next_answers(2)
    (record,) = skills.drain_pending_calls(retry_delay_seconds=0)
    assert (record.submission_status, record.submission_attempts) == ("accepted", 3)
    assert [a.status for a in server.answers] == [500, 500, 200]
    assert last_reply(server, session_id) == "TOOL RESULT: 2"


def test_exhausted_500s_resubmit_without_rerunning(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    runs: list[int] = []

    def counted(a: int) -> int:
        runs.append(a)
        return a

    created, skills = cm.remote_skills.create_session(register=lambda s: s.skill(counted))
    session_id = created["session"]["sessionId"]
    send_calls(server, skills, 'CALL counted {"a": 7}')
    server.fail_next_answers(2)
    (first,) = skills.drain_pending_calls(max_submit_attempts=2, retry_delay_seconds=0)
    assert (first.submission_status, first.submission_attempts) == ("failed", 2)
    assert first.submission_error is not None
    assert "gave up after 2 attempts" in first.submission_error
    assert not first.submitted
    (second,) = skills.drain_pending_calls()
    assert second.resubmitted
    assert second.submission_status == "accepted"
    assert second.answer_text == "7"
    assert runs == [7]
    assert last_reply(server, session_id) == "TOOL RESULT: 7"


def test_404_is_an_idempotent_completion(
    server: FakeCodexManager, cm: CodexManager, created: tuple[str, SessionSkills]
) -> None:
    session_id, skills = created
    send_calls(server, skills, 'CALL add {"a": 1}')
    (row,) = cm.session(session_id).tool_calls.list()["data"]
    cm.tool_calls.respond(row["requestId"], text="answered elsewhere")
    record = skills.respond_to_pending_call(row)
    assert record is not None
    assert (record.submission_status, record.submission_idempotent) == ("not_found", True)
    assert record.submitted
    assert last_reply(server, session_id) == "TOOL RESULT: answered elsewhere"


def test_409_is_an_idempotent_completion(
    server: FakeCodexManager, cm: CodexManager, created: tuple[str, SessionSkills]
) -> None:
    session_id, skills = created
    send_calls(server, skills, 'CALL add {"a": 1}')
    (row,) = cm.session(session_id).tool_calls.list()["data"]
    server.hold_in_flight(0.5, request_id=row["requestId"])
    holder = threading.Thread(
        target=lambda: cm.tool_calls.respond(row["requestId"], text="first answer")
    )
    holder.start()
    server.wait_for(lambda: any(c.outcome == "in_flight" for c in server.tool_calls), 5)
    record = skills.respond_to_pending_call(row)
    holder.join(5)
    assert record is not None
    assert (record.submission_status, record.submission_idempotent) == ("in_flight", True)
    assert last_reply(server, session_id) == "TOOL RESULT: first answer"


def test_terminal_4xx_is_failed(server: FakeCodexManager) -> None:
    transport = FailingRoutes({("POST", "/response"): (400, {"status": "error"})})
    with CodexManager(server.base_url, transport=transport) as client:
        _, skills = client.remote_skills.create_session(register=lambda s: s.skill(add))
        send_calls(server, skills, 'CALL add {"a": 1}')
        (record,) = skills.drain_pending_calls()
        assert (record.submission_status, record.submission_attempts) == ("failed", 1)
        assert record.submission_error is not None
        assert "400" in record.submission_error


def test_answer_without_status_is_never_success(server: FakeCodexManager) -> None:
    transport = FailingRoutes({("POST", "/response"): (200, {"requestId": "0"})})
    with CodexManager(server.base_url, transport=transport) as client:
        _, skills = client.remote_skills.create_session(register=lambda s: s.skill(add))
        send_calls(server, skills, 'CALL add {"a": 1}')
        (record,) = skills.drain_pending_calls()
        assert record.submission_status == "failed"
        assert not record.submitted


def test_using_cleans_up_after_errors(created: tuple[str, SessionSkills]) -> None:
    _, skills = created

    def block() -> None:
        with skills.using(lookup_ticket, name="tmp"):
            skills.register("tmp2", add)
            raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        block()
    assert skills.names() == ("lookup_ticket", "add")


def test_a_using_block_whose_registration_fails_leaves_nothing_open(
    created: tuple[str, SessionSkills],
) -> None:
    # Its __exit__ never ran, so the scope stayed open in the thread's context for good and
    # collected every later registration of the thread.
    _, skills = created
    scope = skills.using(lookup_ticket, name="add")  # a name taken already
    with pytest.raises(SkillRegistrationError), scope:
        pass
    left = weakref.ref(scope)
    del scope
    skills.register("later", lookup_ticket)
    gc.collect()
    assert left() is None
    assert skills.names() == ("lookup_ticket", "add", "later")


def test_stream_events_and_raw_frames_are_accepted(
    server: FakeCodexManager, cm: CodexManager, created: tuple[str, SessionSkills]
) -> None:
    session_id, skills = created
    send_calls(server, skills, 'CALL add {"a": 1}\nCALL add {"a": 2}')
    (row,) = cm.session(session_id).tool_calls.list()["data"]
    requested = StreamEvent("tool_call_requested", session_id, json.loads(json.dumps(row)))
    assert skills.matches_signal(requested)
    foreign = StreamEvent("tool_call_requested", "other", json.loads(json.dumps(row)))
    assert skills.matches_signal(foreign) is False
    record = skills.respond_to_signal(requested)
    assert record is not None
    assert record.answer_text == "2"
    wait_pending(server, session_id)
    (row,) = cm.session(session_id).tool_calls.list()["data"]
    envelope: JSONObject = {
        "method": "item/tool/call",
        "requestId": int(row["requestId"]),
        "context": {"threadId": session_id, "turnId": row["turnId"]},
        "params": {
            "threadId": session_id,
            "turnId": row["turnId"],
            "callId": row["callId"],
            "tool": "add",
            "arguments": {"a": 2},
        },
        "session": {"id": session_id, "title": None, "projectId": None},
    }
    foreign_session: JSONObject = {**envelope, "session": {"id": "x", "title": None}}
    assert (
        skills.respond_to_signal(
            {
                "type": "app_server.request.item.tool.call",
                "threadId": session_id,
                "payload": foreign_session,
            }
        )
        is None
    )
    event = StreamEvent("app_server.request.item.tool.call", session_id, envelope)
    record = skills.respond_to_signal(event)
    assert record is not None
    assert record.answer_text == "3"
    assert last_reply(server, session_id) == "TOOL RESULT: 2\nTOOL RESULT: 3"


def test_sync_drain_runs_calls_side_by_side(server: FakeCodexManager, cm: CodexManager) -> None:
    fast_done = threading.Event()

    def slow() -> str:
        assert fast_done.wait(5), "the fast handler never ran alongside"
        return "slow"

    def fast() -> str:
        fast_done.set()
        return "fast"

    def register(skills: SessionSkills) -> None:
        skills.register(None, slow, timeout_seconds=5)
        skills.register(None, fast, timeout_seconds=5)

    created, skills = cm.remote_skills.create_session(register=register)
    session_id = created["session"]["sessionId"]
    send_calls(server, skills, "PARALLEL\nCALL slow\nCALL fast", 2)
    records = skills.drain_pending_calls()
    assert [record.answer_text for record in records] == ["slow", "fast"]
    assert last_reply(server, session_id) == "TOOL RESULT: slow\nTOOL RESULT: fast"


def test_catalog_of_a_session_created_elsewhere_is_unknown(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    session_id = server.create_session()
    skills = cm.remote_skills.session(session_id)
    skills.skill(add)
    with pytest.warns(CatalogWarning, match="unknown"):
        result = skills.sync_runtime()
    assert result.pushed
    assert result.model_tools is None
    assert result.tools_sent == ("add",)


def test_stream_handler_timeout_is_answered_while_the_handler_still_runs(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    # In a stream worker the handler runs in place; its deadline is kept by the watchdog,
    # which answers on time while the handler (blocked here until the turn ends) still runs.
    turn_done = threading.Event()
    handler_returned = threading.Event()

    def stuck() -> str:
        turn_done.wait(10)
        handler_returned.set()
        return "late"

    def register(skills: SessionSkills) -> None:
        skills.register(None, stuck, timeout_seconds=0.05)

    response, skills = cm.remote_skills.create_session(register=register)
    session_id = response["session"]["sessionId"]
    records = []

    @cm.on_app_server_request("item.tool.call")
    def on_call(signal: AppServerSignal, ctx: object) -> None:
        records.append(skills.respond_to_signal(signal))

    @cm.on_app_server("turn.completed")
    def on_done(signal: AppServerSignal, ctx: object) -> None:
        turn_done.set()
        cm.stream.stop()

    def user() -> None:
        server.wait_for(lambda: server.websocket_count > 0, 10)
        skills.send("CALL stuck", inject_skills=False)

    threading.Thread(target=user, daemon=True).start()
    cm.stream.run_forever(thread_id=session_id)
    assert turn_done.is_set(), "the turn ended only after the handler returned"
    assert handler_returned.is_set()
    [record] = records
    assert record is not None
    assert record.error_kind == "timeout"
    assert record.submission_status == "accepted"
    reply = last_reply(server, session_id)
    assert "did not finish within 0.05 seconds" in reply
    assert "late" not in reply  # the handler's late result is never sent


def test_a_handler_in_place_gets_its_timeout_answer_after_the_skills_closed(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    # The registry's pool is shut when the deadline passes: the timeout answer does not need
    # it, and the handler's thread (a stream worker) returns with it instead of waiting.
    release = threading.Event()

    def stuck() -> str:
        release.wait(10)
        return "late"

    def register(skills: SessionSkills) -> None:
        skills.register(None, stuck, timeout_seconds=0.05)

    response, skills = cm.remote_skills.create_session(register=register)
    session_id = response["session"]["sessionId"]
    signal = AppServerSignal(
        signal_type="request",
        method="item/tool/call",
        thread_id=session_id,
        turn_id="t",
        request_id=7,
        params={
            "threadId": session_id,
            "turnId": "t",
            "callId": "c7",
            "tool": "stuck",
            "arguments": {},
        },
    )
    outcome: list[object] = []

    def stream_worker() -> None:
        mark_handler_worker()
        try:
            outcome.append(skills.respond_to_signal(signal))
        except RuntimeError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=stream_worker, daemon=True)
    worker.start()
    cm.remote_skills.close()
    time.sleep(0.3)  # the deadline passes while the handler still runs
    release.set()
    worker.join(10)
    assert not worker.is_alive(), "respond_to_signal never returned"
    [record] = outcome
    assert isinstance(record, RemoteSkillDispatch)
    assert record.error_kind == "timeout"
    assert record.submission_attempts == 1  # sent (the made-up request id is unknown: 404)


def _in_a_stream_worker(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run ``work`` in a thread marked as a stream handler worker (handlers run in place)."""
    outcome: list[object] = []

    def worker() -> None:
        mark_handler_worker()
        try:
            outcome.append(work())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    return thread, outcome


def test_a_handler_raising_after_its_deadline_keeps_the_call_until_the_timeout_answer_lands(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    runs: list[int] = []

    def slow() -> str:
        runs.append(1)
        if len(runs) == 1:
            time.sleep(0.3)  # past its 0.1 s deadline
            raise SystemExit(3)  # a library calling sys.exit(), say
        return "second run"

    options = RemoteSkillOptions(retry_delay_seconds=0.5)
    response, skills = cm.remote_skills.create_session(
        register=lambda s: s.register(None, slow, timeout_seconds=0.1), skill_options=options
    )
    session_id = response["session"]["sessionId"]
    send_calls(server, skills, "CALL slow {}")
    (row,) = server.pending_tool_calls(session_id)
    server.fail_next_answers(1)  # the timeout answer's first POST fails: it retries later
    worker, outcome = _in_a_stream_worker(lambda: skills.respond_to_pending_call(row))
    time.sleep(0.35)  # the handler has raised; the timeout answer waits for its retry
    drained = skills.drain_pending_calls()
    assert all(record.duplicate for record in drained)  # busy: the drain runs nothing
    worker.join(10)
    [record] = outcome
    assert isinstance(record, RemoteSkillDispatch)
    assert (record.error_kind, record.submission_status) == ("timeout", "accepted")
    assert runs == [1]


def test_a_timeout_answer_goes_out_even_when_timed_out_handlers_hold_every_pool_thread(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    hang = threading.Event()

    def stuck(tag: str) -> str:
        hang.wait(10)
        return "late " + tag

    options = RemoteSkillOptions(max_concurrent_calls=1, default_timeout_seconds=0.2)
    response, skills = cm.remote_skills.create_session(
        register=lambda s: s.skill(stuck), skill_options=options
    )
    session_id = response["session"]["sessionId"]
    try:
        send_calls(server, skills, 'CALL stuck {"tag": "A"}\nCALL stuck {"tag": "B"}')
        # A, drained: answered at its deadline, its handler keeps the pool's only thread.
        (first,) = skills.drain_pending_calls()
        assert first.error_kind == "timeout"
        wait_pending(server, session_id)
        (row,) = server.pending_tool_calls(session_id)
        worker, outcome = _in_a_stream_worker(lambda: skills.respond_to_pending_call(row))
        server.wait_for(
            lambda: any(answer.request_id == row["requestId"] for answer in server.answers), 5
        )
    finally:
        hang.set()
    worker.join(10)
    [record] = outcome
    assert isinstance(record, RemoteSkillDispatch)
    assert record.error_kind == "timeout"


def test_a_tool_call_requested_payload_decoded_by_the_stream_is_answered(
    server: FakeCodexManager, cm: CodexManager
) -> None:
    # The stream's own PendingToolCall model (what the docs decode tool_call_requested into)
    # is a pending call as much as a REST row: typed so, and answered.
    def register(skills: SessionSkills) -> None:
        @skills.skill
        def lookup_ticket(ticket_id: str) -> str:
            """Look a ticket up."""
            return f"{ticket_id} is open"

    _created, skills = cm.remote_skills.create_session(register=register)
    results: list[RemoteSkillDispatch | None] = []

    @cm.on_event("tool_call_requested")
    def on_requested(event: StreamEvent, context: HandlerContext[CodexManager]) -> None:
        results.append(skills.respond_to_pending_call(event.decode_payload(PendingToolCall)))
        context.stop()

    @cm.on_connect
    def first(notice: Connected, context: HandlerContext[CodexManager]) -> None:
        skills.send('CALL lookup_ticket {"ticket_id": "A-1"}', inject_skills=False)

    cm.stream.run_forever(thread_id=skills.session_id)
    [dispatch] = results
    assert dispatch is not None
    assert dispatch.submission_status == "accepted"
    assert dispatch.answer_text == "A-1 is open"
