"""SDK-sync: the seed's sync pattern on ``CodexManager`` (threads, no event loop).

Handlers run in the stream's worker threads; the slow handler blocks its thread for 20 ms.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.clients.common import ClientResult, ClientSpec, lookup_ticket, lookup_ticket_blocking
from bench.sdk_adapters import sdk_module


def run(spec: ClientSpec) -> ClientResult:
    """Serve the run described by ``spec`` through the SDK."""
    sdk = sdk_module("codex_manager", "CodexManager")
    handler = lookup_ticket_blocking if spec.handler == "sleep20" else lookup_ticket
    started = time.perf_counter()
    lock = threading.Lock()
    answered = 0
    failures: list[str] = []
    timed_out = threading.Event()
    with sdk.CodexManager(base_url=spec.base_url) as cm:
        registries = {}
        for thread_id in spec.thread_ids:
            skills = cm.remote_skills.session(thread_id)
            skills.register("lookup_ticket", handler, description="Lookup ticket status by id")
            registries[thread_id] = skills

        def on_tool_call(signal: object, _ctx: object) -> None:
            nonlocal answered
            thread_id = getattr(signal, "thread_id", None)
            skills = registries.get(thread_id) if isinstance(thread_id, str) else None
            if skills is None:
                return
            dispatch = skills.respond_to_signal(signal)
            if dispatch is None:
                return
            with lock:
                if dispatch.submission_status == "accepted":
                    answered += 1
                    finished = answered >= spec.expected_calls
                else:
                    failures.append(f"{dispatch.request_id}: {dispatch.submission_status}")
                    finished = False
            if finished:
                stop_all()

        if spec.stream_mode == "shared":
            cm.on_app_server_request("item.tool.call")(on_tool_call)
            streams: list[tuple[Any, str | None]] = [(cm.stream, None)]
        else:
            # One stream per session (each its own reader thread), filtered on its thread.
            stream_cls = sdk_module("codex_manager.stream", "EventStream").EventStream
            streams = []
            for thread_id in spec.thread_ids:
                stream = stream_cls(cm)
                stream.on_app_server_request("item.tool.call")(on_tool_call)
                streams.append((stream, thread_id))

        def stop_all() -> None:
            for stream, _ in streams:
                stream.stop()

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
    return ClientResult(
        status="timeout" if timed_out.is_set() else "ok",
        answered=answered,
        reason="; ".join(failures[:3]),
        wall_s=time.perf_counter() - started,
    )
