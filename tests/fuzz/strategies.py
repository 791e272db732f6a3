"""Hypothesis strategies shared by the fuzz tests: JSON values, frames, method names."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from codex_manager.json_types import JSONValue

json_scalars: st.SearchStrategy[JSONValue] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
"""JSON leaves, including integers beyond 64 bits."""

json_values: st.SearchStrategy[JSONValue] = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=10), inner, max_size=4),
    ),
    max_leaves=12,
)
"""Any JSON value, nested a few levels."""

FRAME_TYPES = (
    "app_server.request.item.tool.call",
    "app_server.item.agent_message.delta",
    "app_server.turn.completed",
    "app_server.request.item.tool.request_user_input",
    "app_server.",
    "app_server.request.",
    "tool_call_requested",
    "tool_call_resolved",
    "notification",
    "ready",
    "pong",
    "error",
)


def _maybe(value: st.SearchStrategy[JSONValue]) -> st.SearchStrategy[JSONValue]:
    return st.one_of(value, json_values)


tool_call_params: st.SearchStrategy[JSONValue] = st.fixed_dictionaries(
    {},
    optional={
        "threadId": _maybe(st.text(max_size=12)),
        "turnId": _maybe(st.text(max_size=12)),
        "callId": _maybe(st.text(max_size=12)),
        "namespace": _maybe(st.none()),
        "tool": _maybe(st.sampled_from(["lookup_ticket", "", "x" * 70])),
        "arguments": json_values,
    },
)
"""``item/tool/call`` params with every field optional and any field possibly mistyped."""

signal_payloads: st.SearchStrategy[JSONValue] = st.fixed_dictionaries(
    {},
    optional={
        "source": _maybe(st.just("app_server")),
        "signalType": _maybe(st.sampled_from(["request", "notification", "other"])),
        "eventType": _maybe(st.sampled_from(FRAME_TYPES)),
        "method": _maybe(st.sampled_from(["item/tool/call", "turn/completed", "", "a//b"])),
        "receivedAt": _maybe(st.text(max_size=24)),
        "context": _maybe(
            st.fixed_dictionaries(
                {}, optional={"threadId": _maybe(st.text()), "turnId": _maybe(st.text())}
            )
        ),
        "params": st.one_of(tool_call_params, json_values),
        "session": _maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "id": _maybe(st.text()),
                    "title": _maybe(st.none()),
                    "projectId": _maybe(st.none()),
                },
            )
        ),
        "requestId": json_values,
    },
)
"""``app_server.*`` signal envelopes, loosely shaped."""

frames: st.SearchStrategy[JSONValue] = st.fixed_dictionaries(
    {},
    optional={
        "type": _maybe(st.sampled_from(FRAME_TYPES)),
        "threadId": _maybe(st.one_of(st.none(), st.text(max_size=12))),
        "payload": st.one_of(signal_payloads, tool_call_params, json_values),
        "message": json_values,
    },
)
"""Websocket frames: the envelope with any subset of fields, any of them possibly wrong."""

frame_texts: st.SearchStrategy[str] = st.one_of(
    frames.map(json.dumps),
    frames.map(lambda f: json.dumps(f)[: len(json.dumps(f)) // 2]),  # truncated mid-frame
    st.text(max_size=200),
)
"""Frame texts: serialized frames, truncated ones, and arbitrary text."""

method_names: st.SearchStrategy[str] = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(
            [
                "item",
                "tool",
                "call",
                "",
                " ",
                "requestUserInput",
                "MCPServer",
                "OAuthLogin",
                "__",
                "a-b",
                "\u00e9t\u00e9",
                "ABCDef",
                "x9Y",
                "\ufeff",
                "\t",
            ]
        ),
        max_size=5,
    ).map("/".join),
)
"""Method names: arbitrary text and slash-joined segments with the tricky cases."""
