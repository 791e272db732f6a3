"""The sync stream's own websocket connection (``codex_manager.stream.sync_socket``).

A ``websockets.sync`` server on loopback plays the other side, so every behaviour is checked
against the library's own server: framing, fragments, pings, both closing handshakes, limits.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import threading
from collections.abc import Callable

import httpx
import pytest
from websockets.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidStatus,
)
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection

from codex_manager.stream.sync_socket import SocketWebSocket, open_stream_socket
from tests.one_shot_http import OneShotServer

from .peer_server import PeerServer


def _open(url: str, **overrides: object) -> SocketWebSocket:
    options: dict[str, object] = {
        "headers": {"Authorization": "Bearer s3cret"},
        "open_timeout": 5.0,
        "close_timeout": 2.0,
        "max_size": 1024,
    }
    options.update(overrides)
    return open_stream_socket(url, **options)  # type: ignore[arg-type]


def test_text_binary_and_fragmented_messages_arrive_whole(
    peer: Callable[..., PeerServer],
) -> None:
    def talk(connection: ServerConnection) -> None:
        connection.send('{"type":"ready"}')  # right after the handshake: maybe the same read
        connection.send(b"\x00\x01")
        connection.send(['{"type":', '"fragmented"}'])  # one message, three frames
        connection.send("h\u00e9llo")

    server = peer(talk)
    with _open(server.url) as websocket:
        received = [websocket.recv(timeout=2) for _ in range(4)]
    assert received == ['{"type":"ready"}', b"\x00\x01", '{"type":"fragmented"}', "h\u00e9llo"]
    assert server.headers[0]["authorization"] == "Bearer s3cret"
    assert server.headers[0]["user-agent"].startswith("Python/")


def test_what_we_send_arrives_and_close_is_a_clean_handshake(
    peer: Callable[..., PeerServer],
) -> None:
    heard: list[str | bytes] = []

    def listen(connection: ServerConnection) -> None:
        heard.append(connection.recv(timeout=2))

    server = peer(listen)
    with _open(server.url) as websocket:
        websocket.send('{"type":"subscribe","threadId":"t1"}')
    assert server.done.wait(5)
    assert heard == ['{"type":"subscribe","threadId":"t1"}']
    assert server.close_codes == [CloseCode.NORMAL_CLOSURE]


def test_the_server_s_pings_are_answered_while_reading(
    peer: Callable[..., PeerServer],
) -> None:
    answered = threading.Event()

    def ping(connection: ServerConnection) -> None:
        pong = connection.ping()
        connection.send("after the ping")
        if pong.wait(2):
            answered.set()
        connection.send("pong seen")

    server = peer(ping)
    with _open(server.url) as websocket:
        assert websocket.recv(timeout=2) == "after the ping"
        assert websocket.recv(timeout=2) == "pong seen"
    assert answered.is_set()


def test_a_quiet_connection_times_out_and_stays_usable(peer: Callable[..., PeerServer]) -> None:
    go = threading.Event()

    def wait_then_send(connection: ServerConnection) -> None:
        go.wait(5)
        connection.send("late")

    server = peer(wait_then_send)
    with _open(server.url) as websocket:
        with pytest.raises(TimeoutError):
            websocket.recv(timeout=0.05)
        go.set()
        assert websocket.recv(timeout=2) == "late"


def test_the_server_closing_cleanly_is_connection_closed_ok(
    peer: Callable[..., PeerServer],
) -> None:
    def say_bye(connection: ServerConnection) -> None:
        connection.send("bye")
        connection.close(CloseCode.GOING_AWAY, "restarting")

    server = peer(say_bye)
    with _open(server.url) as websocket:
        assert websocket.recv(timeout=2) == "bye"
        with pytest.raises(ConnectionClosedOK) as closed:
            websocket.recv(timeout=2)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == CloseCode.GOING_AWAY
        with pytest.raises(ConnectionClosedOK):  # and again: the state stays closed
            websocket.recv(timeout=2)


def test_a_dropped_connection_is_connection_closed_error(
    peer: Callable[..., PeerServer],
) -> None:
    def drop(connection: ServerConnection) -> None:
        connection.send("one")
        connection.socket.shutdown(socket.SHUT_RDWR)

    server = peer(drop)
    with _open(server.url) as websocket:
        assert websocket.recv(timeout=2) == "one"
        with pytest.raises(ConnectionClosedError):
            websocket.recv(timeout=2)
        with pytest.raises(ConnectionClosedError):
            websocket.send("too late")


@pytest.mark.parametrize(
    ("payload", "code"),
    [("x" * 2048, CloseCode.MESSAGE_TOO_BIG), (b"\xff\xfe", CloseCode.INVALID_DATA)],
    ids=["over max_size", "text that is not UTF-8"],
)
def test_a_message_we_cannot_take_fails_the_connection(
    peer: Callable[..., PeerServer], payload: str | bytes, code: int
) -> None:
    def send_bad(connection: ServerConnection) -> None:
        connection.send("fine")
        if isinstance(payload, bytes):  # a text frame (FIN, opcode 1) of bytes that are not UTF-8
            connection.socket.sendall(bytes([0x81, len(payload)]) + payload)
        else:
            connection.send(payload)

    server = peer(send_bad)
    with _open(server.url) as websocket:
        assert websocket.recv(timeout=2) == "fine"
        with pytest.raises(ConnectionClosedError) as failed:
            websocket.recv(timeout=2)
    assert failed.value.sent is not None
    assert failed.value.sent.code == code


def test_nothing_after_a_text_frame_that_is_not_utf8_is_delivered(
    peer: Callable[..., PeerServer],
) -> None:
    # The connection failed at the bad frame (1007), yet the frame behind it in the same read
    # was still delivered (the async clients' libraries deliver nothing after it).
    def send_bad_then_good(connection: ServerConnection) -> None:
        connection.send("fine")
        bad, good = b"\xff\xfe", b"after"
        connection.socket.sendall(bytes([0x81, len(bad)]) + bad + bytes([0x81, len(good)]) + good)

    server = peer(send_bad_then_good)
    with _open(server.url) as websocket:
        assert websocket.recv(timeout=2) == "fine"
        with pytest.raises(ConnectionClosedError):
            websocket.recv(timeout=2)


def test_a_refused_upgrade_is_invalid_status(peer: Callable[..., PeerServer]) -> None:
    def forbid(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(403, "no\n")

    server = peer(lambda connection: None, process_request=forbid)
    with pytest.raises(InvalidStatus) as refused:
        _open(server.url)
    assert refused.value.response.status_code == 403


def test_nothing_listening_is_an_os_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        _open(f"ws://127.0.0.1:{port}/api/stream")


def test_frames_in_the_handshake_s_packet_are_taken_in_and_a_ping_answered() -> None:
    # A server that writes its 101, a ping and a message in one packet: the message must be
    # the first one received, and the pong must go out at once (before any further read).
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: list[bytes] = []

    def serve_one() -> None:
        conn, _ = listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(
                hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
            )
            handshake = (
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            ping = bytes([0x89, 0x02]) + b"hi"
            text = bytes([0x81, 0x05]) + b"ready"
            conn.sendall(handshake + ping + text)
            conn.settimeout(2)
            seen.append(conn.recv(64))  # the pong: FIN + opcode 0xA, masked "hi"

    server = threading.Thread(target=serve_one, daemon=True)
    server.start()
    try:
        websocket = _open(f"ws://127.0.0.1:{port}/api/stream")
        server.join(5)
        assert seen, "no pong arrived"
        assert seen[0][0] == 0x8A
        assert websocket.recv(timeout=1) == "ready"
        websocket.close_socket()
    finally:
        listener.close()


def test_a_tls_server_is_read_alike(peer: Callable[..., PeerServer], tls: ssl.SSLContext) -> None:
    heard: list[str | bytes] = []
    go = threading.Event()

    def talk(connection: ServerConnection) -> None:
        connection.send('{"type":"ready"}')
        connection.send(['{"type":', '"fragmented"}'])
        heard.append(connection.recv(timeout=2))
        pong = connection.ping()
        go.wait(5)
        connection.send("after a quiet spell" if pong.wait(2) else "no pong")

    server = peer(talk, ssl=tls)
    assert server.url.startswith("wss://")
    with _open(server.url) as websocket:
        assert websocket.recv(timeout=2) == '{"type":"ready"}'
        assert websocket.recv(timeout=2) == '{"type":"fragmented"}'
        websocket.send("subscribe")
        with pytest.raises(TimeoutError):  # the ping is answered while this waits
            websocket.recv(timeout=0.1)
        go.set()
        assert websocket.recv(timeout=2) == "after a quiet spell"
    assert server.done.wait(5)
    assert heard == ["subscribe"]
    assert server.close_codes == [CloseCode.NORMAL_CLOSURE]


def test_an_untrusted_certificate_is_refused(
    peer: Callable[..., PeerServer], tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    server = peer(lambda connection: None, ssl=tls)
    with pytest.raises(ssl.SSLCertVerificationError):
        _open(server.url)


@pytest.mark.parametrize("secure", [False, True])
def test_a_deadline_that_passes_with_half_a_frame_read_is_a_timeout(
    peer: Callable[..., PeerServer], tls: ssl.SSLContext, secure: bool
) -> None:
    # On TLS a zero timeout makes the socket non-blocking: its "nothing yet"
    # (SSLWantReadError) was taken for the end of the connection.
    rest = threading.Event()
    payload = b'{"type":"ready","threadId":null}'
    frame = bytes([0x81, len(payload)]) + payload  # unmasked text frame

    def half_then_rest(connection: ServerConnection) -> None:
        connection.socket.sendall(frame[:10])
        rest.wait(5)
        connection.socket.sendall(frame[10:])

    server = peer(half_then_rest, ssl=tls) if secure else peer(half_then_rest)
    with _open(server.url) as websocket:
        with pytest.raises(TimeoutError):
            websocket.recv(timeout=0.3)  # takes in half the frame, then runs out
        with pytest.raises(TimeoutError):
            websocket.recv(timeout=0.0)
        rest.set()
        assert websocket.recv(timeout=5) == payload.decode()


def test_a_user_agent_among_the_headers_replaces_the_library_s() -> None:
    server = OneShotServer(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    try:
        with pytest.raises(InvalidStatus):
            _open(f"ws://127.0.0.1:{server.port}/api/stream", headers={"User-Agent": "my-app/1.0"})
    finally:
        server.close()
    [head] = server.heads
    agents = [line for line in head.split(b"\r\n") if line.lower().startswith(b"user-agent:")]
    assert agents == [b"User-Agent: my-app/1.0"]


def test_the_sync_stream_trusts_what_the_rest_calls_trust(
    peer: Callable[..., PeerServer], tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    trusted = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *a, **k: trusted)
    server = peer(lambda connection: connection.send("over TLS"), ssl=tls)
    with _open(server.url) as websocket:
        assert websocket.recv(timeout=2) == "over TLS"
