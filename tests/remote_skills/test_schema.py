"""Schema synthesis from signatures and docstrings, and checks on explicit schemas."""

from __future__ import annotations

import dataclasses
import enum
import functools
import gc
import json
import math
import sys
import types
from collections.abc import Callable, Iterable
from typing import Annotated, Literal, NotRequired, Required, TypedDict, cast

import jsonschema_rs
import pytest
from pydantic import BaseModel, Field, computed_field, create_model

from codex_manager.json_types import JSONObject, JSONValue
from codex_manager.remote_skills.context import SkillContext
from codex_manager.remote_skills.errors import SkillRegistrationError
from codex_manager.remote_skills.options import RemoteSkillOptions
from codex_manager.remote_skills.skill import build_skill
from codex_manager.remote_skills.validation import ArgumentProblem, BoundArguments


class Color(enum.Enum):
    """A color."""

    RED = "red"
    BLUE = "blue"


class Point(TypedDict):
    """A point."""

    x: int
    y: int


@dataclasses.dataclass
class Box:
    """A box."""

    label: str
    size: int = 1


class Query(BaseModel):
    """A query."""

    text: str
    limit: int = 10


def _props(schema: JSONObject) -> dict[str, JSONValue]:
    props = schema["properties"]
    assert isinstance(props, dict)
    return props


def _prop(schema: JSONObject, name: str) -> dict[str, JSONValue]:
    found = _props(schema)[name]
    assert isinstance(found, dict)
    return found


def test_scalars_required_and_defaults() -> None:
    def handler(a: str, b: int, c: float = 1.5, d: bool = False) -> None:
        return None

    skill = build_skill("scalars", handler)
    schema = skill.input_schema
    assert schema["type"] == "object"
    assert schema["required"] == ["a", "b"]
    assert _prop(schema, "a")["type"] == "string"
    assert _prop(schema, "b")["type"] == "integer"
    assert _prop(schema, "c") == {"type": "number", "default": 1.5}
    assert _prop(schema, "d") == {"type": "boolean", "default": False}
    assert schema["additionalProperties"] is False
    assert "title" not in schema


