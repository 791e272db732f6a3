"""What a numeric setting may be: the checks the option classes share."""

from __future__ import annotations

from typing import TypeGuard

from codex_manager.errors import ConfigError


def is_number(value: object) -> TypeGuard[int | float]:
    """An int or a float, not a bool (``True`` is no number of seconds).

    Not any real number: a ``Fraction`` or numpy's ``float32`` passes arithmetic but not
    ``time.sleep`` or ``Event.wait``, which would refuse it at first use, deep in a call.
    """
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_count(value: object) -> TypeGuard[int]:
    """An int, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_count(value: object, name: str, *, optional: bool = False) -> None:
    """Refuse ``value`` unless it is an integer >= 1 (or ``None``, when ``optional``).

    Raises:
        ConfigError: naming the setting and the value.
    """
    if optional and value is None:
        return
    if not (is_count(value) and value >= 1):
        ending = " or None" if optional else ""
        raise ConfigError(f"{name} must be an integer >= 1{ending} (got {value!r})")


__all__ = ["check_count", "is_count", "is_number"]
