"""Public names a package imports on first use (PEP 562), so that importing it stays light."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, table: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package`` for ``table`` (name ->
    module that defines it). A name is imported at its first use, then kept in the package.

    Install them only when not type checking: a type checker that sees a module
    ``__getattr__`` takes every misspelled import for a valid one.
    """
    namespace = sys.modules[package].__dict__

    def get_attribute(name: str) -> object:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def list_names() -> list[str]:
        return sorted([*namespace, *table])

    return get_attribute, list_names


__all__ = ["lazy_exports"]
