"""``openapi/stream.schema.json`` against real recordings of ``/api/stream``.

Every frame the real server sent (and every command the SDK sent) in
``ws_A_roundtrip.json`` and the single-event recordings must validate against the
``$def`` that describes its frame type; a few malformed frames must not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema_rs
import pytest

from codex_manager.json_types import JSONObject, JSONValue

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "openapi" / "stream.schema.json"
SINGLE_EVENT_RECORDINGS = (
    "A03_event_app_server.request.item.tool.call.json",
    "A04_event_tool_call_requested.json",
    "A08_event_tool_call_resolved.json",
    "A09_event_app_server.turn.completed.json",
)
COMMAND_DEFS = {"subscribe": "SubscribeCommand", "unsubscribe": "UnsubscribeCommand"}
CONTROL_DEFS = {"ready": "ReadyFrame", "pong": "PongFrame", "error": "ErrorFrame"}
SPECIFIC_EVENT_DEFS = {
    "app_server.request.item.tool.call": "ToolCallSignalFrame",
    "tool_call_requested": "ToolCallRequestedFrame",
    "tool_call_resolved": "ToolCallResolvedFrame",
}


def load_schema() -> JSONObject:
    document = json.loads(SCHEMA_PATH.read_text())
    assert isinstance(document, dict)
    return document


def validator_for(definition: str) -> jsonschema_rs.Validator:
    """A validator for one ``$def``, resolving references inside the whole document."""
    schema = load_schema()
    schema["$ref"] = f"#/$defs/{definition}"
    return jsonschema_rs.validator_for(schema)


def server_frame_defs(frame: JSONObject) -> list[str]:
    """Every ``$def`` a server frame of this type must satisfy."""
    frame_type = frame.get("type")
    assert isinstance(frame_type, str)
    if frame_type in CONTROL_DEFS:
        return [CONTROL_DEFS[frame_type]]
    defs = ["StreamEventFrame"]
    if frame_type.startswith("app_server."):
        defs.append("AppServerSignalFrame")
    if frame_type in SPECIFIC_EVENT_DEFS:
        defs.append(SPECIFIC_EVENT_DEFS[frame_type])
    return defs


def as_object(value: JSONValue) -> JSONObject:
    assert isinstance(value, dict)
    return value


def roundtrip_frames(recordings_dir: Path) -> Iterator[tuple[str, JSONObject]]:
    """(direction, frame) for every frame of the roundtrip recording, without ``_t``."""
    recording = as_object(json.loads((recordings_dir / "ws_A_roundtrip.json").read_text()))
    for direction in ("sent", "received"):
        frames = recording[direction]
        assert isinstance(frames, list)
        assert frames, f"no {direction} frames in the recording"
        for raw in frames:
            frame = dict(as_object(raw))
            frame.pop("_t", None)
            yield direction, frame


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    meta = jsonschema_rs.validator_for(
        {"$ref": "https://json-schema.org/draft/2020-12/schema"},
    )
    meta.validate(schema)


def test_no_closed_server_frames_and_no_format() -> None:
    """Server frames must accept unknown keys; ``format`` is not used anywhere."""
    text = SCHEMA_PATH.read_text()
    assert '"format"' not in text
    defs = as_object(load_schema()["$defs"])
    for name, definition in defs.items():
        closed = as_object(definition).get("additionalProperties") is False
        is_command = name in COMMAND_DEFS.values() or name == "PingCommand"
        assert closed == is_command, name


def test_roundtrip_frames_validate(recordings_dir: Path) -> None:
    validators: dict[str, jsonschema_rs.Validator] = {}
    checked: set[str] = set()
    for direction, frame in roundtrip_frames(recordings_dir):
        frame_type = frame["type"]
        assert isinstance(frame_type, str)
        if direction == "sent":
            defs = [COMMAND_DEFS.get(frame_type, "PingCommand"), "ClientCommand"]
        else:
            defs = server_frame_defs(frame)
        for definition in defs:
            validator = validators.setdefault(definition, validator_for(definition))
            errors = [error.message for error in validator.iter_errors(frame)]
            assert not errors, f"{direction} {frame_type} vs {definition}: {errors}"
            checked.add(definition)
    # The recording exercises every family the schema describes.
    assert checked >= {
        "SubscribeCommand",
        "PingCommand",
        "ReadyFrame",
        "PongFrame",
        "StreamEventFrame",
        "AppServerSignalFrame",
        "ToolCallSignalFrame",
        "ToolCallRequestedFrame",
        "ToolCallResolvedFrame",
    }


@pytest.mark.parametrize("name", SINGLE_EVENT_RECORDINGS)
def test_single_event_recordings_validate(recordings_dir: Path, name: str) -> None:
    frame = as_object(json.loads((recordings_dir / name).read_text()))
    for definition in server_frame_defs(frame):
        errors = [error.message for error in validator_for(definition).iter_errors(frame)]
        assert not errors, f"{name} vs {definition}: {errors}"


TOOL_CALL_FRAME: JSONObject = {
    "type": "app_server.request.item.tool.call",
    "threadId": "t1",
    "payload": {
        "source": "app_server",
        "signalType": "request",
        "eventType": "app_server.request.item.tool.call",
        "method": "item/tool/call",
        "receivedAt": "2026-11-24T09:16:16.003Z",
        "context": {"threadId": "t1", "turnId": "u1"},
        "params": {
            "threadId": "t1",
            "turnId": "u1",
            "callId": "c1",
            "tool": "lookup",
            "arguments": {},
        },
        "session": None,
        "requestId": 7,
        "someFutureKey": {"ignored": True},
    },
}


def with_payload_change(key: str, value: JSONValue) -> JSONObject:
    frame = json.loads(json.dumps(TOOL_CALL_FRAME))
    as_object(frame["payload"])[key] = value
    return as_object(frame)


def without_param(key: str) -> JSONObject:
    frame = json.loads(json.dumps(TOOL_CALL_FRAME))
    del as_object(as_object(frame["payload"])["params"])[key]
    return as_object(frame)


def test_positive_tool_call_with_unknown_keys() -> None:
    assert validator_for("ToolCallSignalFrame").is_valid(TOOL_CALL_FRAME)


@pytest.mark.parametrize(
    ("definition", "frame"),
    [
        ("SubscribeCommand", {"type": "subscribe"}),
        ("SubscribeCommand", {"type": "subscribe", "threadId": ""}),
        ("PingCommand", {"type": "ping", "extra": 1}),
        ("ClientCommand", {"type": "hello"}),
        ("ReadyFrame", {"type": "ready"}),
        ("ErrorFrame", {"type": "error", "message": 3}),
        ("StreamEventFrame", {"type": "x", "payload": {}}),
        ("StreamEventFrame", {"type": "x", "threadId": 5, "payload": {}}),
        ("AppServerSignalFrame", {"type": "notification", "threadId": None, "payload": {}}),
        ("ToolCallSignalFrame", with_payload_change("requestId", 1.5)),
        ("ToolCallSignalFrame", with_payload_change("signalType", "notification")),
        ("ToolCallSignalFrame", with_payload_change("context", {"threadId": "t1"})),
        ("ToolCallSignalFrame", without_param("tool")),
        (
            "ToolCallResolvedFrame",
            {
                "type": "tool_call_resolved",
                "threadId": "t",
                "payload": {"requestId": "0", "status": "done", "success": True},
            },
        ),
        (
            "ToolCallResolvedFrame",
            {
                "type": "tool_call_resolved",
                "threadId": "t",
                "payload": {"requestId": 0, "status": "resolved", "success": True},
            },
        ),
    ],
)
def test_malformed_frames_are_rejected(definition: str, frame: JSONObject) -> None:
    assert not validator_for(definition).is_valid(frame)
