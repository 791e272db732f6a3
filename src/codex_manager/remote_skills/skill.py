"""One registered skill: its catalog entry, its validator and how to call its handler."""

from __future__ import annotations

import inspect
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypedDict

from codex_manager.json_types import JSONObject
from codex_manager.remote_skills.errors import SkillRegistrationError
from codex_manager.remote_skills.schema import (
    CallPlan,
    OutputContract,
    check_explicit_input_schema,
    check_output_schema,
    synthesize,
)
from codex_manager.remote_skills.sharing import TEMPLATES, SkillTemplate, template_key
from codex_manager.remote_skills.validation import (
    ArgumentValidator,
    ModelArgumentValidator,
    SchemaArgumentValidator,
)

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "SKILL_NAME_PATTERN",
    "DynamicToolSpec",
    "RemoteSkill",
    "SkillHandler",
    "build_skill",
]

SkillHandler = Callable[..., object]
"""A skill handler: any sync or async callable whose parameters are the tool's arguments."""

SKILL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""Tool names Codex (and the model APIs behind it) accept."""

MAX_DESCRIPTION_LENGTH = 4096
"""Longer descriptions are refused: they cost context on every turn."""


class DynamicToolSpec(TypedDict):
    """One entry of the ``dynamicTools`` catalog (the server's ``DynamicToolDefinition``)."""

    name: str
    description: str
    inputSchema: JSONObject


@dataclass(frozen=True, slots=True, eq=False)
class RemoteSkill:
    """A Python callable published to Codex as a dynamic tool."""

    name: str
    """Tool name seen by the model."""
    handler: SkillHandler
    """The callable run for each call."""
    is_async: bool
    """Whether the handler is a coroutine function (awaited) or a plain one (called)."""
    timeout_seconds: float | None
    """Per-skill timeout; ``None`` means the registry's default applies."""
    template: SkillTemplate
    """What was synthesized for it, shared with other registrations of the same function."""

    @property
    def description(self) -> str:
        """Tool description seen by the model."""
        return self.template.description

    @property
    def input_schema(self) -> JSONObject:
        """``inputSchema`` sent to Codex (explicit, unaltered; or synthesized).

        Shared with other registrations of the same function: read it, never mutate it
        (:meth:`definition` returns a copy).
        """
        return self.template.input_schema

    @property
    def explicit_input_schema(self) -> bool:
        """Whether ``input_schema`` was given at registration."""
        return self.template.explicit_input_schema

    @property
    def output(self) -> OutputContract | None:
        """Output contract shown in the instruction text (never part of ``inputSchema``)."""
        return self.template.output

    @property
    def validator(self) -> ArgumentValidator:
        """Checks and binds arguments before the handler runs."""
        return self.template.validator

    @property
    def plan(self) -> CallPlan:
        """How bound values become handler arguments."""
        return self.template.plan

    def definition(self) -> DynamicToolSpec:
        """The catalog entry sent as one element of ``dynamicTools``."""
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": json.loads(json.dumps(self.input_schema)),
        }


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise SkillRegistrationError(repr(name), "the name must be a string")
    if not SKILL_NAME_PATTERN.fullmatch(name):
        raise SkillRegistrationError(
            name,
            "names must be 1 to 64 characters of letters, digits, '_' or '-' "
            "(what Codex and the model APIs accept)",
        )
    if name == "mcp" or name.startswith("mcp__"):
        raise SkillRegistrationError(
            name, "'mcp' and names starting with 'mcp__' are reserved by Codex for MCP tools"
        )
    return name


