"""``normalize_method`` pinned to the server's normalization (server-contract section 5)."""

from __future__ import annotations

import pytest

from codex_manager.stream import normalize_method
from codex_manager.stream.normalize import notification_event_type, request_event_type

CONTRACT_EXAMPLES = [
    ("item/tool/call", "item.tool.call"),
    ("item/tool/requestUserInput", "item.tool.request_user_input"),
    ("item/fileChange/requestApproval", "item.file_change.request_approval"),
    ("turn/started", "turn.started"),
    ("thread/tokenUsage/updated", "thread.token_usage.updated"),
    ("mcpServer/oauthLogin/completed", "mcp_server.oauth_login.completed"),
    ("execCommandApproval", "exec_command_approval"),
    ("MCPServer/OAuthLogin", "mcp_server.o_auth_login"),
    ("/turn/started", "unknown.turn.started"),
    ("item//call", "item.unknown.call"),
    ("a/__/b", "a.b"),
]

EDGE_CASES = [
    # Methods seen in the real recordings.
    ("warning", "warning"),
    ("rawResponseItem/completed", "raw_response_item.completed"),
    ("item/agentMessage/delta", "item.agent_message.delta"),
    ("thread/readState/changed", "thread.read_state.changed"),
    # Empty and whitespace-only.
    ("", "unknown"),
    ("/", "unknown.unknown"),
    ("   ", "unknown"),
    (" turn / started ", "turn.started"),
    # Segments that become empty after stripping underscores are dropped.
    ("__", ""),
    ("--/x", "x"),
    # Non-alphanumeric runs (ASCII only counts as alphanumeric, like the server's regex).
    ("item.tool.call", "item_tool_call"),
    ("a--b  c", "a_b_c"),
    ("caf\u00e9/x", "caf.x"),
    # Acronyms and digits.
    ("ABCDef", "abc_def"),
    ("getHTTPResponse", "get_http_response"),
    ("v2Thing", "v2_thing"),
    ("ABC", "abc"),
    ("a1B2", "a1_b2"),
    ("already_snake_case", "already_snake_case"),
    # JavaScript trim() strips U+FEFF (Python's str.strip() does not) but not U+001C.
    ("\ufeff/x", "unknown.x"),
    ("\x1c/x", "x"),
]


@pytest.mark.parametrize(("method", "expected"), CONTRACT_EXAMPLES)
def test_contract_examples(method: str, expected: str) -> None:
    assert normalize_method(method) == expected


@pytest.mark.parametrize(("method", "expected"), EDGE_CASES)
def test_edge_cases(method: str, expected: str) -> None:
    assert normalize_method(method) == (expected or "unknown")


def test_event_types() -> None:
    assert request_event_type("item/tool/call") == "app_server.request.item.tool.call"
    assert notification_event_type("turn/started") == "app_server.turn.started"
    assert request_event_type("execCommandApproval") == "app_server.request.exec_command_approval"
