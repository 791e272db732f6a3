"""Annotation rewriting for pydantic on Python 3.11.

Pydantic refuses ``typing.TypedDict`` classes before Python 3.12 (it needs the
``typing_extensions`` flavour). Users naturally write ``typing.TypedDict``, so their annotations
are rewritten into equivalent ``typing_extensions.TypedDict`` classes before synthesis, keeping
field types, required keys and the docstring.
"""

from __future__ import annotations

import sys
import types
import typing
import weakref
from typing import Annotated, Literal, Union, get_args, get_origin

import typing_extensions

__all__ = ["UnsupportedAnnotationError", "pydantic_compatible"]

_NEEDS_REWRITE = sys.version_info < (3, 12)
# Weak keys: a class defined per registration (in a callback, say) is freed with it, and a
# later class given the freed one's id must not get its rewrite.
_cache: weakref.WeakKeyDictionary[type, object] = weakref.WeakKeyDictionary()
_building: set[int] = set()  # TypedDicts being rebuilt now (one that refers to itself)


class UnsupportedAnnotationError(TypeError):
    """An annotation this rewriting cannot handle (the registering code names the skill)."""


def _is_stdlib_typeddict(annotation: object) -> bool:
    return (
        isinstance(annotation, type)
        and typing_extensions.is_typeddict(annotation)
        and type(annotation).__module__ == "typing"
    )


def _rebuild_typeddict(cls: type) -> object:
    cached = _cache.get(cls)
    if cached is not None:
        return cached
    if id(cls) in _building:
        raise UnsupportedAnnotationError(
            f"{cls.__name__} refers to itself: a recursive typing.TypedDict cannot be rewritten "
            "for pydantic on Python 3.11; use typing_extensions.TypedDict, a dataclass or a "
            "pydantic model"
        )
    _building.add(id(cls))
    try:
        fields = _rebuilt_fields(cls)
    finally:
        _building.discard(id(cls))
    # The functional TypedDict form with runtime-computed fields is beyond static typing.
    make_typeddict: typing.Callable[[str, dict[str, object]], type] = getattr(  # noqa: B009
        typing_extensions, "TypedDict"
    )
    rebuilt = make_typeddict(cls.__name__, fields)
    rebuilt.__doc__ = cls.__doc__
    rebuilt.__module__ = cls.__module__
    _cache[cls] = rebuilt
    return rebuilt


def _rebuilt_fields(cls: type) -> dict[str, object]:
    hints = typing.get_type_hints(cls, include_extras=True)
    optional: frozenset[str] = getattr(cls, "__optional_keys__", frozenset())
    fields: dict[str, object] = {}
    for key, hint in hints.items():
        # An explicit Required/NotRequired decides; under ``from __future__ import
        # annotations`` Python 3.11 leaves it out of ``__optional_keys__``.
        required = key not in optional
        while (origin := get_origin(hint)) in (typing.Required, typing.NotRequired):
            required = origin is typing.Required
            hint = get_args(hint)[0]
        converted = pydantic_compatible(hint)
        wrapper = typing_extensions.Required if required else typing_extensions.NotRequired
        fields[key] = wrapper[converted]
    return fields


def pydantic_compatible(annotation: object) -> object:
    """``annotation`` with every ``typing.TypedDict`` replaced by a pydantic-usable twin."""
    if not _NEEDS_REWRITE:
        return annotation
    if _is_stdlib_typeddict(annotation):
        return _rebuild_typeddict(typing.cast(type, annotation))
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is None or not args or origin is Literal:
        return annotation
    if origin is Annotated:
        base, *metadata = args
        return Annotated[(pydantic_compatible(base), *metadata)]
    converted = tuple(pydantic_compatible(arg) for arg in args)
    if converted == args:
        return annotation
    if origin is Union or origin is types.UnionType:
        return Union[converted]  # noqa: UP007 - runtime construction from a tuple
    if isinstance(annotation, types.GenericAlias):
        return types.GenericAlias(origin, converted)
    copy_with = getattr(annotation, "copy_with", None)
    if copy_with is not None:
        return copy_with(converted)
    return annotation
