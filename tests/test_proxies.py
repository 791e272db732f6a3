"""Which proxy the environment names for a URL: one choice for REST and the stream."""

from __future__ import annotations

import httpx
import pytest

from codex_manager._proxies import environment_proxy, proxy_applies

VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "WS_PROXY", "WSS_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*VARIABLES, "FTP_PROXY", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.mark.parametrize(
    ("environment", "url", "expected"),
    [
        ({}, "ws://server:3001/api/stream", None),
        ({"HTTP_PROXY": "http://h:1"}, "ws://server:3001/api/stream", "http://h:1"),
        ({"HTTPS_PROXY": "http://s:1"}, "ws://server:3001/api/stream", None),
        ({"HTTPS_PROXY": "http://s:1"}, "wss://server/api/stream", "http://s:1"),
        ({"ALL_PROXY": "http://a:1"}, "ws://server:3001/api/stream", "http://a:1"),
        ({"ALL_PROXY": "http://a:1"}, "wss://server/api/stream", "http://a:1"),
        (
            {"HTTP_PROXY": "http://h:1", "HTTPS_PROXY": "http://s:1"},
            "ws://server:3001/api/stream",
            "http://h:1",
        ),
        ({"HTTP_PROXY": "http://h:1", "WS_PROXY": "http://w:1"}, "ws://server/x", "http://w:1"),
        ({"HTTP_PROXY": "http://h:1", "NO_PROXY": "server"}, "ws://server:3001/x", None),
        ({"NO_PROXY": "*"}, "ws://server:3001/x", None),
        ({"FTP_PROXY": "http://f:1"}, "http://server:3001/api", None),
        ({"HTTP_PROXY": "http://h:1"}, "http://server:3001/api", "http://h:1"),
        ({"HTTP_PROXY": "h:3128"}, "ws://server:3001/x", "http://h:3128"),  # as httpx reads it
    ],
)
def test_the_proxy_named_for_a_url(
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    url: str,
    expected: str | None,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert environment_proxy(url) == expected
    assert proxy_applies(url) is (expected is not None)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_the_stream_takes_the_road_httpx_takes_for_the_server(
    monkeypatch: pytest.MonkeyPatch, variable: str, scheme: str
) -> None:
    monkeypatch.setenv(variable, "http://proxy.invalid:3128")
    base = f"{scheme}://server.example:3001"
    mounts = httpx.Client(base_url=base)._mounts  # httpx's own reading of the environment
    rest_proxied = any(
        pattern.matches(httpx.URL(base)) and transport is not None
        for pattern, transport in mounts.items()
    )
    stream_url = base.replace("http", "ws", 1) + "/api/stream"
    assert (environment_proxy(stream_url) is not None) is rest_proxied
