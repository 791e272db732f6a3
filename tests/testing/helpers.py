"""Helpers for talking to the fake over real sockets (httpx + websockets only)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from codex_manager.json_types import JSONObject, JSONValue
from codex_manager.testing import FakeCodexManager

LOOKUP_TICKET: JSONObject = {
    "name": "lookup_ticket",
    "description": "Look up a support ticket by id and return its status.",
    "inputSchema": {
        "type": "object",
        "properties": {"ticket_id": {"type": "string"}},
        "required": ["ticket_id"],
        "additionalProperties": False,
    },
}

CALL_TEXT = 'CALL lookup_ticket {"ticket_id":"ABC-123"}'


class Stream:
    """A websocket on ``/api/stream`` that keeps every frame it read."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.frames: list[JSONObject] = []

    def next(self, timeout: float = 5.0) -> JSONObject:
        """The next frame (decoded)."""
        raw = self.connection.recv(timeout=timeout)
        frame = json.loads(raw)
        assert isinstance(frame, dict)
        self.frames.append(frame)
        return frame

    def until(
        self,
        event_type: str,
        timeout: float = 5.0,
        where: Callable[[JSONObject], bool] | None = None,
    ) -> JSONObject:
        """Read frames until one of ``event_type`` (matching ``where``) arrives."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {event_type!r} frame within {timeout} s")
            frame = self.next(remaining)
            if frame.get("type") == event_type and (where is None or where(frame)):
                return frame

    def quiet(self, seconds: float = 0.2) -> list[JSONObject]:
        """Frames arriving within ``seconds`` (used to check that nothing else comes)."""
        got: list[JSONObject] = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                got.append(self.next(remaining))
            except TimeoutError:
                break
            except ConnectionClosed:
                break
        return got

    def send(self, command: JSONValue) -> None:
        """Send a JSON command."""
        self.connection.send(json.dumps(command))

    def types(self) -> list[str]:
        """Types of every frame read so far."""
        return [str(frame.get("type")) for frame in self.frames]


@contextmanager
def open_stream(server: FakeCodexManager, thread_id: str | None = None) -> Iterator[Stream]:
    """Connect to the stream (with the ``threadId`` query filter when given)."""
    url = server.ws_url + (f"?threadId={thread_id}" if thread_id else "")
    # max_queue=None: unread frames must not stall the close handshake (10 s timeout).
    with connect(url, open_timeout=5, max_queue=None) as connection:
        yield Stream(connection)


def payload_of(frame: JSONObject) -> JSONObject:
    """The frame's payload as an object."""
    payload = frame.get("payload")
    assert isinstance(payload, dict)
    return payload


def shape(value: JSONValue) -> JSONValue:
    """The structure of a JSON value: keys and JSON types, not values.

    Lists are described by the shape of their first element (enough for these payloads).
    """
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def as_object(value: object) -> JSONObject:
    """Narrow a decoded JSON value to an object."""
    assert isinstance(value, dict)
    return cast(JSONObject, value)


def dig(value: JSONValue, *keys: str | int) -> JSONValue:
    """``value[k1][k2]...`` with runtime type checks (keeps tests typed without casts)."""
    for key in keys:
        if isinstance(key, str):
            assert isinstance(value, dict), f"expected an object at {key!r}"
            value = value[key]
        else:
            assert isinstance(value, list), f"expected an array at {key!r}"
            value = value[key]
    return value
