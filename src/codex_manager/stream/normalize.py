"""The server's method normalization: ``item/tool/call`` -> ``item.tool.call``.

This reproduces ``server-contract.md`` section 5 exactly, so that a handler registered
for a normalized method matches the ``app_server.*`` event type the server publishes.
"""

from __future__ import annotations

import re
from functools import lru_cache

# JavaScript's String.prototype.trim() set (WhiteSpace + LineTerminator), which differs
# from Python's str.strip() (that one also strips \x1c-\x1f and \x85, but not \ufeff).
_JS_WHITESPACE = (
    "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_ACRONYM_WORD = re.compile(r"([A-Z]+)([A-Z][a-z])")
_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_UNDERSCORES = re.compile(r"_+")


def _segment(raw: str) -> str:
    text = raw.strip(_JS_WHITESPACE) or "unknown"
    text = _NON_ALNUM.sub("_", text)
    text = _ACRONYM_WORD.sub(r"\1_\2", text)
    text = _LOWER_UPPER.sub(r"\1_\2", text)
    text = _UNDERSCORES.sub("_", text)
    return text.strip("_").lower()


@lru_cache(maxsize=4096)
def normalize_method(method: str) -> str:
    """Normalize a JSON-RPC method name the way codex-manager does for event types.

    Splits on ``/``; per segment: trim, empty -> ``unknown``, non-alphanumeric runs ->
    ``_``, ``_`` between an acronym and a capitalised word and between a lowercase letter
    or digit and an uppercase letter, collapse and strip ``_``, lower-case; drops empty
    segments; joins with ``.``; an empty result is ``unknown``.

    >>> normalize_method("item/tool/requestUserInput")
    'item.tool.request_user_input'
    """
    segments = [s for s in (_segment(part) for part in method.split("/")) if s]
    return ".".join(segments) or "unknown"


def notification_event_type(method: str) -> str:
    """Event type of the ``app_server`` notification for ``method``."""
    return "app_server." + normalize_method(method)


def request_event_type(method: str) -> str:
    """Event type of the ``app_server`` server-initiated request for ``method``."""
    return "app_server.request." + normalize_method(method)


__all__ = ["normalize_method", "notification_event_type", "request_event_type"]
