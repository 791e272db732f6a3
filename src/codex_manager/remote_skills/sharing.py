"""Sharing what registration synthesizes, so many registries of the same functions stay cheap.

Synthesizing a skill builds a pydantic model, its validator and a JSON Schema: tens of KiB per
skill. That result depends only on the handler's code, signature and docstring plus the
registration arguments, never on the handler object itself, so registrations that agree on
all of those can share one immutable :class:`SkillTemplate`.

The key of a plain function is a *fingerprint*: its code object, globals, docstring, default
values and annotations. Closures made by one ``def`` (say inside a ``register`` callback) share
their code object, so they share a template as long as their defaults and annotations are the
same objects or equal simple values. Anything else compares by identity, which is always safe:
at worst a new template is built. String annotations (``from __future__ import
annotations``) are resolved against the closure and the module's globals, so the values of
the names they may mention join the key.
Callables other than plain functions (bound methods, partials, callable instances, wrapped
functions with ``__wrapped__`` or ``__signature__``) are not shared.

Compiled validators of explicit JSON Schemas are shared per canonical schema text as well.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Final, get_args, get_origin

from codex_manager.json_types import JSONObject
from codex_manager.remote_skills._cache import BoundedCache
from codex_manager.remote_skills.schema import CallPlan, OutputContract
from codex_manager.remote_skills.validation import ArgumentValidator

__all__ = [
    "TEMPLATES",
    "SkillTemplate",
    "handler_fingerprint",
    "template_key",
]

_MAX_ANNOTATION_DEPTH: Final = 16
_SIMPLE_VALUES: Final = (bool, int, float, complex, str, bytes, type(None), type(Ellipsis))
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EMPTY_CELL: Final = object()


@dataclass(frozen=True, slots=True)
class SkillTemplate:
    """The part of a skill that does not depend on the handler object (shared, immutable)."""

    description: str
    """Tool description seen by the model."""
    input_schema: JSONObject
    """``inputSchema`` sent to Codex; shared between registrations: never mutate it."""
    explicit_input_schema: bool
    """Whether ``input_schema`` was given at registration."""
    output: OutputContract | None
    """Output contract shown in the instruction text."""
    validator: ArgumentValidator
    """Checks and binds arguments (stateless)."""
    plan: CallPlan
    """How bound values become handler arguments."""


class _Same:
    """A key part equal only to the very same object (and keeping it alive, so its id stays)."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj


def _value_key(value: object) -> Hashable:
    """Simple values compare by type and value; everything else by identity."""
    if type(value) is float:
        return (float, repr(value))  # tells -0.0 from 0.0
    if type(value) in _SIMPLE_VALUES:
        return (type(value), value)
    return _Same(value)


def _annotation_key(annotation: object, depth: int = 0) -> Hashable:
    """Structural key of an annotation: ``list[int]`` built twice gives equal keys.

    Arguments keep their order (``int | str`` and ``str | int`` differ), so an equal key
    always means the same synthesized schema.
    """
    if type(annotation) in _SIMPLE_VALUES:
        return _value_key(annotation)
    origin = get_origin(annotation)
    if origin is None or depth >= _MAX_ANNOTATION_DEPTH:
        return _Same(annotation)
    args = tuple(_annotation_key(arg, depth + 1) for arg in get_args(annotation))
    return ("generic", _Same(origin), args)


def _resolution_key(handler: types.FunctionType, annotations: Mapping[str, object]) -> Hashable:
    """What string annotations resolve to: the closure cells and globals they may name."""
    names: set[str] = set()
    for annotation in annotations.values():
        if isinstance(annotation, str):
            names.update(_IDENTIFIER.findall(annotation))
    if not names:
        return ()
    parts: list[Hashable] = []
    cells = zip(handler.__code__.co_freevars, handler.__closure__ or (), strict=True)
    for name, cell in cells:
        if name in names:
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell
                contents = _EMPTY_CELL
            parts.append(("cell", name, _value_key(contents)))
    module_globals = handler.__globals__
    for name in sorted(names):
        if name in module_globals:
            parts.append(("global", name, _value_key(module_globals[name])))
    return tuple(parts)


def handler_fingerprint(handler: object) -> Hashable | None:
    """What schema synthesis reads from ``handler``, as a key; ``None`` when not shareable."""
    if type(handler) is not types.FunctionType:
        return None
    attributes = handler.__dict__
    if "__wrapped__" in attributes or "__signature__" in attributes:
        return None  # the signature comes from elsewhere
    annotations = handler.__annotations__
    defaults = handler.__defaults__ or ()
    keyword_defaults = handler.__kwdefaults__ or {}
    return (
        _Same(handler.__code__),
        _Same(handler.__globals__),
        handler.__doc__,
        tuple(_value_key(value) for value in defaults),
        tuple(sorted((name, _value_key(value)) for name, value in keyword_defaults.items())),
        tuple((name, _annotation_key(value)) for name, value in annotations.items()),
        _resolution_key(handler, annotations),
    )


def _json_key(value: Mapping[str, object] | str | None) -> str | None:
    """Exact JSON text (key order kept: a shared explicit schema must be the one given)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, allow_nan=False)


def template_key(
    name: str,
    handler: object,
    *,
    description: str | None,
    input_schema: Mapping[str, object] | None,
    output_schema: Mapping[str, object] | None,
) -> Hashable | None:
    """The key of a registration's :class:`SkillTemplate`; ``None`` when it is not shared."""
    fingerprint = handler_fingerprint(handler)
    if fingerprint is None or not (description is None or isinstance(description, str)):
        return None
    try:
        schemas = (_json_key(input_schema), _json_key(output_schema))
    except (TypeError, ValueError):
        return None  # not JSON: registration refuses it with a clear error
    return (name, fingerprint, description, *schemas)


TEMPLATES: BoundedCache[Hashable, SkillTemplate] = BoundedCache()
"""Shared templates by :func:`template_key` (least recently used ones are dropped)."""
