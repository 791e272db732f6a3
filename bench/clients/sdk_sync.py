"""SDK-sync: the seed's sync pattern on ``CodexManager`` (threads, no event loop).

Handlers run in the stream's worker threads; the slow handler blocks its thread for 20 ms.
"""

from __future__ import annotations

import threading
import time

from bench.clients.common import (
    AnswerTally,
    ClientResult,
    ClientSpec,
    lookup_ticket,
    lookup_ticket_blocking,
)
from codex_manager import CodexManager
from codex_manager.remote_skills import SessionSkills
from codex_manager.stream import AppServerSignal, EventStream, HandlerContext


def run(spec: ClientSpec) -> ClientResult:
    """Serve the run described by ``spec`` through the SDK."""
    handler = lookup_ticket_blocking if spec.handler == "sleep20" else lookup_ticket
    started = time.perf_counter()
    tally = AnswerTally(spec)
    timed_out = threading.Event()
    with CodexManager(base_url=spec.base_url) as cm:
        registries: dict[str, SessionSkills] = {}
        for thread_id in spec.thread_ids:
            skills = cm.remote_skills.session(thread_id)
            skills.register("lookup_ticket", handler, description="Lookup ticket status by id")
            registries[thread_id] = skills
        streams: list[tuple[EventStream[CodexManager], str | None]] = []

        def stop_all() -> None:
            for stream, _ in streams:
                stream.stop()

        def on_tool_call(signal: AppServerSignal, _ctx: HandlerContext[CodexManager]) -> None:
            skills = registries.get(signal.thread_id) if signal.thread_id else None
            if skills is None:
                return
            dispatch = skills.respond_to_signal(signal)
            if dispatch is None:
                return
            if dispatch.submission_status != "accepted":
                tally.failed(f"{dispatch.request_id}: {dispatch.submission_status}")
            elif tally.accepted():
                stop_all()

        if spec.stream_mode == "shared":
            cm.on_app_server_request("item.tool.call")(on_tool_call)
            streams.append((cm.stream, None))
        else:
            # One stream per session (each its own reader thread), filtered on its thread.
            for thread_id in spec.thread_ids:
                stream = EventStream(cm)
                stream.on_app_server_request("item.tool.call")(on_tool_call)
                streams.append((stream, thread_id))

        def give_up() -> None:
            timed_out.set()
            stop_all()

        timer = threading.Timer(spec.timeout_s, give_up)
        timer.start()
        try:
            if len(streams) == 1:
                streams[0][0].run_forever(thread_id=streams[0][1])
            else:
                readers = [
                    threading.Thread(target=s.run_forever, kwargs={"thread_id": t}, daemon=True)
                    for s, t in streams
                ]
                for reader in readers:
                    reader.start()
                for reader in readers:
                    reader.join()
        finally:
            timer.cancel()
    return tally.result("timeout" if timed_out.is_set() else "ok", started)
