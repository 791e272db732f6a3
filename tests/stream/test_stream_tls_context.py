"""``StreamOptions.tls_context``: a wss stream behind a private authority asking for a client
certificate, on the sync stream and on the async one with either websocket library."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable

import pytest
import trustme
from websockets.sync.server import ServerConnection

from codex_manager.retry import RetryPolicy
from codex_manager.stream import (
    AsyncEventStream,
    EventStream,
    HandlerContext,
    StreamConnectionError,
    StreamEvent,
    StreamOptions,
    WebSocketClientChoice,
)

from .peer_server import PeerServer
from .ws_server import FakeClient

ONE_ATTEMPT = RetryPolicy(max_attempts=1, initial_delay=0.01)


@pytest.fixture
def authority(monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """A private authority nothing trusts by default (no ``SSL_CERT_FILE`` either)."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return trustme.CA()


def mutual_tls_server(peer: Callable[..., PeerServer], authority: trustme.CA) -> PeerServer:
    """A stream peer with the authority's certificate that requires one of its clients'."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    authority.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED

    def talk(connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "ready", "threadId": None}))
        connection.send(json.dumps({"type": "hello", "threadId": "t", "payload": "over mTLS"}))

    return peer(talk, ssl=context)


def client_context(authority: trustme.CA) -> ssl.SSLContext:
    """Trusts the authority and presents a certificate it issued."""
    context = ssl.create_default_context()
    authority.configure_trust(context)
    authority.issue_cert("client@example.test").configure_cert(context)
    return context


def test_the_sync_stream_connects_with_the_given_tls_context(
    peer: Callable[..., PeerServer], authority: trustme.CA
) -> None:
    server = mutual_tls_server(peer, authority)
    refused: EventStream[FakeClient] = EventStream(
        FakeClient(server.config), options=StreamOptions(reconnect=ONE_ATTEMPT)
    )
    with pytest.raises(StreamConnectionError):
        refused.run_forever()

    options = StreamOptions(reconnect=ONE_ATTEMPT, tls_context=client_context(authority))
    stream: EventStream[FakeClient] = EventStream(FakeClient(server.config), options=options)
    received: list[object] = []

    @stream.on_event("hello")
    def hello(event: StreamEvent, context: HandlerContext[FakeClient]) -> None:
        received.append(event.payload)
        context.stop()

    stream.run_forever()
    assert received == ["over mTLS"]


@pytest.mark.parametrize("library", ["websockets", "aiohttp"])
async def test_the_async_stream_connects_with_the_given_tls_context(
    peer: Callable[..., PeerServer], authority: trustme.CA, library: WebSocketClientChoice
) -> None:
    server = mutual_tls_server(peer, authority)
    refused: AsyncEventStream[FakeClient] = AsyncEventStream(
        FakeClient(server.config),
        options=StreamOptions(reconnect=ONE_ATTEMPT, websocket_client=library),
    )
    with pytest.raises(StreamConnectionError):
        async with asyncio.timeout(10):
            await refused.run_forever()

    options = StreamOptions(
        reconnect=ONE_ATTEMPT, websocket_client=library, tls_context=client_context(authority)
    )
    stream: AsyncEventStream[FakeClient] = AsyncEventStream(
        FakeClient(server.config), options=options
    )
    received: list[object] = []

    @stream.on_event("hello")
    async def hello(event: StreamEvent, context: HandlerContext[FakeClient]) -> None:
        received.append(event.payload)
        context.stop()

    async with asyncio.timeout(10):
        await stream.run_forever()
    assert received == ["over mTLS"]
