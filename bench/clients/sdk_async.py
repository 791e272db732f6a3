"""SDK-async: the seed's async pattern on ``AsyncCodexManager``.

One registry per session (``cm.remote_skills.session``) with ``lookup_ticket`` registered, and
one ``on_app_server_request("item.tool.call")`` handler that hands each signal to its session's
``respond_to_signal``: exactly what a user writes. Imports are static so ``mypy`` checks this
against the SDK's API; an ImportError makes the runner report the client as unavailable.
"""

from __future__ import annotations

import asyncio
import time

from bench.clients.common import (
    AnswerTally,
    ClientResult,
    ClientSpec,
    lookup_ticket_async,
    lookup_ticket_sleeping,
)
from codex_manager import AsyncCodexManager
from codex_manager.remote_skills import AsyncSessionSkills
from codex_manager.stream import AppServerSignal, AsyncEventStream, HandlerContext


async def run(spec: ClientSpec) -> ClientResult:
    """Serve the run described by ``spec`` through the SDK."""
    handler = lookup_ticket_sleeping if spec.handler == "sleep20" else lookup_ticket_async
    started = time.perf_counter()
    tally = AnswerTally(spec)
    done = asyncio.Event()
    async with AsyncCodexManager(base_url=spec.base_url) as cm:
        registries: dict[str, AsyncSessionSkills] = {}
        for thread_id in spec.thread_ids:
            skills = cm.remote_skills.session(thread_id)
            skills.register("lookup_ticket", handler, description="Lookup ticket status by id")
            registries[thread_id] = skills

        async def on_tool_call(
            signal: AppServerSignal, _ctx: HandlerContext[AsyncCodexManager]
        ) -> None:
            skills = registries.get(signal.thread_id) if signal.thread_id else None
            if skills is None:
                return
            dispatch = await skills.respond_to_signal(signal)
            if dispatch is None:
                return
            if dispatch.submission_status != "accepted":
                tally.failed(f"{dispatch.request_id}: {dispatch.submission_status}")
            elif tally.accepted():
                done.set()

        streams: list[tuple[AsyncEventStream[AsyncCodexManager], str | None]]
        if spec.stream_mode == "shared":
            cm.on_app_server_request("item.tool.call")(on_tool_call)
            streams = [(cm.stream, None)]
        else:
            # One stream per session, each filtered on its thread from the first frame.
            streams = []
            for thread_id in spec.thread_ids:
                stream = AsyncEventStream(cm)
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
    return tally.result("ok" if status == "ok" else "timeout", started)
