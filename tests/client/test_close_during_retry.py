"""Closing a client while one of its calls waits to retry: the call ends in ClientClosedError.

Not in the connection pool's own error (httpx's or aiohttp's bare ``RuntimeError``, outside
the SDK's error types), whichever road the call takes.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from codex_manager import AsyncCodexManager, CodexManager, RetryPolicy
from codex_manager.client._http import HttpTransportChoice
from codex_manager.errors import ClientClosedError, TransportError

SLOW_RETRIES = RetryPolicy(max_attempts=5, initial_delay=0.5, jitter=0.0)
"""Connection refused, retried after half a second: the close lands during the wait."""


def _refusing_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: connections are refused
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("call", ["list_sessions", "respond"])
def test_sync_close_while_a_call_waits_to_retry(call: str) -> None:
    cm = CodexManager(_refusing_url(), retry=SLOW_RETRIES)
    closer = threading.Timer(0.2, cm.close)
    closer.start()
    try:
        send = (
            (lambda: cm.tool_calls.respond("7", text="done"))
            if call == "respond"
            else cm.sessions.list
        )
        with pytest.raises(ClientClosedError, match="closed while the call waited") as caught:
            send()
    finally:
        closer.join(5)
        cm.close()
    assert isinstance(caught.value.__cause__, TransportError)  # the failed attempt's error


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
@pytest.mark.parametrize("call", ["list_sessions", "respond"])
async def test_async_close_while_a_call_waits_to_retry(
    call: str, transport: HttpTransportChoice
) -> None:
    cm = AsyncCodexManager(_refusing_url(), retry=SLOW_RETRIES, http_transport=transport)
    pending = asyncio.create_task(
        cm.tool_calls.respond("7", text="done") if call == "respond" else cm.sessions.list()
    )
    await asyncio.sleep(0.2)
    await cm.aclose()
    with pytest.raises(ClientClosedError, match="closed while the call waited") as caught:
        async with asyncio.timeout(5):
            await pending
    assert isinstance(caught.value.__cause__, TransportError)
