"""SDK-async: the seed's async pattern on ``AsyncCodexManager``.

One registry per session (``cm.remote_skills.session``) with ``lookup_ticket`` registered, and
one ``on_app_server_request("item.tool.call")`` handler that hands each signal to its session's
``respond_to_signal``: exactly what a user writes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.clients.common import (
    ClientResult,
    ClientSpec,
    lookup_ticket_async,
    lookup_ticket_sleeping,
)
from bench.sdk_adapters import sdk_module


async def run(spec: ClientSpec) -> ClientResult:
    """Serve the run described by ``spec`` through the SDK."""
    sdk = sdk_module("codex_manager", "AsyncCodexManager")
    handler = lookup_ticket_sleeping if spec.handler == "sleep20" else lookup_ticket_async
    started = time.perf_counter()
    answered = 0
    failures: list[str] = []
    done = asyncio.Event()
    async with sdk.AsyncCodexManager(base_url=spec.base_url) as cm:
        registries = {}
        for thread_id in spec.thread_ids:
            skills = cm.remote_skills.session(thread_id)
            skills.register("lookup_ticket", handler, description="Lookup ticket status by id")
            registries[thread_id] = skills

        async def on_tool_call(signal: object, _ctx: object) -> None:
            nonlocal answered
            thread_id = getattr(signal, "thread_id", None)
            skills = registries.get(thread_id) if isinstance(thread_id, str) else None
            if skills is None:
                return
            dispatch = await skills.respond_to_signal(signal)
            if dispatch is None:
                return
            if dispatch.submission_status == "accepted":
                answered += 1
                if answered >= spec.expected_calls:
                    done.set()
            else:
                failures.append(f"{dispatch.request_id}: {dispatch.submission_status}")

        if spec.stream_mode == "shared":
            cm.on_app_server_request("item.tool.call")(on_tool_call)
            streams: list[tuple[Any, str | None]] = [(cm.stream, None)]
        else:
            # One stream per session, each filtered on its thread from the first frame.
            stream_cls = sdk_module("codex_manager.stream", "AsyncEventStream").AsyncEventStream
            streams = []
            for thread_id in spec.thread_ids:
                stream = stream_cls(cm)
                stream.on_app_server_request("item.tool.call")(on_tool_call)
                streams.append((stream, thread_id))
        runners = [asyncio.create_task(s.run_forever(thread_id=t)) for s, t in streams]
        status = "ok"
        try:
            await asyncio.wait_for(done.wait(), spec.timeout_s)
        except TimeoutError:
            status = "timeout"
        finally:
            for stream, _ in streams:
                stream.stop()
            _, pending = await asyncio.wait(runners, timeout=10.0)
            for runner in pending:
                runner.cancel()
    return ClientResult(
        status="ok" if status == "ok" else "timeout",
        answered=answered,
        reason="; ".join(failures[:3]),
        wall_s=time.perf_counter() - started,
    )
