"""Fuzz: schema synthesis, argument validation, tool-call reading and content conversion.

Each raises only its documented exception type (``SkillRegistrationError`` at registration,
``ResultConversionError`` when converting a result) or none at all (validation returns a
problem for the model; reading a tool call returns ``None``).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import inspect
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, Optional, TypedDict, Union

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from codex_manager.remote_skills.content import (
    ImageContent,
    ResultConversionError,
    TextContent,
    to_content_items,
)
from codex_manager.remote_skills.errors import SkillRegistrationError
from codex_manager.remote_skills.signals import tool_call_from_pending, tool_call_from_signal
from codex_manager.remote_skills.skill import RemoteSkill, build_skill
from codex_manager.remote_skills.validation import (
    ArgumentProblem,
    BoundArguments,
    normalize_arguments,
)
from tests.fuzz.strategies import frames, json_values, signal_payloads

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Color(enum.Enum):
    """An enum parameter type."""

    RED = "red"
    GREEN = "green"


class Point(TypedDict):
    """A TypedDict parameter type."""

    x: int
    y: int


@dataclass
class Box:
    """A dataclass parameter type."""

    width: float
    height: float


class Profile(BaseModel):
    """A pydantic parameter type."""

    name: str
    tags: list[str] = []


class Opaque:
    """A type with no JSON Schema: registration must refuse it with a clear error."""


LEAF_TYPES: list[object] = [
    str,
    int,
    float,
    bool,
    type(None),
    Color,
    Point,
    Box,
    Profile,
    Literal["a", "b"],
    Literal[1, 2, 3],
    datetime.date,
    uuid.UUID,
    decimal.Decimal,
    bytes,
    object,
    Opaque,
    complex,
]

annotation_types: st.SearchStrategy[object] = st.recursive(
    st.sampled_from(LEAF_TYPES),
    lambda inner: st.one_of(
        inner.map(lambda t: list[t]),  # type: ignore[valid-type]  # built at runtime
        inner.map(lambda t: dict[str, t]),  # type: ignore[valid-type]  # built at runtime
        inner.map(lambda t: tuple[t, ...]),  # type: ignore[valid-type]  # built at runtime
        inner.map(lambda t: Optional[t]),  # noqa: UP045 - the typing form is what is fuzzed
        st.tuples(inner, inner).map(lambda p: Union[p[0], p[1]]),  # noqa: UP007 - likewise
        inner.map(lambda t: Annotated[t, Field(description="fuzzed")]),
    ),
    max_leaves=4,
)
"""Parameter annotations: leaves combined into containers, optionals, unions, Annotated."""

PARAM_NAMES = ["a", "b", "count", "query", "ticket_id", "self_", "type", "items"]


@st.composite
def handlers(draw: st.DrawFn) -> Callable[..., object]:
    """A function whose signature is drawn: parameters, annotations, defaults, kinds."""
    names = draw(st.lists(st.sampled_from(PARAM_NAMES), unique=True, max_size=4))
    params: list[inspect.Parameter] = []
    with_default = False
    for name in names:
        kind = draw(
            st.sampled_from(
                [inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY]
            )
        )
        has_default = draw(st.booleans())
        # Positional parameters without a default must come before those with one.
        if kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and with_default:
            has_default = True
        with_default = with_default or (
            has_default and kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        annotation = draw(st.one_of(annotation_types, st.just(inspect.Parameter.empty)))
        default = draw(json_values) if has_default else inspect.Parameter.empty
        params.append(inspect.Parameter(name, kind, annotation=annotation, default=default))
    params.sort(key=lambda p: p.kind)
    extra = draw(st.sampled_from(["none", "var_keyword", "var_positional"]))
    if extra == "var_keyword":
        params.append(inspect.Parameter("extras", inspect.Parameter.VAR_KEYWORD))
    elif extra == "var_positional":
        params.insert(0, inspect.Parameter("rest", inspect.Parameter.VAR_POSITIONAL))
        params.sort(key=lambda p: p.kind)

    def handler(*args: object, **kwargs: object) -> str:
        return "ok"

    handler.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]  # fuzzed
    handler.__doc__ = draw(
        st.sampled_from(
            [
                None,
                "Summary.\n\nArgs:\n    a: First.\n    query: What to find.\n",
                "Summary.\n\nParameters\n----------\na : int\n    First.\n",
                ":param a: first\n:returns: text",
                "Args:\n    : broken\n",
            ]
        )
    )
    return handler


def _register(build: Callable[[], RemoteSkill]) -> RemoteSkill | None:
    """The skill, or ``None`` when refused with a non-empty SkillRegistrationError."""
    message = ""
    try:
        skill = build()
    except SkillRegistrationError as error:
        message = str(error)
    else:
        event("registered")
        return skill
    event("refused")
    assert message
    return None


def _validate_everything(skill: RemoteSkill, arguments: list[object]) -> None:
    assert skill.input_schema.get("type") == "object"
    json.dumps(skill.definition())
    for raw in arguments:
        normalized = normalize_arguments(raw)
        if isinstance(normalized, ArgumentProblem):
            assert normalized.text(skill.name)
            continue
        result = skill.validator.validate(normalized)
        assert isinstance(result, BoundArguments | ArgumentProblem)
        if isinstance(result, ArgumentProblem):
            assert result.issues
            assert result.text(skill.name)


@FUZZ
@given(
    handlers(),
    st.lists(
        st.one_of(
            json_values, st.dictionaries(st.sampled_from(PARAM_NAMES), json_values, max_size=4)
        ),
        max_size=5,
    ),
)
def test_synthesis_and_validation_raise_only_documented_errors(
    handler: Callable[..., object], arguments: list[object]
) -> None:
    """Registration succeeds or raises SkillRegistrationError; validation never raises."""
    skill = _register(lambda: build_skill("fuzzed_tool", handler))
    if skill is not None:
        _validate_everything(skill, arguments)


schemas: st.SearchStrategy[object] = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(
                ["object", "string", "integer", "number", "boolean", "array", "null", "bogus"]
            ),
            "enum": st.lists(json_values, max_size=3),
            "pattern": st.sampled_from(["^[a-z]+$", "(", "\\d{2,}", "[z-a]"]),
            "minimum": st.one_of(st.integers(), st.text(max_size=3)),
            "format": st.sampled_from(["date", "email", "uuid", "nonsense"]),
            "$ref": st.sampled_from(["#/definitions/missing", "#", "http://example.invalid/x"]),
        },
    ),
    lambda inner: st.fixed_dictionaries(
        {"type": st.just("object")},
        optional={
            "properties": st.dictionaries(st.sampled_from(PARAM_NAMES), inner, max_size=3),
            "required": st.one_of(st.lists(st.sampled_from(PARAM_NAMES), max_size=3), json_values),
            "additionalProperties": st.one_of(st.booleans(), inner),
            "items": inner,
        },
    ),
    max_leaves=6,
)
"""Explicit ``input_schema`` values: mostly plausible, sometimes invalid JSON Schema."""


def _keyword_handler(**kwargs: object) -> str:
    """Accepts any arguments."""
    return "ok"


@FUZZ
@given(
    # None means "no explicit schema" (synthesized instead), so it is left out here.
    st.one_of(schemas, json_values.filter(lambda v: v is not None)),
    st.lists(json_values, max_size=5),
)
def test_explicit_schema_raises_only_registration_error(
    schema: object, arguments: list[object]
) -> None:
    """An explicit schema is accepted unaltered or refused with SkillRegistrationError."""
    skill = _register(
        lambda: build_skill(
            "fuzzed_schema_tool",
            _keyword_handler,
            input_schema=schema,  # type: ignore[arg-type]  # fuzzing wrong types on purpose
        )
    )
    if skill is None:
        return
    assert skill.input_schema == schema
    _validate_everything(skill, arguments)


@FUZZ
@given(st.one_of(frames, signal_payloads, json_values))
def test_reading_tool_calls_never_raises(value: object) -> None:
    """Frames, envelopes and pending rows of any shape give a ToolCall or None."""
    for reader in (tool_call_from_signal, tool_call_from_pending):
        call = reader(value)
        if call is not None:
            assert call.tool
            assert call.thread_id


class Mood(enum.Enum):
    """An enum result."""

    HAPPY = 1


results: st.SearchStrategy[object] = st.recursive(
    st.one_of(
        json_values,
        st.binary(max_size=8),
        st.floats(),  # includes NaN and infinities
        st.just(object()),
        st.just(Opaque()),
        st.just(Mood.HAPPY),
        st.just(datetime.datetime(2026, 11, 25, 12, 0)),
        st.just(decimal.Decimal("1.5")),
        st.just(uuid.UUID(int=7)),
        st.just(Box(1.0, 2.0)),
        st.just(Profile(name="n")),
        st.text(max_size=10).map(TextContent),
        st.text(min_size=1, max_size=10).filter(str.strip).map(ImageContent),
        st.binary(max_size=8).map(ImageContent.from_bytes),
        st.fixed_dictionaries(
            {"type": st.sampled_from(["inputText", "inputImage", "other"])},
            optional={"text": json_values, "imageUrl": json_values},
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.frozensets(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
        st.dictionaries(st.integers(), inner, max_size=2),
    ),
    max_leaves=8,
)
"""Handler return values: JSON, non-JSON objects, explicit content, containers of all of it."""


@FUZZ
@given(results)
def test_content_conversion_raises_only_result_conversion_error(value: object) -> None:
    """A return value becomes content items, or ResultConversionError; nothing else."""
    message = ""
    try:
        items = to_content_items(value)
    except ResultConversionError as error:
        message = str(error)
        items = []
    if message:
        return
    assert items
    for item in items:
        assert item["type"] in ("inputText", "inputImage")
    json.dumps(items)


def test_content_conversion_of_a_cycle_is_a_conversion_error() -> None:
    """A self-referencing result cannot be serialized: the documented error, not a crash."""
    cycle: list[object] = []
    cycle.append(cycle)
    try:
        to_content_items(cycle)
    except ResultConversionError:
        return
