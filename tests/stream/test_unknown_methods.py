"""A handler registered for a method codex's schemas do not list gets an UnknownMethodWarning.

A typo (``"item.tool.cal"``) or a notification registered as a request registered a handler
that never ran, silently. The handler is still registered (a newer server may send methods
these schemas do not know), and the warning points at the registering line.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codex_manager import CodexManager, UnknownMethodWarning
from codex_manager.json_types import JSONValue
from codex_manager.stream import AppServerSignal, HandlerContext, normalize_method
from codex_manager.stream._methods import KNOWN_NOTIFICATION_METHODS, KNOWN_REQUEST_METHODS

Context = HandlerContext[CodexManager]


def ignore(signal: AppServerSignal, context: Context) -> None: ...


@pytest.fixture
def cm() -> CodexManager:
    return CodexManager("http://127.0.0.1:9")  # never connected


def test_the_schemas_known_methods_include_the_ones_the_sdk_relies_on() -> None:
    assert {"item.tool.call", "item.command_execution.request_approval"} <= KNOWN_REQUEST_METHODS
    assert {"turn.started", "turn.completed", "item.agent_message.delta"} <= (
        KNOWN_NOTIFICATION_METHODS
    )
    assert not KNOWN_REQUEST_METHODS & KNOWN_NOTIFICATION_METHODS


@pytest.mark.parametrize(
    ("register", "method"),
    [
        ("request", "item.tool.call"),
        ("request", "item/tool/call"),
        ("request", "execCommandApproval"),
        ("request", None),
        ("notification", "turn.completed"),
        ("notification", "item/agentMessage/delta"),
        ("notification", None),
    ],
)
def test_known_methods_register_quietly(
    cm: CodexManager, register: str, method: str | None
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if register == "request":
            cm.on_app_server_request(method)(ignore)
        else:
            cm.on_app_server(method)(ignore)


def test_a_typo_is_warned_with_the_closest_known_method(cm: CodexManager) -> None:
    with pytest.warns(UnknownMethodWarning, match=r"did you mean 'item\.tool\.call'") as caught:
        cm.on_app_server_request("item.tool.cal")(ignore)
    # The warning names the line that registered the handler, not the SDK's insides.
    assert caught[0].filename == __file__
    assert cm.stream.remove_handler(ignore) == 1  # registered all the same


def test_a_typo_of_the_other_kind_is_named_with_its_kind(cm: CodexManager) -> None:
    with pytest.warns(UnknownMethodWarning, match=r"'item\.tool\.call', a server request"):
        cm.on_app_server("item.tool.cal")(ignore)
    with pytest.warns(UnknownMethodWarning, match=r"'turn\.completed', a server notification"):
        cm.on_app_server_request("turn.complete")(ignore)


def test_a_request_registered_as_a_notification_is_warned(cm: CodexManager) -> None:
    with pytest.warns(UnknownMethodWarning, match="on_app_server_request"):
        cm.on_app_server("item.tool.call")(ignore)
    with pytest.warns(UnknownMethodWarning, match=r"on_app_server\(\)"):
        cm.stream.on_app_server_request("turn.completed")(ignore)


@pytest.mark.parametrize(
    "register",
    [
        lambda cm: cm.on_app_server_request("no.such.thing"),
        lambda cm: cm.stream.on_app_server("no.such.thing"),
    ],
)
def test_an_unknown_method_is_warned_where_it_was_registered(
    cm: CodexManager, register: Callable[[CodexManager], object]
) -> None:
    with pytest.warns(UnknownMethodWarning, match="'no.such.thing'") as caught:
        register(cm)
    assert caught[0].filename == __file__


def _signals_in(value: JSONValue) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        signal_type, method = value.get("signalType"), value.get("method")
        if isinstance(signal_type, str) and isinstance(method, str):
            yield signal_type, method
        for inner in value.values():
            yield from _signals_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _signals_in(inner)


def test_every_method_the_real_server_was_recorded_sending_is_known(
    recordings_dir: Path,
) -> None:
    # Including the raw-event notifications codex sends because the server asks for
    # experimentalRawEvents, which the stable schemas do not list: registering a handler for
    # them must not warn.
    seen: set[tuple[str, str]] = set()
    for recording in recordings_dir.rglob("*.json"):
        seen.update(_signals_in(json.loads(recording.read_text())))
    assert ("notification", "rawResponseItem/completed") in seen
    for signal_type, method in sorted(seen):
        known = KNOWN_REQUEST_METHODS if signal_type == "request" else KNOWN_NOTIFICATION_METHODS
        assert normalize_method(method) in known, (signal_type, method)
