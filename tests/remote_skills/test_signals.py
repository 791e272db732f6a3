"""Reading tool calls from signals, frames and pending rows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from codex_manager.json_types import JSONObject, JSONValue
from codex_manager.remote_skills.calls import ToolCall
from codex_manager.remote_skills.signals import (
    signal_session_id,
    tool_call_from_pending,
    tool_call_from_signal,
)

ENVELOPE: JSONObject = {
    "source": "app_server",
    "signalType": "request",
    "eventType": "app_server.request.item.tool.call",
    "method": "item/tool/call",
    "receivedAt": "2026-01-01T00:00:00Z",
    "context": {"threadId": "thr", "turnId": "turn-ctx"},
    "params": {
        "threadId": "thr",
        "turnId": "turn-1",
        "callId": "call-9",
        "tool": "lookup",
        "arguments": {"id": "T-1"},
    },
    "session": {"id": "thr", "title": None, "projectId": None},
    "requestId": 0,
}

EXPECTED = ToolCall("lookup", {"id": "T-1"}, "0", "call-9", "thr", "turn-1")


def test_envelope_and_frame() -> None:
    assert tool_call_from_signal(ENVELOPE) == EXPECTED
    frame: JSONObject = {
        "type": "app_server.request.item.tool.call",
        "threadId": "thr",
        "payload": ENVELOPE,
    }
    assert tool_call_from_signal(frame) == EXPECTED
    assert signal_session_id(frame) == "thr"


def test_other_signals_are_ignored() -> None:
    assert tool_call_from_signal({**ENVELOPE, "method": "item/tool/requestUserInput"}) is None
    assert tool_call_from_signal({"type": "app_server.turn.started", "payload": ENVELOPE}) is None
    assert tool_call_from_signal({"type": "ping"}) is None
    params = ENVELOPE["params"]
    assert isinstance(params, dict)
    assert tool_call_from_signal({**ENVELOPE, "params": {**params, "tool": "  "}}) is None


def test_pending_row() -> None:
    row: JSONObject = {
        "requestId": "12",
        "method": "item/tool/call",
        "threadId": "thr",
        "turnId": None,
        "itemId": None,
        "callId": None,
        "tool": "lookup",
        "arguments": None,
        "summary": "Tool call requested: lookup",
        "details": {},
        "createdAt": "2026-01-01T00:00:00Z",
        "status": "pending",
    }
    call = tool_call_from_pending(row)
    assert call == ToolCall("lookup", None, "12", None, "thr", None)
    assert call is not None
    assert call.key == ("request", "thr", "12", "")
    assert tool_call_from_signal({"type": "tool_call_requested", "payload": row}) == call


class _Attrs:
    """An object-style signal, like the stream's decoded AppServerSignal."""

    def __init__(self) -> None:
        self.method = "item/tool/call"
        self.request_id = 3
        self.thread_id = "thr"
        self.turn_id = "turn-ctx"
        self.session = None
        self.params = {"threadId": "thr", "tool": "lookup", "callId": "c", "arguments": {}}


def test_attribute_style_signal() -> None:
    assert tool_call_from_signal(_Attrs()) == ToolCall("lookup", {}, "3", "c", "thr", "turn-ctx")


json_values: st.SearchStrategy[JSONValue] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["type", "payload", "method", "params", "tool", "threadId", "requestId"]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=15,
)


@given(json_values)
def test_never_raises_on_json(value: JSONValue) -> None:
    result = tool_call_from_signal(value)
    assert result is None or isinstance(result, ToolCall)
    signal_session_id(value)


def test_non_json_arguments_do_not_break_reading() -> None:
    params = ENVELOPE["params"]
    assert isinstance(params, dict)
    odd: dict[str, object] = {**ENVELOPE, "params": {**params, "arguments": {"when": object}}}
    call = tool_call_from_signal(odd)
    assert call is not None
    assert call.arguments == {"when": str(object)}