def test_containers_optional_unions_literal_enum() -> None:
    def handler(
        tags: list[str],
        counts: dict[str, int],
        maybe: str | None,
        either: int | str = 0,
        mode: Literal["fast", "slow"] = "fast",
        color: Color = Color.RED,
    ) -> None:
        return None

    schema = build_skill("containers", handler).input_schema
    assert _prop(schema, "tags") == {"type": "array", "items": {"type": "string"}}
    assert _prop(schema, "counts") == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }
    # Nullable unions become a type list: older Codex reads a typeless anyOf as a string but
    # takes the first name of a list; newer Codex keeps the list, null included.
    assert _prop(schema, "maybe") == {"type": ["string", "null"]}
    # Optional without a default is still required: required means "no default".
    assert schema["required"] == ["tags", "counts", "maybe"]
    assert _prop(schema, "either")["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert _prop(schema, "mode")["enum"] == ["fast", "slow"]
    assert _prop(schema, "color")["enum"] == ["red", "blue"]


def test_nullable_parameters_still_accept_null() -> None:
    def handler(tags: list[str] | None = None, box: Box | None = None) -> None:
        return None

    skill = build_skill("nullable", handler)
    assert _prop(skill.input_schema, "tags") == {
        "type": ["array", "null"],
        "items": {"type": "string"},
        "default": None,
    }
    assert _prop(skill.input_schema, "box")["required"] == ["label"]
    assert _prop(skill.input_schema, "box")["type"] == ["object", "null"]
    bound = skill.validator.validate({"tags": None, "box": None})
    assert not hasattr(bound, "issues")


def test_null_inside_containers_is_published_where_validation_accepts_it() -> None:
    def handler(
        scores: list[int | None],
        labels: dict[str, str | None],
        size: Literal["S", "M"] | None,
        color: Color | None = None,
        either: int | str | None = None,
        boxes: list[Box | None] | None = None,
    ) -> None:
        return None

    skill = build_skill("nested_nulls", handler)
    schema = skill.input_schema
    assert _prop(schema, "scores") == {"type": "array", "items": {"type": ["integer", "null"]}}
    assert _prop(schema, "labels")["additionalProperties"] == {"type": ["string", "null"]}
    # An enum lists null too, or the published schema would still refuse it.
    assert _prop(schema, "size") == {"type": ["string", "null"], "enum": ["S", "M", None]}
    assert _prop(schema, "color")["enum"] == ["red", "blue", None]
    # Several plain types merge into one list instead of a typeless anyOf.
    assert _prop(schema, "either") == {"type": ["integer", "string", "null"], "default": None}
    boxes_items = _prop(schema, "boxes")["items"]
    assert isinstance(boxes_items, dict)
    assert boxes_items["type"] == ["object", "null"]

    arguments: JSONObject = {
        "scores": [1, None],
        "labels": {"a": None, "b": "x"},
        "size": None,
        "color": None,
        "either": None,
        "boxes": [None, {"label": "x"}],
    }
    bound = skill.validator.validate(arguments)
    assert not hasattr(bound, "issues")
    assert jsonschema_rs.validator_for(schema).is_valid(arguments)


def test_optional_none_is_a_null_property_not_a_repeated_type_list() -> None:
    # ["null", "null"] is not valid JSON Schema (type names must be unique): registration
    # failed.
    def handler(nothing: Literal[None] | None = None) -> None:
        return None

    assert _prop(build_skill("nothing", handler).input_schema, "nothing") == {
        "type": "null",
        "default": None,
    }


def test_a_union_of_structured_types_with_null_keeps_its_any_of() -> None:
    def handler(target: Point | Box | None = None) -> None:
        return None

    schema = build_skill("structured_union", handler).input_schema
    variants = _prop(schema, "target")["anyOf"]
    assert isinstance(variants, list)
    assert {"type": "null"} in variants
    assert len(variants) == 3


def test_structured_parameters_are_inlined() -> None:
    def handler(point: Point, box: Box, query: Query) -> None:
        return None

    schema = build_skill("structured", handler).input_schema
    assert "$defs" not in schema
    assert '"$ref"' not in json.dumps(schema)
    point = _prop(schema, "point")
    assert point["required"] == ["x", "y"]
    box = _prop(schema, "box")
    assert box["required"] == ["label"]
    query = _prop(schema, "query")
    assert query["required"] == ["text"]


class Node(BaseModel):
    """A tree node (recursive)."""

    value: int
    children: list[Node] = []


def test_recursive_model_keeps_defs() -> None:
    def handler(tree: Node) -> None:
        return None

    schema = build_skill("tree", handler).input_schema
    assert "$defs" in schema
    skill = build_skill("tree", handler)
    bound = skill.validator.validate({"tree": {"value": 1, "children": [{"value": 2}]}})
    assert not hasattr(bound, "issues")


FirstItem = create_model("Item", a=(int, ...))
SecondItem = create_model("Item", b=(int, ...))
"""Two different classes called Item (as two modules may each have one)."""


def test_var_keyword_values_keep_their_schema_beside_a_same_named_parameter_type() -> None:
    # The values' definition must not be taken for the parameter's, nor make the values
    # schema permissive.
    def handler(item: FirstItem, **extra: list[SecondItem]) -> None:
        return None

    schema = build_skill("items", handler).input_schema
    values = schema["additionalProperties"]
    assert isinstance(values, dict)
    assert values["type"] == "array"
    items = values["items"]
    assert isinstance(items, dict)
    assert items["required"] == ["b"]
    assert _prop(schema, "item")["required"] == ["a"]


def test_var_keyword_values_of_a_recursive_type() -> None:
    # The values' $defs stayed nested under additionalProperties, where the root-relative
    # $refs could not reach them: registration failed.
    def handler(**trees: Node) -> None:
        return None

    skill = build_skill("forest", handler)
    values = skill.input_schema["additionalProperties"]
    assert isinstance(values, dict)
    assert values["type"] == "object"
    forest: JSONObject = {"a": {"value": 1, "children": [{"value": 2}]}}
    assert jsonschema_rs.validator_for(skill.input_schema).is_valid(forest)
    assert not jsonschema_rs.validator_for(skill.input_schema).is_valid({"a": {"children": []}})
    bound = skill.validator.validate(forest)
    assert isinstance(bound, BoundArguments)
    assert bound.extras == {"a": Node(value=1, children=[Node(value=2)])}


def test_a_recursive_type_is_written_out_down_to_where_it_repeats() -> None:
    # Codex reads a bare $ref (no type) as a string: only the repetition stays a $ref, with
    # its type beside it, and the other structured parameters are inlined as usual.
    def handler(tree: Node, point: Point, box: Box | None = None) -> None:
        return None

    schema = build_skill("tree_and_more", handler).input_schema
    tree = _prop(schema, "tree")
    assert tree["type"] == "object"
    assert tree["required"] == ["value"]
    tree_props = tree["properties"]
    assert isinstance(tree_props, dict)
    assert tree_props["children"] == {
        "type": "array",
        "items": {"$ref": "#/$defs/Node", "type": "object"},
        "default": [],
    }
    assert _prop(schema, "point")["type"] == "object"
    assert _prop(schema, "box")["type"] == ["object", "null"]
    defs = schema["$defs"]
    assert isinstance(defs, dict)
    assert set(defs) == {"Node"}
    arguments: JSONObject = {
        "tree": {"value": 1, "children": [{"value": 2, "children": []}]},
        "point": {"x": 1, "y": 2},
    }
    assert jsonschema_rs.validator_for(schema).is_valid(arguments)
    assert not jsonschema_rs.validator_for(schema).is_valid(
        {"tree": {"value": 1, "children": ["leaf"]}, "point": {"x": 1, "y": 2}}
    )


def test_annotated_field_description_wins_over_docstring() -> None:
    def handler(
        city: Annotated[str, Field(description="City from Field")],
        days: int = 3,
    ) -> None:
        """Forecast.

        Args:
            city: city from docstring
            days: number of days
        """

    schema = build_skill("forecast", handler).input_schema
    assert _prop(schema, "city")["description"] == "City from Field"
    assert _prop(schema, "days")["description"] == "number of days"


@pytest.mark.parametrize(
    "doc",
    [
        """Look a user up.

        Args:
            user_id: the user's id
            verbose: include details

        Returns:
            The user's record.
        """,
        """Look a user up.

        Parameters
        ----------
        user_id : str
            the user's id
        verbose : bool
            include details

        Returns
        -------
        dict
            The user's record.
        """,
        """Look a user up.

        :param user_id: the user's id
        :param verbose: include details
        :returns: The user's record.
        """,
    ],
    ids=["google", "numpy", "sphinx"],
)
def test_docstring_styles(doc: str) -> None:
    def handler(user_id: str, verbose: bool = False) -> dict[str, str]:
        return {}

    handler.__doc__ = doc
    skill = build_skill("lookup_user", handler)
    assert skill.description == "Look a user up."
    assert _prop(skill.input_schema, "user_id")["description"] == "the user's id"
    assert _prop(skill.input_schema, "verbose")["description"] == "include details"
    assert skill.output is not None
    assert skill.output.description == "The user's record."
    assert skill.output.schema == {"type": "object", "additionalProperties": {"type": "string"}}
    # The output contract never leaks into the input schema.
    assert "The user's record." not in json.dumps(skill.input_schema)


def test_description_fallbacks() -> None:
    def bare(x: int) -> int:
        return x

    assert build_skill("bare", bare).description == "Remote skill bare"
    assert build_skill("bare", bare, description="Given").description == "Given"

    def documented(x: int) -> int:
        """Doubles x.

        Longer explanation of doubling.
        """
        return 2 * x

    assert build_skill(None, documented).description == (
        "Doubles x.\n\nLonger explanation of doubling."
    )

    def wrapped(x: int) -> int:
        """Doubles x, a summary long enough that the line length limit
        wraps it onto a second line.
        """
        return 2 * x

    # The parser's summary is the first line only; the second goes on, no paragraph break.
    assert build_skill(None, wrapped).description == (
        "Doubles x, a summary long enough that the line length limit\nwraps it onto a second line."
    )


def test_name_defaults_to_function_name_and_is_checked() -> None:
    def my_tool() -> None:
        return None

    assert build_skill(None, my_tool).name == "my_tool"
    for bad in ["", "has space", "x" * 65, "dot.ted"]:
        with pytest.raises(SkillRegistrationError, match="names must be"):
            build_skill(bad, my_tool)
    # A lambda's name is "<lambda>": the error says where the name came from and what to do.
    with pytest.raises(SkillRegistrationError, match=r"named after the function.*pass name="):
        build_skill(None, lambda: None)
    assert build_skill("ping", lambda: None).name == "ping"


def test_no_parameters_gives_permissive_empty_object() -> None:
    def ping() -> str:
        return "pong"

    schema = build_skill("ping", ping).input_schema
    assert schema["type"] == "object"
    assert schema["properties"] == {}


def test_context_parameter_is_hidden() -> None:
    def handler(query: str, ctx: SkillContext) -> str:
        return ctx.skill_name + query

    skill = build_skill("ctx", handler)
    assert list(_props(skill.input_schema)) == ["query"]
    assert skill.plan.context_parameter == "ctx"


def test_var_positional_is_refused() -> None:
    def handler(*items: str) -> None:
        return None

    with pytest.raises(SkillRegistrationError, match=r"\*items"):
        build_skill("star", handler)


def test_var_keyword_becomes_additional_properties() -> None:
    def handler(base: str, **extra: int) -> None:
        return None

    skill = build_skill("kw", handler)
    assert skill.input_schema["additionalProperties"] == {"type": "integer"}
    bound = skill.validator.validate({"base": "b", "one": "1"})
    assert not hasattr(bound, "issues")
    assert getattr(bound, "extras") == {"one": 1}  # noqa: B009 - narrowed by the assert above


def test_types_nested_in_a_parameter_refuse_unknown_keys_with_or_without_var_keyword() -> None:
    def plain(point: Point) -> None:
        return None

    def with_labels(point: Point, **labels: str) -> None:
        return None

    for handler in (plain, with_labels):
        skill = build_skill(None, handler)
        point = _prop(skill.input_schema, "point")
        assert point.get("additionalProperties") is not True
        problem = skill.validator.validate({"point": {"x": 1, "y": 2, "z": 3}})
        assert isinstance(problem, ArgumentProblem), handler.__name__
    labelled = build_skill(None, with_labels).validator
    bound = labelled.validate({"point": {"x": 1, "y": 2}, "tag": "a"})
    assert isinstance(bound, BoundArguments)
    assert bound.extras == {"tag": "a"}
    # Problems with the named arguments and with the extra ones are reported together.
    problem = labelled.validate({"point": {"x": "no"}, "tag": 3})
    assert isinstance(problem, ArgumentProblem)
    assert any("point" in issue for issue in problem.issues)
    assert any("tag" in issue for issue in problem.issues)


def test_field_defaults_reach_the_function_when_the_argument_is_omitted() -> None:
    def rows(
        tags: Annotated[list[str], Field(default_factory=list)],
        page: Annotated[int, Field(default=1)],  # pydantic's own default, inside Annotated
        limit: int = Field(5, description="Max rows"),
    ) -> tuple[int, list[str], int]:
        return limit, tags, page

    skill = build_skill(None, rows)
    assert _prop(skill.input_schema, "limit")["default"] == 5
    assert _prop(skill.input_schema, "page")["default"] == 1
    assert "required" not in skill.input_schema
    bound = skill.validator.validate({})
    assert isinstance(bound, BoundArguments)
    context = SkillContext(
        skill_name="rows", session_id="s", thread_id="s", turn_id="t", call_id="c", request_id="1"
    )
    args, kwargs = skill.plan.call_arguments(bound.values, bound.extras, context)
    run: Callable[..., object] = rows  # called as the SDK calls it
    assert run(*args, **kwargs) == (5, [], 1)


def test_field_defaults_reach_the_function_with_an_explicit_schema_too() -> None:
    # Only the synthesized path knew them: the function got the FieldInfo object itself, and
    # a default_factory parameter was "required argument is missing".
    def rows(
        tags: Annotated[list[str], Field(default_factory=list)],
        before: Annotated[int, Field(default=1)],
        /,
        after: int,
        limit: int = Field(5, ge=1),
    ) -> tuple[list[str], int, int, int]:
        return tags, before, after, limit

    schema: JSONObject = {"type": "object", "properties": {"after": {"type": "integer"}}}
    skill = build_skill(None, rows, input_schema=schema)
    context = SkillContext.__new__(SkillContext)
    bound = skill.validator.validate({"after": 2})
    assert isinstance(bound, BoundArguments)
    args, kwargs = skill.plan.call_arguments(bound.values, bound.extras, context)
    run: Callable[..., object] = rows
    assert run(*args, **kwargs) == ([], 1, 2, 5)
    again = skill.validator.validate({"after": 2})
    assert isinstance(again, BoundArguments)
    assert again.values["tags"] == []
    assert again.values["tags"] is not bound.values["tags"]  # a factory's value, made anew


def test_positional_only_parameters_are_passed_by_position() -> None:
    def handler(first: int, /, second: int) -> int:
        return first - second

    skill = build_skill("posonly", handler)
    assert [slot.positional for slot in skill.plan.slots] == [True, False]


def _called_with(
    skill_handler: object, arguments: JSONObject, context: SkillContext | None = None
) -> tuple[list[object], dict[str, object]]:
    assert callable(skill_handler)
    skill = build_skill("tool", skill_handler)
    bound = skill.validator.validate(arguments)
    assert not hasattr(bound, "issues")
    values, extras = getattr(bound, "values"), getattr(bound, "extras")  # noqa: B009
    if context is None:
        context = SkillContext.__new__(SkillContext)
    return skill.plan.call_arguments(values, extras, context)


def test_an_omitted_positional_only_parameter_takes_its_default_in_its_own_place() -> None:
    def scale(value: int = 1, factor: int = 10, /) -> int:
        return value * factor

    args, kwargs = _called_with(scale, {"factor": 3})
    assert (args, kwargs) == ([1, 3], {})
    assert _called_with(scale, {"value": 2}) == ([2], {})
    assert _called_with(scale, {}) == ([], {})


def test_the_model_cannot_stand_in_for_the_context_through_var_keyword() -> None:
    def tool(ctx: SkillContext, **extra: str) -> str:
        return "ok"

    # Refused, not dropped silently: the model learns that the argument was not taken.
    problem = build_skill("tool", tool).validator.validate({"ctx": "spoofed", "other": "x"})
    assert isinstance(problem, ArgumentProblem)
    assert problem.issues == ("ctx: not an argument of this tool (the application sets it)",)
    # And should a value of that name reach the call anyway, the context wins.
    marker = SkillContext.__new__(SkillContext)
    plan = build_skill("tool", tool).plan
    assert plan.call_arguments({}, {"ctx": "spoofed", "other": "x"}, marker) == (
        [],
        {"ctx": marker, "other": "x"},
    )


def _list_invoices(tenant_id: str, status: str, **filters: str) -> str:
    """List a tenant's invoices."""
    return f"{tenant_id}:{status}:{sorted(filters.items())}"


def test_keywords_a_partial_binds_leave_the_schema_and_the_model_cannot_override_them() -> None:
    # inspect.signature shows tenant_id as a keyword-only parameter defaulting to "acme":
    # it stayed in the schema, and {"tenant_id": "globex"} overrode the application's choice.
    handler = functools.partial(_list_invoices, tenant_id="acme")
    skill = build_skill("list_invoices", handler)
    assert set(_props(skill.input_schema)) == {"status"}
    spoofs: list[JSONObject] = [
        {"tenant_id": "globex", "status": "open"},
        {"status": "open", "tenant_id": 1},
    ]
    for spoof in spoofs:
        problem = skill.validator.validate(spoof)
        assert isinstance(problem, ArgumentProblem)
        assert problem.issues == (
            "tenant_id: not an argument of this tool (the application sets it)",
        )
    args, kwargs = _called_with(handler, {"status": "open", "region": "eu"})
    call_handler: Callable[..., str] = handler
    assert call_handler(*args, **kwargs) == "acme:open:[('region', 'eu')]"


def test_an_explicit_schema_does_not_let_the_model_override_a_partial_either() -> None:
    handler = functools.partial(_list_invoices, tenant_id="acme")
    schema: JSONObject = {
        "type": "object",
        "properties": {"status": {"type": "string"}},
        "additionalProperties": True,
    }
    skill = build_skill("list_invoices", handler, input_schema=schema)
    problem = skill.validator.validate({"status": "open", "tenant_id": "globex"})
    assert isinstance(problem, ArgumentProblem)
    assert problem.issues == ("tenant_id: not an argument of this tool (the application sets it)",)
    # A schema that offers the bound keyword (let alone requires it) is refused at once: every
    # call naming it would be refused, and the tool could not be called at all.
    offering: JSONObject = {
        "type": "object",
        "properties": {"status": {"type": "string"}, "tenant_id": {"type": "string"}},
        "required": ["status", "tenant_id"],
    }
    with pytest.raises(SkillRegistrationError, match=r"offers 'tenant_id', which the application"):
        build_skill("list_invoices", handler, input_schema=offering)
    requiring: JSONObject = {"type": "object", "required": ["tenant_id"]}
    with pytest.raises(SkillRegistrationError, match=r"offers 'tenant_id', which the application"):
        build_skill("list_invoices", handler, input_schema=requiring)


def test_parameters_clashing_with_model_attributes() -> None:
    def handler(model_config: str, json: int, _private: bool = False) -> None:
        return None

    schema = build_skill("clash", handler).input_schema
    assert set(_props(schema)) == {"model_config", "json", "_private"}


class Opaque:
    """A class pydantic has no schema for."""


def test_unsupported_annotation_is_refused_clearly() -> None:
    def handler(thing: Opaque) -> None:
        return None

    with pytest.raises(SkillRegistrationError, match="input_schema"):
        build_skill("opaque", handler)
    # An explicit schema makes the same handler registrable.
    build_skill("opaque", handler, input_schema={"type": "object", "properties": {}})


def test_explicit_schema_wins_unaltered() -> None:
    given: JSONObject = {
        "type": "object",
        "properties": {"ticket_id": {"type": "string"}},
        "x-custom": [1, 2],
    }

    def lookup_ticket(ticket_id: int) -> dict[str, str]:
        """Something else."""
        return {}

    skill = build_skill("lookup_ticket", lookup_ticket, input_schema=given)
    assert skill.input_schema == given
    assert skill.explicit_input_schema
    given["properties"] = {}
    assert skill.input_schema["properties"] == {"ticket_id": {"type": "string"}}
    assert skill.definition()["inputSchema"] == skill.input_schema


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "string"}, "object at the top level"),
        ({"properties": {}}, "object at the top level"),
        ([{"type": "object"}], "must be a JSON object"),
        ({"type": "object", "properties": {"a": {"type": "wat"}}}, "not a valid JSON Schema"),
        ({"type": "object", "default": float("nan")}, "not JSON-serialisable"),
        ({"type": "object", "default": object()}, "not JSON-serialisable"),
        ({"type": "object", "properties": {"a": {"pattern": "("}}}, "input_schema"),
    ],
)
def test_explicit_schema_rejections(schema: object, message: str) -> None:
    def handler() -> None:
        return None

    with pytest.raises(SkillRegistrationError, match=message):
        build_skill("bad", handler, input_schema=schema)  # type: ignore[arg-type]  # deliberately invalid input


