"""Replaying the real server's recorded answers: the client sends the recorded request body
and turns the recorded answer into the documented result, outcome or exception."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from codex_manager import CodexManager, RetryPolicy
from codex_manager.client._operations import OPERATIONS
from codex_manager.errors import InvalidRequestBodyError
from codex_manager.outcomes import ToolCallAccepted, ToolCallNotFound
from tests.client.conftest import Reply, ScriptedServer

pytestmark = pytest.mark.shared

EXCHANGES = [
    "A00_health.json",
    "A01_create_session.json",
    "A02_send_message.json",
    "A05_list_tool_calls_pending.json",
    "A07_tool_call_response_ok.json",
    "A10_list_tool_calls_after.json",
    "A11_session_after_turn.json",
    "B01_tool_call_response_twice.json",
    "B02_tool_call_response_unknown_id.json",
]


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _call(cm: CodexManager, method: str, path: str, body: object) -> object:
    """Call the client method serving ``method path`` with the recorded arguments."""
    for operation in OPERATIONS.values():
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", "/api" + operation.path) + "$"
        match = re.match(pattern, path)
        if operation.method == method and match:
            target: object = cm
            for part in operation.facade.split("."):
                target = getattr(target, part)
            assert callable(target)
            kwargs = {_snake(k): v for k, v in match.groupdict().items()}
            if isinstance(body, dict):
                kwargs.update({_snake(k): v for k, v in body.items()})
            return target(**kwargs)
    raise AssertionError(f"no operation for {method} {path}")


@pytest.mark.parametrize("name", EXCHANGES)
def test_recorded_exchange(recordings_dir: Path, scripted: ScriptedServer, name: str) -> None:
    exchange = json.loads((recordings_dir / name).read_text())
    request, status, answer = exchange["request"], exchange["status"], exchange["response"]
    scripted.queue(Reply(status, answer))
    with CodexManager(scripted.base_url, retry=RetryPolicy.disabled()) as cm:
        result = _call(cm, request["method"], request["path"], request["body"])
    sent = scripted.received[0]
    assert (sent.method, sent.path) == (request["method"], request["path"])
    if request["body"] is not None:
        assert json.loads(sent.body) == request["body"]
    if "tool-calls/" in request["path"] and status == 200:
        assert isinstance(result, ToolCallAccepted)
        assert result.body == answer
    elif "tool-calls/" in request["path"]:
        assert isinstance(result, ToolCallNotFound)
    else:
        assert result == answer


def test_recorded_invalid_body_is_rejected_before_sending(
    recordings_dir: Path, scripted: ScriptedServer
) -> None:
    exchange = json.loads((recordings_dir / "B03_tool_call_response_invalid_body.json").read_text())
    request = exchange["request"]
    with CodexManager(scripted.base_url) as cm, pytest.raises(InvalidRequestBodyError):
        _call(cm, request["method"], request["path"], request["body"])
    assert scripted.received == []
