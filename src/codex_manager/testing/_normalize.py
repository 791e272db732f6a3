"""Method-name normalization used to build ``app_server.*`` event types (server-contract §5)."""

from __future__ import annotations

import re

_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_ACRONYM_THEN_WORD = re.compile(r"([A-Z]+)([A-Z][a-z])")
_LOWER_THEN_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_REPEATED_UNDERSCORE = re.compile(r"_+")


def _normalize_segment(segment: str) -> str:
    trimmed = segment.strip()
    if not trimmed:
        return "unknown"
    text = _NON_ALNUM.sub("_", trimmed)
    text = _ACRONYM_THEN_WORD.sub(r"\1_\2", text)
    text = _LOWER_THEN_UPPER.sub(r"\1_\2", text)
    text = _REPEATED_UNDERSCORE.sub("_", text)
    return text.strip("_").lower()


def normalize_method(method: str) -> str:
    """Normalize a JSON-RPC method the way codex-manager does for event types.

    ``item/tool/call`` -> ``item.tool.call``; ``thread/tokenUsage/updated`` ->
    ``thread.token_usage.updated``; empty segments become ``unknown``; segments that are
    only punctuation vanish; an all-empty result is ``unknown``.
    """
    segments = [_normalize_segment(part) for part in method.split("/")]
    joined = ".".join(segment for segment in segments if segment)
    return joined or "unknown"


def notification_event_type(method: str) -> str:
    """Event type of a codex notification, e.g. ``app_server.turn.completed``."""
    return "app_server." + normalize_method(method)


def request_event_type(method: str) -> str:
    """Event type of a server-initiated request, e.g. ``app_server.request.item.tool.call``."""
    return "app_server.request." + normalize_method(method)