def test_explicit_output_schema() -> None:
    def handler() -> str:
        """Says hi.

        Returns:
            A greeting.
        """
        return "hi"

    skill = build_skill("hi", handler, output_schema={"type": "string", "maxLength": 10})
    assert skill.output is not None
    assert skill.output.schema == {"type": "string", "maxLength": 10}
    assert skill.output.description == "A greeting."
    with pytest.raises(SkillRegistrationError, match="output_schema"):
        build_skill("hi", handler, output_schema={"type": 5})


def test_unresolvable_annotation_is_refused_clearly() -> None:
    def handler(thing: Missing) -> None:  # type: ignore[name-defined]  # deliberately undefined  # noqa: F821
        return None

    with pytest.raises(SkillRegistrationError, match="resolve its annotations"):
        build_skill("unresolved", handler)
    build_skill("unresolved", handler, input_schema={"type": "object"})


def test_a_type_defined_where_the_skill_is_registered_is_found() -> None:
    # Under `from __future__ import annotations` (this module's), a class defined next to the
    # skill and named only in its annotations is no closure variable: it was refused.
    class Order(BaseModel):
        item: str
        quantity: int

    def place(order: Order) -> str:
        return f"{order.quantity} x {order.item}"

    order = _props(build_skill("place", place).input_schema)["order"]
    assert isinstance(order, dict)
    assert order["required"] == ["item", "quantity"]


