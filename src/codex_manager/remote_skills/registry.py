"""The registry core shared by the sync and async session registries.

It holds the skills of one session (thread-safe: a stream thread may dispatch while the
application registers), remembers which tools the model was given when the session was created,
and renders the deterministic instruction text.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Literal

from codex_manager.remote_skills.errors import SkillRegistrationError
from codex_manager.remote_skills.skill import DynamicToolSpec, RemoteSkill

__all__ = ["MAX_DYNAMIC_TOOLS", "CatalogView", "MissingSkill", "SkillRegistry"]

MAX_DYNAMIC_TOOLS = 128
"""The server refuses catalogs with more tools than this (``dynamicTools`` max 128)."""


@dataclass(frozen=True, slots=True)
class MissingSkill:
    """Why a called tool cannot run."""

    kind: Literal["unknown_tool", "unavailable"]
    """``unavailable``: the tool existed in this session but was unregistered since."""
    available: tuple[str, ...]
    """The tools registered now, to help the model recover."""

    def text(self, tool: str) -> str:
        """The answer text for the model."""
        listing = ", ".join(self.available) if self.available else "none"
        if self.kind == "unavailable":
            return (
                f"Tool {tool!r} is no longer available in this session; it was removed by the "
                f"client application. Tools available now: {listing}."
            )
        return f"Unknown tool {tool!r}: this session has no such tool. Tools available: {listing}."


@dataclass(frozen=True, slots=True)
class CatalogView:
    """What the model was given versus what exists locally."""

    model_tools: tuple[str, ...] | None
    """Tools given to the model at session creation; ``None`` when this process cannot know
    (the registry was attached to an existing session)."""
    local_tools: tuple[str, ...]
    """Tools registered locally now."""
    local_only: tuple[str, ...]
    """Registered locally but not in the creation catalog: the model may never call them."""
    removed: tuple[str, ...]
    """In the creation catalog but unregistered since: calls get a "no longer available" answer."""


class SkillRegistry:
    """Thread-safe, insertion-ordered collection of :class:`RemoteSkill` objects."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._skills: dict[str, RemoteSkill] = {}
        # Names unregistered since (created on first removal: most registries never remove).
        self._removed: set[str] | None = None
        self._creation_catalog: tuple[str, ...] | None = None

    def add(self, skill: RemoteSkill, *, replace: bool = False) -> None:
        """Add a skill; a taken name is refused unless ``replace`` is true."""
        with self._lock:
            if skill.name in self._skills and not replace:
                raise SkillRegistrationError(
                    skill.name, "a skill with this name is already registered (pass replace=True)"
                )
            if skill.name not in self._skills and len(self._skills) >= MAX_DYNAMIC_TOOLS:
                raise SkillRegistrationError(
                    skill.name, f"a session can publish at most {MAX_DYNAMIC_TOOLS} dynamic tools"
                )
            self._skills[skill.name] = skill

    def remove(self, name: str) -> RemoteSkill | None:
        """Remove and return a skill, or ``None`` when absent."""
        with self._lock:
            removed = self._skills.pop(name, None)
            if removed is not None:
                self._note_removed((name,))
            return removed

    def _note_removed(self, names: tuple[str, ...]) -> None:
        if names:
            if self._removed is None:
                self._removed = set()
            self._removed.update(names)

    def clear(self) -> tuple[str, ...]:
        """Remove every skill; returns the removed names."""
        with self._lock:
            names = tuple(self._skills)
            self._skills.clear()
            self._note_removed(names)
            return names

    def get(self, name: str) -> RemoteSkill | None:
        """The skill registered under ``name``, if any."""
        with self._lock:
            return self._skills.get(name)

    def lookup(self, name: str) -> RemoteSkill | MissingSkill:
        """The skill to run for a call of ``name``, or why there is none."""
        with self._lock:
            skill = self._skills.get(name)
            if skill is not None:
                return skill
            was_known = (self._removed is not None and name in self._removed) or (
                self._creation_catalog is not None and name in self._creation_catalog
            )
            return MissingSkill(
                "unavailable" if was_known else "unknown_tool", tuple(sorted(self._skills))
            )

    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order."""
        with self._lock:
            return tuple(self._skills)

    def skills(self) -> tuple[RemoteSkill, ...]:
        """Registered skills, in registration order."""
        with self._lock:
            return tuple(self._skills.values())

    def definitions(self) -> list[DynamicToolSpec]:
        """The ``dynamicTools`` payload, in registration order."""
        return [skill.definition() for skill in self.skills()]

    def mark_created(self, names: tuple[str, ...]) -> None:
        """Record the tools the session was created with (what the model can see)."""
        with self._lock:
            self._creation_catalog = names
            self._removed = None  # removed before creation: never offered, so "unknown"

    @property
    def creation_catalog(self) -> tuple[str, ...] | None:
        """Tools given to the model at creation, or ``None`` when unknown."""
        with self._lock:
            return self._creation_catalog

    def view(self) -> CatalogView:
        """Compare the creation catalog with the local registry."""
        with self._lock:
            local = tuple(self._skills)
            created = self._creation_catalog
        if created is None:
            return CatalogView(None, local, (), ())
        return CatalogView(
            model_tools=created,
            local_tools=local,
            local_only=tuple(name for name in local if name not in created),
            removed=tuple(name for name in created if name not in local),
        )

    def instruction_text(self) -> str:
        """Deterministic text describing every skill (sorted by name), or ``""`` when empty."""
        skills = sorted(self.skills(), key=lambda skill: skill.name)
        if not skills:
            return ""
        lines = ["Tools provided by the client application (call them as tools when useful):"]
        for skill in skills:
            lines.append(f"- {skill.name}: {_one_line(skill.description)}")
            lines.append(
                "  input: " + json.dumps(skill.input_schema, sort_keys=True, separators=(",", ":"))
            )
            if skill.output is not None:
                rendered = skill.output.render()
                if rendered:
                    lines.append(f"  output: {_one_line(rendered)}")
        return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())
