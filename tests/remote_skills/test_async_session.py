"""Every method of ``AsyncSessionSkills`` (async client) against the fake server."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from codex_manager import AsyncCodexManager
from codex_manager.json_types import JSONObject
from codex_manager.remote_skills import (
    AsyncSessionSkills,
    CatalogWarning,
    RemoteSkillDispatch,
    RemoteSkillOptions,
    SessionNotBoundError,
)
from codex_manager.stream import AppServerSignal
from codex_manager.testing import FakeCodexManager

from .helpers import AsyncFailingRoutes, call_anything, last_reply, wait_pending

TICKET_SCHEMA: JSONObject = {"type": "object", "properties": {"ticket_id": {"type": "string"}}}


async def lookup_ticket(ticket_id: str) -> dict[str, str]:
    """Look a ticket up."""
    await asyncio.sleep(0)
    return {"ticketId": ticket_id, "status": "open"}


def add(a: int, b: int = 1) -> int:
    """Add two numbers (sync: runs in a worker thread)."""
    return a + b


async def _create(acm: AsyncCodexManager) -> tuple[str, AsyncSessionSkills]:
    async def register(skills: AsyncSessionSkills) -> None:
        skills.register("lookup_ticket", lookup_ticket, input_schema=TICKET_SCHEMA)
        skills.skill(add)

    created, skills = await acm.remote_skills.create_session(register=register, cwd=".")
    return created["session"]["sessionId"], skills


# Tests below register on a created session on purpose (see the test of that warning).
pytestmark = pytest.mark.filterwarnings(
    "ignore:remote skill .* was registered after its session was created"
)


async def test_a_skill_registered_after_creation_is_warned_about_at_the_users_line(
    acm: AsyncCodexManager,
) -> None:
    _, skills = await _create(acm)
    with pytest.warns(CatalogWarning, match="'late' was registered after") as caught:
        skills.register("late", add)
    assert caught[0].filename == __file__


async def _wait_pending(server: FakeCodexManager, session_id: str, count: int = 1) -> None:
    await asyncio.to_thread(wait_pending, server, session_id, count)


async def _last_reply(server: FakeCodexManager, session_id: str) -> str:
    return await asyncio.to_thread(last_reply, server, session_id)


async def test_create_session_accepts_sync_and_async_callbacks(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    session_id, skills = await _create(acm)
    assert server.catalog(session_id) == ("lookup_ticket", "add")
    assert acm.remote_skills.session(session_id) is skills

    def sync_register(skills: AsyncSessionSkills) -> None:
        skills.skill(add)

    created, other = await acm.remote_skills.create_session(register=sync_register)
    assert server.catalog(created["session"]["sessionId"]) == ("add",)
    assert other.names() == ("add",)

    async def too_early(skills: AsyncSessionSkills) -> None:
        await skills.send("hi")

    with pytest.raises(SessionNotBoundError):
        await acm.remote_skills.create_session(register=too_early)


async def test_registry_and_using(acm: AsyncCodexManager) -> None:
    _, skills = await _create(acm)
    async with skills.using(add, name="scoped") as scoped:
        assert scoped is skills
        assert "scoped" in skills
    assert "scoped" not in skills
    with skills.using():
        skills.register("temp", add)
    assert skills.names() == ("lookup_ticket", "add")
    assert [tool["name"] for tool in skills.dynamic_tools()] == ["lookup_ticket", "add"]
    assert skills.instruction_text().startswith("Tools provided by the client application")
    assert skills.unregister("add")
    assert skills.clear() == ("lookup_ticket",)


async def test_send_sync_runtime_prepare(server: FakeCodexManager, acm: AsyncCodexManager) -> None:
    session_id, skills = await _create(acm)
    await skills.send("hello")
    assert server.messages[-1].text.endswith("\n\nhello")
    assert await _last_reply(server, session_id) == f"ECHO: {server.messages[-1].text}"
    result = await skills.sync_runtime()
    assert result.pushed
    assert result.model_tools == ("lookup_ticket", "add")
    skills.register("late", add)
    with pytest.warns(CatalogWarning, match="late") as caught:
        result = await skills.prepare_catalog()
    assert caught[0].filename == __file__  # at the user's line
    assert result.local_only == ("late",)
    with pytest.warns(CatalogWarning):
        prepared = await skills.send_prepared('CALL add {"a": 4}', inject_skills=False)
    assert prepared.catalog.method == "resume"
    assert prepared.response["status"] == "accepted"
    await _wait_pending(server, session_id)
    (record,) = await skills.drain_pending_calls()
    assert record.answer_text == "5"
    assert await _last_reply(server, session_id) == "TOOL RESULT: 5"


async def test_prepare_catalog_fallbacks(server: FakeCodexManager) -> None:
    transport = AsyncFailingRoutes({("POST", "/resume"): (500, {"status": "error"})})
    async with AsyncCodexManager(server.base_url, transport=transport) as client:
        created, skills = await client.remote_skills.create_session()
        assert (await skills.prepare_catalog()).method == "deferred_to_send"
        await skills.send("first")
        await _last_reply(server, created["session"]["sessionId"])
        failed = await skills.prepare_catalog()
        assert failed.method == "failed"
        transport.rules[("GET", created["session"]["sessionId"])] = (500, {})
        assert (await skills.prepare_catalog()).method == "failed"


async def test_signals_local_dispatch_and_matching(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    session_id, skills = await _create(acm)
    signal = AppServerSignal(
        signal_type="request",
        method="item/tool/call",
        thread_id=session_id,
        request_id=5,
        params={"threadId": session_id, "callId": "c", "tool": "add", "arguments": {"a": 1}},
    )
    assert skills.matches_signal(signal)
    record = await skills.dispatch_app_server_signal(signal)
    assert record is not None
    assert (record.answer_text, record.submission_status) == ("2", "not_submitted")
    assert not server.answers
    foreign = AppServerSignal(
        signal_type="request",
        method="item/tool/call",
        thread_id="other",
        request_id=5,
        params={"threadId": "other", "callId": "c", "tool": "add", "arguments": {"a": 1}},
    )
    assert await skills.dispatch_app_server_signal(foreign) is None
    assert await skills.respond_to_signal(foreign) is None
    notification = AppServerSignal(
        signal_type="notification", method="turn/started", thread_id=session_id
    )
    assert await skills.respond_to_signal(notification) is None


async def test_respond_over_the_stream(server: FakeCodexManager, acm: AsyncCodexManager) -> None:
    session_id, skills = await _create(acm)
    records: list[RemoteSkillDispatch | None] = []

    @acm.on_app_server_request("item.tool.call")
    async def on_call(signal: AppServerSignal, ctx: object) -> None:
        records.append(await skills.respond_to_signal(signal))

    @acm.on_app_server("turn.completed")
    async def on_done(signal: AppServerSignal, ctx: object) -> None:
        acm.stream.stop()

    async def user() -> None:
        await asyncio.to_thread(server.wait_for, lambda: server.websocket_count > 0, 10)
        await skills.send('CALL lookup_ticket {"ticket_id": "Z"}\nCALL add {"a": 1, "b": 2}')

    sender = asyncio.create_task(user())
    await acm.stream.run_forever(thread_id=session_id)
    await sender
    assert [r.answer_text if r else None for r in records] == [
        '{"ticketId":"Z","status":"open"}',
        "3",
    ]
    assert await _last_reply(server, session_id) == (
        'TOOL RESULT: {"ticketId":"Z","status":"open"}\nTOOL RESULT: 3'
    )


async def test_pending_calls_and_drain_edge_cases(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    session_id, skills = await _create(acm)
    await skills.send('CALL add {"a": 2}', inject_skills=False)
    await _wait_pending(server, session_id)
    (row,) = (await acm.session(session_id).tool_calls.list())["data"]
    assert await acm.remote_skills.session("other").respond_to_pending_call(row) is None
    record = await skills.respond_to_pending_call(row)
    assert record is not None
    assert (record.answer_text, record.submission_status) == ("3", "accepted")
    duplicate = await skills.respond_to_pending_call(row)
    assert duplicate is not None
    assert duplicate.duplicate
    await _last_reply(server, session_id)
    system_id = server.create_session()
    server.mark_system_owned(system_id)
    assert await acm.remote_skills.session(system_id).drain_pending_calls() == []
    await acm.sessions.delete(session_id)
    assert await skills.drain_pending_calls() == []
    transport = AsyncFailingRoutes({("GET", "/tool-calls"): (200, {"rows": []})})
    async with AsyncCodexManager(server.base_url, transport=transport) as client:
        _, broken = await client.remote_skills.create_session()
        with pytest.raises(ValueError, match="'data'"):
            await broken.drain_pending_calls()


def boom(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(f"no: {reason}")


async def test_failure_records_and_submission_outcomes(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    server.set_default_script(call_anything)

    def register(skills: AsyncSessionSkills) -> None:
        skills.skill(add)
        skills.skill(boom)

    created, skills = await acm.remote_skills.create_session(register=register)
    session_id = created["session"]["sessionId"]
    await skills.send(
        'CALL boom {"reason": "r"}\nCALL add {"b": 1}\nCALL nope {}', inject_skills=False
    )
    records: list[RemoteSkillDispatch] = []
    for _ in range(3):
        await _wait_pending(server, session_id)
        records.extend(await skills.drain_pending_calls())
    kinds = {record.tool: record.error_kind for record in records}
    assert kinds == {"boom": "handler_error", "add": "invalid_arguments", "nope": "unknown_tool"}
    assert "a: required argument is missing" in records[1].answer_text
    await _last_reply(server, session_id)

    # 500 twice, then accepted.
    await skills.send('CALL add {"a": 1}', inject_skills=False)
    await _wait_pending(server, session_id)
    server.fail_next_answers(2)
    (retried,) = await skills.drain_pending_calls(retry_delay_seconds=0)
    assert (retried.submission_status, retried.submission_attempts) == ("accepted", 3)
    await _last_reply(server, session_id)

    # 404: answered elsewhere first.
    await skills.send('CALL add {"a": 1}', inject_skills=False)
    await _wait_pending(server, session_id)
    (row,) = (await acm.session(session_id).tool_calls.list())["data"]
    await acm.tool_calls.respond(row["requestId"], text="elsewhere")
    late = await skills.respond_to_pending_call(row)
    assert late is not None
    assert (late.submission_status, late.submission_idempotent) == ("not_found", True)
    await _last_reply(server, session_id)

    # 409: another answer is being delivered.
    await skills.send('CALL add {"a": 1}', inject_skills=False)
    await _wait_pending(server, session_id)
    (row,) = (await acm.session(session_id).tool_calls.list())["data"]
    server.hold_in_flight(0.5, request_id=row["requestId"])
    first = asyncio.create_task(acm.tool_calls.respond(row["requestId"], text="first"))
    await asyncio.to_thread(
        server.wait_for, lambda: any(c.outcome == "in_flight" for c in server.tool_calls), 5
    )
    conflicted = await skills.respond_to_pending_call(row)
    await first
    assert conflicted is not None
    assert (conflicted.submission_status, conflicted.submission_idempotent) == ("in_flight", True)
    assert await _last_reply(server, session_id) == "TOOL RESULT: first"


async def test_slow_handler_never_delays_another(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    fast_async_done = asyncio.Event()
    fast_sync_done = threading.Event()

    async def slow_async() -> str:
        await fast_async_done.wait()  # only possible if fast_async ran meanwhile
        return "slow async"

    async def fast_async() -> str:
        fast_async_done.set()
        return "fast async"

    def slow_sync() -> str:
        assert fast_sync_done.wait(5), "the fast sync handler never ran alongside"
        return "slow sync"

    def fast_sync() -> str:
        fast_sync_done.set()
        return "fast sync"

    def register(skills: AsyncSessionSkills) -> None:
        for handler in (slow_async, fast_async, slow_sync, fast_sync):
            skills.register(None, handler, timeout_seconds=5)

    created, skills = await acm.remote_skills.create_session(register=register)
    session_id = created["session"]["sessionId"]
    await skills.send(
        "PARALLEL\nCALL slow_async\nCALL slow_sync\nCALL fast_async\nCALL fast_sync",
        inject_skills=False,
    )
    await _wait_pending(server, session_id, 4)
    records = await skills.drain_pending_calls()
    assert sorted(record.answer_text for record in records) == [
        "fast async",
        "fast sync",
        "slow async",
        "slow sync",
    ]
    assert all(record.error is None for record in records)


async def test_concurrency_bound(server: FakeCodexManager) -> None:
    running = 0
    peak = 0

    async def work(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return n

    async with AsyncCodexManager(server.base_url) as client:
        options = RemoteSkillOptions(max_concurrent_calls=2)
        created, skills = await client.remote_skills.create_session(
            register=lambda s: s.skill(work), skill_options=options
        )
        session_id = created["session"]["sessionId"]
        calls = "\n".join(f'CALL work {{"n": {n}}}' for n in range(6))
        await skills.send("PARALLEL\n" + calls, inject_skills=False)
        await _wait_pending(server, session_id, 6)
        records = await skills.drain_pending_calls()
    assert sorted(int(r.answer_text) for r in records) == list(range(6))
    assert peak <= 2


async def test_configure_sets_the_client_wide_bound(server: FakeCodexManager) -> None:
    running = 0
    peak = 0

    async def work(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return n

    async with AsyncCodexManager(server.base_url) as client:
        client.remote_skills.configure(RemoteSkillOptions(max_concurrent_calls=3))
        assert client.remote_skills.options.max_concurrent_calls == 3
        sessions = []
        for _ in range(2):
            created, skills = await client.remote_skills.create_session(
                register=lambda s: s.skill(work)
            )
            sessions.append((created["session"]["sessionId"], skills))
        for session_id, skills in sessions:
            calls = "\n".join(f'CALL work {{"n": {n}}}' for n in range(4))
            await skills.send("PARALLEL\n" + calls, inject_skills=False)
            await _wait_pending(server, session_id, 4)
        batches = await asyncio.gather(*(skills.drain_pending_calls() for _, skills in sessions))
    assert sorted(len(batch) for batch in batches) == [4, 4]
    assert peak <= 3  # across both sessions


async def test_a_call_cancelled_while_its_plain_handler_runs_is_answered_once_it_returns(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    # Python cannot stop the handler's thread: the call stays taken while it runs (a drain
    # meanwhile runs nothing), and its answer goes out once it returns, with no drain: it was
    # kept for a later one, and a program that ended first left the call to the next
    # process's drain, which ran the handler a second time.
    runs: list[int] = []
    started = threading.Event()
    release = threading.Event()

    def charge(amount: int) -> str:
        runs.append(amount)
        started.set()
        release.wait(10)
        return f"charged {amount}"

    async def register(skills: AsyncSessionSkills) -> None:
        skills.skill(charge)

    created, skills = await acm.remote_skills.create_session(register=register)
    session_id = created["session"]["sessionId"]
    await skills.send('CALL charge {"amount": 5}', inject_skills=False)
    await _wait_pending(server, session_id)
    (row,) = server.pending_tool_calls(session_id)
    answering = asyncio.ensure_future(skills.respond_to_pending_call(row))
    assert await asyncio.to_thread(started.wait, 10)
    answering.cancel()
    with pytest.raises(asyncio.CancelledError):
        await answering
    assert all(record.duplicate for record in await skills.drain_pending_calls())
    assert not server.answers
    release.set()
    await asyncio.to_thread(server.wait_for, lambda: len(server.answers) == 1, 5)
    [answer] = server.answers
    assert (answer.status, answer.body) == (
        200,
        {"success": True, "contentItems": [{"type": "inputText", "text": "charged 5"}]},
    )
    assert await skills.drain_pending_calls() == []
    assert runs == [5]


async def test_a_result_too_large_for_the_server_is_answered_with_a_short_failure_async(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    def read_log() -> str:
        return "x" * 2_000_000  # above the fake's (Fastify's) 1 MiB body limit

    _created, skills = await acm.remote_skills.create_session(register=lambda s: s.skill(read_log))
    await skills.send("CALL read_log {}", inject_skills=False)
    assert skills.session_id is not None
    await _wait_pending(server, skills.session_id)
    (record,) = await skills.drain_pending_calls()
    assert (record.submission_status, record.error_kind) == ("accepted", "result_conversion")
    assert record.answer_text.startswith("Tool 'read_log' returned a result too large")
    assert await skills.drain_pending_calls() == []


class _HeldCharge:
    """A ``charge`` skill whose worker thread waits until ``release`` is set."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.runs: list[int] = []

        def charge(amount: int) -> str:
            self.runs.append(amount)
            self.started.set()
            self.release.wait(10)
            return f"charged {amount}"

        self.charge = charge


