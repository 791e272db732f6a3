"""Every place the bench touches the SDK, behind one seam.

The SDK is written in parallel with the bench; each adapter raises :class:`SdkUnavailableError` with
the reason when the piece it needs is missing, so the harness and the baselines keep working and
the SDK's figures read "unavailable: <reason>" instead of crashing the run.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Literal

from bench.clients.common import lookup_ticket

SDK_PLACEHOLDER_URL = "http://127.0.0.1:9"
"""Base URL for SDK objects that never talk to a server (memory benchmark)."""


class SdkUnavailableError(Exception):
    """The SDK piece a scenario needs does not exist (yet)."""


def sdk_decode_router() -> tuple[Callable[[str], None], Callable[[], int]]:
    """The SDK's decode + route for one raw frame, and a counter of tool calls routed.

    This is what the stream's reader does per frame before handing matches to the
    dispatcher: ``decode_frame`` then ``Router.route``; the matched handler is called inline.
    """
    try:
        from codex_manager.stream.decode import decode_frame
        from codex_manager.stream.errors import StreamFrameError
        from codex_manager.stream.frames import AppServerSignal, StreamEvent
        from codex_manager.stream.router import Router
    except ImportError as exc:
        raise SdkUnavailableError(f"stream decode/router not importable ({exc})") from exc
    routed = [0]

    def on_tool_call(signal: AppServerSignal, _ctx: object) -> None:
        if signal.tool_call is not None:
            routed[0] += 1

    router = Router()
    router.add_signal(on_tool_call, "request", "item.tool.call")

    def route(text: str) -> None:
        try:
            frame = decode_frame(text)
        except StreamFrameError:
            return
        if isinstance(frame, StreamEvent):
            for entry in router.route(frame):
                entry.handler(frame, None)

    return route, lambda: routed[0]


def lookup_order(order_id: str, include_items: bool = False) -> dict[str, str]:
    """Look up an order.

    Args:
        order_id: The order's id.
        include_items: Whether to list the order's items.
    """
    return {"orderId": order_id}


def search_docs(query: str, limit: int = 5) -> list[str]:
    """Search the documentation.

    Args:
        query: Words to look for.
        limit: Most results to return.
    """
    return [query][:limit]


def create_ticket(title: str, priority: Literal["low", "normal", "high"] = "normal") -> str:
    """Open a ticket.

    Args:
        title: One-line summary.
        priority: How urgent it is.
    """
    return f"{priority}: {title}"


def summarize(text: str, max_words: int = 50) -> str:
    """Summarize a text.

    Args:
        text: The text.
        max_words: Length limit of the summary.
    """
    return " ".join(text.split()[:max_words])


MEMORY_SKILLS: tuple[Callable[..., object], ...] = (
    lookup_ticket,
    lookup_order,
    search_docs,
    create_ticket,
    summarize,
)
"""The five skills each registry of the memory benchmark registers (schemas synthesized)."""


def sdk_registries() -> Callable[[int, int], list[object]]:
    """A builder of ``n`` session registries with ``k`` skills each, on one sync SDK client."""
    try:
        from codex_manager import CodexManager
    except ImportError as exc:
        raise SdkUnavailableError(f"codex_manager.CodexManager not importable ({exc})") from exc
    cm = CodexManager(base_url=SDK_PLACEHOLDER_URL)
    session_ids = itertools.count()

    def build(count: int, skills: int) -> list[object]:
        out: list[object] = []
        for _ in range(count):
            registry = cm.remote_skills.session(f"memory-session-{next(session_ids)}")
            for fn in MEMORY_SKILLS[:skills]:
                registry.register(fn.__name__, fn)
            out.append(registry)
        return out

    return build


__all__ = [
    "SDK_PLACEHOLDER_URL",
    "SdkUnavailableError",
    "lookup_ticket",
    "sdk_decode_router",
    "sdk_registries",
]
