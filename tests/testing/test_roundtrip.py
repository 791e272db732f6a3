"""The fake reproduces the real server's tool-call round trip, compared with the recordings."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from codex_manager.json_types import JSONObject, JSONValue
from codex_manager.testing import FakeCodexManager

from .helpers import (
    CALL_TEXT,
    LOOKUP_TICKET,
    Stream,
    as_object,
    dig,
    open_stream,
    payload_of,
    shape,
)


def _load(recordings_dir: Path, name: str) -> JSONObject:
    return as_object(json.loads((recordings_dir / name).read_text()))


def _send_and_wait_call(http: httpx.Client, stream: Stream, sid: str, text: str) -> JSONObject:
    response = http.post(f"/api/sessions/{sid}/messages", json={"text": text})
    assert response.status_code == 202
    return stream.until("tool_call_requested")


def test_full_round_trip(
    server: FakeCodexManager, http: httpx.Client, session_id: str, recordings_dir: Path
) -> None:
    with open_stream(server, session_id) as stream:
        ready = stream.next()
        assert ready == {"type": "ready", "threadId": session_id}
        accepted = http.post(f"/api/sessions/{session_id}/messages", json={"text": CALL_TEXT})
        assert accepted.status_code == 202
        assert shape(accepted.json()) == shape(
            _load(recordings_dir, "A02_send_message.json")["response"]
        )
        turn_id = accepted.json()["turnId"]

        signal = stream.until("app_server.request.item.tool.call")
        requested = stream.next()
        assert requested["type"] == "tool_call_requested"  # right after the signal frame
        signal_payload = payload_of(signal)
        assert signal_payload["requestId"] == 0  # a number in the envelope
        assert signal_payload["params"] == {
            "threadId": session_id,
            "turnId": turn_id,
            "callId": dig(signal_payload, "params", "callId"),
            "namespace": None,
            "tool": "lookup_ticket",
            "arguments": {"ticket_id": "ABC-123"},
        }
        recorded_signal = _load(recordings_dir, "A03_event_app_server.request.item.tool.call.json")
        assert shape(signal) == shape(recorded_signal)
        recorded_requested = _load(recordings_dir, "A04_event_tool_call_requested.json")
        assert shape(requested) == shape(recorded_requested)
        assert payload_of(requested)["requestId"] == "0"  # a string on the specialised frame

        pending = http.get(f"/api/sessions/{session_id}/tool-calls")
        assert pending.status_code == 200
        assert shape(pending.json()) == shape(
            _load(recordings_dir, "A05_list_tool_calls_pending.json")["response"]
        )
        assert pending.json()["data"] == [payload_of(requested)]

        answered = http.post(
            "/api/tool-calls/0/response",
            json={"success": True, "text": '{"ticket_id": "ABC-123", "status": "open"}'},
        )
        assert answered.status_code == 200
        assert answered.json() == {"status": "ok", "requestId": "0", "threadId": session_id}

        resolved = stream.until("tool_call_resolved")
        assert resolved == {
            "type": "tool_call_resolved",
            "threadId": session_id,
            "payload": {"requestId": "0", "status": "resolved", "success": True},
        }
        completed = stream.until("app_server.turn.completed")
        recorded_completed = _load(recordings_dir, "A09_event_app_server.turn.completed.json")
        assert shape(completed) == shape(recorded_completed)
        turn = as_object(as_object(payload_of(completed)["params"])["turn"])
        assert turn["status"] == "completed"

    after = http.get(f"/api/sessions/{session_id}/tool-calls")
    assert after.json() == _load(recordings_dir, "A10_list_tool_calls_after.json")["response"]

    detail = http.get(f"/api/sessions/{session_id}")
    assert detail.status_code == 200
    recorded_detail = as_object(_load(recordings_dir, "A11_session_after_turn.json")["response"])
    body = detail.json()
    assert shape(body["session"]) == shape(recorded_detail["session"])
    assert shape(body["thread"]) == shape(recorded_detail["thread"])
    assert [entry["type"] for entry in body["transcript"]] == [
        "userMessage",
        "dynamicToolCall",
        "tool_call.resolved",
        "agentMessage",
    ]
    recorded_transcript = recorded_detail["transcript"]
    assert isinstance(recorded_transcript, list)
    for mine, real in zip(body["transcript"], recorded_transcript, strict=True):
        assert shape(mine) == shape(real)
    assistant = body["transcript"][-1]
    assert assistant["role"] == "assistant"
    assert assistant["status"] == "complete"
    assert assistant["content"] == 'TOOL RESULT: {"ticket_id": "ABC-123", "status": "open"}'
    assert "ABC-123" in assistant["content"]
    assert body["thread"]["turns"][0]["id"] == turn_id
    assert body["thread"]["turns"][0]["status"] == "completed"


def test_turn_frame_sequence_matches_recording(
    server: FakeCodexManager, http: httpx.Client, session_id: str, recordings_dir: Path
) -> None:
    recording = as_object(json.loads((recordings_dir / "ws_A_roundtrip.json").read_text()))
    received = recording["received"]
    assert isinstance(received, list)
    recorded = [str(as_object(frame)["type"]) for frame in received]
    recorded = [kind for kind in recorded if kind not in ("ready", "pong")]
    while recorded[-3] == recorded[-2] == "account_rate_limits_updated":  # timing-dependent
        del recorded[-2]

    with open_stream(server, session_id) as stream:
        stream.next()
        call = _send_and_wait_call(http, stream, session_id, 'CALL lookup_ticket {"ticket_id":"A"}')
        http.post(f"/api/tool-calls/{payload_of(call)['requestId']}/response", json={"text": "x"})
        stream.until("orchestrator_job_completed")
    assert stream.types()[1:] == recorded


def test_answer_twice_and_unknown_id_are_404(
    server: FakeCodexManager, http: httpx.Client, session_id: str, recordings_dir: Path
) -> None:
    with open_stream(server, session_id) as stream:
        stream.next()
        call = _send_and_wait_call(http, stream, session_id, CALL_TEXT)
        request_id = payload_of(call)["requestId"]
        assert (
            http.post(f"/api/tool-calls/{request_id}/response", json={"text": "one"}).status_code
            == 200
        )
        twice = http.post(f"/api/tool-calls/{request_id}/response", json={"text": "second answer"})
    recorded_twice = _load(recordings_dir, "B01_tool_call_response_twice.json")
    assert twice.status_code == recorded_twice["status"] == 404
    assert twice.json() == recorded_twice["response"]

    unknown = http.post(
        "/api/tool-calls/does-not-exist-42/response", json={"success": False, "text": "x"}
    )
    recorded_unknown = _load(recordings_dir, "B02_tool_call_response_unknown_id.json")
    assert unknown.status_code == 404
    assert unknown.json() == recorded_unknown["response"]


def test_invalid_body_is_400_with_zod_issues(http: httpx.Client, recordings_dir: Path) -> None:
    recorded = _load(recordings_dir, "B03_tool_call_response_invalid_body.json")
    request = as_object(recorded["request"])
    response = http.post("/api/tool-calls/0/response", json=request["body"])
    assert response.status_code == 400
    assert response.json() == recorded["response"]


def _answer_and_read(
    server: FakeCodexManager, http: httpx.Client, session_id: str, body: JSONValue
) -> tuple[httpx.Response, JSONObject, JSONObject]:
    with open_stream(server, session_id) as stream:
        stream.next()
        call = _send_and_wait_call(
            http, stream, session_id, 'CALL lookup_ticket {"ticket_id":"F-1"}'
        )
        response = http.post(f"/api/tool-calls/{payload_of(call)['requestId']}/response", json=body)
        resolved = stream.until("tool_call_resolved")
        stream.until("app_server.turn.completed")
    return response, resolved, as_object(http.get(f"/api/sessions/{session_id}").json())


def test_success_false_text_answer(
    server: FakeCodexManager, http: httpx.Client, session_id: str, recordings_dir: Path
) -> None:
    recorded = _load(recordings_dir, "F1_success_false_text.json")
    exchange = as_object(recorded["tool_call_response"])
    response, resolved, detail = _answer_and_read(
        server, http, session_id, as_object(exchange["request"])["body"]
    )
    assert response.status_code == 200
    assert shape(response.json()) == shape(exchange["response"])
    assert resolved["payload"] == {"requestId": "0", "status": "resolved", "success": False}
    recorded_transcript = recorded["transcript"]
    assert isinstance(recorded_transcript, list)
    transcript = detail["transcript"]
    assert isinstance(transcript, list)
    assert [shape(entry) for entry in transcript] == [shape(entry) for entry in recorded_transcript]
    tool_row = as_object(transcript[2])
    assert tool_row["content"] == "Tool call resolved (success=false)"
    item = as_object(transcript[1])
    assert '"status": "failed"' in str(item["details"])
    assert as_object(transcript[-1])["content"] == "TOOL RESULT: ticket service unavailable"
    answer = server.answers[-1]
    assert answer.forwarded == {
        "success": False,
        "contentItems": [{"type": "inputText", "text": "ticket service unavailable"}],
    }


def test_raw_response_pass_through(
    server: FakeCodexManager, http: httpx.Client, session_id: str, recordings_dir: Path
) -> None:
    recorded = _load(recordings_dir, "F2_raw_response_passthrough.json")
    exchange = as_object(recorded["tool_call_response"])
    body = as_object(as_object(exchange["request"])["body"])
    # `response` wins over the other fields, which are ignored.
    response, resolved, detail = _answer_and_read(
        server, http, session_id, {**body, "text": "ignored", "success": False}
    )
    assert response.status_code == 200
    assert resolved["payload"] == {"requestId": "0", "status": "resolved", "success": True}
    assert server.answers[-1].forwarded == body["response"]
    transcript = detail["transcript"]
    assert isinstance(transcript, list)
    recorded_transcript = recorded["transcript"]
    assert isinstance(recorded_transcript, list)
    assert [shape(entry) for entry in transcript] == [shape(entry) for entry in recorded_transcript]
    assert as_object(transcript[-1])["content"] == "TOOL RESULT: raw passthrough ok"


def test_health_matches_recording(http: httpx.Client, recordings_dir: Path) -> None:
    recorded = _load(recordings_dir, "A00_health.json")
    response = http.get("/api/health")
    assert response.status_code == 200
    assert shape(response.json()) == shape(recorded["response"])


def test_create_session_matches_recording(http: httpx.Client, recordings_dir: Path) -> None:
    recorded = _load(recordings_dir, "A01_create_session.json")
    response = http.post("/api/sessions", json=as_object(recorded["request"])["body"])
    assert response.status_code == recorded["status"] == 200
    assert shape(response.json()) == shape(recorded["response"])
    assert response.json()["session"]["materialized"] is False


def test_create_session_rejects_snake_case_schema(http: httpx.Client) -> None:
    tool = {"name": "t", "description": "d", "input_schema": {"type": "object"}}
    response = http.post("/api/sessions", json={"dynamicTools": [tool]})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["issues"][0]["path"] == ["dynamicTools", 0, "inputSchema"]
    assert body["issues"][0]["code"] == "invalid_type"
    too_many = {"dynamicTools": [LOOKUP_TICKET] * 129}
    assert http.post("/api/sessions", json=too_many).json()["issues"][0]["code"] == "too_big"