def test_a_type_defined_by_the_caller_of_a_register_callback_is_found() -> None:
    from codex_manager import CodexManager

    class Shelf(BaseModel):
        row: int

    def stock(shelf: Shelf) -> str:
        return f"row {shelf.row}"

    with CodexManager("http://127.0.0.1:9") as cm:
        skills = cm.remote_skills.session("s1")
        register: Callable[[object], object] = lambda _s: skills.skill(stock)  # noqa: E731
        register(skills)
        [tool] = skills.dynamic_tools()
    assert list(_props(tool["inputSchema"])) == ["shelf"]


def test_the_registering_code_lends_only_names_the_handlers_module_lacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The registering frames' names won over the handler module's own imports: its Query
    # was published with the schema of another Query of the caller's.
    module = types.ModuleType("tools_elsewhere")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    source = (
        "from pydantic import BaseModel\n"
        "class Query(BaseModel):\n"
        "    text: str\n"
        "def search(q: 'Query', f: 'Filters') -> str:\n"
        "    return q.text\n"
    )
    # dont_inherit: this module's `from __future__ import annotations` would quote them twice.
    exec(compile(source, module.__name__, "exec", dont_inherit=True), module.__dict__)

    class Query(BaseModel):  # the caller's own, unrelated
        sql: int

    class Filters(BaseModel):  # only here: lent to the handler's annotations
        limit: int

    properties = _props(build_skill("search", module.search).input_schema)
    query, filters = properties["q"], properties["f"]
    assert isinstance(query, dict)
    assert isinstance(filters, dict)
    assert list(_props(query)) == ["text"]
    assert list(_props(filters)) == ["limit"]
    assert Query.model_fields.keys() == {"sql"}


