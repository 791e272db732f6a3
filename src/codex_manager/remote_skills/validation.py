"""Argument validation before a handler runs.

Two validators share one interface. With an explicit ``input_schema`` a compiled
:mod:`jsonschema_rs` validator (built once, at registration) checks the raw arguments, which are
then bound to the handler's parameters by name. Without one, the pydantic model synthesized from
the signature validates *and converts* them (``"3"`` stays invalid for ``int`` only where pydantic
says so; nested models, dataclasses, enums and TypedDicts arrive as the annotated types).

A failure is an :class:`ArgumentProblem` whose text names each field and its problem, for the
model to read and correct; the handler is not called.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import jsonschema_rs
from pydantic import BaseModel, TypeAdapter, ValidationError

from codex_manager.json_types import JSONValue
from codex_manager.remote_skills.schema import CallPlan

__all__ = [
    "ArgumentProblem",
    "ArgumentValidator",
    "BoundArguments",
    "ModelArgumentValidator",
    "SchemaArgumentValidator",
    "normalize_arguments",
]

MAX_REPORTED_ISSUES = 10
"""At most this many problems are listed in one answer; the rest are counted."""


@dataclass(frozen=True, slots=True)
class BoundArguments:
    """Validated values ready for the handler."""

    values: dict[str, object]
    """Values for named parameters (only those the model supplied; defaults stay defaults)."""
    extras: dict[str, object] = field(default_factory=dict)
    """Values collected by a ``**kwargs`` parameter."""


@dataclass(frozen=True, slots=True)
class ArgumentProblem:
    """Arguments that do not fit the skill; the handler is not run."""

    issues: tuple[str, ...]
    """One ``"<field>: <problem>"`` line per problem found."""

    def text(self, skill_name: str) -> str:
        """The answer text for the model."""
        shown = list(self.issues[:MAX_REPORTED_ISSUES])
        hidden = len(self.issues) - len(shown)
        if hidden > 0:
            shown.append(f"... and {hidden} more")
        return (
            f"Invalid arguments for tool {skill_name!r}: "
            + "; ".join(shown)
            + ". The tool was not run; call it again with corrected arguments."
        )


class ArgumentValidator(Protocol):
    """Checks raw JSON arguments and binds them to a handler's parameters."""

    def validate(self, arguments: Mapping[str, JSONValue]) -> BoundArguments | ArgumentProblem:
        """Return bound values, or the problems found."""
        ...


def normalize_arguments(arguments: object) -> dict[str, JSONValue] | ArgumentProblem:
    """Turn what Codex sent into an arguments object.

    ``null`` (no arguments) becomes ``{}``; a JSON *string* that encodes an object is decoded,
    since some models double-encode; anything else that is not an object is a problem.
    """
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        try:
            decoded: object = json.loads(arguments)
        except ValueError:
            return ArgumentProblem(("(arguments): expected a JSON object, got a string",))
        except RecursionError:  # escaping, the call would never be answered
            return ArgumentProblem(("(arguments): a JSON string nested too deeply",))
        if isinstance(decoded, dict):
            return {str(k): v for k, v in decoded.items()}
        return ArgumentProblem(("(arguments): expected a JSON object, got a string",))
    if isinstance(arguments, Mapping):
        return {str(k): v for k, v in arguments.items()}
    return ArgumentProblem((f"(arguments): expected a JSON object, got {_json_kind(arguments)}",))


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Sequence):
        return "an array"
    return type(value).__name__


