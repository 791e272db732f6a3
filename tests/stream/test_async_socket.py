"""The async stream's connection (``codex_manager.stream.async_socket``), on both libraries.

Each behaviour is checked through aiohttp's client and through ``websockets.asyncio``'s against
the same loopback server, so the stream sees the same messages and the same exceptions
whichever library reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Literal

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection

from codex_manager.errors import ConfigError
from codex_manager.stream import StreamOptions, async_socket
from codex_manager.stream.async_socket import (
    AsyncWebSocket,
    open_async_websocket,
    resolve_websocket_client,
)

from .peer_server import PeerServer

Library = Literal["aiohttp", "websockets"]
LIBRARIES: tuple[Library, ...] = ("aiohttp", "websockets")


def _connect(
    url: str, library: Library, *, close_timeout: float = 2.0
) -> contextlib.AbstractAsyncContextManager[AsyncWebSocket]:
    return open_async_websocket(
        url,
        library=library,
        headers={"Authorization": "Bearer s3cret"},
        open_timeout=5.0,
        close_timeout=close_timeout,
        max_size=1024,
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there now


@pytest.mark.parametrize("library", LIBRARIES)
async def test_messages_arrive_whole_and_what_we_send_arrives(
    peer: Callable[..., PeerServer], library: Library
) -> None:
    heard: list[str | bytes] = []

    def talk(connection: ServerConnection) -> None:
        connection.send('{"type":"ready"}')
        connection.send(b"\x00\x01")
        connection.send(['{"type":', '"fragmented"}'])  # one message, two frames
        heard.append(connection.recv(timeout=2))

    server = peer(talk)
    async with _connect(server.url, library) as websocket:
        received = [await websocket.recv() for _ in range(3)]
        await websocket.send('{"type":"subscribe","threadId":"t1"}')
    assert received == ['{"type":"ready"}', b"\x00\x01", '{"type":"fragmented"}']
    assert await asyncio.to_thread(server.done.wait, 5)
    assert heard == ['{"type":"subscribe","threadId":"t1"}']
    assert server.headers[0]["authorization"] == "Bearer s3cret"
    assert server.close_codes == [CloseCode.NORMAL_CLOSURE]


@pytest.mark.parametrize("library", LIBRARIES)
async def test_a_clean_close_by_the_server_is_connection_closed_ok(
    peer: Callable[..., PeerServer], library: Library
) -> None:
    def say_bye(connection: ServerConnection) -> None:
        connection.send("bye")
        connection.close(CloseCode.GOING_AWAY, "restarting")

    server = peer(say_bye)
    async with _connect(server.url, library) as websocket:
        assert await websocket.recv() == "bye"
        with pytest.raises(ConnectionClosedOK) as closed:
            await websocket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CloseCode.GOING_AWAY


@pytest.mark.parametrize("library", LIBRARIES)
async def test_a_dropped_connection_is_connection_closed_error(
    peer: Callable[..., PeerServer], library: Library
) -> None:
    def drop(connection: ServerConnection) -> None:
        connection.send("one")
        connection.close_socket()

    server = peer(drop)
    async with _connect(server.url, library) as websocket:
        assert await websocket.recv() == "one"
        with pytest.raises(ConnectionClosedError):
            await websocket.recv()


@pytest.mark.parametrize("library", LIBRARIES)
async def test_a_message_over_max_size_fails_the_connection(
    peer: Callable[..., PeerServer], library: Library
) -> None:
    server = peer(lambda connection: connection.send("x" * 4096))
    async with _connect(server.url, library) as websocket:
        with pytest.raises(ConnectionClosedError):
            await websocket.recv()


@pytest.mark.parametrize("library", LIBRARIES)
async def test_abort_ends_a_waiting_recv_at_once(
    peer: Callable[..., PeerServer], library: Library
) -> None:
    quiet = threading.Event()
    server = peer(lambda connection: quiet.wait(5))  # a peer that never says anything
    async with _connect(server.url, library, close_timeout=0.5) as websocket:
        waiting = asyncio.ensure_future(websocket.recv())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        websocket.abort()
        async with asyncio.timeout(2):
            with pytest.raises(ConnectionClosedError):
                await waiting
    quiet.set()


@pytest.mark.parametrize("library", LIBRARIES)
async def test_a_refused_upgrade_is_invalid_status(
    peer: Callable[..., PeerServer], library: Library
) -> None:
    def forbid(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(403, "no\n")

    server = peer(lambda connection: None, process_request=forbid)
    with pytest.raises(InvalidStatus) as refused:
        async with _connect(server.url, library):
            pass
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("library", LIBRARIES)
async def test_nothing_listening_is_an_os_error(library: Library) -> None:
    port = _closed_port()
    with pytest.raises(OSError):  # noqa: PT011 - the library decides which OSError
        async with _connect(f"ws://127.0.0.1:{port}/api/stream", library):
            pass


@pytest.mark.parametrize("library", LIBRARIES)
async def test_tls(peer: Callable[..., PeerServer], tls: ssl.SSLContext, library: Library) -> None:
    server = peer(lambda connection: connection.send("over TLS"), ssl=tls)
    async with _connect(server.url, library) as websocket:
        assert await websocket.recv() == "over TLS"


def test_auto_picks_aiohttp_when_installed_and_no_proxy_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    url = "ws://127.0.0.1:9/api/stream"
    assert resolve_websocket_client("auto", url) == "aiohttp"
    assert resolve_websocket_client("websockets", url) == "websockets"
    assert resolve_websocket_client("aiohttp", url) == "aiohttp"
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    assert resolve_websocket_client("auto", url) == "websockets"  # it reads proxies itself
    assert resolve_websocket_client("aiohttp", url) == "aiohttp"  # explicit: aiohttp's proxy
    monkeypatch.setattr(async_socket, "aiohttp_installed", lambda: False)
    monkeypatch.delenv("HTTP_PROXY")
    assert resolve_websocket_client("auto", url) == "websockets"
    with pytest.raises(ConfigError, match="needs the aiohttp package"):
        resolve_websocket_client("aiohttp", url)


def test_the_choice_is_checked_in_the_options() -> None:
    assert StreamOptions().websocket_client == "auto"
    with pytest.raises(ConfigError, match="websocket_client"):
        StreamOptions(websocket_client="curl")  # type: ignore[arg-type]


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
@pytest.mark.parametrize("library", LIBRARIES)
async def test_an_environment_proxy_is_used_unless_bypassed(
    peer: Callable[..., PeerServer],
    library: Library,
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ALL_PROXY too, as httpx uses it for the REST calls (websockets alone ignores it).
    server = peer(lambda connection: connection.send("direct"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "WS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv(variable, f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(OSError):  # noqa: PT011 - the proxy refuses: it was used
        async with _connect(server.url, library):
            pass
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with _connect(server.url, library) as websocket:
        assert await websocket.recv() == "direct"


@pytest.mark.parametrize("library", LIBRARIES)
async def test_a_proxy_for_https_only_leaves_a_ws_url_direct(
    peer: Callable[..., PeerServer], library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpx sends http:// REST calls direct with only HTTPS_PROXY set: so does the stream.
    server = peer(lambda connection: connection.send("direct"))
    for name in ("HTTP_PROXY", "ALL_PROXY", "WS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{_closed_port()}")
    async with _connect(server.url, library) as websocket:
        assert await websocket.recv() == "direct"


@pytest.mark.parametrize("library", LIBRARIES)
async def test_the_stream_trusts_what_the_rest_calls_trust(
    peer: Callable[..., PeerServer],
    tls: ssl.SSLContext,
    library: Library,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Python's default context trusted the system store, httpx certifi's bundle: a server
    # could pass for REST and fail for the stream. Here only httpx's context trusts the CA.
    trusted = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *a, **k: trusted)
    server = peer(lambda connection: connection.send("over TLS"), ssl=tls)
    async with _connect(server.url, library) as websocket:
        assert await websocket.recv() == "over TLS"
