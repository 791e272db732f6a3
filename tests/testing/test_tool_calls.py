"""Tool-call lifecycle: in-flight window, put-back on 500, expiry, request ids, parallel calls."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from codex_manager.testing import FakeCodexManager, TurnContext

from .helpers import CALL_TEXT, LOOKUP_TICKET, dig, open_stream, payload_of


def _send(http: httpx.Client, session_id: str, text: str = CALL_TEXT) -> str:
    response = http.post(f"/api/sessions/{session_id}/messages", json={"text": text})
    assert response.status_code == 202
    turn_id = response.json()["turnId"]
    assert isinstance(turn_id, str)
    return turn_id


def test_in_flight_window_answers_409(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    _send(http, session_id)
    call = server.wait_for_tool_call(session_id)
    request_id = call["requestId"]
    server.hold_in_flight(1.0, request_id=str(request_id))
    results: list[httpx.Response] = []

    def first_answer() -> None:
        with httpx.Client(base_url=server.base_url, timeout=10) as other:
            results.append(other.post(f"/api/tool-calls/{request_id}/response", json={"text": "a"}))

    worker = threading.Thread(target=first_answer)
    worker.start()
    server.wait_for(lambda: any(r.outcome == "in_flight" for r in server.tool_calls))
    # While in flight the call is not listed and a second answer gets 409.
    assert http.get(f"/api/sessions/{session_id}/tool-calls").json() == {"data": []}
    second = http.post(f"/api/tool-calls/{request_id}/response", json={"text": "b"})
    assert second.status_code == 409
    assert second.json() == {"status": "conflict", "code": "in_flight", "requestId": request_id}
    worker.join()
    assert results[0].status_code == 200
    assert [answer.status for answer in server.answers] == [409, 200]


def test_500_puts_the_call_back_then_retry_succeeds(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    with open_stream(server, session_id) as stream:
        stream.next()
        _send(http, session_id)
        request_id = payload_of(stream.until("tool_call_requested"))["requestId"]
        server.fail_next_answers(1)
        failed = http.post(f"/api/tool-calls/{request_id}/response", json={"text": "first"})
        assert failed.status_code == 500
        assert failed.json() == {"status": "error", "requestId": request_id}
        listed = http.get(f"/api/sessions/{session_id}/tool-calls").json()["data"]
        assert [row["requestId"] for row in listed] == [request_id]
        retried = http.post(f"/api/tool-calls/{request_id}/response", json={"text": "second"})
        assert retried.status_code == 200
        completed = stream.until("app_server.turn.completed")
    assert dig(completed, "payload", "params", "turn", "items", 0, "text") == "TOOL RESULT: second"
    assert [a.status for a in server.answers] == [500, 200]
    assert server.answers[0].forwarded == {
        "success": True,
        "contentItems": [{"type": "inputText", "text": "first"}],
    }


def test_pending_call_expires_when_turn_completes(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    async def fire_and_forget(turn: TurnContext) -> None:
        turn.start_tool_call("lookup_ticket", {"ticket_id": "X"})
        turn.reply("done without waiting")

    server.set_script(session_id, fire_and_forget)
    with open_stream(server, session_id) as stream:
        stream.next()
        _send(http, session_id, "anything")
        request_id = payload_of(stream.until("tool_call_requested"))["requestId"]
        stream.until("app_server.turn.completed")
        expired = stream.next()
    assert expired == {
        "type": "tool_call_resolved",
        "threadId": session_id,
        "payload": {"requestId": request_id, "status": "expired", "success": False},
    }
    late = http.post(f"/api/tool-calls/{request_id}/response", json={"text": "late"})
    assert late.status_code == 404
    assert server.tool_calls[-1].outcome == "expired"
    rows = http.get(f"/api/sessions/{session_id}").json()["transcript"]
    assert any(row["content"] == "Tool call expired (success=false)" for row in rows)


def test_timeout_in_script_then_expiry(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    async def impatient(turn: TurnContext) -> None:
        result = await turn.call_tool("lookup_ticket", {"ticket_id": "Y"}, timeout=0.05)
        turn.reply(f"expired={result.expired}")
        await asyncio.sleep(1.0)  # the turn goes on after giving up on the call

    server.set_script(session_id, impatient)
    _send(http, session_id, "x")
    server.wait_for(lambda: server.turns(session_id)[0].replies == ("expired=True",), 10)
    # Given up on, the call left the pending list while the turn still runs: a late answer
    # is refused, not "resolved" (the agent saw it expire while the server took the answer).
    assert server.turns(session_id)[0].status == "inProgress"
    assert server.pending_tool_calls(session_id) == []
    assert server.tool_calls[0].outcome == "expired"
    late = http.post(
        f"/api/tool-calls/{server.tool_calls[0].request_id}/response", json={"text": "x"}
    )
    assert late.status_code == 404
    server.wait_idle()
    assert server.tool_calls[0].outcome == "expired"


def test_request_ids_are_shared_across_sessions(
    server: FakeCodexManager, http: httpx.Client
) -> None:
    first = server.create_session(dynamic_tools=[LOOKUP_TICKET])
    second = server.create_session(dynamic_tools=[LOOKUP_TICKET])
    with open_stream(server) as stream:
        stream.next()
        _send(http, first)
        one = stream.until("app_server.request.item.tool.call")
        _send(http, second)
        two = stream.until("app_server.request.item.tool.call")
    assert payload_of(one)["requestId"] == 0
    assert payload_of(two)["requestId"] == 1
    assert [c["requestId"] for c in server.pending_tool_calls()] == ["0", "1"]
    # The answer route does not check the session: id "1" resolves the second session's call.
    answered = http.post("/api/tool-calls/1/response", json={"text": "x"})
    assert answered.json()["threadId"] == second


def test_sequential_and_parallel_calls(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    text = 'CALL lookup_ticket {"ticket_id":"A"}\nCALL lookup_ticket {"ticket_id":"B"}'
    _send(http, session_id, text)
    first = server.wait_for_tool_call(session_id)
    assert len(server.pending_tool_calls(session_id)) == 1  # sequential: one at a time
    http.post(f"/api/tool-calls/{first['requestId']}/response", json={"text": "ticket A"})
    server.wait_for(lambda: len(server.tool_calls) == 2)
    second = server.wait_for_tool_call(session_id)
    http.post(f"/api/tool-calls/{second['requestId']}/response", json={"text": "ticket B"})
    server.wait_idle()
    assert server.turns(session_id)[0].replies == ("TOOL RESULT: ticket A\nTOOL RESULT: ticket B",)

    _send(http, session_id, "PARALLEL\n" + text)
    server.wait_for(lambda: len(server.pending_tool_calls(session_id)) == 2)
    calls = server.pending_tool_calls(session_id)
    assert [c["arguments"] for c in calls] == [{"ticket_id": "A"}, {"ticket_id": "B"}]
    for call, answer in zip(reversed(calls), ("second", "first"), strict=True):
        http.post(f"/api/tool-calls/{call['requestId']}/response", json={"text": answer})
    server.wait_idle()
    assert server.turns(session_id)[1].replies == ("TOOL RESULT: first\nTOOL RESULT: second",)


def test_delete_while_pending_expires_and_410(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    with open_stream(server) as stream:
        stream.next()
        _send(http, session_id)
        request_id = payload_of(stream.until("tool_call_requested"))["requestId"]
        deleted = http.delete(f"/api/sessions/{session_id}")
        assert deleted.status_code == 200
        assert deleted.json() == {
            "status": "ok",
            "sessionId": session_id,
            "title": "New chat",
            "deletedFileCount": 1,
        }
        expired = stream.until("tool_call_resolved")
        assert payload_of(expired) == {
            "requestId": request_id,
            "status": "expired",
            "success": False,
        }
        gone = stream.until("session_deleted")
        assert gone["threadId"] == session_id
        assert payload_of(gone)["sessionId"] == session_id
    assert (
        http.post(f"/api/tool-calls/{request_id}/response", json={"text": "x"}).status_code == 404
    )
    again = http.delete(f"/api/sessions/{session_id}")
    assert again.status_code == 410
    assert again.json()["status"] == "deleted"
    assert http.get(f"/api/sessions/{session_id}").status_code == 410
    assert http.get(f"/api/sessions/{session_id}/tool-calls").status_code == 410


def test_delete_on_next_tool_call_fault(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    server.delete_session_on_next_tool_call()
    _send(http, session_id)
    server.wait_for(lambda: session_id not in server.session_ids)
    assert server.tool_calls[0].outcome == "expired"
    assert http.get(f"/api/sessions/{session_id}/tool-calls").status_code == 410


def test_restart_restarts_request_ids(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    _send(http, session_id)
    assert server.wait_for_tool_call(session_id)["requestId"] == "0"
    with open_stream(server) as stream:
        stream.next()
        server.restart()
        assert stream.quiet(0.5) == []
        assert stream.connection.close_code == 1012
    # Pending calls were forgotten; sessions survive; ids start again at "0".
    assert server.pending_tool_calls() == []
    assert http.post("/api/tool-calls/0/response", json={"text": "x"}).status_code == 404
    assert http.get(f"/api/sessions/{session_id}").status_code == 200
    _send(http, session_id)
    assert server.wait_for_tool_call(session_id)["requestId"] == "0"
    assert [record.request_id for record in server.tool_calls] == ["0", "0"]


def test_restart_with_downtime_refuses_then_serves(server: FakeCodexManager) -> None:
    server.restart(downtime=0.2)
    with httpx.Client(base_url=server.base_url) as client:
        assert client.get("/api/health").status_code == 200


def test_restart_forgets_deleted_ids(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    http.delete(f"/api/sessions/{session_id}")
    assert http.get(f"/api/sessions/{session_id}/tool-calls").status_code == 410
    server.restart()
    # The purged set lives in memory: after a restart the id is merely unknown.
    assert http.get(f"/api/sessions/{session_id}/tool-calls").status_code == 200


async def test_waiting_for_a_tool_call_from_async_code(
    server: FakeCodexManager, session_id: str
) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        await http.post(f"/api/sessions/{session_id}/messages", json={"text": CALL_TEXT})
        call = await server.wait_for_tool_call_async(session_id)
    assert call["tool"] == "lookup_ticket"
    assert call == server.pending_tool_calls(session_id)[0]
    with pytest.raises(TimeoutError):
        await server.wait_for_tool_call_async("no-such-session", timeout=0.05)