def _location(parts: Sequence[object]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(arguments)"


class SchemaArgumentValidator:
    """Validates against an explicit JSON Schema, then binds by parameter name."""

    def __init__(self, validator: jsonschema_rs.Validator, plan: CallPlan) -> None:
        self._validator = validator
        self._plan = plan
        self._names = {slot.name for slot in plan.slots}
        self._required = [slot.name for slot in plan.slots if not slot.has_default]
        self._field_defaults = [slot for slot in plan.slots if slot.field_default is not None]

    def validate(self, arguments: Mapping[str, JSONValue]) -> BoundArguments | ArgumentProblem:
        """Check ``arguments`` against the schema and the handler's parameters."""
        issues = [
            f"{_location(error.instance_path)}: {error.message}"
            for error in self._validator.iter_errors(dict(arguments))
        ]
        if issues:
            return ArgumentProblem(tuple(issues))
        values: dict[str, object] = {}
        extras: dict[str, object] = {}
        for key, value in arguments.items():
            if key in self._names:
                values[key] = value
            elif key in self._plan.fixed:
                issues.append(_fixed_issue(key))
            elif self._plan.var_keyword is not None:
                extras[key] = value
            else:
                issues.append(
                    f"{key}: unexpected argument (the tool has no parameter of that name)"
                )
        issues.extend(
            f"{name}: required argument is missing"
            for name in self._required
            if name not in arguments
        )
        if issues:
            return ArgumentProblem(tuple(issues))
        for slot in self._field_defaults:
            if slot.name not in values:
                values[slot.name] = slot.default_value()
        return BoundArguments(values, extras)


class ModelArgumentValidator:
    """Validates and converts with the pydantic model synthesized from the signature."""

    def __init__(
        self,
        model: type[BaseModel],
        plan: CallPlan,
        var_keyword_adapter: TypeAdapter[dict[str, Any]] | None,
    ) -> None:
        self._model = model
        self._plan = plan
        self._extras_adapter = var_keyword_adapter
        self._model_defaults = _model_owned_defaults(model, plan)
        self._names = frozenset(slot.name for slot in plan.slots)

    def validate(self, arguments: Mapping[str, JSONValue]) -> BoundArguments | ArgumentProblem:
        """Validate, convert and bind ``arguments``."""
        named: dict[str, JSONValue] = dict(arguments)
        extras: dict[str, object] = {}
        if self._plan.var_keyword is not None:
            # The model forbids unknown keys (so do the types nested in it, which take its
            # config): what **kwargs collects is split off before and checked on its own.
            extras = {key: named.pop(key) for key in list(named) if key not in self._names}
        issues = [_fixed_issue(key) for key in extras if key in self._plan.fixed]
        if issues:
            extras = {key: value for key, value in extras.items() if key not in self._plan.fixed}
        try:
            instance = self._model.model_validate(named)
        except ValidationError as exc:
            issues.extend(_pydantic_issue(error) for error in exc.errors())
        if self._extras_adapter is not None and extras:
            try:
                extras = dict(self._extras_adapter.validate_python(extras))
            except ValidationError as exc:
                issues.extend(_pydantic_issue(error) for error in exc.errors())
        if issues:
            return ArgumentProblem(tuple(issues))
        provided = instance.model_fields_set | self._model_defaults
        values = {
            slot.name: getattr(instance, slot.field_name)
            for slot in self._plan.slots
            if slot.field_name in provided
        }
        return BoundArguments(values, extras)


def _fixed_issue(name: str) -> str:
    return f"{name}: not an argument of this tool (the application sets it)"


def _model_owned_defaults(model: type[BaseModel], plan: CallPlan) -> frozenset[str]:
    """Fields whose default only the model knows, so an omitted one is passed from the model.

    Python supplies the other defaults itself when a parameter is left out. But for
    ``limit: int = Field(5)`` Python's default is the ``FieldInfo`` object, and for
    ``Annotated[list[str], Field(default_factory=list)]`` it has none at all.
    """
    owned: set[str] = set()
    for slot in plan.slots:
        model_field = model.model_fields[slot.field_name]
        if model_field.is_required():
            continue
        if not slot.has_default or slot.field_default is not None:
            owned.add(slot.field_name)
    return frozenset(owned)


def _pydantic_issue(error: Any) -> str:
    location = _location(error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        if len(error.get("loc", ())) > 1:  # a key inside an argument's object
            return f"{location}: unexpected key (the argument's schema has no such property)"
        return f"{location}: unexpected argument (the tool has no parameter of that name)"
    if kind == "missing":
        return f"{location}: required argument is missing"
    message = str(error.get("msg", "invalid value"))
    if "input" in error and kind not in {"missing"}:
        try:
            shown = json.dumps(error["input"])
        except (TypeError, ValueError):
            shown = repr(error["input"])
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"{location}: {message} (got {shown})"
    return f"{location}: {message}"
