"""Cookies still work although the SDK's httpx clients skip the jar for cookieless answers."""

from __future__ import annotations

import pytest

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.client._http import HttpTransportChoice
from tests.client.conftest import HEALTH, Reply, ScriptedServer


def test_sync_client_stores_and_sends_cookies(scripted: ScriptedServer) -> None:
    scripted.queue(
        Reply(200, HEALTH),
        Reply(200, HEALTH, headers={"Set-Cookie": "sid=abc; Path=/"}),
        Reply(200, HEALTH),
    )
    with CodexManager(scripted.base_url) as cm:
        for _ in range(3):
            cm.system.health()
        assert cm.http_client.cookies.get("sid") == "abc"
    assert [r.headers.get("cookie") for r in scripted.received] == [None, None, "sid=abc"]


@pytest.mark.parametrize("http_transport", ["aiohttp", "httpx"])
async def test_async_client_stores_and_sends_cookies(
    scripted: ScriptedServer, http_transport: HttpTransportChoice
) -> None:
    scripted.queue(
        Reply(200, HEALTH),
        Reply(200, HEALTH, headers={"Set-Cookie": "sid=abc; Path=/"}),
        Reply(200, HEALTH),
    )
    async with AsyncCodexManager(scripted.base_url, http_transport=http_transport) as cm:
        for _ in range(3):
            await cm.system.health()
        assert cm.http_client.cookies.get("sid") == "abc"
    assert [r.headers.get("cookie") for r in scripted.received] == [None, None, "sid=abc"]


def test_cookies_set_on_the_client_are_sent(scripted: ScriptedServer) -> None:
    with CodexManager(scripted.base_url) as cm:
        cm.http_client.cookies = {"team": "blue"}
        cm.http_client.cookies.set("lang", "py")
        cm.system.health()
    assert scripted.received[0].headers.get("cookie") in {
        "team=blue; lang=py",
        "lang=py; team=blue",
    }
