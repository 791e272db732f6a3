"""What a numeric setting may be: the checks the option classes share."""

from __future__ import annotations

import numbers


def is_number(value: object) -> bool:
    """A real number (an int, a float, a Fraction, numpy's), not a bool: ``True`` is no number
    of seconds. Not a ``Decimal``, which does no arithmetic with floats."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_count(value: object) -> bool:
    """An integer (Python's or numpy's), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


__all__ = ["is_count", "is_number"]
