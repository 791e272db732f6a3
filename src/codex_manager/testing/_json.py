"""JSON text as the Node server writes it (``JSON.stringify``).

Non-ASCII characters go as they are, but a lone surrogate (valid in a JSON string, and in a
JavaScript one) goes as its ``\\uXXXX`` escape: written as it is, it could not be encoded as
UTF-8, and the fake failed with a 500 where the server answers.
"""

from __future__ import annotations

import json
import re

from codex_manager.json_types import JSONValue

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def stringify(
    value: JSONValue, *, indent: int | None = None, separators: tuple[str, str] | None = None
) -> str:
    """``value`` as ``JSON.stringify`` writes it (``indent`` and ``separators`` as in ``json``)."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=separators)
    return _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
