"""One keep-alive HTTP/1.1 connection of the sync answer road, on httptools or on http.client.

Both kinds send one request and read its response in the calling thread, within the write and
read limits the road gives them. They differ in who parses the response:

- :class:`ParsedConnection` writes the request in one ``sendall`` and feeds what arrives to
  httptools (llhttp, the parser uvicorn uses). One send and usually one receive per answer:
  measured on the bench, a third of the CPU of ``http.client``, which reads the status line and
  each header through a buffered file and parses them with the ``email`` package. With many
  handler threads answering at once every blocking call also hands the GIL over, so fewer
  calls matter more than their CPU (see :class:`ParsedConnection` for the socket's limits):
  sync throughput on one shared stream went from about 2,700 to 4,200-4,900 calls/s.
- :class:`StdlibConnection`: the standard library's ``http.client``, used when httptools is not
  installed (``pip install codex-manager-client[httptools]``).

Failures are left as they are (``OSError``, ``TimeoutError`` for a limit reached) except an
answer that is not HTTP or is cut short: :class:`AnswerProtocolError`. The road maps them all onto
the httpx errors of the httpx road.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import struct
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Literal, Protocol, TypeAlias, get_args

from codex_manager._sockets import set_timeout, timeval

if TYPE_CHECKING:
    from httptools import HttpResponseParser

Http1Engine: TypeAlias = Literal["httptools", "http.client"]
"""Who parses the answer: httptools when installed, else the standard library."""

HTTP1_ENGINES: Final[tuple[Http1Engine, ...]] = get_args(Http1Engine)

_TCP_FAMILIES: Final = (socket.AF_INET, socket.AF_INET6)

_RECV_BYTES: Final = 65536

_MAX_HEADER_LINE: Final = 65536
"""The longest header line read (http.client's own limit)."""


class AnswerProtocolError(Exception):
    """The server's answer was not a complete HTTP/1.1 response."""


class AnswerConnection(Protocol):
    """What the road needs of a connection (``sock`` is ``None`` once it is closed)."""

    @property
    def sock(self) -> socket.socket | None:
        """The connected socket, ``None`` after :meth:`close`."""
        ...

    def limit_write(self, seconds: float | None) -> None:
        """Let a send wait at most ``seconds`` (``None``: no limit) for room to write."""
        ...

    def limit_read(self, seconds: float | None) -> None:
        """Let a receive wait at most ``seconds`` (``None``: no limit) for data."""
        ...

    def send_request(
        self, target: str, host: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> None:
        """Write ``POST target`` with ``headers`` (plus Host and Content-Length) and ``body``."""
        ...

    def read_response(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """Status, headers and body of the answer; closes the connection if it cannot be kept."""
        ...

    def unchanged_since_answer(self) -> bool | None:
        """Whether the kept connection is as its last answer left it, if the kernel can tell.

        ``True``: open both ways with nothing unread; ``False``: the server closed it or sent
        bytes nobody asked for; ``None``: this connection cannot tell (the caller polls).
        """
        ...

    def close(self) -> None:
        """Close the socket (idempotent)."""
        ...


def installed_engine() -> Http1Engine:
    """httptools when it can be imported, else ``http.client``."""
    try:
        import httptools  # noqa: F401 - imported here so that a broken install falls back
    except ImportError:
        return "http.client"
    return "httptools"


def open_connection(
    engine: Http1Engine,
    scheme: str,
    host: str,
    port: int,
    timeout: float | None,
    ssl_context: ssl.SSLContext | None,
) -> AnswerConnection:
    """Connect now (so that a failure is known to precede the request); raises ``OSError``."""
    if engine == "http.client":
        return StdlibConnection.connect(scheme, host, port, timeout, ssl_context)
    sock = socket.create_connection((host, port), timeout)
    try:
        if scheme == "https":
            assert ssl_context is not None  # the road always passes one for https
            sock = ssl_context.wrap_socket(sock, server_hostname=host)
        _no_delay(sock)
    except BaseException:
        sock.close()
        raise
    return ParsedConnection(sock)


def _no_delay(sock: socket.socket) -> None:
    # http.client writes the head and the body in two sends: without TCP_NODELAY the body could
    # wait for the first segment's acknowledgement (Nagle). One send does not need it, but a
    # request larger than a segment still goes out in pieces.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def valid_header(name: str, value: str) -> bool:
    """Whether a request may carry the header: what http.client and httpx refuse too (a line
    break would start a header, or a body, of its own)."""
    return not (
        "\r" in name
        or "\n" in name
        or ":" in name
        or "\r" in value
        or "\n" in value
        or "\x00" in value  # refused by httpx too
    )


def _check_header(name: str, value: str) -> None:
    if not valid_header(name, value):
        raise ValueError(f"Invalid header {name!r} (its value is not shown: it may be a secret)")


class _Answer:
    """The httptools callbacks for one response (and any 1xx responses before it)."""

    __slots__ = ("body", "complete", "extra", "headers", "keep_alive", "parser", "status")

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.status = 0
        self.complete = False
        self.extra = False
        self.keep_alive = False
        self.parser: HttpResponseParser | None = None

    def on_message_begin(self) -> None:
        if self.complete:
            self.extra = True  # bytes after the answer: the connection's state is unknown

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        if not self.complete and self.parser is not None:
            self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.complete:
            return
        if 100 <= self.status < 200:  # an interim answer (100 Continue): the real one follows
            self.headers.clear()
            self.body.clear()
            self.status = 0
            return
        self.complete = True
        # Only known now: once feed_data returns, the parser has reset for the next message.
        self.keep_alive = self.parser is not None and self.parser.should_keep_alive()


_TCP_INFO: Final[int | None] = (
    getattr(socket, "TCP_INFO", None) if sys.platform.startswith("linux") else None
)
"""Linux's ``getsockopt`` for a TCP connection's state (``None`` elsewhere: the BSDs have a
``TCP_INFO`` too, with another layout and other state numbers)."""

_TCP_INFO_BYTES: Final = 136
"""``struct tcp_info`` up to and including ``tcpi_bytes_received`` (Linux 4.1 and later)."""

_TCP_INFO_BYTES_RECEIVED: Final = struct.Struct("=Q")
"""``tcpi_bytes_received`` at offset 128: data bytes the connection has received in all."""

_TCP_ESTABLISHED: Final = 1
"""``tcpi_state`` of an open connection; a FIN makes it CLOSE_WAIT, a reset CLOSE."""

_TCP_STATES: Final = range(1, 12)
"""Linux's ``tcpi_state`` values for a connected socket (ESTABLISHED to CLOSING)."""


class _KernelWord:
    """Whether this process's kernel reports TCP_INFO as Linux does (until shown otherwise).

    A kernel that only mimics Linux (gVisor's netstack leaves ``tcpi_bytes_received`` at 0)
    would make every kept connection look changed, and every answer open a new one: the first
    implausible report (here, or a "changed" the socket's readability contradicts, see
    :func:`distrust_tcp_info`) turns the check off for the process, and the connections poll.
    """

    trusted = True


def distrust_tcp_info() -> None:
    """Stop asking TCP_INFO in this process: it said a connection changed that had not."""
    _KernelWord.trusted = False


class ParsedConnection:
    """A socket whose answers httptools parses (see the module docstring).

    On a plain TCP socket (not Windows) the limits are the kernel's own (``SO_SNDTIMEO`` and
    ``SO_RCVTIMEO``) and the socket blocks: Python's own timeouts poll the socket before every
    send and receive, a second system call that gives the GIL up once more. A limit reached
    then shows as ``EAGAIN``, raised here as the ``TimeoutError`` Python's timeouts raise.

    On Linux the same goes for the question asked before each reuse, whether the server hung up
    or sent something unasked: ``TCP_INFO`` tells the connection's state and how many bytes it
    has received, and CPython keeps the GIL through ``getsockopt`` (about 1 us), where a
    ``poll`` gives it up (about 70 us with other threads waiting for it, measured here).
    """

    __slots__ = ("_kernel_limits", "_limits", "_received", "_sock", "_tcp_info")

    def __init__(self, sock: socket.socket) -> None:
        """Wrap a connected socket."""
        self._sock: socket.socket | None = sock
        plain_tcp = not isinstance(sock, ssl.SSLSocket) and sock.type == socket.SOCK_STREAM
        self._kernel_limits = plain_tcp and sys.platform != "win32"
        self._limits: dict[int, float | None] = {}
        # Bytes read from the socket so far, to compare with what the kernel received.
        self._received = 0
        self._tcp_info = plain_tcp and _TCP_INFO is not None and sock.family in _TCP_FAMILIES
        if self._kernel_limits:
            sock.settimeout(None)

    @property
    def sock(self) -> socket.socket | None:
        """The connected socket, ``None`` after :meth:`close`."""
        return self._sock

    def limit_write(self, seconds: float | None) -> None:
        """Let a send wait at most ``seconds`` for room to write."""
        self._limit(socket.SO_SNDTIMEO, seconds)

    def limit_read(self, seconds: float | None) -> None:
        """Let a receive wait at most ``seconds`` for data."""
        self._limit(socket.SO_RCVTIMEO, seconds)

    def _limit(self, option: int, seconds: float | None) -> None:
        sock = self._sock
        if sock is None:
            return
        if not self._kernel_limits:
            set_timeout(sock, seconds)  # one timeout for both directions, so set per direction
        elif self._limits.get(option, -1.0) != seconds:  # usually unchanged: no system call
            sock.setsockopt(socket.SOL_SOCKET, option, timeval(seconds))
            self._limits[option] = seconds

    def send_request(
        self, target: str, host: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> None:
        """Write the whole request in one ``sendall``."""
        sock = self._sock
        if sock is None:
            raise OSError("the connection is closed")
        lines = [f"POST {target} HTTP/1.1", f"Host: {host}"]
        for name, value in headers:
            _check_header(name, value)
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        try:
            # Header values as UTF-8, as httpx encodes a value a hook set (ASCII is the same).
            sock.sendall("\r\n".join(lines).encode("utf-8") + body)
        except BlockingIOError as exc:  # SO_SNDTIMEO ran out
            raise TimeoutError("write timed out") from exc

    def read_response(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """Read until the answer is complete; the connection closes unless it may be kept."""
        import httptools  # present: this class is only used when it is installed

        sock = self._sock
        if sock is None:
            raise OSError("the connection is closed")
        answer = _Answer()
        parser = answer.parser = httptools.HttpResponseParser(answer)
        received = False
        try:
            while not answer.complete:
                data = sock.recv(_RECV_BYTES)
                if not data:
                    _end_of_stream(answer, received)
                    break
                received = True
                self._received += len(data)
                parser.feed_data(data)
        except BlockingIOError as exc:  # SO_RCVTIMEO ran out
            raise TimeoutError("read timed out") from exc
        except httptools.HttpParserUpgrade as exc:
            raise AnswerProtocolError("the server switched protocols") from exc
        except httptools.HttpParserError as exc:
            raise AnswerProtocolError(f"not an HTTP/1.1 answer: {exc}") from exc
        finally:
            answer.parser = None  # no cycle between the parser and its callbacks
        if answer.extra or not answer.keep_alive:
            self.close()
        return answer.status, answer.headers, b"".join(answer.body)

    def unchanged_since_answer(self) -> bool | None:
        """See :meth:`AnswerConnection.unchanged_since_answer` (``None``: not Linux TCP)."""
        sock = self._sock
        option = _TCP_INFO
        if sock is None or option is None or not self._tcp_info or not _KernelWord.trusted:
            return None
        try:
            info = sock.getsockopt(socket.IPPROTO_TCP, option, _TCP_INFO_BYTES)
        except OSError:
            info = b""
        if len(info) < _TCP_INFO_BYTES:  # a kernel older than 4.1: poll from now on
            self._tcp_info = False
            return None
        state = info[0]
        (received,) = _TCP_INFO_BYTES_RECEIVED.unpack_from(info, 128)
        if state not in _TCP_STATES or received < self._received:  # not Linux's numbers
            distrust_tcp_info()
            return None
        return state == _TCP_ESTABLISHED and received == self._received

    def close(self) -> None:
        """Close the socket (idempotent)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


def _end_of_stream(answer: _Answer, received: bool) -> None:
    """The server closed the connection before the answer was complete."""
    if not received:
        raise AnswerProtocolError("Server disconnected without sending a response.")
    headers = {name.lower(): value.lower() for name, value in answer.headers}
    delimited_by_close = (
        answer.status >= 200
        and "content-length" not in headers
        and "chunked" not in headers.get("transfer-encoding", "")
    )
    if not delimited_by_close:
        raise AnswerProtocolError("the answer was cut short")
    answer.complete = True  # a body that ends with the connection, as HTTP/1.1 allows


class _FinalResponse(http.client.HTTPResponse):
    """http.client's response, reading past every informational answer (it skips only 100).

    A ``102 Processing`` or ``103 Early Hints`` taken for the answer would leave the final
    one on the kept connection, to be read as the next request's answer.
    """

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            # Not in typeshed's stubs; in http.client since Python 3.0, begin() calls it.
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 < status < 200 or status == 101:  # 100: http.client skips it itself
                return version, status, reason
            while self.fp.readline(_MAX_HEADER_LINE + 1) not in (b"\r\n", b"\n", b""):
                pass  # the interim answer's headers


class StdlibConnection:
    """``http.client``'s connection behind the same three calls."""

    __slots__ = ("_connection",)

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        """Wrap a connected ``HTTPConnection``."""
        self._connection = connection

    @classmethod
    def connect(
        cls,
        scheme: str,
        host: str,
        port: int,
        timeout: float | None,
        ssl_context: ssl.SSLContext | None,
    ) -> StdlibConnection:
        """Open a connection to ``host:port`` now."""
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=ssl_context
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.response_class = _FinalResponse
        connection.connect()
        assert connection.sock is not None
        _no_delay(connection.sock)
        return cls(connection)

    @property
    def sock(self) -> socket.socket | None:
        """The connected socket, ``None`` once http.client closed it."""
        sock: socket.socket | None = self._connection.sock
        return sock

    def limit_write(self, seconds: float | None) -> None:
        """Let a send wait at most ``seconds`` (the socket's one timeout: set before sending)."""
        self._limit(seconds)

    def limit_read(self, seconds: float | None) -> None:
        """Let a receive wait at most ``seconds`` (set after sending, before reading)."""
        self._limit(seconds)

    def _limit(self, seconds: float | None) -> None:
        sock = self._connection.sock
        if sock is not None:
            set_timeout(sock, seconds)

    def send_request(
        self, target: str, host: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> None:
        """Write the request (http.client sends the head, then the body)."""
        connection = self._connection
        connection.putrequest("POST", target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host)
        for name, value in headers:
            connection.putheader(name, value.encode("utf-8"))  # as httpx (http.client: latin-1)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)

    def read_response(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """Read the answer; http.client closes the connection when it cannot be kept."""
        try:
            response = self._connection.getresponse()
            body = response.read()
        except http.client.HTTPException as exc:  # closed early, not HTTP, cut short
            raise AnswerProtocolError(str(exc) or type(exc).__name__) from exc
        return response.status, response.getheaders(), body

    def unchanged_since_answer(self) -> None:
        """``None``: http.client's buffered reads hide what was read from the socket (poll)."""
        return None

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._connection.close()


__all__ = [
    "HTTP1_ENGINES",
    "AnswerConnection",
    "AnswerProtocolError",
    "Http1Engine",
    "ParsedConnection",
    "StdlibConnection",
    "distrust_tcp_info",
    "installed_engine",
    "open_connection",
]
