"""Lone surrogates in the server's JSON, made U+FFFD wherever the SDK reads it.

Node's ``JSON.stringify`` writes a lone surrogate as its escape (``"\\ud83d"``: a string cut
between the two halves of an emoji, a title shortened with ``.slice``). Python's ``json``
reads it into a ``str`` that cannot be encoded as UTF-8: a tool call's arguments holding
one broke the answer that echoed them, and the stream (whose decoder refuses them) and the
REST path would hand a handler different text for the same call.
"""

from __future__ import annotations

import re
from typing import Final

from codex_manager.json_types import JSONValue

SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
"""A surrogate's escape in JSON text (of a lone one, or half of a pair)."""
SURROGATE_ESCAPE_BYTES: Final = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(value: JSONValue) -> JSONValue:
    """``value`` (parsed JSON) with every lone surrogate in its strings made U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [replace_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {
            _SURROGATE.sub("\ufffd", key): replace_lone_surrogates(item)
            for key, item in value.items()
        }
    return value
