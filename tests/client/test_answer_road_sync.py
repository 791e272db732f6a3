"""The sync answer road's own connection keeping (``codex_manager.client._direct_sync``).

A raw loopback socket server plays the server's side, so each test decides exactly when a
connection ends and what bytes come back. Every test runs on both engines (httptools and
``http.client``). (What the road sends compared with the httpx road, and every outcome through
the client, is in ``test_answer_road.py``.)
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import trustme

from codex_manager.client import _direct_sync, _http1
from codex_manager.client._direct_sync import SyncAnswerRoad
from codex_manager.client._http1 import HTTP1_ENGINES, Http1Engine, ParsedConnection
from tests.one_shot_http import OneShotServer

LIMITS = httpx.Timeout(2.0)
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

Reply = Callable[[socket.socket, bytes], bool]
"""Answers one request on a connection; ``False`` closes the connection afterwards."""


class RawServer:
    """Accepts connections and hands each request (head and body) to ``reply``."""

    def __init__(self, reply: Reply, tls: ssl.SSLContext | None = None) -> None:
        self.reply = reply
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        port = self._listener.getsockname()[1]
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{port}/api/tool-calls/7/response"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                return
        with conn:
            buffered = b""
            while True:
                while b"\r\n\r\n" not in buffered:
                    try:
                        chunk = conn.recv(65536)
                    except ConnectionResetError:  # the client closed with an answer unread
                        return
                    if not chunk:
                        return
                    buffered += chunk
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(buffered) < length:
                    buffered += conn.recv(65536)
                request = head + b"\r\n\r\n" + buffered[:length]
                buffered = buffered[length:]
                self.requests.append(request)
                if not self.reply(conn, request):
                    return

    def close(self) -> None:
        self._listener.close()


@pytest.fixture(autouse=True, params=HTTP1_ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Http1Engine:
    """Every road these tests build parses answers with this engine."""
    chosen: Http1Engine = request.param
    monkeypatch.setattr(_direct_sync, "installed_engine", lambda: chosen)
    return chosen


@pytest.fixture
def serve() -> Iterator[Callable[[Reply], RawServer]]:
    servers: list[RawServer] = []

    def start(reply: Reply) -> RawServer:
        server = RawServer(reply)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _keep_alive(conn: socket.socket, request: bytes) -> bool:
    conn.sendall(OK)
    return True


def _post(road: SyncAnswerRoad, server: RawServer, body: bytes = b"{}") -> int:
    return road.post(server.url, body, [("content-type", "application/json")], LIMITS).status_code


def test_one_connection_carries_answer_after_answer(
    serve: Callable[[Reply], RawServer],
) -> None:
    server = serve(_keep_alive)
    road = SyncAnswerRoad()
    assert [_post(road, server) for _ in range(5)] == [200] * 5
    assert server.connections == 1
    head = server.requests[0].split(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"post /api/tool-calls/7/response http/1.1\r\n")
    assert b"\r\ncontent-length: 2" in head
    # Nothing compressed comes back undecoded: without the header any coding is acceptable.
    assert b"\r\naccept-encoding: identity" in head
    road.close()


def test_a_connection_the_server_closed_while_idle_is_replaced(
    serve: Callable[[Reply], RawServer],
) -> None:
    def answer_then_hang_up(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(OK)  # a keep-alive answer (no "Connection: close") ...
        return False  # ... and then the server closes anyway, as idle servers do

    server = serve(answer_then_hang_up)
    road = SyncAnswerRoad()
    assert _post(road, server) == 200
    slot = road._local.slot
    first = slot.connection
    # Until the client sees the hang-up, the old connection looks fine: wait for the FIN.
    assert first is not None
    assert first.sock is not None
    first.sock.settimeout(2.0)
    assert first.sock.recv(1, socket.MSG_PEEK) == b""
    assert _post(road, server) == 200
    assert server.connections == 2
    assert slot.connection is not first
    assert first.sock is None  # closed, not leaked
    road.close()


def test_an_answer_with_connection_close_ends_the_connection(
    serve: Callable[[Reply], RawServer],
) -> None:
    def answer_and_close(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        return False

    server = serve(answer_and_close)
    road = SyncAnswerRoad()
    assert [_post(road, server) for _ in range(3)] == [200] * 3
    assert server.connections == 3
    road.close()


def test_an_idle_connection_past_the_keepalive_expiry_is_not_reused(
    serve: Callable[[Reply], RawServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_direct_sync, "KEEPALIVE_EXPIRY_SECONDS", 0.0)
    server = serve(_keep_alive)
    road = SyncAnswerRoad()
    assert [_post(road, server) for _ in range(3)] == [200] * 3
    assert server.connections == 3
    road.close()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"", httpx.RemoteProtocolError),  # closed without a word
        (b"SPDY/9 200 OK\r\n\r\n", httpx.RemoteProtocolError),  # not HTTP
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", httpx.RemoteProtocolError),
    ],
)
def test_a_broken_answer_is_the_httpx_error_for_it(
    serve: Callable[[Reply], RawServer], answer: bytes, error: type[Exception]
) -> None:
    def broken(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(answer)
        conn.shutdown(socket.SHUT_WR)
        return False

    server = serve(broken)
    road = SyncAnswerRoad()
    with pytest.raises(error):
        _post(road, server)
    assert road._local.slot.connection is None  # never reused after a failure
    server.reply = _keep_alive
    assert _post(road, server) == 200
    road.close()


def test_a_silent_server_is_a_read_timeout(serve: Callable[[Reply], RawServer]) -> None:
    gate = threading.Event()

    def silent(conn: socket.socket, request: bytes) -> bool:
        gate.wait(5)
        return False

    server = serve(silent)
    road = SyncAnswerRoad()
    with pytest.raises(httpx.ReadTimeout):
        road.post(server.url, b"{}", [], httpx.Timeout(2.0, read=0.05))
    gate.set()
    road.close()


def test_the_answer_socket_sends_without_delay_and_keeps_its_limits(
    serve: Callable[[Reply], RawServer], engine: str
) -> None:
    server = serve(_keep_alive)
    road = SyncAnswerRoad()
    limits = httpx.Timeout(2.0, write=1.5)
    assert road.post(server.url, b"{}", [], limits).status_code == 200
    connection = road._local.slot.connection
    assert connection is not None
    sock = connection.sock
    assert sock is not None
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    if engine == "http.client":
        assert sock.gettimeout() == limits.read  # one timeout: the last one set
    else:  # the kernel's limits, each its own, on a blocking socket
        assert sock.gettimeout() is None
        timeval = struct.Struct("@ll")
        sent = timeval.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, 16))
        received = timeval.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16))
        assert (sent, received) == ((1, 500_000), (2, 0))
    road.close()


def test_a_server_that_reads_nothing_is_a_write_timeout() -> None:
    held = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)  # ... and never read from it
        held.wait(10)

    threading.Thread(target=accept, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/api/tool-calls/7/response"
    road = SyncAnswerRoad()
    started = time.monotonic()
    with pytest.raises(httpx.WriteTimeout):
        road.post(url, b"x" * 64_000_000, [], httpx.Timeout(2.0, write=0.2))
    assert time.monotonic() - started < 5.0
    assert road._local.slot.connection is None  # dropped, never reused
    held.set()
    for conn in accepted:
        conn.close()
    listener.close()
    road.close()


def test_a_kept_connection_takes_a_new_read_limit(serve: Callable[[Reply], RawServer]) -> None:
    gate = threading.Event()
    answered = 0

    def answer_once(conn: socket.socket, request: bytes) -> bool:
        nonlocal answered
        if answered:
            gate.wait(5)  # the second request gets no answer
            return False
        answered += 1
        conn.sendall(OK)
        return True

    server = serve(answer_once)
    road = SyncAnswerRoad()
    assert _post(road, server) == 200
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        road.post(server.url, b"{}", [], httpx.Timeout(2.0, read=0.05))
    assert time.monotonic() - started < 1.0
    assert server.connections == 1  # the same connection, with the new limit
    gate.set()
    road.close()


def test_a_refused_connection_is_a_connect_error(closed_port_url: str) -> None:
    road = SyncAnswerRoad()
    with pytest.raises(httpx.ConnectError):
        road.post(closed_port_url + "/api/tool-calls/7/response", b"{}", [], LIMITS)


def test_a_target_beyond_ascii_is_percent_encoded(serve: Callable[[Reply], RawServer]) -> None:
    server = serve(_keep_alive)
    road = SyncAnswerRoad()
    url = server.url.replace("/api/", "/\u00e9t\u00e9/api/")
    assert road.post(url, b"{}", [], LIMITS).status_code == 200
    assert server.requests[0].startswith(b"POST /%C3%A9t%C3%A9/api/tool-calls/7/response ")
    road.close()


def test_a_closed_road_refuses_new_connections(serve: Callable[[Reply], RawServer]) -> None:
    server = serve(_keep_alive)
    road = SyncAnswerRoad()
    assert _post(road, server) == 200
    road.close()
    with pytest.raises(RuntimeError, match="closed"):
        _post(road, server)


def test_the_engine_is_the_one_chosen(serve: Callable[[Reply], RawServer], engine: str) -> None:
    server = serve(_keep_alive)
    road = SyncAnswerRoad()
    assert road.engine == engine
    assert _post(road, server) == 200
    road.close()


def _answer(raw: bytes) -> Reply:
    def reply(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(raw)
        return True

    return reply


def test_a_chunked_answer_is_read_whole_and_the_connection_kept(
    serve: Callable[[Reply], RawServer],
) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Seen: yes\r\n\r\n"
        b'3\r\n{"a\r\n4\r\n": 1\r\n1\r\n}\r\n0\r\n\r\n'
    )
    server = serve(_answer(chunked))
    road = SyncAnswerRoad()
    for _ in range(2):
        answer = road.post(server.url, b"{}", [], LIMITS)
        assert (answer.status_code, answer.content) == (200, b'{"a": 1}')
        assert answer.headers["x-seen"] == "yes"
    assert server.connections == 1
    road.close()


def test_an_interim_answer_is_skipped(serve: Callable[[Reply], RawServer]) -> None:
    server = serve(_answer(b"HTTP/1.1 100 Continue\r\n\r\n" + OK))
    road = SyncAnswerRoad()
    answer = road.post(server.url, b"{}", [], LIMITS)
    assert (answer.status_code, answer.content) == (200, b"{}")
    assert answer.headers["content-type"] == "application/json"
    road.close()


def test_informational_answers_before_the_final_one_are_skipped(
    serve: Callable[[Reply], RawServer],
) -> None:
    # 102 Processing, 103 Early Hints: interim answers, the final one may come much later.
    # Taken for the answer, the final one would be read as the next request's.
    def interim_first(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 102 Processing\r\n\r\n")
        conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n")
        time.sleep(0.1)
        number = request.split(b"\r\n\r\n", 1)[1]
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(number), number)
        )
        return True

    server = serve(interim_first)
    road = SyncAnswerRoad()
    for number in (b"1", b"2"):
        answer = road.post(server.url, number, [], LIMITS)
        assert (answer.status_code, answer.content) == (200, number)
    assert server.connections == 1
    road.close()


def test_a_body_ended_by_the_connection_is_whole(serve: Callable[[Reply], RawServer]) -> None:
    def until_close(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n\r\n{}")
        conn.shutdown(socket.SHUT_WR)
        return False

    server = serve(until_close)
    road = SyncAnswerRoad()
    answer = road.post(server.url, b"{}", [], LIMITS)
    assert (answer.status_code, answer.content) == (409, b"{}")
    assert road._local.slot.connection is None or road._local.slot.connection.sock is None
    server.reply = _keep_alive
    assert _post(road, server) == 200
    assert server.connections == 2
    road.close()


def test_bytes_after_the_answer_never_pass_for_the_next_answer(
    serve: Callable[[Reply], RawServer], engine: str
) -> None:
    server = serve(_answer(OK + b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n"))
    road = SyncAnswerRoad()
    assert _post(road, server) == 200
    server.reply = _keep_alive
    assert _post(road, server) == 200  # the server's answer to this request, not the 418
    # httptools sees the extra bytes and drops the connection; http.client read them into the
    # first answer's buffer, which went with it, so its connection is clean and kept.
    assert server.connections == (2 if engine == "httptools" else 1)
    road.close()


def _echo(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def test_an_answer_that_arrives_late_never_passes_for_the_next_answer(
    serve: Callable[[Reply], RawServer], engine: str
) -> None:
    # A second answer sent after the first had been read (a duplicate from a proxy, a buggy
    # server): taken for the next request's answer, it would shift every answer after it.
    stray_sent = threading.Event()

    def answer_then_again(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(_echo(request.partition(b"\r\n\r\n")[2]))
        if not stray_sent.is_set():
            time.sleep(0.01)
            conn.sendall(_echo(b"stray"))
            stray_sent.set()
        return True

    server = serve(answer_then_again)
    road = SyncAnswerRoad()
    answers = []
    for n in range(4):
        answers.append(road.post(server.url, b"%d" % n, [], LIMITS).content)
        stray_sent.wait(2.0)
        time.sleep(0.01)  # the stray answer is in the client's socket before the next request
    assert answers == [b"0", b"1", b"2", b"3"]
    assert server.connections == 2
    road.close()


def test_the_kernel_answers_whether_a_connection_changed_without_a_poll(
    serve: Callable[[Reply], RawServer], engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A poll gives the GIL up (a hand-off between threads when many answer at once); on Linux
    # the httptools engine asks TCP_INFO instead, which keeps it. http.client's buffered reads
    # hide how much was read from the socket, so that engine polls.
    polls: list[int] = []

    class CountingPoller:
        def poll(self, timeout: int) -> list[tuple[int, int]]:
            polls.append(timeout)
            return []

    monkeypatch.setattr(_direct_sync, "_watch", lambda sock: CountingPoller())
    server = serve(_keep_alive)
    road = SyncAnswerRoad()
    assert [_post(road, server) for _ in range(4)] == [200] * 4
    asks_the_kernel = engine == "httptools" and sys.platform == "linux"
    assert polls == ([] if asks_the_kernel else [0, 0, 0])
    road.close()


@pytest.mark.skipif(sys.platform != "linux", reason="TCP_INFO is Linux's")
def test_a_parsed_connection_reads_its_state_from_tcp_info(engine: str) -> None:
    if engine != "httptools":
        pytest.skip("the httptools engine's connection")
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    peer, _ = listener.accept()
    connection = ParsedConnection(client)
    try:
        assert connection.unchanged_since_answer() is True
        peer.sendall(OK)
        assert connection.read_response()[0] == 200
        assert connection.unchanged_since_answer() is True
        peer.sendall(b"HTTP/1.1 408 Request Timeout\r\n\r\n")  # unasked
        _settle(lambda: connection.unchanged_since_answer() is False)
    finally:
        connection.close()
    closing = ParsedConnection(socket.create_connection(listener.getsockname()))
    peer2, _ = listener.accept()
    try:
        assert closing.unchanged_since_answer() is True
        peer2.close()  # a hang-up without a word
        _settle(lambda: closing.unchanged_since_answer() is False)
    finally:
        closing.close()
        peer.close()
        listener.close()
    assert closing.unchanged_since_answer() is None  # closed: nothing to ask


def _tcp_info_report(state: int, bytes_received: int) -> bytes:
    report = bytearray(136)
    report[0] = state
    struct.pack_into("=Q", report, 128, bytes_received)
    return bytes(report)


class _MimickingKernel(socket.socket):
    """A socket whose TCP_INFO is whatever the test says (a kernel that only mimics Linux)."""

    report = b""

    def getsockopt(self, *args: int) -> bytes:  # type: ignore[override]
        return self.report


@pytest.mark.skipif(sys.platform != "linux", reason="TCP_INFO is Linux's")
@pytest.mark.parametrize(
    "report",
    # gVisor's zeros: no state, fewer bytes received than read. (A plausible-looking report
    # that says "changed" of a clean connection is caught by the poll that confirms it: the
    # next test.)
    [_tcp_info_report(0, 0), _tcp_info_report(1, 0)],
    ids=["zeroed", "no-byte-count"],
)
def test_a_kernel_whose_tcp_info_is_not_linuxs_is_not_trusted(
    engine: str, report: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Believed, such a report would make every kept connection look changed: each answer
    # would open a new connection. The first implausible one turns the check off (polls).
    if engine != "httptools":
        pytest.skip("the httptools engine's connection")
    monkeypatch.setattr(_http1._KernelWord, "trusted", True)

    class MimickingKernel(_MimickingKernel):
        pass

    MimickingKernel.report = report

    listener = socket.create_server(("127.0.0.1", 0))
    plain = socket.create_connection(listener.getsockname())
    peer, _ = listener.accept()
    connection = ParsedConnection(MimickingKernel(fileno=plain.detach()))
    try:
        peer.sendall(OK)
        assert connection.read_response()[0] == 200
        assert connection.unchanged_since_answer() is None  # can't tell: the road polls
        assert _http1._KernelWord.trusted is False
    finally:
        connection.close()
        peer.close()
        listener.close()


@pytest.mark.skipif(sys.platform != "linux", reason="TCP_INFO is Linux's")
def test_a_changed_verdict_the_socket_contradicts_turns_tcp_info_off(
    serve: Callable[[Reply], RawServer], engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kernel counting more bytes received than ever arrive says "changed" of every kept
    # connection; a poll confirms such a verdict, and its "nothing to read" ends the trust.
    if engine != "httptools":
        pytest.skip("the httptools engine's connection")
    monkeypatch.setattr(_http1._KernelWord, "trusted", True)

    class Overcounting(_MimickingKernel):
        report = _tcp_info_report(1, 10**6)

    opened = _http1.open_connection

    def mimicking(*args: object) -> _http1.AnswerConnection:
        real = opened(*args)  # type: ignore[arg-type]
        assert real.sock is not None
        return ParsedConnection(Overcounting(fileno=real.sock.detach()))

    monkeypatch.setattr(_direct_sync, "open_connection", mimicking)
    server = serve(_keep_alive)
    road = SyncAnswerRoad()
    assert [_post(road, server) for _ in range(3)] == [200] * 3
    assert server.connections == 1  # kept: the poll found nothing unread
    assert _http1._KernelWord.trusted is False
    road.close()


def _settle(condition: Callable[[], bool]) -> None:
    """Wait (briefly) for loopback bytes or a FIN to reach the client's socket."""
    deadline = time.monotonic() + 2.0
    while not condition():
        assert time.monotonic() < deadline, "the kernel never saw the change"
        time.sleep(0.005)


