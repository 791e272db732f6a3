"""R-httpx: a minimal raw handler on ``websockets`` and ``httpx.AsyncClient``.

At most two answers are in flight: the best stock httpx does here (with thousands of POSTs
started at once its pool collapses into ``PoolTimeout``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from websockets.asyncio.client import connect

from bench.clients.common import ClientResult, ClientSpec, ws_url
from bench.clients.raw import run_raw

MAX_IN_FLIGHT = 2


async def run(spec: ClientSpec) -> ClientResult:
    """Serve the run described by ``spec``."""
    async with httpx.AsyncClient(base_url=spec.base_url, timeout=30.0) as http:

        async def open_stream(thread_id: str | None) -> AsyncIterator[str]:
            async with connect(ws_url(spec.base_url, thread_id), max_size=None) as ws:
                async for message in ws:
                    if isinstance(message, str):
                        yield message

        async def post_answer(request_id: str, body: bytes) -> int:
            response = await http.post(
                f"/api/tool-calls/{request_id}/response",
                content=body,
                headers={"content-type": "application/json"},
            )
            return response.status_code

        return await run_raw(spec, open_stream, post_answer, max_in_flight=MAX_IN_FLIGHT)
