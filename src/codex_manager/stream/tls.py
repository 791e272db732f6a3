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


def stream_tls_context(given: ssl.SSLContext | None = None) -> ssl.SSLContext:
    """``given`` (``StreamOptions.tls_context``), else a new client context that trusts
    what httpx trusts by default (read at each call)."""
    return given if given is not None else httpx.create_ssl_context()


__all__ = ["stream_tls_context"]