def test_output_contract_for_unschematizable_return() -> None:
    def handler() -> Opaque:
        return Opaque()

    skill = build_skill("opaque_out", handler)
    assert skill.output is not None
    assert skill.output.schema is None
    assert skill.output.description == "Opaque"


class TicketOut(BaseModel):
    """A ticket as the model reads it."""

    ticket_id: str = Field(serialization_alias="ticketId")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def url(self) -> str:
        return f"https://t/{self.ticket_id}"


def test_the_output_contract_describes_the_serialised_value() -> None:
    # It described the parsed model (ticket_id, no url) while the answer said ticketId, url.
    def lookup(ticket_id: str) -> TicketOut:
        return TicketOut(ticket_id=ticket_id)

    skill = build_skill("lookup", lookup)
    assert skill.output is not None
    assert skill.output.schema is not None
    assert sorted(cast(dict[str, object], skill.output.schema["properties"])) == [
        "ticketId",
        "url",
    ]


@pytest.mark.parametrize("default", [math.inf, -math.inf, math.nan])
def test_a_default_json_cannot_carry_is_left_out_of_the_schema(default: float) -> None:
    # "No limit" as math.inf made the registration fail (the schema was not JSON).
    def search(query: str, max_distance: float = default) -> float:
        return max_distance

    skill = build_skill("search", search)
    assert "default" not in _prop(skill.input_schema, "max_distance")
    json.dumps(skill.input_schema, allow_nan=False)
    bound = skill.validator.validate({"query": "q"})
    assert isinstance(bound, BoundArguments)
    assert "max_distance" not in bound.values  # Python supplies its own default


