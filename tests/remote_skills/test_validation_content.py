"""Argument validation messages and return-value conversion."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import sys
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from codex_manager.json_types import JSONValue
from codex_manager.remote_skills.content import (
    ImageContent,
    ResultConversionError,
    TextContent,
    to_content_items,
)
from codex_manager.remote_skills.skill import build_skill
from codex_manager.remote_skills.validation import (
    ArgumentProblem,
    BoundArguments,
    normalize_arguments,
)

json_values: st.SearchStrategy[JSONValue] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


class Address(BaseModel):
    """An address."""

    city: str
    zip: int


def order(item: str, quantity: int, address: Address | None = None) -> str:
    """Place an order."""
    return item


def test_model_validation_converts_and_binds_only_given_fields() -> None:
    skill = build_skill("order", order)
    bound = skill.validator.validate({"item": "tea", "quantity": 2})
    assert bound == BoundArguments({"item": "tea", "quantity": 2}, {})
    bound = skill.validator.validate(
        {"item": "tea", "quantity": 2, "address": {"city": "X", "zip": "12"}}
    )
    assert isinstance(bound, BoundArguments)
    assert bound.values["address"] == Address(city="X", zip=12)


def test_model_validation_problems_name_fields() -> None:
    skill = build_skill("order", order)
    problem = skill.validator.validate(
        {"quantity": "many", "address": {"city": "X"}, "colour": "red"}
    )
    assert isinstance(problem, ArgumentProblem)
    text = problem.text("order")
    assert text.startswith("Invalid arguments for tool 'order': ")
    assert "item: required argument is missing" in text
    assert "quantity: Input should be a valid integer, unable to parse string" in text
    assert '(got "many")' in text
    assert "address.zip: required argument is missing" in text
    assert "colour: unexpected argument" in text
    assert "The tool was not run" in text


def test_schema_validation_problems_and_binding() -> None:
    def lookup(ticket_id: str, verbose: bool = False) -> str:
        return ticket_id

    skill = build_skill(
        "lookup",
        lookup,
        input_schema={
            "type": "object",
            "properties": {"ticket_id": {"type": "string"}, "tags": {"type": "array"}},
        },
    )
    problem = skill.validator.validate({"ticket_id": 5})
    assert isinstance(problem, ArgumentProblem)
    assert problem.issues == ('ticket_id: 5 is not of type "string"',)
    # Allowed by the schema but unknown to the handler: refused before the call.
    problem = skill.validator.validate({"ticket_id": "a", "tags": []})
    assert isinstance(problem, ArgumentProblem)
    assert problem.issues == ("tags: unexpected argument (the tool has no parameter of that name)",)
    # The schema does not require ticket_id but the handler does.
    problem = skill.validator.validate({})
    assert isinstance(problem, ArgumentProblem)
    assert problem.issues == ("ticket_id: required argument is missing",)
    assert skill.validator.validate({"ticket_id": "T-1"}) == BoundArguments({"ticket_id": "T-1"})


def test_schema_validation_passes_extras_to_var_keyword() -> None:
    def anything(**fields: object) -> object:
        return fields

    skill = build_skill("anything", anything, input_schema={"type": "object"})
    assert skill.validator.validate({"a": 1}) == BoundArguments({}, {"a": 1})


def test_normalize_arguments() -> None:
    assert normalize_arguments(None) == {}
    assert normalize_arguments('{"a": 1}') == {"a": 1}
    assert isinstance(normalize_arguments("[1]"), ArgumentProblem)
    assert isinstance(normalize_arguments("not json"), ArgumentProblem)
    problem = normalize_arguments([1, 2])
    assert isinstance(problem, ArgumentProblem)
    assert problem.issues == ("(arguments): expected a JSON object, got an array",)
    assert isinstance(normalize_arguments(3), ArgumentProblem)


def test_arguments_nested_past_the_recursion_limit_are_a_problem_not_a_crash() -> None:
    # RecursionError escaped: the call was never answered and every drain raised.
    depth = sys.getrecursionlimit() * 2
    problem = normalize_arguments('{"a": ' + "[" * depth + "]" * depth + "}")
    assert isinstance(problem, ArgumentProblem)
    assert problem.issues == ("(arguments): a JSON string nested too deeply",)


def test_many_issues_are_capped() -> None:
    problem = ArgumentProblem(tuple(f"f{i}: bad" for i in range(15)))
    assert "... and 5 more" in problem.text("t")


@given(json_values)
def test_validation_never_raises(arguments: JSONValue) -> None:
    skill = build_skill("order", order)
    normalized = normalize_arguments(arguments)
    if isinstance(normalized, ArgumentProblem):
        return
    result = skill.validator.validate(normalized)
    assert isinstance(result, BoundArguments | ArgumentProblem)


@dataclasses.dataclass
class Ticket:
    """A ticket."""

    ticket_id: str
    opened: datetime.date


def test_content_text_and_json() -> None:
    assert to_content_items("hello") == [{"type": "inputText", "text": "hello"}]
    assert to_content_items({"b": 1, "a": [True, None]}) == [
        {"type": "inputText", "text": '{"b":1,"a":[true,null]}'}
    ]
    assert to_content_items([1, 2]) == [{"type": "inputText", "text": "[1,2]"}]
    assert to_content_items(None) == [{"type": "inputText", "text": "null"}]
    assert to_content_items(Ticket("T-1", datetime.date(2026, 1, 2))) == [
        {"type": "inputText", "text": '{"ticket_id":"T-1","opened":"2026-01-02"}'}
    ]
    assert to_content_items(Address(city="X", zip=1)) == [
        {"type": "inputText", "text": '{"city":"X","zip":1}'}
    ]


@pytest.mark.parametrize("value", [b"hello", bytearray(b"\x89PNG"), memoryview(b"hi")])
def test_bytes_are_refused_with_what_to_return_instead(value: object) -> None:
    # They went as JSON: UTF-8 ones as a quoted string, others failing on a decoding error.
    with pytest.raises(ResultConversionError, match=r"ImageContent\.from_bytes.*str"):
        to_content_items(value)


def test_content_items_pass_through() -> None:
    image = ImageContent.from_bytes(b"\x89PNG", "image/png")
    assert image.image_url == "data:image/png;base64,iVBORw=="
    assert to_content_items([TextContent("a"), image]) == [
        {"type": "inputText", "text": "a"},
        {"type": "inputImage", "imageUrl": "data:image/png;base64,iVBORw=="},
    ]
    wire: list[dict[str, str]] = [
        {"type": "inputImage", "imageUrl": "https://example.test/x.png"},
        {"type": "inputText", "text": "caption"},
    ]
    assert to_content_items(wire) == wire
    assert to_content_items(ImageContent("https://e.test/i.png")) == [
        {"type": "inputImage", "imageUrl": "https://e.test/i.png"}
    ]
    # A dict that merely resembles an item (extra keys) is data, sent as JSON text.
    lookalike = {"type": "inputText", "text": "x", "extra": 1}
    assert to_content_items(lookalike) == [
        {"type": "inputText", "text": json.dumps(lookalike, separators=(",", ":"))}
    ]
    with pytest.raises(ValueError, match="non-empty"):
        ImageContent("  ")


def test_content_conversion_error() -> None:
    with pytest.raises(ResultConversionError, match="not JSON-serialisable"):
        to_content_items(object())


def test_text_that_is_not_valid_unicode_is_a_conversion_error() -> None:
    # What os.fsdecode makes of a non-UTF-8 file name: no JSON body can carry it.
    name = "report-\udcff.txt"
    for value in (
        name,
        TextContent(name),
        [TextContent("ok"), {"type": "inputText", "text": name}],
    ):
        with pytest.raises(ResultConversionError, match="not valid Unicode"):
            to_content_items(value)
    with pytest.raises(ResultConversionError):
        to_content_items({"name": name})  # the JSON path refuses it too


@given(st.text(alphabet=st.characters(codec=None)))
def test_converted_text_always_encodes(text: str) -> None:
    try:
        items = to_content_items(text)
    except ResultConversionError:
        return
    for item in items:
        assert item["type"] == "inputText"
        item["text"].encode("utf-8")


@given(json_values)
def test_content_never_raises_for_json(value: JSONValue) -> None:
    items = to_content_items(value)
    assert items
    for item in items:
        assert item["type"] in ("inputText", "inputImage")


odd_values: st.SearchStrategy[object] = st.one_of(
    json_values,
    st.binary(),
    st.complex_numbers(),
    st.decimals(),
    st.datetimes(),
    st.frozensets(st.integers(), max_size=3),
    st.builds(object),
    st.just(lambda: None),
    st.just(Exception("x")),
    # Content objects are plain dataclasses: a wrong field type is only found on conversion.
    st.builds(TextContent, st.integers() | st.none() | st.binary()),
    st.builds(ImageContent, st.binary(min_size=1).filter(bytes.strip)),
    st.lists(st.builds(TextContent, st.integers()), min_size=1, max_size=2),
)


@given(odd_values)
def test_content_raises_only_documented_error(value: object) -> None:
    with contextlib.suppress(ResultConversionError):
        assert to_content_items(value)


def test_literal_output() -> None:
    def pick() -> Literal["a", "b"]:
        return "a"

    skill = build_skill("pick", pick)
    assert skill.output is not None
    assert skill.output.schema == {"enum": ["a", "b"], "type": "string"}


def _refuse_constant(name: str) -> object:
    raise AssertionError(f"{name} is not JSON")


@given(
    st.recursive(
        st.floats() | st.integers() | st.none(),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=4), children, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_json_text_is_json_even_with_nan_and_infinities(value: JSONValue) -> None:
    (item,) = to_content_items(value)
    assert item["type"] == "inputText"
    json.loads(item["text"], parse_constant=_refuse_constant)


def test_nan_and_infinities_go_as_strings() -> None:
    assert to_content_items({"ratio": float("nan"), "max": float("inf")}) == [
        {"type": "inputText", "text": '{"ratio":"NaN","max":"Infinity"}'}
    ]


def test_a_content_object_holding_no_string_is_a_conversion_error() -> None:
    for value in (
        TextContent(3),  # type: ignore[arg-type]  # what a handler did by mistake
        TextContent(None),  # type: ignore[arg-type]
        [TextContent("ok"), TextContent(b"x")],  # type: ignore[arg-type]
        ImageContent(b"https://example.test/i.png"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ResultConversionError, match="where text or a URL"):
            to_content_items(value)
