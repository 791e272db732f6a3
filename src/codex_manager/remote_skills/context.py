"""The optional per-call context a handler can ask for.

A handler parameter annotated ``SkillContext`` (or ``SkillContext | None``) is left out of the
tool's input schema and filled in by the SDK at call time, so a handler can see which session,
turn and call it is serving without the model having to pass it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SkillContext"]


@dataclass(frozen=True, slots=True)
class SkillContext:
    """Where a tool call came from; injected into handlers that declare a parameter for it."""

    skill_name: str
    """The registered name of the skill being called."""
    session_id: str | None
    """The session (thread) the registry serves; ``None`` only for purely local dispatch."""
    thread_id: str | None
    """The thread id carried by the call."""
    turn_id: str | None
    """The turn the call belongs to, when known."""
    call_id: str | None
    """The model's call id, when Codex gave one."""
    request_id: str | None
    """The request id the answer is posted to (string form), when known."""