@pytest.mark.parametrize(
    ("name", "value"), [("X-Evil", "a\r\nInjected: 1"), ("X-Evil\r\nInjected", "1")]
)
def test_a_header_with_a_line_break_is_refused(
    serve: Callable[[Reply], RawServer], name: str, value: str
) -> None:
    server = serve(_keep_alive)
    road = SyncAnswerRoad()
    with pytest.raises(httpx.LocalProtocolError, match=r"[Ii]nvalid header"):  # as httpx's road
        road.post(server.url, b"{}", [(name, value)], LIMITS)
    assert server.requests == []
    road.close()


def test_header_values_are_sent_as_utf_8_as_httpx_sends_them(
    serve: Callable[[Reply], RawServer],
) -> None:
    server = serve(_keep_alive)
    road = SyncAnswerRoad()
    for value in ("José", "Łukasz"):
        assert road.post(server.url, b"{}", [("x-user", value)], LIMITS).status_code == 200
    heads = [request.split(b"\r\n\r\n")[0] for request in server.requests]
    assert b"x-user: Jos\xc3\xa9" in heads[0]
    assert "x-user: Łukasz".encode() in heads[1]
    road.close()


def test_an_answer_sent_before_the_request_was_read_is_returned() -> None:
    # A server refusing a body too large (413) before reading it, then closing: the write
    # fails, and httpx returns the server's answer instead of the write error.
    server = OneShotServer(
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: 2\r\n\r\n{}",
        linger=0.2,
    )
    url = f"http://127.0.0.1:{server.port}/api/tool-calls/7/response"
    road = SyncAnswerRoad()
    try:
        answer = road.post(url, b"x" * 20_000_000, [], LIMITS)
    finally:
        server.close()
        road.close()
    assert (answer.status_code, answer.content) == (413, b"{}")


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


