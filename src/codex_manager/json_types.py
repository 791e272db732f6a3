"""JSON value types shared by every layer of the SDK.

The server speaks JSON; these aliases keep public signatures precise without
falling back to ``Any``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

JSONScalar: TypeAlias = str | int | float | bool | None
"""A JSON leaf value."""

JSONValue: TypeAlias = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]
"""Any JSON value as produced by :func:`json.loads`."""

JSONObject: TypeAlias = dict[str, JSONValue]
"""A decoded JSON object."""

JSONInput: TypeAlias = JSONScalar | Sequence["JSONInput"] | Mapping[str, "JSONInput"]
"""A JSON-serialisable input: read-only containers are accepted too."""

__all__ = ["JSONInput", "JSONObject", "JSONScalar", "JSONValue"]
