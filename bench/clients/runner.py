"""Runs one client in its own process: ``python -m bench.clients.runner '<ClientSpec JSON>'``.

A fresh process per run keeps clients from sharing a GIL, thread pools or caches with the
harness or with each other. The last stdout line is the :class:`ClientResult` as JSON. A client
whose module cannot be imported (the SDK still being written) reports ``unavailable``.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
import traceback

import msgspec

from bench.clients.common import ClientResult, ClientSpec
from bench.sdk_adapters import SdkUnavailableError

CLIENT_MODULES: dict[str, str] = {
    "r-httpx": "bench.clients.raw_httpx",
    "r-aiohttp": "bench.clients.raw_aiohttp",
    "sdk-async": "bench.clients.sdk_async",
    "sdk-sync": "bench.clients.sdk_sync",
    "r-sync": "bench.clients.raw_sync",
    "r-sync-threads": "bench.clients.raw_sync_threads",
}
"""Client label -> module exposing ``run(spec)`` (a coroutine function, or a plain function)."""


def run_client(spec: ClientSpec) -> ClientResult:
    """Import the client named in ``spec`` and run it; never raises."""
    module_name = CLIENT_MODULES.get(spec.client)
    if module_name is None:
        return ClientResult(status="error", reason=f"unknown client {spec.client!r}")
    try:
        module = importlib.import_module(module_name)
        unavailable = getattr(module, "UNAVAILABLE_REASON", None)
        if isinstance(unavailable, str):
            return ClientResult(status="unavailable", reason=unavailable)
        cpu_start = time.process_time()
        result: object = module.run(spec)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        if not isinstance(result, ClientResult):
            return ClientResult(status="error", reason=f"{module_name}.run returned {result!r}")
        result.cpu_s = time.process_time() - (result.cpu_mark or cpu_start)
        return result
    except SdkUnavailableError as exc:
        return ClientResult(status="unavailable", reason=str(exc))
    except ImportError as exc:
        return ClientResult(status="unavailable", reason=f"import failed: {exc}")
    except Exception as exc:
        detail = traceback.format_exc(limit=6)
        return ClientResult(status="error", reason=f"{type(exc).__name__}: {exc}\n{detail}")


def main() -> None:
    """Entry point: decode the spec, run the client, print the result as the last line."""
    spec = msgspec.json.decode(sys.argv[1].encode(), type=ClientSpec)
    result = run_client(spec)
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