def _tls_contexts(authority: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    return server, client


def test_answers_over_tls_keep_their_connection(authority: trustme.CA) -> None:
    server_context, client_context = _tls_contexts(authority)
    server = RawServer(_keep_alive, tls=server_context)
    road = SyncAnswerRoad(client_context)
    try:
        assert [_post(road, server) for _ in range(3)] == [200] * 3
        assert server.connections == 1
        connection = road._local.slot.connection
        assert connection is not None
        assert isinstance(connection.sock, ssl.SSLSocket)
        # TLS records and buffered plaintext: only a poll can tell (both engines).
        assert connection.unchanged_since_answer() is None
    finally:
        road.close()
        server.close()


def test_over_tls_each_direction_gets_its_own_limit(authority: trustme.CA) -> None:
    server_context, client_context = _tls_contexts(authority)
    server = RawServer(_keep_alive, tls=server_context)
    road = SyncAnswerRoad(client_context)
    try:
        assert road.post(server.url, b"{}", [], httpx.Timeout(2.0, write=1.5)).status_code == 200
        connection = road._local.slot.connection
        assert connection is not None
        sock = connection.sock
        assert sock is not None
        assert sock.gettimeout() == 2.0  # TLS: Python's one timeout, last set for the read
        connection.limit_write(1.5)
        assert sock.gettimeout() == 1.5
        connection.limit_read(2.0)
        connection.limit_write(1.5)  # set again: the socket has the read limit now
        assert sock.gettimeout() == 1.5
    finally:
        road.close()
        server.close()


def test_a_silent_server_over_tls_is_a_read_timeout(authority: trustme.CA) -> None:
    server_context, client_context = _tls_contexts(authority)
    gate = threading.Event()

    def silent(conn: socket.socket, request: bytes) -> bool:
        gate.wait(5)
        return False

    server = RawServer(silent, tls=server_context)
    road = SyncAnswerRoad(client_context)
    try:
        with pytest.raises(httpx.ReadTimeout):
            road.post(server.url, b"{}", [], httpx.Timeout(2.0, read=0.05))
    finally:
        gate.set()
        road.close()
        server.close()


def test_a_certificate_the_road_does_not_trust_is_a_connect_error(
    authority: trustme.CA,
) -> None:
    server_context, _ = _tls_contexts(authority)
    server = RawServer(_keep_alive, tls=server_context)
    road = SyncAnswerRoad(ssl.create_default_context())  # the test authority is not in it
    try:
        with pytest.raises(httpx.ConnectError):
            _post(road, server)
        assert server.requests == []
    finally:
        road.close()
        server.close()


def test_without_httptools_the_road_parses_with_http_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from codex_manager.client import _http1

    assert _http1.installed_engine() == "httptools"  # the dev install has it
    monkeypatch.setitem(sys.modules, "httptools", None)  # what a missing package looks like
    assert _http1.installed_engine() == "http.client"