def _is_async_callable(handler: SkillHandler) -> bool:
    if inspect.iscoroutinefunction(handler):
        return True
    call = getattr(handler, "__call__", None)  # noqa: B004 - callable instances with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def build_skill(
    name: str | None,
    handler: SkillHandler,
    *,
    description: str | None = None,
    input_schema: Mapping[str, object] | None = None,
    output_schema: Mapping[str, object] | None = None,
    timeout_seconds: float | None = None,
) -> RemoteSkill:
    """Build a :class:`RemoteSkill`, or refuse with :class:`SkillRegistrationError`.

    ``name`` defaults to the handler's ``__name__``; ``description`` to the docstring summary,
    then ``"Remote skill <name>"``. Registrations of the same function with the same
    arguments share one synthesized schema, argument model and validator (see
    :mod:`codex_manager.remote_skills.sharing`); the handler stays the one given.
    """
    if name is None:
        name = getattr(handler, "__name__", None)
        if not isinstance(name, str):
            raise SkillRegistrationError("?", "the handler has no __name__; pass name=...")
        if not SKILL_NAME_PATTERN.fullmatch(name):  # a lambda's "<lambda>", say
            raise SkillRegistrationError(
                name,
                "the tool is named after the function, and this name is not one Codex accepts "
                "(1 to 64 letters, digits, '_' or '-'); pass name=...",
            )
    name = _check_name(name)
    if not callable(handler):
        raise SkillRegistrationError(
            name, f"the handler must be callable, not {type(handler).__name__}"
        )
    if timeout_seconds is not None and (
        isinstance(timeout_seconds, bool)
        or not isinstance(timeout_seconds, int | float)
        or not 0 < timeout_seconds <= threading.TIMEOUT_MAX
    ):
        raise SkillRegistrationError(
            name,
            f"timeout_seconds must be a positive number of seconds, at most "
            f"{threading.TIMEOUT_MAX:g} (the longest wait the platform allows), or None "
            f"(the registry's default); got {timeout_seconds!r}",
        )
    key = template_key(
        name,
        handler,
        description=description,
        input_schema=input_schema,
        output_schema=output_schema,
    )

    def build() -> SkillTemplate:
        return _build_template(name, handler, description, input_schema, output_schema)

    template = build() if key is None else TEMPLATES.get_or_build(key, build)
    return RemoteSkill(
        name=name,
        handler=handler,
        is_async=_is_async_callable(handler),
        timeout_seconds=timeout_seconds,
        template=template,
    )


def _refuse_fixed_properties(name: str, schema: JSONObject, fixed: frozenset[str]) -> None:
    """An explicit schema may not offer (or require) an argument the application sets (a
    keyword a ``functools.partial`` binds, the context parameter): every call naming it would
    be refused, one it requires would make the tool uncallable. Its top level only: a name
    buried in ``allOf`` and the like is still refused call by call."""
    named: set[str] = set()
    properties, required = schema.get("properties"), schema.get("required")
    if isinstance(properties, dict):
        named.update(properties)
    if isinstance(required, list):
        named.update(item for item in required if isinstance(item, str))
    offered = sorted(fixed & named)
    if offered:
        raise SkillRegistrationError(
            name,
            f"input_schema offers {', '.join(map(repr, offered))}, which the application sets "
            "(a keyword the functools.partial binds, or the SkillContext parameter): the model "
            "cannot give it; take it out of the schema",
        )


def _build_template(
    name: str,
    handler: SkillHandler,
    description: str | None,
    input_schema: Mapping[str, object] | None,
    output_schema: Mapping[str, object] | None,
) -> SkillTemplate:
    """Synthesize what a registration needs besides the handler object itself."""
    synthesized = synthesize(name, handler, explicit_schema=input_schema is not None)
    validator: ArgumentValidator
    if input_schema is not None:
        schema, compiled = check_explicit_input_schema(name, input_schema)
        _refuse_fixed_properties(name, schema, synthesized.plan.fixed)
        validator = SchemaArgumentValidator(compiled, synthesized.plan)
    else:
        schema = synthesized.input_schema
        assert synthesized.arguments_model is not None  # built whenever no schema is given
        validator = ModelArgumentValidator(
            synthesized.arguments_model, synthesized.plan, synthesized.var_keyword_adapter
        )
    output = synthesized.output
    if output_schema is not None:
        output = OutputContract(
            schema=check_output_schema(name, output_schema),
            description=output.description if output else None,
        )
    if description is None:
        description = synthesized.description or f"Remote skill {name}"
    if not isinstance(description, str) or not description.strip():
        raise SkillRegistrationError(name, "the description must be a non-empty string")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise SkillRegistrationError(
            name, f"the description is longer than {MAX_DESCRIPTION_LENGTH} characters"
        )
    return SkillTemplate(
        description=description,
        input_schema=schema,
        explicit_input_schema=input_schema is not None,
        output=output,
        validator=validator,
        plan=synthesized.plan,
    )
