"""Fixtures for the fake server's own tests: a running fake, an HTTP client, a stream reader."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from codex_manager.testing import FakeCodexManager

from .helpers import LOOKUP_TICKET


@pytest.fixture
def server() -> Iterator[FakeCodexManager]:
    """A fake server with the realistic noise frames on."""
    with FakeCodexManager() as fake:
        yield fake


@pytest.fixture
def http(server: FakeCodexManager) -> Iterator[httpx.Client]:
    """An HTTP client bound to :func:`server`."""
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def session_id(http: httpx.Client) -> str:
    """A session created over HTTP with the ``lookup_ticket`` tool."""
    response = http.post("/api/sessions", json={"dynamicTools": [LOOKUP_TICKET]})
    assert response.status_code == 200
    sid = response.json()["session"]["sessionId"]
    assert isinstance(sid, str)
    return sid
