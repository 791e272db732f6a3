"""The TLS trust of the stream's connections: the REST calls' own.

httpx (and httpx-aiohttp) verify servers with certifi's CA bundle, or the bundle or directory
``SSL_CERT_FILE``/``SSL_CERT_DIR`` name; Python's default context would trust the system
store instead, so a server could pass for the REST calls and fail for the stream, or the
other way round. Every stream connection (each websocket library, through a proxy or not)
takes its context from here.
"""

from __future__ import annotations

import ssl

import httpx


def stream_tls_context() -> ssl.SSLContext:
    """A new client context that trusts what httpx trusts by default (read at each call)."""
    return httpx.create_ssl_context()


__all__ = ["stream_tls_context"]
