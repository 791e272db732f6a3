"""A handler registered for an event type the server is not known to send gets a warning.

``on_event("tool_call_request")`` (a typo), ``on_event("item.tool.call")`` (a method where a
frame type belongs) and ``on_event_prefix("app-server.")`` registered handlers that never ran,
silently, while the method decorators already warned. The handler is still registered (a
newer server may send more), and the warning points at the registering line.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from codex_manager import CodexManager, UnknownEventTypeWarning
from codex_manager.json_types import JSONValue
from codex_manager.stream import HandlerContext, StreamEvent
from codex_manager.stream._event_types import KNOWN_EVENT_TYPES

Context = HandlerContext[CodexManager]


def ignore(event: StreamEvent, context: Context) -> None: ...


@pytest.fixture
def cm() -> CodexManager:
    return CodexManager("http://127.0.0.1:9")  # never connected


@pytest.mark.parametrize(
    "event_type",
    [
        "tool_call_requested",
        "session_deleted",
        "orchestrator_job_progress",
        "app_server.turn.completed",
        "app_server.request.item.tool.call",
        "app_server.raw_response_item.completed",
    ],
)
def test_known_event_types_register_quietly(cm: CodexManager, event_type: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cm.on_event(event_type)(ignore)


@pytest.mark.parametrize("prefix", ["", "app_server.", "app_server.request.item.", "orchestrator_"])
def test_known_prefixes_register_quietly(cm: CodexManager, prefix: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cm.stream.on_event_prefix(prefix)(ignore)


def test_a_typo_is_warned_with_the_closest_known_type_at_the_users_line(cm: CodexManager) -> None:
    with pytest.warns(UnknownEventTypeWarning, match=r"did you mean 'tool_call_requested'") as got:
        cm.on_event("tool_call_request")(ignore)
    assert got[0].filename == __file__
    assert cm.stream.remove_handler(ignore) == 1  # registered all the same


def test_a_method_where_a_frame_type_belongs_is_told_which_decorator_takes_it(
    cm: CodexManager,
) -> None:
    with pytest.warns(
        UnknownEventTypeWarning, match=r"on_app_server_request\('item\.tool\.call'\)"
    ):
        cm.on_event("item.tool.call")(ignore)
    with pytest.warns(UnknownEventTypeWarning, match=r"'app_server\.turn\.completed'"):
        cm.stream.on_event("turn.completed")(ignore)


def test_a_prefix_nothing_starts_with_is_warned(cm: CodexManager) -> None:
    with pytest.warns(UnknownEventTypeWarning, match=r"did you mean 'app_server\.'") as got:
        cm.on_event_prefix("app-server.")(ignore)
    assert got[0].filename == __file__


def _event_types_in(value: JSONValue) -> Iterator[str]:
    """The ``type`` of every event frame (one with a ``payload``) in a recording."""
    if isinstance(value, dict):
        frame_type = value.get("type")
        if isinstance(frame_type, str) and "payload" in value:
            yield frame_type
        for inner in value.values():
            yield from _event_types_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _event_types_in(inner)


def test_every_event_type_the_real_server_was_recorded_sending_is_known(
    recordings_dir: Path, cm: CodexManager
) -> None:
    seen: set[str] = set()
    for recording in recordings_dir.rglob("*.json"):
        seen.update(_event_types_in(json.loads(recording.read_text())))
    assert {"tool_call_requested", "orchestrator_job_started"} <= seen
    assert "tool_call_requested" in KNOWN_EVENT_TYPES
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for event_type in sorted(seen):
            cm.on_event(event_type)(ignore)