class Widget:
    """A class without a JSON Schema."""


def test_a_var_keyword_type_without_a_json_schema_is_a_registration_error() -> None:
    # It raised pydantic's own PydanticSchemaGenerationError.
    def paint(**widgets: Widget) -> str:
        return "ok"

    with pytest.raises(SkillRegistrationError, match=r"\*\*widgets"):
        build_skill("paint", paint)


def test_an_unknown_key_inside_an_argument_is_not_called_a_parameter() -> None:
    def place(point: Point) -> int:
        return point["x"]

    problem = build_skill("place", place).validator.validate({"point": {"x": 1, "y": 2, "z": 3}})
    assert isinstance(problem, ArgumentProblem)
    assert problem.issues == (
        "point.z: unexpected key (the argument's schema has no such property)",
    )


def test_description_checks() -> None:
    def handler() -> None:
        return None

    with pytest.raises(SkillRegistrationError, match="non-empty"):
        build_skill("d", handler, description="   ")
    with pytest.raises(SkillRegistrationError, match="longer than"):
        build_skill("d", handler, description="x" * 5000)
    with pytest.raises(SkillRegistrationError, match="timeout"):
        build_skill("d", handler, timeout_seconds=0)


def test_async_handlers_and_callable_instances() -> None:
    async def coroutine_handler(x: int) -> int:
        return x

    class Callable:
        async def __call__(self, x: int) -> int:
            return x

    assert build_skill("a", coroutine_handler).is_async
    assert build_skill("b", Callable()).is_async


