"""Fixtures of the remote-skills integration tests: a fake server and clients on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.testing import FakeCodexManager


@pytest.fixture
def server() -> Iterator[FakeCodexManager]:
    """A fresh fake codex-manager (quiet: only the essential frames)."""
    with FakeCodexManager(noise=False) as fake:
        yield fake


@pytest.fixture
def noisy_server() -> Iterator[FakeCodexManager]:
    """A fake codex-manager emitting the realistic extra frames of real turns."""
    with FakeCodexManager(noise=True) as fake:
        yield fake


@pytest.fixture
def cm(server: FakeCodexManager) -> Iterator[CodexManager]:
    """A sync client of ``server``."""
    with CodexManager(server.base_url) as client:
        yield client


@pytest.fixture
async def acm(server: FakeCodexManager) -> AsyncIterator[AsyncCodexManager]:
    """An async client of ``server``."""
    async with AsyncCodexManager(server.base_url) as client:
        yield client
