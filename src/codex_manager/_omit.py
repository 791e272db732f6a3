"""The one "omitted" sentinel of the SDK.

``OMIT`` marks an optional keyword argument the caller did not pass, so that the request
leaves the key out entirely. ``None`` keeps its own meaning (JSON ``null``), which several
routes distinguish from an absent key (e.g. ``response`` on a tool-call answer).
"""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias, TypeVar

_T = TypeVar("_T")


class Omit(enum.Enum):
    """Type of :data:`OMIT`; a single-member enum so that ``x is OMIT`` narrows in mypy."""

    OMIT = "OMIT"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = Omit.OMIT
"""Default of optional keyword arguments: "leave this key out of the request"."""

Omittable: TypeAlias = _T | Omit
"""``Omittable[T]`` is ``T | Omit``: a value, or "not given"."""


def is_given(value: _T | Omit) -> bool:
    """Whether ``value`` was actually passed (is not :data:`OMIT`)."""
    return value is not OMIT


__all__ = ["OMIT", "Omit", "Omittable", "is_given"]
