"""Route filling of the transport: values quoted, unknown placeholders kept visible."""

from __future__ import annotations

from codex_manager.client._transport import _route_template


def test_values_are_quoted_into_their_placeholders() -> None:
    template = _route_template("/api/sessions/{sessionId}/tool-calls/{requestId}/x")
    filled = template.fill({"session_id": "a/b c", "request_id": "7"})
    assert filled == "/api/sessions/a%2Fb%20c/tool-calls/7/x"


def test_a_missing_value_keeps_its_placeholder_quoted() -> None:
    assert _route_template("/api/sessions/{sessionId}").fill({}) == "/api/sessions/%7BsessionId%7D"


def test_routes_without_placeholders_are_unchanged() -> None:
    assert _route_template("/api/health").fill({"session_id": "s"}) == "/api/health"
    assert _route_template("/api/health") is _route_template("/api/health")