class Ticket(TypedDict):
    """A ticket (NotRequired written under ``from __future__ import annotations``)."""

    id: str
    note: NotRequired[str]


class Draft(TypedDict, total=False):
    """A draft: everything optional but its title."""

    title: Required[str]
    body: str


class Branch(TypedDict):
    """A tree node."""

    name: str
    children: list[Branch]


def test_required_and_not_required_keys_are_kept_as_written() -> None:
    def file(ticket: Ticket, draft: Draft) -> str:
        return "ok"

    skill = build_skill("file", file)
    properties = skill.input_schema["properties"]
    assert isinstance(properties, dict)
    ticket_schema, draft_schema = properties["ticket"], properties["draft"]
    assert isinstance(ticket_schema, dict)
    assert isinstance(draft_schema, dict)
    assert ticket_schema["required"] == ["id"]
    assert draft_schema["required"] == ["title"]
    bound = skill.validator.validate({"ticket": {"id": "T-1"}, "draft": {"title": "t"}})
    assert not hasattr(bound, "issues")


def test_a_typed_dict_that_refers_to_itself_is_a_registration_error_or_works() -> None:
    def walk(tree: Branch) -> int:
        return len(tree["children"])

    def grow() -> Branch:
        return {"name": "root", "children": []}

    for handler in (walk, grow):
        if sys.version_info >= (3, 12):  # pydantic takes typing.TypedDict as it is
            assert build_skill("tree", handler).name == "tree"
            continue
        with pytest.raises(SkillRegistrationError, match="refers to itself"):
            build_skill("tree", handler)


@pytest.mark.parametrize("timeout", [math.inf, math.nan, 1e10, 0, -1, "5", True])
def test_a_timeout_no_wait_can_have_is_refused_at_registration(timeout: object) -> None:
    # inf made every call fail with OverflowError and killed the shared watchdog thread.
    def handler() -> str:
        return "ok"

    with pytest.raises(SkillRegistrationError, match="timeout_seconds"):
        build_skill("tool", handler, timeout_seconds=timeout)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="default_timeout_seconds"):
        RemoteSkillOptions(default_timeout_seconds=1e10)


