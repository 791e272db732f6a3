"""A shorter road for the tool-call answer: straight onto HTTP connections, past httpx's models.

Every tool call ends in one ``POST /api/tool-calls/{requestId}/response``, so its cost bounds
how many calls a client can serve. Through ``httpx`` that POST spends more CPU in httpx's own
URL, header, request, response and cookie objects than in the connections that carry it
(measured here: about 240 us per answer through httpx on httpx-aiohttp against 85 us on the
same aiohttp session; 300 us through ``httpx.Client`` against 66-90 us on ``http.client`` and
20-30 us for one send and an httptools parse).

So when nothing could tell the difference, the SDK hands the answer route's request straight to
the aiohttp session of the async client's httpx-aiohttp transport (the same connections), or,
for the sync client, to a keep-alive connection per answering thread whose answers httptools
parses (``http.client`` when httptools is not installed; see
:mod:`codex_manager.client._direct_sync`). "Nothing could tell" means: the SDK
created the httpx client itself, no proxy applies to the server, and the client has no auth,
event hooks of someone else, default query parameters, cookies or redirect following (see
:func:`untouched`). Everything else a request gets still happens: the route's generated request
model checks the body and its generated response parser checks the answer, the SDK's hooks run,
the client's headers and timeouts apply, and retries, status mapping and errors are the same as
on the httpx path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import httpx

if TYPE_CHECKING:
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

DIRECT_OPERATIONS: Final = frozenset({"respondToolCall"})
"""Operations sent on the direct road when it is open (the per-tool-call answer only)."""

_SKIPPED_HEADERS: Final = frozenset({"accept-encoding", "content-length", "content-type", "host"})
"""Client headers the request replaces, as httpx would: the pool sets ``Host`` and
``Content-Length``, the JSON body its ``Content-Type``; for ``Accept-Encoding`` aiohttp offers
(and decodes) what it supports, and the sync road, which decodes nothing, asks for ``identity``."""


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """An HTTP answer as the pool delivered it."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes


def encode_json_body(body: object) -> bytes:
    """A request body as JSON, byte for byte what httpx's ``json=`` sends (NaN refused alike)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def untouched(http: httpx.Client | httpx.AsyncClient, own_hooks: int) -> bool:
    """Whether ``http`` still sends as the SDK set it up.

    Anything httpx would add to the request or do with the answer that the direct road does
    not: authentication, event hooks other than the SDK's own, default query parameters,
    cookies to send, redirects to follow.
    """
    hooks = http.event_hooks
    return (
        http.auth is None
        and len(hooks.get("request", ())) == own_hooks
        and len(hooks.get("response", ())) == own_hooks
        and not http.params
        and not http.follow_redirects
        and not http.cookies.jar
    )


def request_headers(
    http: httpx.Client | httpx.AsyncClient, extra: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The headers the httpx client would send with a JSON body, plus ``extra``."""
    headers = [
        (name, value)
        for name, value in http.headers.multi_items()
        if name.lower() not in _SKIPPED_HEADERS
    ]
    headers.append(("content-type", "application/json"))
    for name, value in extra.items():
        lowered = name.lower()
        headers = [pair for pair in headers if pair[0].lower() != lowered]
        headers.append((name, value))
    return headers


class AiohttpAnswerRoad:
    """POSTs on the aiohttp session of the SDK's own httpx-aiohttp transport."""

    def __init__(self, transport: AiohttpTransport) -> None:
        """Send on ``transport``'s session (created by the transport on first use)."""
        import aiohttp  # loaded already: the transport is built on it

        self._aiohttp = aiohttp
        self._transport = transport
        self._timeout_for: tuple[httpx.Timeout, aiohttp.ClientTimeout] | None = None

    def _session(self) -> aiohttp.ClientSession:
        client = self._transport.client
        if isinstance(client, self._aiohttp.ClientSession):
            return client
        # Exactly what the transport does on its first request: both roads share one session.
        session = self._transport.get_client()
        self._transport.client = session
        return session

    def _timeout(self, timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
        # httpx.Timeout is unhashable; the client's one rarely changes, so remember the last.
        known = self._timeout_for
        if known is not None and known[0] is timeout:
            return known[1]
        # The same mapping httpx-aiohttp applies to the requests it carries.
        mapped = self._aiohttp.ClientTimeout(
            sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool
        )
        self._timeout_for = (timeout, mapped)
        return mapped

    async def post(
        self, url: str, content: bytes, headers: list[tuple[str, str]], limits: httpx.Timeout
    ) -> RawAnswer:
        """POST ``content`` within the httpx client's ``limits``; aiohttp errors propagate."""
        session = self._session()
        async with session.request(
            "POST",
            url,
            data=content,
            headers=headers,
            allow_redirects=False,
            timeout=self._timeout(limits),
        ) as response:
            body = await response.read()
            return RawAnswer(response.status, response.headers, body)


__all__ = [
    "DIRECT_OPERATIONS",
    "AiohttpAnswerRoad",
    "RawAnswer",
    "encode_json_body",
    "request_headers",
    "untouched",
]