async def _cancel_a_drain_mid_call(
    server: FakeCodexManager, skills: AsyncSessionSkills, held: _HeldCharge
) -> str:
    """Have Codex call ``charge``, then cancel the drain running it once the handler started;
    the call's request id."""
    await skills.send('CALL charge {"amount": 5}', inject_skills=False)
    session_id = skills.session_id
    assert session_id is not None
    await _wait_pending(server, session_id)
    (row,) = server.pending_tool_calls(session_id)
    answering = asyncio.ensure_future(skills.drain_pending_calls())
    assert await asyncio.to_thread(held.started.wait, 10)
    answering.cancel()
    with pytest.raises(asyncio.CancelledError):
        await answering
    return row["requestId"]


async def test_closing_the_client_waits_for_the_answer_of_a_cancelled_callers_handler(
    server: FakeCodexManager,
) -> None:
    # Ctrl-C under asyncio.run cancels the caller, and the client closes on the way out of
    # its async with block: the close waits for the handler still running, then its answer.
    held = _HeldCharge()
    async with AsyncCodexManager(server.base_url) as acm:
        _created, skills = await acm.remote_skills.create_session(
            register=lambda s: s.skill(held.charge)
        )
        await _cancel_a_drain_mid_call(server, skills, held)
        assert not server.answers
        threading.Timer(0.3, held.release.set).start()
    [answer] = server.answers
    assert answer.status == 200
    assert server.pending_tool_calls(skills.session_id) == []


