"""What a numeric setting may be: the checks the option classes share."""

from __future__ import annotations


def is_number(value: object) -> bool:
    """An int or a float, not a bool (``True`` is no number of seconds).

    Not any real number: a ``Fraction`` or numpy's ``float32`` passes arithmetic but not
    ``time.sleep`` or ``Event.wait``, which would refuse it at first use, deep in a call.
    """
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_count(value: object) -> bool:
    """An int, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = ["is_count", "is_number"]