@pytest.mark.parametrize("name", ["mcp", "mcp__lookup"])
def test_names_codex_reserves_for_mcp_tools_are_refused(name: str) -> None:
    def handler() -> str:
        return "ok"

    with pytest.raises(SkillRegistrationError, match="reserved"):
        build_skill(name, handler)
    assert build_skill("mcpx", handler).name == "mcpx"


def test_a_typed_dict_gets_its_own_schema_after_another_one_was_freed() -> None:
    # The Python 3.11 rewrite was cached by id(): a TypedDict made per registration (in a
    # register callback, say) could be given a freed one's id, and with it the freed one's
    # schema and validator.
    def make(index: int) -> tuple[type, Callable[..., str]]:
        if index % 2:

            class Spec(TypedDict):
                amount: int
                currency: str

        else:

            class Spec(TypedDict):  # type: ignore[no-redef]
                city: str

        def handler(spec: Spec) -> str:
            return json.dumps(Spec(**spec))  # a closure variable: the annotation resolves

        return Spec, functools.partial(handler)  # a partial: no schema template is shared

    for index in range(40):
        spec, handler = make(index)
        fields = list(spec.__annotations__)
        skill = build_skill(f"h{index}", handler)
        spec_schema = _prop(skill.input_schema, "spec")
        assert list(cast(dict[str, object], spec_schema["properties"])) == fields, index
        bound = skill.validator.validate({"spec": dict.fromkeys(fields, "1")})
        assert not isinstance(bound, ArgumentProblem), index
        del spec, handler, skill, bound
        gc.collect()


def _search(query: str, limit: int = 3) -> str:
    """Search the index.

    Args:
        query: Text to look for.
        limit: Max hits.
    """
    return query * limit


class _Searcher:
    def __call__(self, query: str) -> str:
        """Search through a callable object.

        Args:
            query: Text to look for.
        """
        return query


@pytest.mark.parametrize(
    ("handler", "description"),
    [
        (functools.partial(_search, limit=10), "Search the index."),
        (_Searcher(), "Search through a callable object."),
    ],
)
def test_the_docstring_comes_from_what_a_partial_or_callable_object_wraps(
    handler: Callable[..., str], description: str
) -> None:
    # A partial was described by functools.partial's own docstring; a callable object whose
    # docstring is on __call__ got none, and neither had parameter descriptions.
    skill = build_skill("search", handler)
    assert skill.description == description
    properties = skill.input_schema["properties"]
    assert isinstance(properties, dict)
    query = properties["query"]
    assert isinstance(query, dict)
    assert query["description"] == "Text to look for."


@pytest.mark.parametrize(
    "annotation",
    [Iterable[int], Iterable[int] | None, Annotated[Iterable[int], Field(description="numbers")]],
)
def test_an_iterable_parameter_is_checked_before_the_function_runs(annotation: object) -> None:
    # pydantic checks an Iterable's items lazily: [1, "x"] passed validation, and the bad
    # item raised inside the handler, after its side effects.
    def total(values: Iterable[int] | None) -> int:
        return sum(values or [])

    total.__annotations__["values"] = annotation
    skill = build_skill("total", total)
    assert "array" in json.dumps(_prop(skill.input_schema, "values"))
    problem = skill.validator.validate({"values": [1, "x"]})
    assert isinstance(problem, ArgumentProblem)
    assert problem.issues[0].startswith("values[1]")
    bound = skill.validator.validate({"values": [1, 2]})
    assert isinstance(bound, BoundArguments)
    assert bound.values["values"] == [1, 2]


def test_a_parameter_named_default_keeps_its_place_in_the_schema() -> None:
    # The non-JSON-default cleanup took the "properties" key "default" for a schema's default
    # and deleted the whole parameter.
    def search(query: str, default: float = math.inf) -> float:
        return default

    skill = build_skill("search", search)
    assert _prop(skill.input_schema, "default") == {"type": "number"}
    bound = skill.validator.validate({"query": "q", "default": 3})
    assert isinstance(bound, BoundArguments)
    assert bound.values["default"] == 3


def test_several_fields_in_annotated_are_merged_for_an_explicit_schema_too() -> None:
    def rows(limit: Annotated[int, Field(default=5), Field(description="max rows")]) -> int:
        return limit

    skill = build_skill("rows", rows, input_schema={"type": "object", "properties": {}})
    bound = skill.validator.validate({})
    assert isinstance(bound, BoundArguments)
    assert bound.values == {"limit": 5}


def test_fields_that_cannot_be_merged_are_a_registration_error() -> None:
    # pydantic's own TypeError escaped from build_skill.
    def rows(limit: Annotated[int, Field(default=3), Field(default_factory=lambda: 4)]) -> int:
        return limit

    with pytest.raises(SkillRegistrationError, match="limit"):
        build_skill("rows", rows)
