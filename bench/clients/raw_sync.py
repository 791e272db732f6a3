"""R-sync: the floor of a synchronous client on the libraries the sync SDK uses.

``websockets.sync`` for the stream and one keep-alive ``http.client`` connection (what the
sync SDK answers on) for the answers, stdlib ``json``, everything in the calling thread: one
call at a time, no handler pool, no retries, no checks beyond the raw baselines' own. It only
serves the shared-stream, trivial-handler runs (one call at a time, a 20 ms handler would
bound it at 50 calls/s), as the reference for what any sync client costs per call here.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import time
from urllib.parse import urlsplit

from websockets.sync.client import connect

from bench.clients.common import AnswerTally, ClientResult, ClientSpec, lookup_ticket, ws_url
from bench.clients.raw import extract_call


def run(spec: ClientSpec) -> ClientResult:
    """Serve the run described by ``spec`` (shared stream, trivial handler only)."""
    if spec.stream_mode != "shared" or spec.handler != "trivial":
        return ClientResult(status="error", reason="R-sync serves shared/trivial runs only")
    threads = frozenset(spec.thread_ids)
    tally = AnswerTally(spec)
    parts = urlsplit(spec.base_url)
    answers = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)
    started = time.perf_counter()
    deadline = time.monotonic() + spec.timeout_s
    status = "timeout"
    with (
        contextlib.closing(answers),
        connect(ws_url(spec.base_url, None), max_size=None, compression=None) as ws,
    ):
        while time.monotonic() < deadline:
            try:
                text = ws.recv(timeout=max(deadline - time.monotonic(), 0.0))
            except TimeoutError:
                break
            if not isinstance(text, str):
                continue
            call = extract_call(text, threads)
            if call is None:
                continue
            request_id, ticket = call
            body = json.dumps({"success": True, "text": json.dumps(lookup_ticket(ticket))})
            content = body.encode()
            answers.request(
                "POST",
                f"/api/tool-calls/{request_id}/response",
                body=content,
                headers={"Content-Type": "application/json"},
            )
            response = answers.getresponse()
            response.read()
            if response.status != 200:
                tally.failed(f"{request_id}: HTTP {response.status}")
            elif tally.accepted():
                status = "ok"
                break
    return tally.result("ok" if status == "ok" else "timeout", started)
