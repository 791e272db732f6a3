"""The loop shared by the raw baselines: read frames, pick tool calls, answer them.

Each baseline only supplies its websocket reader and its POST; everything else (JSON parsing
with the stdlib, the session check, one task per call) is identical, so the two differ only in
the libraries under test.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from bench.clients.common import (
    AnswerTally,
    ClientResult,
    ClientSpec,
    lookup_ticket_async,
    lookup_ticket_sleeping,
)
from bench.frames import TOOL_CALL_TYPE

OpenStream = Callable[[str | None], AsyncIterator[str]]
"""Yields the text frames of one websocket (``None`` = unfiltered)."""

PostAnswer = Callable[[str, bytes], Awaitable[int]]
"""POSTs an answer body for a request id; returns the status code."""


def extract_call(text: str, threads: frozenset[str]) -> tuple[str, str] | None:
    """``(request_id, ticket_id)`` when ``text`` is a tool call of one of ``threads``."""
    frame = json.loads(text)
    if not isinstance(frame, dict) or frame.get("type") != TOOL_CALL_TYPE:
        return None
    if frame.get("threadId") not in threads:
        return None
    payload = frame.get("payload")
    if not isinstance(payload, dict):
        return None
    params = payload.get("params")
    arguments = params.get("arguments") if isinstance(params, dict) else None
    ticket = arguments.get("ticket_id") if isinstance(arguments, dict) else None
    request_id = payload.get("requestId")
    if not isinstance(ticket, str) or not isinstance(request_id, int | str):
        return None
    return str(request_id), ticket


async def run_raw(
    spec: ClientSpec,
    open_stream: OpenStream,
    post_answer: PostAnswer,
    *,
    max_in_flight: int | None,
) -> ClientResult:
    """Serve ``spec``'s sessions until every expected call is answered or time runs out."""
    threads = frozenset(spec.thread_ids)
    handler = lookup_ticket_sleeping if spec.handler == "sleep20" else lookup_ticket_async
    limit = asyncio.Semaphore(max_in_flight) if max_in_flight else None
    done = asyncio.Event()
    tally = AnswerTally(spec)
    tasks: set[asyncio.Task[None]] = set()

    async def answer(request_id: str, ticket: str) -> None:
        result = await handler(ticket)
        body = json.dumps({"success": True, "text": json.dumps(result)}).encode()
        if limit is None:
            status = await post_answer(request_id, body)
        else:
            async with limit:
                status = await post_answer(request_id, body)
        if status != 200:
            tally.failed(f"{request_id}: HTTP {status}")
        elif tally.accepted():
            done.set()

    async def read(thread_id: str | None) -> None:
        async for text in open_stream(thread_id):
            call = extract_call(text, threads)
            if call is not None:
                task = asyncio.create_task(answer(*call))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    started = time.perf_counter()
    filters: list[str | None] = [None] if spec.stream_mode == "shared" else list(spec.thread_ids)
    readers = [asyncio.create_task(read(f)) for f in filters]
    status: str = "ok"
    try:
        await asyncio.wait_for(done.wait(), spec.timeout_s)
    except TimeoutError:
        status = "timeout"
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    for reader in readers:
        if reader.done() and not reader.cancelled() and reader.exception():
            tally.failed(repr(reader.exception()))
    return tally.result("ok" if status == "ok" else "timeout", started)
