"""Fixtures of the stream tests: the stream server, a scriptable websocket peer, TLS."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from .peer_server import Handler, PeerServer
from .ws_server import MiniStreamServer


@pytest.fixture
def server() -> Iterator[MiniStreamServer]:
    """A running ``MiniStreamServer`` (the ``/api/stream`` protocol, faults on demand)."""
    with MiniStreamServer() as running:
        yield running


@pytest.fixture
def peer() -> Iterator[Callable[..., PeerServer]]:
    servers: list[PeerServer] = []

    def start(handler: Handler, **options: object) -> PeerServer:
        server = PeerServer(handler, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server context whose certificate the client trusts (through ``SSL_CERT_FILE``)."""
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    return server_context
