"""R-sync-threads: the floor of a synchronous client whose handlers may block.

R-sync answers one call at a time in one thread, which a 20 ms handler bounds at 50 calls/s. A
sync client that serves blocking handlers needs a thread per call in flight, as the sync SDK
has: here ``websockets.sync`` reads the stream in the calling thread and hands each tool call
to one of 128 worker threads (the sync SDK's default bound), which runs the handler and POSTs
the answer on a keep-alive ``http.client`` connection of its own (as the sync SDK answers).
Stdlib ``json``, no retries, no checks beyond the raw baselines' own. Shared stream only: it is
the reference for what threads cost a sync client once its handlers block.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from urllib.parse import urlsplit

from websockets.sync.client import connect

from bench.clients.common import (
    AnswerTally,
    ClientResult,
    ClientSpec,
    lookup_ticket,
    lookup_ticket_blocking,
    ws_url,
)
from bench.clients.raw import extract_call

WORKERS = 128
"""Handler threads: the sync SDK's default bound on handlers running at once."""

_POLL_S = 0.1
"""How often the reader looks whether every call was answered while no frame comes."""


def run(spec: ClientSpec) -> ClientResult:
    """Serve the run described by ``spec`` (shared stream only)."""
    if spec.stream_mode != "shared":
        return ClientResult(status="error", reason="R-sync-threads serves shared runs only")
    handler = lookup_ticket_blocking if spec.handler == "sleep20" else lookup_ticket
    threads = frozenset(spec.thread_ids)
    tally = AnswerTally(spec)
    parts = urlsplit(spec.base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    jobs: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
    finished = threading.Event()

    def work() -> None:
        answers = http.client.HTTPConnection(host, port)
        try:
            while (job := jobs.get()) is not None:
                request_id, ticket = job
                body = json.dumps({"success": True, "text": json.dumps(handler(ticket))})
                try:
                    answers.request(
                        "POST",
                        f"/api/tool-calls/{request_id}/response",
                        body=body.encode(),
                        headers={"Content-Type": "application/json"},
                    )
                    response = answers.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException) as exc:
                    tally.failed(f"{request_id}: {exc!r}")
                    answers.close()  # reconnects at the next request
                    continue
                if response.status != 200:
                    tally.failed(f"{request_id}: HTTP {response.status}")
                elif tally.accepted():
                    finished.set()
        finally:
            answers.close()

    workers = [threading.Thread(target=work, daemon=True) for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    started = time.perf_counter()
    deadline = time.monotonic() + spec.timeout_s
    try:
        with connect(ws_url(spec.base_url, None), max_size=None, compression=None) as ws:
            while not finished.is_set() and time.monotonic() < deadline:
                try:
                    text = ws.recv(timeout=_POLL_S)
                except TimeoutError:
                    continue
                if not isinstance(text, str):
                    continue
                call = extract_call(text, threads)
                if call is not None:
                    jobs.put(call)
    finally:
        for _ in workers:
            jobs.put(None)
    return tally.result("ok" if finished.is_set() else "timeout", started)
