"""Exceptions raised by the remote-skills layer.

All of them derive from :class:`codex_manager.errors.CodexManagerError`, so one ``except``
catches every SDK error; the subclasses tell a bad registration apart from a misuse of a
session registry.
"""

from __future__ import annotations

from codex_manager.errors import CodexManagerError

__all__ = [
    "MalformedPendingCallsError",
    "RemoteSkillError",
    "SessionNotBoundError",
    "SkillNotFoundError",
    "SkillRegistrationError",
]


class RemoteSkillError(CodexManagerError):
    """Root of the errors raised by :mod:`codex_manager.remote_skills`."""


class SkillRegistrationError(RemoteSkillError, ValueError):
    """A skill cannot be registered: bad name, description, schema or handler signature.

    Raised at registration time, so a catalog Codex would reject never reaches the server.
    """

    def __init__(self, skill_name: str, problem: str) -> None:
        self.skill_name = skill_name
        """The name the skill was being registered under."""
        self.problem = problem
        """What is wrong, in words."""
        super().__init__(f"cannot register remote skill {skill_name!r}: {problem}")


class SkillNotFoundError(RemoteSkillError, KeyError):
    """A skill name is not in the registry (``unregister(name, missing_ok=False)``)."""

    def __init__(self, skill_name: str) -> None:
        self.skill_name = skill_name
        """The missing name."""
        super().__init__(skill_name)

    def __str__(self) -> str:
        return f"no remote skill named {self.skill_name!r} is registered"


class SessionNotBoundError(RemoteSkillError, RuntimeError):
    """The registry is not attached to a session yet.

    Happens when a ``register`` callback given to ``create_session`` tries to send or answer
    before the session exists: registering skills there is fine, talking to the server is not.
    """


class MalformedPendingCallsError(RemoteSkillError, ValueError):
    """``GET /api/sessions/{id}/tool-calls`` answered without a ``data`` array.

    A ``ValueError``, as ``drain_pending_calls()`` documents.
    """
