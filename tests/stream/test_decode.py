"""Frame decoding: recordings, generic fallback, bad frames, and fuzzing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codex_manager.json_types import JSONValue
from codex_manager.remote_skills.signals import tool_call_from_signal
from codex_manager.stream import (
    AppServerSignal,
    StreamEvent,
    StreamFrameError,
    ToolCallParams,
    decode_frame,
)
from codex_manager.stream.decode import ErrorFrame, PongFrame, ReadyFrame
from codex_manager.stream.models import PendingToolCall, ToolCallResolvedPayload

from .ws_server import notification_signal, tool_call_signal


def frame_text(event_type: str, thread_id: str | None, payload: JSONValue) -> str:
    frame = {"type": event_type, "threadId": thread_id, "payload": payload}
    return json.dumps(frame, separators=(",", ":"))


def test_roundtrip_recording_decodes(recordings_dir: Path) -> None:
    recording = json.loads((recordings_dir / "ws_A_roundtrip.json").read_text())
    kinds: dict[str, int] = {}
    for raw in recording["received"]:
        raw.pop("_t", None)
        frame = decode_frame(json.dumps(raw))
        kinds[type(frame).__name__] = kinds.get(type(frame).__name__, 0) + 1
        if isinstance(frame, AppServerSignal):
            assert frame.type == raw["type"] == frame.event_type
            assert frame.method == raw["payload"]["method"]
            assert frame.params == raw["payload"]["params"]
            assert frame.payload == raw["payload"]
        elif isinstance(frame, StreamEvent):
            assert frame.type == raw["type"]
            assert frame.thread_id == raw["threadId"]
            assert frame.payload == raw["payload"]
    assert kinds == {
        "ReadyFrame": 1,
        "PongFrame": 1,
        "AppServerSignal": 24,
        "StreamEvent": 35,
    }


def test_tool_call_signal_recording(recordings_dir: Path) -> None:
    text = (recordings_dir / "A03_event_app_server.request.item.tool.call.json").read_text()
    signal = decode_frame(text)
    assert isinstance(signal, AppServerSignal)
    assert signal.signal_type == "request"
    assert signal.is_request
    assert signal.normalized_method == "item.tool.call"
    assert signal.request_id == 0  # numbers stay numbers
    assert signal.thread_id == "01a20cd7-725b-7cc1-8ea5-8c5a5a1f8409"
    assert signal.turn_id == "01a20cd7-72ac-73f3-9588-2300e65cbec7"
    assert signal.received_at == "2026-11-24T09:16:16.003Z"
    assert signal.session is not None
    assert signal.session.title == "New chat"
    assert signal.session.project_id is None
    assert signal.tool_call == ToolCallParams(
        tool="lookup_ticket",
        arguments={"ticket_id": "ABC-1"},
        call_id="call_000003",
        thread_id="01a20cd7-725b-7cc1-8ea5-8c5a5a1f8409",
        turn_id="01a20cd7-72ac-73f3-9588-2300e65cbec7",
        namespace=None,
    )


@pytest.mark.parametrize("dropped", ["callId", "turnId"])
@pytest.mark.parametrize("how", ["missing", "null"])
def test_a_tool_call_without_call_or_turn_id_is_still_a_tool_call(
    recordings_dir: Path, dropped: str, how: str
) -> None:
    # The server needs only a thread id and a tool name (contract, section 6).
    frame = json.loads(
        (recordings_dir / "A03_event_app_server.request.item.tool.call.json").read_text()
    )
    params = frame["payload"]["params"]
    if how == "missing":
        del params[dropped]
    else:
        params[dropped] = None
    signal = decode_frame(json.dumps(frame))
    assert isinstance(signal, AppServerSignal)
    assert signal.normalized_method == "item.tool.call"
    assert signal.tool_call is None  # the typed params need both ids: read signal.params
    call = tool_call_from_signal(signal)
    assert call is not None
    assert (call.tool, call.arguments, call.request_id) == (
        "lookup_ticket",
        {"ticket_id": "ABC-1"},
        "0",
    )
    assert call.call_id == (None if dropped == "callId" else "call_000003")


def test_a_tool_call_without_a_tool_name_is_refused() -> None:
    payload = tool_call_signal("t", 1, "c")
    assert isinstance(payload, dict)
    params = payload["params"]
    assert isinstance(params, dict)
    params["tool"] = 7  # not a name: no tool call the server would take
    frame = {"type": "app_server.request.item.tool.call", "threadId": "t", "payload": payload}
    with pytest.raises(StreamFrameError, match="item/tool/call params"):
        decode_frame(json.dumps(frame))


def test_tool_call_payload_recordings(recordings_dir: Path) -> None:
    requested = decode_frame((recordings_dir / "A04_event_tool_call_requested.json").read_text())
    assert isinstance(requested, StreamEvent)
    assert not isinstance(requested, AppServerSignal)
    pending = requested.decode_payload(PendingToolCall)
    assert (pending.request_id, pending.call_id, pending.tool) == (
        "0",
        "call_000003",
        "lookup_ticket",
    )
    resolved = decode_frame((recordings_dir / "A08_event_tool_call_resolved.json").read_text())
    assert isinstance(resolved, StreamEvent)
    outcome = resolved.decode_payload(ToolCallResolvedPayload)
    assert (outcome.request_id, outcome.status, outcome.success) == ("0", "resolved", True)
    with pytest.raises(StreamFrameError):
        resolved.decode_payload(PendingToolCall)


def test_turn_completed_recording(recordings_dir: Path) -> None:
    text = (recordings_dir / "A09_event_app_server.turn.completed.json").read_text()
    signal = decode_frame(text)
    assert isinstance(signal, AppServerSignal)
    assert signal.signal_type == "notification"
    assert signal.normalized_method == "turn.completed"
    assert signal.request_id is None
    assert signal.tool_call is None


def test_control_frames() -> None:
    assert decode_frame('{"type":"ready","threadId":null}') == ReadyFrame(thread_id=None)
    assert decode_frame('{"type":"ready","threadId":"t"}') == ReadyFrame(thread_id="t")
    assert decode_frame('{"type":"pong"}') == PongFrame()
    assert decode_frame('{"type":"error","message":"invalid websocket command"}') == ErrorFrame(
        message="invalid websocket command"
    )


def test_unknown_types_and_methods_decode_generically() -> None:
    event = decode_frame(frame_text("brand_new_event", None, {"x": [1, 2]}))
    assert type(event) is StreamEvent
    assert event.payload == {"x": [1, 2]}
    assert event.raw_payload == b'{"x":[1,2]}'
    signal = decode_frame(
        frame_text("app_server.future.thing", "t", notification_signal("t", "future/thing", "x"))
    )
    assert isinstance(signal, AppServerSignal)
    assert signal.normalized_method == "future.thing"
    assert signal.tool_call is None
    # Extra keys anywhere are ignored (forward compatibility).
    payload = tool_call_signal("t", 3, "c")
    assert isinstance(payload, dict)
    payload["newKey"] = {"nested": True}
    extra = json.loads(frame_text("app_server.request.item.tool.call", "t", payload))
    extra["alsoNew"] = 1
    decoded = decode_frame(json.dumps(extra))
    assert isinstance(decoded, AppServerSignal)
    assert decoded.tool_call is not None
    assert decoded.tool_call.arguments == {"n": 3}


def test_string_request_ids_and_odd_event_types() -> None:
    payload = tool_call_signal("t", 0, "c")
    assert isinstance(payload, dict)
    payload["requestId"] = "req-9"
    signal = decode_frame(frame_text("app_server.request.item.tool.call", "t", payload))
    assert isinstance(signal, AppServerSignal)
    assert signal.request_id == "req-9"
    # A frame type that disagrees with the signal: normalization comes from the method.
    odd = decode_frame(frame_text("app_server.weird", "t", payload))
    assert isinstance(odd, AppServerSignal)
    assert odd.normalized_method == "item.tool.call"


def test_signal_constructor_matches_decoding() -> None:
    built = AppServerSignal(
        signal_type="request",
        method="item/commandExecution/requestApproval",
        thread_id="t",
        turn_id="u",
        params={"a": 1},
        request_id=4,
    )
    assert built.type == "app_server.request.item.command_execution.request_approval"
    assert built.normalized_method == "item.command_execution.request_approval"
    assert built.params == {"a": 1}
    assert built.raw_params == b'{"a":1}'
    again = decode_frame(frame_text(built.type, built.thread_id, built.payload))
    assert isinstance(again, AppServerSignal)
    assert (again.request_id, again.turn_id, again.params) == (4, "u", {"a": 1})
    assert again.normalized_method == built.normalized_method


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"type":"x","threadId":null,"payload":1}', "binary frame"),
        ("{not json", "malformed"),
        ("", "truncated"),
        ("[1,2]", "Expected `object`"),
        ('{"threadId":null}', "missing required field `type`"),
        ('{"type":7}', "Expected `str`"),
        ('{"type":"x","threadId":5,"payload":{}}', "Expected `str | null`"),
        ('{"type":"error","message":5}', "Expected `str`"),
        ('{"type":"app_server.x","threadId":null,"payload":[]}', "invalid app_server signal"),
        (
            '{"type":"app_server.x","threadId":null,"payload":{"signalType":"other","method":"m"}}',
            "invalid app_server signal",
        ),
    ],
)
def test_bad_frames_raise_frame_error(data: str | bytes, reason: str) -> None:
    with pytest.raises(StreamFrameError) as caught:
        decode_frame(data)
    assert reason.lower() in str(caught.value).lower()


def test_tool_call_with_bad_params_is_a_frame_error() -> None:
    payload = tool_call_signal("t", 1, "c")
    assert isinstance(payload, dict)
    params = payload["params"]
    assert isinstance(params, dict)
    del params["tool"]
    with pytest.raises(StreamFrameError) as caught:
        decode_frame(frame_text("app_server.request.item.tool.call", "t", payload))
    assert caught.value.frame_type == "app_server.request.item.tool.call"
    assert "tool" in caught.value.reason
    del payload["requestId"]
    params["tool"] = "x"
    with pytest.raises(StreamFrameError, match="without requestId"):
        decode_frame(frame_text("app_server.request.item.tool.call", "t", payload))


def test_frame_error_preview_is_bounded() -> None:
    with pytest.raises(StreamFrameError) as caught:
        decode_frame("{" + "x" * 10_000)
    assert len(caught.value.frame_preview) <= 203


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
frame_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(
            [
                "app_server.request.item.tool.call",
                "app_server.turn.started",
                "ready",
                "pong",
                "error",
                "tool_call_requested",
                "",
            ]
        )
        | st.text(max_size=12)
        | json_values,
        "threadId": st.none() | st.text(max_size=5) | json_values,
        "message": json_values,
        "payload": json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "signalType": st.sampled_from(["request", "notification"]) | json_values,
                "method": st.sampled_from(["item/tool/call", "turn/started"]) | json_values,
                "context": json_values,
                "session": json_values,
                "requestId": json_values,
                "params": json_values,
            },
        ),
    },
)


def check_decoding_contract(data: str | bytes) -> None:
    try:
        frame = decode_frame(data)
    except StreamFrameError:
        return
    if isinstance(frame, StreamEvent):
        # Lazy parts decode without errors once the envelope was accepted.
        assert frame.payload is not None or frame.raw_payload == b"null"
    if isinstance(frame, AppServerSignal):
        frame.params  # noqa: B018 - the lazy decode must not raise


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_input_never_raises_other_errors(data: str | bytes) -> None:
    check_decoding_contract(data)


@settings(max_examples=500, deadline=None)
@given(frame_like)
def test_frame_shaped_json_never_raises_other_errors(frame: dict[str, JSONValue]) -> None:
    check_decoding_contract(msgspec.json.encode(frame).decode())


def test_json_nested_deeper_than_the_recursion_limit_is_a_frame_error() -> None:
    depth = sys.getrecursionlimit() + 50  # read now: test tools may have raised it
    with pytest.raises(StreamFrameError, match="too deeply"):
        decode_frame('{"type":"x","threadId":null,"payload":' + "[" * depth + "]" * depth + "}")


def test_a_lone_surrogate_escape_costs_one_character_not_the_frame() -> None:
    # Node's JSON.stringify writes "\ud83d" for a title cut inside an emoji; msgspec refused
    # the text and the tool call in the frame was lost.
    payload = tool_call_signal("t", 4, "call-4")
    text = json.dumps(
        {"type": "app_server.request.item.tool.call", "threadId": "t", "payload": payload}
    )
    text = text.replace('"New chat"', '"Fix \\ud83d and \\ud83d\\ude00"')
    signal = decode_frame(text)
    assert isinstance(signal, AppServerSignal)
    assert signal.tool_call is not None
    assert signal.request_id == 4
    assert signal.session is not None
    assert signal.session.title == "Fix \ufffd and \U0001f600"
    json.dumps(signal.payload).encode("utf-8")  # nothing left that UTF-8 refuses


def test_a_frame_that_is_malformed_besides_a_lone_surrogate_is_still_refused() -> None:
    with pytest.raises(StreamFrameError):
        decode_frame('{"type": 42, "threadId": "\\udc00"}')
    with pytest.raises(StreamFrameError):
        decode_frame('{"type": "x", "threadId": "\\udc00"')


def test_a_type_msgspec_cannot_decode_into_is_named_in_a_clear_type_error() -> None:
    # The REST list's PendingToolCall (a TypedDict of recursive JSON aliases) raised msgspec's
    # bare "Type 'ForwardRef('JsonValue')' is not supported".
    import codex_manager.types

    event = StreamEvent("tool_call_requested", "t", {"requestId": "1"})
    with pytest.raises(TypeError, match=r"payloads\.PendingToolCall cannot be decoded"):
        event.decode_payload(codex_manager.types.PendingToolCall)
    signal = AppServerSignal(signal_type="request", method="x", thread_id="t", params={"a": 1})
    with pytest.raises(TypeError, match="use a msgspec Struct"):
        signal.decode_params(codex_manager.types.PendingToolCall)
