"""Tool schemas: synthesis from a handler's signature and docstring, and checks on explicit ones.

Synthesis follows the convention shared by FastMCP, pydantic-ai, openai-agents and the Anthropic
SDK: a pydantic model is built with :func:`pydantic.create_model` (one field per parameter,
required when the parameter has no default), its JSON Schema becomes ``inputSchema``, and the same
model later validates and converts the arguments. Parameter descriptions come from
``Annotated[..., Field(description=...)]`` first, then from the docstring (Google, NumPy or
Sphinx, parsed by :mod:`docstring_parser`). The return annotation and the docstring's
``Returns:`` text form the *output contract*, which is shown to the model in the instruction
text and never merged into ``inputSchema``.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import json
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, Union, cast, get_args, get_origin

import docstring_parser
import jsonschema_rs
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema

from codex_manager.json_types import JSONObject, JSONValue
from codex_manager.remote_skills._cache import BoundedCache
from codex_manager.remote_skills._compat import UnsupportedAnnotationError, pydantic_compatible
from codex_manager.remote_skills.context import SkillContext
from codex_manager.remote_skills.errors import SkillRegistrationError

__all__ = [
    "PERMISSIVE_OBJECT_SCHEMA",
    "CallPlan",
    "OutputContract",
    "ParameterSlot",
    "SynthesizedSkill",
    "check_explicit_input_schema",
    "check_json_schema",
    "check_output_schema",
    "synthesize",
]

PERMISSIVE_OBJECT_SCHEMA: JSONObject = {"type": "object", "properties": {}}
"""The schema used when nothing can be inferred: any object of arguments."""


@dataclass(frozen=True, slots=True)
class OutputContract:
    """What a skill returns, as shown to the model (never part of ``inputSchema``)."""

    schema: JSONObject | None
    """JSON Schema of the return value, when the return annotation yields one."""
    description: str | None
    """The docstring's ``Returns:`` text, or the annotation's name when no schema exists."""

    def render(self) -> str:
        """One line of text describing the result, for the instruction text."""
        parts: list[str] = []
        if self.description:
            parts.append(self.description.strip())
        if self.schema is not None:
            parts.append("schema " + json.dumps(self.schema, sort_keys=True, separators=(",", ":")))
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class ParameterSlot:
    """How one JSON argument reaches one handler parameter."""

    name: str
    """The parameter name, which is also the JSON property name."""
    positional: bool
    """True for positional-only parameters, which are passed by position."""
    field_name: str
    """Internal pydantic field name (``p0``, ``p1``, ...); avoids clashes with model attributes."""
    has_default: bool
    """Whether the parameter may be omitted."""
    default: object = None
    """The default (when :attr:`has_default`): passed for an omitted positional-only
    parameter that a later positional one follows."""
    field_default: FieldInfo | None = None
    """A default Python cannot supply itself (``limit: int = Field(5)``, whose Python default
    is the ``FieldInfo``; ``Annotated[list[str], Field(default_factory=list)]``, which has
    none): the validator passes it when the argument is omitted."""

    def default_value(self) -> object:
        """The value an omitted argument takes (a factory's is made anew each time)."""
        if self.field_default is not None:
            return self.field_default.get_default(call_default_factory=True, validated_data={})
        return self.default


@dataclass(frozen=True, slots=True)
class CallPlan:
    """How validated arguments are turned into a call of the handler."""

    slots: tuple[ParameterSlot, ...]
    """Regular parameters, in declaration order."""
    context_parameter: str | None
    """Name of the parameter that receives the :class:`SkillContext`, if any."""
    context_positional: bool
    """Whether the context parameter is positional-only."""
    var_keyword: str | None
    """Name of the ``**kwargs`` parameter, if any: extra JSON properties go there."""
    fixed: frozenset[str] = frozenset()
    """Names the model may not give even through ``**kwargs``: the context parameter and
    keywords a ``functools.partial`` bound (``partial(f, tenant="acme")`` keeps the tenant
    out of the model's hands)."""

    def call_arguments(
        self,
        values: Mapping[str, object],
        extras: Mapping[str, object],
        context: SkillContext,
    ) -> tuple[list[object], dict[str, object]]:
        """Split argument values into ``(args, kwargs)`` for the handler.

        A positional-only context parameter is always the first parameter (checked at
        registration), so it goes first in ``args``.
        """
        positional: list[object] = []
        keyword: dict[str, object] = {}
        if self.context_parameter is not None:
            if self.context_positional:
                positional.append(context)
            else:
                keyword[self.context_parameter] = context
        skipped: list[object] = []  # defaults of omitted positional-only parameters so far
        for slot in self.slots:
            if slot.positional:
                if slot.name in values:
                    positional.extend(skipped)  # a later one given: the omitted ones take
                    skipped.clear()  # their defaults, so that it lands in its own place
                    positional.append(values[slot.name])
                else:
                    skipped.append(slot.default_value())
            elif slot.name in values:
                keyword[slot.name] = values[slot.name]
        if self.context_parameter is not None and not self.context_positional:
            # The model cannot stand in for the context through **kwargs.
            extras = {key: value for key, value in extras.items() if key != self.context_parameter}
        keyword.update(extras)
        return positional, keyword


@dataclass(frozen=True, slots=True)
class SynthesizedSkill:
    """Everything registration learns from a handler."""

    description: str | None
    """Docstring summary (and body), or ``None`` when the handler has no docstring."""
    input_schema: JSONObject
    """Synthesized ``inputSchema`` (only used when no explicit schema was given)."""
    arguments_model: type[BaseModel] | None
    """Pydantic model validating and converting arguments; ``None`` with an explicit schema."""
    var_keyword_adapter: TypeAdapter[dict[str, Any]] | None
    """Validator for the values collected by ``**kwargs``, when the handler has one."""
    plan: CallPlan
    """How to call the handler with validated values."""
    output: OutputContract | None
    """The output contract, when the handler declares one."""


class _NoFieldTitles(GenerateJsonSchema):
    """Pydantic's generator without the per-field ``title`` noise (the model sees descriptions)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        """Never add a per-field ``title``."""
        return False


def _is_context_annotation(annotation: object) -> bool:
    if annotation is SkillContext:
        return True
    if isinstance(annotation, str):  # unresolved (only tolerated with an explicit schema)
        return annotation.replace(" ", "") in {"SkillContext", "SkillContext|None"}
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_context_annotation(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return len(members) == 1 and members[0] is SkillContext
    return False


def _underlying(handler: object) -> list[object]:
    """The handler and what it wraps, outermost first: a ``functools.partial``'s function,
    a bound method's function, a callable object's ``__call__``, a decorator's
    ``__wrapped__`` (as :func:`inspect.signature` follows them)."""
    chain: list[object] = []
    current: object = handler
    while current is not None and len(chain) < 32 and all(current is not c for c in chain):
        chain.append(current)
        if isinstance(current, functools.partial):
            current = current.func
        elif inspect.ismethod(current):
            current = current.__func__
        elif inspect.isfunction(current) or inspect.isbuiltin(current):
            current = getattr(current, "__wrapped__", None)
        elif not isinstance(current, type) and callable(current):
            current = getattr(type(current), "__call__", None)  # noqa: B004
        else:
            current = None
    return chain


def handler_doc(handler: object) -> str | None:
    """The docstring describing ``handler``: its own, else that of what it wraps (a
    ``partial``'s function, a callable object's ``__call__``), never ``partial``'s own."""
    for candidate in _underlying(handler):
        if isinstance(candidate, functools.partial):
            continue
        text = inspect.getdoc(candidate)
        if text:
            return text
    return None


def _docstring(handler: Callable[..., object]) -> docstring_parser.Docstring | None:
    text = handler_doc(handler)
    if not text:
        return None
    try:
        return docstring_parser.parse(text)
    except docstring_parser.ParseError:
        # A docstring the parser cannot read still gives a description, just no per-field docs.
        return docstring_parser.Docstring()


def _describe(doc: docstring_parser.Docstring | None, raw: str | None) -> str | None:
    if doc is None:
        return None
    pieces = [p.strip() for p in (doc.short_description, doc.long_description) if p and p.strip()]
    if pieces:
        # The parser's summary is the first line only: a summary that wraps goes on with the
        # next line, not after a paragraph break that was never written.
        separator = "\n\n" if doc.blank_after_short_description else "\n"
        return separator.join(pieces)
    if raw and not doc.params and doc.returns is None:
        return raw.strip() or None
    return None


def _param_docs(doc: docstring_parser.Docstring | None) -> dict[str, str]:
    if doc is None:
        return {}
    found: dict[str, str] = {}
    for param in doc.params:
        if param.description:
            found[param.arg_name.lstrip("*")] = param.description.strip()
    return found


def _signature(
    name: str, handler: Callable[..., object], *, annotations_needed: bool
) -> inspect.Signature:
    """The handler's signature with string annotations evaluated.

    Names are looked up in the handler's module globals and its closure variables. When they
    cannot be resolved and an explicit schema makes them unnecessary, the raw signature is used.
    """
    try:
        closure: dict[str, object] = {}
        for function in reversed(_underlying(handler)):  # the outermost wins a clash
            if inspect.isfunction(function):
                closure.update(inspect.getclosurevars(function).nonlocals)
        try:
            return inspect.signature(handler, eval_str=True, locals=closure)
        except NameError:
            # A type defined in the function that registers the skill, named only in string
            # annotations (``from __future__ import annotations``), is no closure variable.
            # Only names the handler's own module lacks: locals win over its globals.
            own: set[str] = set()
            for function in _underlying(handler):
                own.update(getattr(function, "__globals__", {}))
            lent = {k: v for k, v in _registering_scope().items() if k not in own}
            return inspect.signature(handler, eval_str=True, locals={**lent, **closure})
    except (NameError, SyntaxError, TypeError) as exc:
        if not annotations_needed:
            try:
                return inspect.signature(handler)
            except (TypeError, ValueError):
                pass
        raise SkillRegistrationError(
            name,
            f"cannot read the handler's signature or resolve its annotations ({exc}); "
            "define the annotated types at module level or pass input_schema=...",
        ) from exc
    except ValueError as exc:
        raise SkillRegistrationError(
            name, f"the handler has no readable signature ({exc})"
        ) from exc


_SCOPE_FRAMES: Final = 3
"""How many frames of the registering code lend their local names to annotations."""


def _registering_scope() -> dict[str, object]:
    """The local names of the code registering a skill: the frames outside the SDK, the
    innermost first (a ``register`` callback, then the function that passed it on...)."""
    names: dict[str, object] = {}
    frame: types.FrameType | None = sys._getframe(1)
    taken = 0
    while frame is not None and taken < _SCOPE_FRAMES:
        module = frame.f_globals.get("__name__", "")
        if not (module == "codex_manager" or module.startswith("codex_manager.")):
            for key, value in frame.f_locals.items():
                names.setdefault(key, value)
            taken += 1
        frame = frame.f_back
    return names


def _with_description(annotation: object, description: str | None, alias: str) -> object:
    """``Annotated`` form of ``annotation`` carrying the alias and a fallback description.

    The docstring description is placed *before* the user's own metadata so that an explicit
    ``Field(description=...)`` wins (later metadata overrides earlier).
    """
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
    else:
        base, metadata = annotation, []
    extras: list[object] = []
    if description:
        extras.append(Field(description=description))
    extras.extend(metadata)
    extras.append(Field(alias=alias))
    return Annotated[(base, *extras)]


def _field_default(param: inspect.Parameter) -> FieldInfo | None:
    """The pydantic ``Field`` that gives ``param`` a default in place of Python, if any."""
    if isinstance(param.default, FieldInfo):
        return None if param.default.is_required() else param.default
    if (
        param.default is not inspect.Parameter.empty
        or get_origin(param.annotation) is not Annotated
    ):
        return None
    fields = [item for item in get_args(param.annotation)[1:] if isinstance(item, FieldInfo)]
    if not fields:
        return None
    merged = FieldInfo.merge_field_infos(*fields)  # as pydantic reads several: later ones win
    return None if merged.is_required() else merged


def _partial_keywords(handler: object) -> frozenset[str]:
    """Keywords bound by the ``functools.partial``s ``handler`` is or wraps.

    :func:`inspect.signature` shows them as keyword-only parameters defaulting to the bound
    value, which a caller may still override: a tool must not let the model do so.
    """
    bound: set[str] = set()
    for candidate in _underlying(handler):
        if isinstance(candidate, functools.partial):
            bound.update(candidate.keywords)
    return frozenset(bound)


def _without(signature: inspect.Signature, names: frozenset[str]) -> inspect.Signature:
    if not names:
        return signature
    kept = [p for p in signature.parameters.values() if p.name not in names]
    return signature.replace(parameters=kept)


def _plan(
    name: str, signature: inspect.Signature, fixed: frozenset[str] = frozenset()
) -> tuple[CallPlan, list[inspect.Parameter]]:
    slots: list[ParameterSlot] = []
    data_params: list[inspect.Parameter] = []
    context_parameter: str | None = None
    context_positional = False
    var_keyword: str | None = None
    for index, param in enumerate(signature.parameters.values()):
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            raise SkillRegistrationError(
                name,
                f"parameter *{param.name} cannot be expressed as a named JSON argument; "
                "use a list parameter instead",
            )
        if _is_context_annotation(param.annotation):
            if context_parameter is not None:
                raise SkillRegistrationError(name, "only one SkillContext parameter is allowed")
            if param.kind is inspect.Parameter.POSITIONAL_ONLY and index != 0:
                raise SkillRegistrationError(name, "a positional-only SkillContext must come first")
            context_parameter = param.name
            context_positional = param.kind is inspect.Parameter.POSITIONAL_ONLY
            continue
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = param.name
            continue
        try:
            field_default = _field_default(param)
        except TypeError as exc:  # Fields that cannot be merged (a default and a factory)
            raise SkillRegistrationError(
                name, f"parameter {param.name!r}: its Field()s do not go together ({exc})"
            ) from exc
        slots.append(
            ParameterSlot(
                name=param.name,
                positional=param.kind is inspect.Parameter.POSITIONAL_ONLY,
                field_name=f"p{len(slots)}",
                has_default=param.default is not inspect.Parameter.empty
                or field_default is not None,
                default=None if param.default is inspect.Parameter.empty else param.default,
                field_default=field_default,
            )
        )
        data_params.append(param)
    plan = CallPlan(
        slots=tuple(slots),
        context_parameter=context_parameter,
        context_positional=context_positional,
        var_keyword=var_keyword,
        fixed=fixed if context_parameter is None else fixed | {context_parameter},
    )
    return plan, data_params


_DEFS_PREFIX = "#/$defs/"


def _inline_refs(schema: JSONObject) -> JSONObject:
    """Inline ``$ref``s: Codex reduces schemas to a subset without ``$ref`` (a bare ``$ref``
    reads as a string to it), so every model, TypedDict and dataclass is written in place.

    A recursive type is written out once, down to where it would repeat: that reference stays
    a ``$ref`` (with the type's ``type`` beside it) into the ``$defs`` kept for it alone.
    """
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return schema
    kept: set[str] = set()
    body: JSONObject = {key: value for key, value in schema.items() if key != "$defs"}
    inlined = cast(JSONObject, _inline(body, defs, (), kept))
    if kept:
        # A kept definition is itself written out, down to its own repetition.
        written: JSONObject = {}
        pending = sorted(kept)
        while pending:
            name = pending.pop()
            if name in written:
                continue
            before = set(kept)
            written[name] = _inline(defs[name], defs, (name,), kept)
            pending.extend(sorted(kept - before))
        inlined["$defs"] = written
    return inlined


def _inline(
    node: JSONValue, defs: JSONObject, open_refs: tuple[str, ...], kept: set[str]
) -> JSONValue:
    """``node`` with references replaced by their definitions, except those in ``open_refs``
    (being written out around this node already: a recursion), which are added to ``kept``."""
    if isinstance(node, list):
        return [_inline(item, defs, open_refs, kept) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    name = ref.removeprefix(_DEFS_PREFIX) if isinstance(ref, str) else ""
    target = defs.get(name) if ref != name else None
    if not isinstance(target, dict):
        return {key: _inline(value, defs, open_refs, kept) for key, value in node.items()}
    siblings: JSONObject = {
        key: _inline(value, defs, open_refs, kept) for key, value in node.items() if key != "$ref"
    }
    if name in open_refs:
        kept.add(name)
        repeated: JSONObject = {"$ref": ref}
        if "type" in target:
            repeated["type"] = target["type"]
        return {**repeated, **siblings}
    expanded = _inline(target, defs, (*open_refs, name), kept)
    return {**cast(JSONObject, expanded), **siblings}


_NULL_VARIANT: JSONObject = {"type": "null"}


def _null_as_type(node: JSONValue) -> JSONValue:
    """Rewrite ``anyOf: [X, {"type": "null"}]`` as ``X`` with ``"type": [X's type, "null"]``.

    pydantic writes ``Optional[X]`` as an ``anyOf``. Codex reduces tool schemas to a small
    subset: older releases read a schema without ``type`` as ``string`` (misdescribing every
    ``Optional[...]``) but take the first known name of a ``type`` list, and newer ones keep the
    whole list. So a type list describes the value to both, ``null`` included, at any depth. An
    ``enum`` gets ``null`` as a value too, or the schema would still refuse it. Unions whose
    members are not plain ``{"type": ...}`` schemas keep their ``anyOf``.
    """
    if isinstance(node, list):
        return [_null_as_type(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: JSONObject = {key: _null_as_type(value) for key, value in node.items()}
    variants = result.get("anyOf")
    if not isinstance(variants, list) or _NULL_VARIANT not in variants:
        return result
    others = [variant for variant in variants if isinstance(variant, dict)]
    others.remove(_NULL_VARIANT)
    names = _type_names(others) if len(others) == len(variants) - 1 else None
    if names == ["null"]:  # Optional[Literal[None]]: null and null
        del result["anyOf"]
        return {**result, "type": "null"}
    if names is not None and "null" in names:
        names = None  # a type list must not name null twice
    if names is None:
        return result
    del result["anyOf"]
    merged: JSONObject = {**others[0], **result} if len(others) == 1 else result
    merged["type"] = [*names, "null"]
    if "const" in merged:
        merged["enum"] = [merged.pop("const")]
    allowed = merged.get("enum")
    if isinstance(allowed, list) and None not in allowed:
        merged["enum"] = [*allowed, None]
    return merged


def _type_names(variants: list[JSONObject]) -> list[JSONValue] | None:
    """The ``type`` names of ``variants`` if a type list can stand for them, else ``None``.

    One variant may carry any keywords beside its ``type``; several must be bare
    ``{"type": ...}`` schemas, since their keywords could not be told apart once merged.
    """
    names: list[JSONValue] = []
    for variant in variants:
        if not isinstance(variant.get("type"), str) or "$ref" in variant:
            return None  # a $ref'd type refuses null whatever the type list beside it says
        if len(variants) > 1 and len(variant) > 1:
            return None
        names.append(variant["type"])
    return names or None


_SCHEMAS_BY_NAME = frozenset({"properties", "patternProperties", "$defs", "definitions"})
"""Schema keywords whose value maps names to schemas."""


def _drop_non_json_defaults(node: JSONValue) -> None:
    """Remove ``default``s JSON cannot carry (``max_distance: float = math.inf``): Python still
    supplies them; the schema just does not show them."""
    if isinstance(node, list):
        for item in node:
            _drop_non_json_defaults(item)
        return
    if not isinstance(node, dict):
        return
    for key, value in list(node.items()):
        if key in _SCHEMAS_BY_NAME and isinstance(value, dict):
            for named in value.values():  # its keys are names (a parameter called "default")
                _drop_non_json_defaults(named)
        elif key == "default":
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                del node[key]
        elif key not in ("enum", "const", "examples"):  # values, not schemas
            _drop_non_json_defaults(value)


def _json_schema_of(
    adapter_type: object,
    *,
    inline: bool = True,
    mode: Literal["validation", "serialization"] = "validation",
) -> JSONObject | None:
    try:
        adapter: TypeAdapter[object] = TypeAdapter(cast(type[object], adapter_type))
        produced = adapter.json_schema(schema_generator=_NoFieldTitles, mode=mode)
    except Exception:
        # Types without a JSON Schema (arbitrary classes, content-item objects) are described
        # by name instead; the output contract is documentation, not validation.
        return None
    return _inline_refs(cast(JSONObject, produced)) if inline else cast(JSONObject, produced)


def _lift_defs(schema: JSONObject, nested: JSONObject | None) -> JSONValue:
    """``nested`` (to be placed inside ``schema``) with its ``$defs`` moved up to ``schema``'s.

    A recursive type keeps ``$defs`` whose ``$ref``s point from the root, so inside another
    schema they must live at that schema's root. A name defined differently on both sides
    cannot be; the nested schema is then left permissive (validation does not use it).
    """
    if nested is None:
        return True
    defs = nested.pop("$defs", None)
    if not isinstance(defs, dict):
        return nested
    own = schema.setdefault("$defs", {})
    if not isinstance(own, dict) or any(own.get(name, body) != body for name, body in defs.items()):
        return True
    own.update(defs)
    return nested


def _output_contract(
    signature: inspect.Signature, doc: docstring_parser.Docstring | None
) -> OutputContract | None:
    annotation = signature.return_annotation
    returns_text = (
        doc.returns.description.strip() if doc and doc.returns and doc.returns.description else None
    )
    if annotation is inspect.Signature.empty or annotation is None or annotation is type(None):
        return OutputContract(schema=None, description=returns_text) if returns_text else None
    # What the model reads is the value serialised (aliases, computed fields), not parsed.
    schema = _json_schema_of(pydantic_compatible(annotation), mode="serialization")
    if schema is None:
        label = getattr(annotation, "__name__", None) or repr(annotation)
        text = f"{returns_text} ({label})" if returns_text else label
        return OutputContract(schema=None, description=text)
    schema.pop("title", None)
    return OutputContract(schema=schema, description=returns_text)


def _eager(annotation: object) -> object:
    """``Iterable[X]`` (at the top, in a union, under ``Annotated``) as ``list[X]``: pydantic
    checks an iterable's items only as the function iterates, so a bad item surfaced inside
    the handler, after its side effects, instead of as invalid arguments. A list is an
    iterable: the function gets what it asked for, checked before it runs."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return Annotated[(_eager(args[0]), *args[1:])]
    if origin is collections.abc.Iterable:
        return types.GenericAlias(list, args[:1]) if args else list
    if origin is Union or origin is types.UnionType:
        return Union[tuple(_eager(arg) for arg in args)]  # noqa: UP007 - built from a tuple
    return annotation


def _build_model(
    name: str,
    params: list[inspect.Parameter],
    plan: CallPlan,
    docs: Mapping[str, str],
    var_keyword_annotation: object,
) -> tuple[type[BaseModel], JSONObject, TypeAdapter[dict[str, Any]] | None]:
    fields: dict[str, Any] = {}
    for slot, param in zip(plan.slots, params, strict=True):
        annotation: object = (
            Any
            if param.annotation is inspect.Parameter.empty
            else pydantic_compatible(_eager(param.annotation))
        )
        annotated = _with_description(annotation, docs.get(param.name), param.name)
        # Without a Python default, the annotation alone: an Annotated[..., Field(default=...)]
        # then keeps its default (an explicit ... would make the field required).
        fields[slot.field_name] = (
            annotated if param.default is inspect.Parameter.empty else (annotated, param.default)
        )
    try:
        model = create_model(
            f"{name}_arguments",
            # Always "forbid": the types nested in the model inherit it. Properties for
            # **kwargs are split off before the model validates (see ModelArgumentValidator).
            __config__=ConfigDict(
                extra="forbid", arbitrary_types_allowed=False, validate_default=False
            ),
            **fields,
        )
        schema = cast(
            JSONObject, model.model_json_schema(by_alias=True, schema_generator=_NoFieldTitles)
        )
    except Exception as exc:
        raise SkillRegistrationError(
            name,
            f"cannot build a JSON Schema from the handler's parameters ({exc}); "
            "use JSON-compatible annotations or pass input_schema=...",
        ) from exc
    schema.pop("title", None)
    schema.setdefault("properties", {})
    adapter: TypeAdapter[dict[str, Any]] | None = None
    if plan.var_keyword is not None:
        if var_keyword_annotation is inspect.Parameter.empty:
            schema["additionalProperties"] = True
        else:
            var_keyword_annotation = pydantic_compatible(var_keyword_annotation)
            try:
                adapter = TypeAdapter(dict[str, var_keyword_annotation])  # type: ignore[valid-type]  # runtime type
                adapter.json_schema()  # a type without a JSON Schema is refused, as for the others
            except Exception as exc:
                raise SkillRegistrationError(
                    name,
                    f"cannot build a JSON Schema for **{plan.var_keyword} ({exc}); use a "
                    "JSON-compatible annotation, keyword parameters or input_schema=...",
                ) from exc
            value_schema = _json_schema_of(var_keyword_annotation)
            if value_schema is not None and "$defs" in value_schema:
                # Recursive: raw, so that its $defs join the root's and are inlined with them.
                value_schema = _json_schema_of(var_keyword_annotation, inline=False)
            schema["additionalProperties"] = _lift_defs(schema, value_schema)
    _drop_non_json_defaults(schema)
    return model, cast(JSONObject, _null_as_type(_inline_refs(schema))), adapter


def synthesize(
    name: str,
    handler: Callable[..., object],
    *,
    explicit_schema: bool,
) -> SynthesizedSkill:
    """Read a handler's signature and docstring.

    With ``explicit_schema`` the argument model is not built (the explicit schema validates),
    but the call plan, description and output contract still come from the handler.

    Raises:
        SkillRegistrationError: the signature cannot be expressed as a tool (``*args``, types
            without a JSON Schema when no explicit schema is given, unresolvable annotations).
    """
    bound_by_partial = _partial_keywords(handler)
    signature = _without(
        _signature(name, handler, annotations_needed=not explicit_schema), bound_by_partial
    )
    raw_doc = handler_doc(handler)
    doc = _docstring(handler)
    plan, params = _plan(name, signature, bound_by_partial)
    try:
        output = _output_contract(signature, doc)
        description = _describe(doc, raw_doc)
        if explicit_schema:
            return SynthesizedSkill(
                description, dict(PERMISSIVE_OBJECT_SCHEMA), None, None, plan, output
            )
        var_kw_annotation: object = inspect.Parameter.empty
        if plan.var_keyword is not None:
            var_kw_annotation = signature.parameters[plan.var_keyword].annotation
        model, schema, adapter = _build_model(
            name, params, plan, _param_docs(doc), var_kw_annotation
        )
    except UnsupportedAnnotationError as exc:
        raise SkillRegistrationError(name, str(exc)) from exc
    check_json_schema(name, schema, what="synthesized inputSchema")
    return SynthesizedSkill(description, schema, model, adapter, plan, output)


def _json_text(name: str, value: object, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise SkillRegistrationError(name, f"{what} is not JSON-serialisable ({exc})") from exc


_COMPILED: BoundedCache[str, jsonschema_rs.Validator] = BoundedCache()
"""Compiled validators by canonical schema text: equal schemas share one (it is immutable)."""


def check_json_schema(name: str, schema: JSONObject, *, what: str) -> jsonschema_rs.Validator:
    """Check that ``schema`` is valid JSON Schema and compile a validator for it.

    Equal schemas (whatever their key order) share one compiled validator.
    """
    try:
        canonical = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SkillRegistrationError(name, f"{what} is not JSON-serialisable ({exc})") from exc
    compiled = _COMPILED.get(canonical)
    if compiled is not None:
        return compiled
    try:
        jsonschema_rs.meta.validate(schema)
        return _COMPILED.put(canonical, jsonschema_rs.validator_for(schema))
    except jsonschema_rs.ValidationError as exc:
        path = "/".join(str(p) for p in exc.instance_path) or "(top level)"
        raise SkillRegistrationError(
            name, f"{what} is not a valid JSON Schema at {path}: {exc.message}"
        ) from exc
    except (ValueError, jsonschema_rs.ReferencingError) as exc:
        raise SkillRegistrationError(name, f"{what} cannot be compiled: {exc}") from exc


def check_explicit_input_schema(
    name: str, schema: object
) -> tuple[JSONObject, jsonschema_rs.Validator]:
    """Accept an explicit ``input_schema`` as given, or refuse it with a clear error.

    Codex needs an object schema (arguments are a JSON object), serialisable as JSON and valid
    JSON Schema. The returned copy has exactly the same content: nothing is added or removed.
    """
    if not isinstance(schema, Mapping):
        raise SkillRegistrationError(
            name, f"input_schema must be a JSON object (a dict), not {type(schema).__name__}"
        )
    _json_text(name, schema, "input_schema")
    # A deep copy with the same content and key order: later changes to the caller's dict
    # cannot alter the registered schema.
    copied = cast(JSONObject, json.loads(json.dumps(schema, allow_nan=False)))
    declared = copied.get("type")
    if declared != "object":
        raise SkillRegistrationError(
            name,
            'input_schema must describe an object at the top level ("type": "object"); '
            f"got type {json.dumps(declared)}",
        )
    validator = check_json_schema(name, copied, what="input_schema")
    return copied, validator


def check_output_schema(name: str, schema: object) -> JSONObject:
    """Accept an explicit ``output_schema`` (any valid JSON Schema object) unaltered."""
    if not isinstance(schema, Mapping):
        raise SkillRegistrationError(
            name, f"output_schema must be a JSON object (a dict), not {type(schema).__name__}"
        )
    copied = cast(JSONObject, json.loads(_json_text(name, schema, "output_schema")))
    check_json_schema(name, copied, what="output_schema")
    return copied
