"""Sharing: threads using one client, one ``http_client`` given to clients in turn."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable

import httpx
import pytest

import codex_manager.remote_skills as remote_skills_package
import codex_manager.stream as stream_package
from codex_manager import (
    AsyncCodexManager,
    ClientClosedError,
    CodexManager,
    ConfigError,
    RetryPolicy,
)
from codex_manager.stream import HandlerContext, StreamOptions
from codex_manager.testing import FakeCodexManager

from .conftest import Reply, ScriptedServer

DELETED = {"status": "ok", "sessionId": "S", "scope": "session", "removed": True, "settings": {}}


def _identities_seen_by_threads(get: Callable[[], object], threads: int = 8) -> set[int]:
    start = threading.Barrier(threads)
    seen: list[int] = []

    def touch() -> None:
        start.wait()
        seen.append(id(get()))

    workers = [threading.Thread(target=touch) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return set(seen)


def _slowed(kind: type) -> type:
    """``kind`` with a constructor slow enough that unguarded first uses would overlap."""

    def __init__(self: object, *args: object, **kwargs: object) -> None:  # noqa: N807
        time.sleep(0.05)
        kind.__init__(self, *args, **kwargs)  # type: ignore[misc]

    return type(f"Slow{kind.__name__}", (kind,), {"__init__": __init__})


@pytest.mark.parametrize(
    ("package", "name", "member"),
    [
        (stream_package, "EventStream", "stream"),
        (remote_skills_package, "RemoteSkills", "remote_skills"),
        (stream_package, "AsyncEventStream", "stream"),
        (remote_skills_package, "AsyncRemoteSkills", "remote_skills"),
    ],
)
def test_threads_touching_a_new_client_get_one_member(
    monkeypatch: pytest.MonkeyPatch, package: object, name: str, member: str
) -> None:
    # Handlers registered by one thread landed on an object another thread then replaced.
    monkeypatch.setattr(package, name, _slowed(getattr(package, name)))
    client: CodexManager | AsyncCodexManager = (
        AsyncCodexManager("http://127.0.0.1:9")
        if name.startswith("Async")
        else CodexManager("http://127.0.0.1:9")
    )
    assert len(_identities_seen_by_threads(lambda: getattr(client, member))) == 1
    if isinstance(client, CodexManager):
        client.close()


def test_one_http_client_serves_one_open_client_at_a_time() -> None:
    # Shared, the second client's base URL was ignored and each sent the other's token.
    given = httpx.Client()
    first = CodexManager("http://127.0.0.1:9", bearer_token="token-a", http_client=given)
    with pytest.raises(ConfigError, match="already serves another open SDK client"):
        CodexManager("http://127.0.0.1:8", bearer_token="token-b", http_client=given)
    assert given.headers["authorization"] == "Bearer token-a"
    first.close()
    # Given back as it was: no credentials, no hooks of the SDK; another client may take it.
    assert "authorization" not in given.headers
    assert given.event_hooks == {"request": [], "response": []}
    with CodexManager("http://127.0.0.1:8", bearer_token="token-b", http_client=given) as second:
        assert second.http_client is given
        assert given.headers["authorization"] == "Bearer token-b"
        first.close()  # closing the first again takes nothing from the second
        assert given.headers["authorization"] == "Bearer token-b"
        with pytest.raises(ConfigError):
            CodexManager("http://127.0.0.1:7", http_client=given)
    assert not given.is_closed  # the caller's to close
    given.close()


async def test_one_async_http_client_serves_one_open_client_at_a_time() -> None:
    given = httpx.AsyncClient()
    async with AsyncCodexManager("http://127.0.0.1:9", http_client=given):
        with pytest.raises(ConfigError):
            AsyncCodexManager("http://127.0.0.1:9", http_client=given)
    async with AsyncCodexManager("http://127.0.0.1:9", http_client=given) as again:
        assert again.http_client is given
    await given.aclose()


def test_a_given_http_client_gets_its_own_base_url_and_headers_back() -> None:
    # Kept, the first client's server took the next client's calls, and the caller's own
    # Authorization and X-Team were deleted instead of restored.
    given = httpx.Client(headers={"Authorization": "Bearer callers-own", "X-Team": "blue"})
    with CodexManager(
        "http://server-a.test:3001",
        bearer_token="sdk",
        headers={"X-Team": "red"},
        http_client=given,
    ):
        assert str(given.base_url) == "http://server-a.test:3001"
        assert given.headers["authorization"] == "Bearer sdk"
    assert str(given.base_url) == ""
    assert given.headers["authorization"] == "Bearer callers-own"
    assert given.headers["x-team"] == "blue"
    with CodexManager("http://server-b.test:3001", http_client=given) as second:
        request = given.build_request("GET", "/api/health")
        assert request.url.host == "server-b.test"
        assert second.http_client is given
    given.close()


def test_a_dot_segment_keeps_the_base_path_of_a_given_http_client(
    scripted: ScriptedServer,
) -> None:
    scripted.queue(Reply(200, {**DELETED, "key": ".."}))
    given = httpx.Client(base_url=scripted.base_url + "/gateway")
    with CodexManager(http_client=given, retry=RetryPolicy.disabled()) as cm:
        cm.sessions.delete_setting("S", "..")
    given.close()
    assert scripted.received[-1].path == "/gateway/api/sessions/S/settings/%2E%2E"


def test_a_base_url_the_caller_set_meanwhile_is_kept_on_close() -> None:
    given = httpx.Client()
    with CodexManager("http://server-a.test:3001", http_client=given):
        given.base_url = httpx.URL("http://callers-own.test")
    assert given.base_url.host == "callers-own.test"
    given.close()


def test_a_client_dropped_without_close_gives_the_http_client_back() -> None:
    # Dropped unclosed, the SDK client kept the caller's client claimed for good: every later
    # SDK client given it raised ConfigError, and it went on sending the old token.
    given = httpx.Client()
    CodexManager("http://server-a.test:3001", bearer_token="token-a", http_client=given)
    gc.collect()
    assert "authorization" not in given.headers
    assert given.event_hooks == {"request": [], "response": []}
    assert str(given.base_url) == ""
    with CodexManager("http://server-b.test:3001", http_client=given) as second:
        assert second.http_client is given
    given.close()


async def test_an_async_client_dropped_without_close_gives_the_http_client_back() -> None:
    given = httpx.AsyncClient()
    AsyncCodexManager("http://server-a.test:3001", bearer_token="token-a", http_client=given)
    gc.collect()
    assert "authorization" not in given.headers
    async with AsyncCodexManager("http://server-b.test:3001", http_client=given) as second:
        assert second.http_client is given
    await given.aclose()


def test_a_closed_client_collected_later_takes_nothing_from_the_next_one() -> None:
    given = httpx.Client()
    first = CodexManager("http://server-a.test:3001", bearer_token="token-a", http_client=given)
    first.close()
    with CodexManager("http://server-b.test:3001", bearer_token="token-b", http_client=given):
        del first
        gc.collect()
        assert given.headers["authorization"] == "Bearer token-b"
        assert len(given.event_hooks["request"]) == 1
    given.close()


def test_the_stream_follows_the_base_url_of_a_given_http_client() -> None:
    # Given only an http_client with a base URL, the REST calls went to it and the stream to
    # the default server (127.0.0.1:3001): refused, or worse, another server's events.
    options = StreamOptions(reconnect=RetryPolicy(max_attempts=1, initial_delay=0.01))
    with (
        FakeCodexManager() as server,
        httpx.Client(base_url=server.base_url) as given,
        CodexManager(http_client=given, stream_options=options) as cm,
    ):
        assert cm.client_config.server_url == server.base_url
        cm.sessions.list()
        connected: list[object] = []

        @cm.on_connect
        def stop_once_connected(notice: object, context: HandlerContext[CodexManager]) -> None:
            connected.append(notice)
            context.stop()

        cm.stream.run_forever()
        assert len(connected) == 1


async def test_a_given_http_client_of_another_server_is_refused() -> None:
    with httpx.Client(base_url="http://server-a.test:3001/") as given:
        with pytest.raises(ConfigError, match="REST calls would go to the first and the stream"):
            CodexManager("http://server-b.test:3001", http_client=given)
        with CodexManager("http://server-a.test:3001", http_client=given):  # same: fine
            pass
    async with httpx.AsyncClient(base_url="http://server-a.test:3001/gateway") as other:
        with pytest.raises(ConfigError):
            AsyncCodexManager("http://server-a.test:3001", http_client=other)
        async with AsyncCodexManager(http_client=other) as acm:
            assert acm.client_config.server_url == "http://server-a.test:3001/gateway"


def test_the_api_prefix_applies_under_the_base_path_of_a_given_http_client(
    scripted: ScriptedServer,
) -> None:
    scripted.queue(Reply(200, {**DELETED, "key": "k"}), Reply(200, {**DELETED, "key": ".."}))
    given = httpx.Client(base_url=scripted.base_url + "/proxy")
    with CodexManager(api_prefix="/v2", http_client=given, retry=RetryPolicy.disabled()) as cm:
        cm.sessions.delete_setting("S", "k")
        cm.sessions.delete_setting("S", "..")
    given.close()
    assert [request.path for request in scripted.received] == [
        "/proxy/v2/sessions/S/settings/k",
        "/proxy/v2/sessions/S/settings/%2E%2E",
    ]


def test_a_closed_client_sends_nothing_more(scripted: ScriptedServer) -> None:
    # Closed, a client that was given an http_client went on sending through it: without
    # credentials, then with those of the next SDK client given the same http_client.
    given = httpx.Client(base_url=scripted.base_url)
    first = CodexManager(http_client=given, bearer_token="secret-a")
    first.close()
    with (
        CodexManager(http_client=given, bearer_token="secret-b"),
        pytest.raises(ClientClosedError, match="listSessions: the client is closed"),
    ):
        first.sessions.list()
    given.close()
    own = CodexManager(scripted.base_url)
    own.close()
    with pytest.raises(ClientClosedError):
        own.system.health()
    assert scripted.received == []


async def test_a_closed_async_client_sends_nothing_more(scripted: ScriptedServer) -> None:
    async_client = AsyncCodexManager(scripted.base_url)
    await async_client.aclose()
    with pytest.raises(ClientClosedError):
        await async_client.system.health()
    assert scripted.received == []


def test_the_stream_of_a_closed_client_refuses_to_run() -> None:
    # It connected and took calls it could not answer (its REST calls fail once closed); or,
    # touched before close(), returned at once once and ran the next time.
    with FakeCodexManager() as server:
        touched = CodexManager(server.base_url)
        stream = touched.stream
        touched.close()
        untouched = CodexManager(server.base_url)
        untouched.close()
        for closed in (touched, untouched):
            assert closed.is_closed
            with pytest.raises(ClientClosedError, match="the client is closed"):
                closed.stream.run_forever()
        with pytest.raises(ClientClosedError):
            next(stream.events())
        assert server.websocket_count == 0


async def test_the_stream_of_a_closed_async_client_refuses_to_run() -> None:
    acm = AsyncCodexManager("http://127.0.0.1:9")
    before = acm.is_closed
    await acm.aclose()
    assert (before, acm.is_closed) == (False, True)
    with pytest.raises(ClientClosedError):
        await acm.stream.run_forever()
