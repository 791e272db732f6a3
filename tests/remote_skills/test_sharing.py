"""Registrations of the same function share what was synthesized; different ones never do."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import pytest
from pydantic import BaseModel

from codex_manager.json_types import JSONObject
from codex_manager.remote_skills.skill import RemoteSkill, build_skill
from codex_manager.remote_skills.validation import BoundArguments, SchemaArgumentValidator


def lookup_ticket(ticket_id: str, verbose: bool = False) -> dict[str, str]:
    """Look up a ticket.

    Args:
        ticket_id: The ticket's id.
        verbose: Include the history.
    """
    return {"ticketId": ticket_id}


def close_ticket(ticket_id: str, verbose: bool = False) -> dict[str, str]:
    """Close a ticket."""
    return {"closed": ticket_id}


TICKET_SCHEMA: JSONObject = {
    "type": "object",
    "properties": {"ticket_id": {"type": "string"}},
    "required": ["ticket_id"],
}


def bound(skill: RemoteSkill, arguments: JSONObject) -> dict[str, object]:
    result = skill.validator.validate(arguments)
    assert isinstance(result, BoundArguments), result
    return dict(result.values)


def test_same_function_shares_schema_model_and_validator() -> None:
    first = build_skill("lookup_ticket", lookup_ticket)
    second = build_skill("lookup_ticket", lookup_ticket, timeout_seconds=5)
    assert first is not second
    assert first.template is second.template
    assert first.input_schema is second.input_schema
    assert first.validator is second.validator
    assert first.plan is second.plan
    # Per registration: the handler and the options that do not shape the schema.
    assert (first.timeout_seconds, second.timeout_seconds) == (None, 5)
    assert bound(second, {"ticket_id": "A"}) == {"ticket_id": "A"}


def test_a_different_function_name_or_description_is_not_shared() -> None:
    base = build_skill("lookup_ticket", lookup_ticket)
    other_function = build_skill("lookup_ticket", close_ticket)
    other_name = build_skill("find_ticket", lookup_ticket)
    other_description = build_skill("lookup_ticket", lookup_ticket, description="Find one.")
    templates = {id(s.template) for s in (base, other_function, other_name, other_description)}
    assert len(templates) == 4
    assert base.validator is not other_function.validator
    assert other_function.description == "Close a ticket."
    assert other_description.description == "Find one."
    assert base.description.startswith("Look up a ticket.")


def _closure_factory(prefix: str) -> Callable[..., str]:
    def tag(text: str, times: int = 2) -> str:
        """Tag a text."""
        return f"{prefix}:{text * times}"

    return tag


def test_closures_of_one_def_share_the_template_but_keep_their_own_handler() -> None:
    red, blue = _closure_factory("red"), _closure_factory("blue")
    red_skill, blue_skill = build_skill(None, red), build_skill(None, blue)
    assert red_skill.template is blue_skill.template
    assert red_skill.handler is red
    assert blue_skill.handler is blue
    values = bound(blue_skill, {"text": "x"})
    assert blue_skill.handler(**values) == "blue:xx"
    assert red_skill.handler(**values) == "red:xx"


def _defaults_factory(times: int, extra: list[str]) -> Callable[..., str]:
    def repeat(text: str, n: int = times, tags: list[str] = extra) -> str:
        """Repeat a text."""
        return text * n

    return repeat


def test_closures_with_other_defaults_are_not_shared() -> None:
    shared_list: list[str] = []
    same_a = build_skill(None, _defaults_factory(2, shared_list))
    same_b = build_skill(None, _defaults_factory(2, shared_list))
    other_int = build_skill(None, _defaults_factory(3, shared_list))
    other_list = build_skill(None, _defaults_factory(2, []))
    assert same_a.template is same_b.template
    assert other_int.template is not same_a.template
    assert other_list.template is not same_a.template
    assert bound(other_int, {"text": "x"}) == {"text": "x"}
    properties = other_int.input_schema["properties"]
    assert isinstance(properties, dict)
    assert properties["n"] == {"default": 3, "type": "integer"}


def _model_factory(default: int) -> Callable[..., str]:
    # A local model: the string annotation "Local" resolves through the closure.
    class Local(BaseModel):
        value: int = default

    def use(item: Local) -> str:
        """Use an item."""
        assert isinstance(item, Local)
        return "ok"

    return use


def test_closures_whose_string_annotations_name_other_closure_values_are_not_shared() -> None:
    first = build_skill(None, _model_factory(1))
    second = build_skill(None, _model_factory(2))
    assert first.template is not second.template
    assert '"default": 1' in json.dumps(first.input_schema)
    assert '"default": 2' in json.dumps(second.input_schema)


def _traced(function: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(function)
    def wrapper(*args: object, **kwargs: object) -> str:
        return function(*args, **kwargs)

    return wrapper


def _once(text: str, times: int = 1) -> str:
    """Repeat."""
    return text * times


def _twice(text: str, times: int = 2) -> str:
    """Repeat."""
    return text * times


def test_wrapped_functions_are_not_shared() -> None:
    # Same code object, docstring and annotations (copied by wraps); only __wrapped__
    # knows the defaults differ.
    once = build_skill("repeat", _traced(_once))
    twice = build_skill("repeat", _traced(_twice))
    assert once.template is not twice.template
    properties = twice.input_schema["properties"]
    assert isinstance(properties, dict)
    assert properties["times"] == {"default": 2, "type": "integer"}


class _Greeter:
    def greet(self, name: str) -> str:
        """Greet someone."""
        return f"hello {name}"


def test_bound_methods_still_work() -> None:
    greeter = _Greeter()
    skill = build_skill(None, greeter.greet)
    assert skill.handler == greeter.greet
    assert bound(skill, {"name": "ada"}) == {"name": "ada"}
    assert list(skill.plan.slots) == [skill.plan.slots[0]]  # no ``self`` parameter


def test_equal_explicit_schemas_share_one_compiled_validator() -> None:
    reordered: JSONObject = {
        "required": ["ticket_id"],
        "properties": {"ticket_id": {"type": "string"}},
        "type": "object",
    }
    first = build_skill("lookup_ticket", lookup_ticket, input_schema=dict(TICKET_SCHEMA))
    again = build_skill("lookup_ticket", lookup_ticket, input_schema=dict(TICKET_SCHEMA))
    other = build_skill("close_ticket", close_ticket, input_schema=reordered)
    assert first.template is again.template
    assert other.template is not first.template
    # The compiled validator is shared whatever the key order, and each schema is kept as given.
    assert isinstance(first.validator, SchemaArgumentValidator)
    assert isinstance(other.validator, SchemaArgumentValidator)
    assert first.validator._validator is other.validator._validator
    assert list(other.input_schema) == ["required", "properties", "type"]
    assert list(first.input_schema) == ["type", "properties", "required"]


def test_a_changed_caller_schema_gives_a_new_template() -> None:
    schema: JSONObject = {"type": "object", "properties": {"ticket_id": {"type": "string"}}}
    first = build_skill("lookup_ticket", lookup_ticket, input_schema=schema)
    schema["required"] = ["ticket_id"]
    second = build_skill("lookup_ticket", lookup_ticket, input_schema=schema)
    assert first.template is not second.template
    assert "required" not in first.input_schema
    assert second.input_schema["required"] == ["ticket_id"]


Amount = int


def pay(amount: Amount) -> str:
    """Pay an amount."""
    return str(amount)


def test_a_rebound_module_name_in_a_string_annotation_gives_a_new_template(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    as_int = build_skill(None, pay)
    monkeypatch.setitem(globals(), "Amount", str)
    as_str = build_skill(None, pay)
    assert as_int.template is not as_str.template
    assert as_str.input_schema["properties"] == {"amount": {"type": "string"}}
    assert build_skill(None, pay).template is as_str.template
