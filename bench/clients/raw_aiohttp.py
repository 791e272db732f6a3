"""R-aiohttp: the same raw handler on aiohttp's websocket client and ``ClientSession``.

No in-flight bound beyond aiohttp's connection pool: this is the practical floor of the whole
path in Python.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from bench.clients.common import ClientResult, ClientSpec, ws_url
from bench.clients.raw import run_raw


async def run(spec: ClientSpec) -> ClientResult:
    """Serve the run described by ``spec``."""
    async with aiohttp.ClientSession() as http:

        async def open_stream(thread_id: str | None) -> AsyncIterator[str]:
            async with http.ws_connect(ws_url(spec.base_url, thread_id)) as ws:
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        yield message.data
                    elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        return

        async def post_answer(request_id: str, body: bytes) -> int:
            async with http.post(
                f"{spec.base_url}/api/tool-calls/{request_id}/response",
                data=body,
                headers={"content-type": "application/json"},
            ) as response:
                await response.read()
                return response.status

        return await run_raw(spec, open_stream, post_answer, max_in_flight=None)