async def test_a_cancelled_callers_handler_still_times_out_at_its_deadline(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    # Its caller gone, a handler that outlives its timeout is answered with the timeout
    # failure at the deadline (as the sync client does), not whenever it returns.
    held = _HeldCharge()
    _created, skills = await acm.remote_skills.create_session(
        register=lambda s: s.skill(timeout_seconds=0.3)(held.charge)
    )
    await _cancel_a_drain_mid_call(server, skills, held)
    try:
        await asyncio.to_thread(server.wait_for, lambda: len(server.answers) == 1, 5)
    finally:
        held.release.set()
    [answer] = server.answers
    assert answer.body == {
        "success": False,
        "contentItems": [
            {
                "type": "inputText",
                "text": "Tool 'charge' did not finish within 0.3 seconds and was abandoned.",
            }
        ],
    }


async def test_a_cancelled_callers_answer_that_is_refused_is_logged(
    server: FakeCodexManager, acm: AsyncCodexManager, caplog: pytest.LogCaptureFixture
) -> None:
    # No caller is left to read the record: a refusal must not pass unseen.
    held = _HeldCharge()
    _created, skills = await acm.remote_skills.create_session(
        register=lambda s: s.skill(held.charge)
    )
    request_id = await _cancel_a_drain_mid_call(server, skills, held)
    assert skills.session_id is not None
    server.delete_session(skills.session_id)  # the call goes with it
    with caplog.at_level(logging.WARNING, logger="codex_manager.remote_skills"):
        held.release.set()
        for _ in range(500):
            if "was not accepted" in caplog.text:
                break
            await asyncio.sleep(0.01)
    [message] = [r.getMessage() for r in caplog.records if "was not accepted" in r.getMessage()]
    assert message.startswith(
        f"tool call {request_id} (charge): the answer of a handler whose caller "
        "was cancelled was not accepted: "
    )


async def test_an_async_skill_cut_short_by_its_callers_cancel_is_answered_not_run_again(
    server: FakeCodexManager, acm: AsyncCodexManager
) -> None:
    # The cancel released the call, and the next drain ran the skill again from the start:
    # twice the side effects of its first part.
    effects: list[str] = []

    async def transfer(amount: int) -> str:
        effects.append(f"started {amount}")
        await asyncio.sleep(10)
        effects.append(f"finished {amount}")
        return "done"

    _created, skills = await acm.remote_skills.create_session(register=lambda s: s.skill(transfer))
    await skills.send('CALL transfer {"amount": 5}', inject_skills=False)
    assert skills.session_id is not None
    await _wait_pending(server, skills.session_id)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(skills.drain_pending_calls(), 0.2)
    await asyncio.to_thread(server.wait_for, lambda: len(server.answers) == 1, 5)
    [answer] = server.answers
    assert answer.body == {
        "success": False,
        "contentItems": [
            {"type": "inputText", "text": "Tool 'transfer' was cancelled before it finished."}
        ],
    }
    assert await skills.drain_pending_calls() == []
    assert effects == ["started 5"]


async def test_a_cancelled_callers_answer_is_kept_for_a_drain_when_the_client_is_closing(
    server: FakeCodexManager,
) -> None:
    # The client's close had begun when the caller was cancelled: nothing may go out on it
    # any more, so the call stays pending on the server, its answer kept by this client.
    held = _HeldCharge()
    acm = AsyncCodexManager(server.base_url)
    _created, skills = await acm.remote_skills.create_session(
        register=lambda s: s.skill(held.charge)
    )
    await skills.send('CALL charge {"amount": 5}', inject_skills=False)
    assert skills.session_id is not None
    await _wait_pending(server, skills.session_id)
    answering = asyncio.ensure_future(skills.drain_pending_calls())
    assert await asyncio.to_thread(held.started.wait, 10)
    closing = asyncio.ensure_future(acm.aclose())  # waits for the drain's handler...
    await asyncio.sleep(0.05)
    answering.cancel()  # ...whose caller is cancelled meanwhile
    with pytest.raises(asyncio.CancelledError):
        await answering
    held.release.set()
    await closing
    assert not server.answers
    assert len(server.pending_tool_calls(skills.session_id)) == 1
    assert held.runs == [5]


async def test_using_blocks_that_overlap_in_two_tasks_keep_each_others_skills(
    acm: AsyncCodexManager,
) -> None:
    skills = acm.remote_skills.session("s1")
    a_entered, b_entered, a_left = asyncio.Event(), asyncio.Event(), asyncio.Event()
    seen_in_b: list[tuple[str, ...]] = []

    def tool_a() -> str:
        return "a"

    def tool_b() -> str:
        return "b"

    async def task_a() -> None:
        async with skills.using(tool_a):
            a_entered.set()
            await b_entered.wait()
        a_left.set()

    async def task_b() -> None:
        await a_entered.wait()
        async with skills.using():
            skills.register(None, tool_b)  # registered inside the block: removed with it
            b_entered.set()
            await a_left.wait()
            seen_in_b.append(skills.names())
        seen_in_b.append(skills.names())

    await asyncio.gather(task_a(), task_b())
    assert seen_in_b == [("tool_b",), ()]
