"""Remote skills: Python functions published to a Codex session as dynamic tools.

``cm.remote_skills.create_session(register=...)`` creates a session whose tool catalog is filled
by a callback; the returned :class:`SessionSkills` (or :class:`AsyncSessionSkills`) answers the
calls Codex makes, from the event stream (:meth:`SessionSkills.respond_to_signal`) or by polling
(:meth:`SessionSkills.drain_pending_calls`), each call exactly once.
"""

from __future__ import annotations

from codex_manager.remote_skills._base import SkillScope
from codex_manager.remote_skills.async_session import AsyncSessionSkills
from codex_manager.remote_skills.calls import SkillAnswer, ToolCall
from codex_manager.remote_skills.catalog import CatalogSync, CatalogWarning
from codex_manager.remote_skills.content import ContentItem, ImageContent, TextContent
from codex_manager.remote_skills.context import SkillContext
from codex_manager.remote_skills.dispatch import RemoteSkillDispatch
from codex_manager.remote_skills.errors import (
    MalformedPendingCallsError,
    RemoteSkillError,
    SessionNotBoundError,
    SkillNotFoundError,
    SkillRegistrationError,
)
from codex_manager.remote_skills.execution import ErrorKind
from codex_manager.remote_skills.manager import (
    AsyncRemoteSkills,
    RemoteSkills,
    SessionCreateOptions,
)
from codex_manager.remote_skills.options import RemoteSkillOptions
from codex_manager.remote_skills.registry import CatalogView
from codex_manager.remote_skills.schema import OutputContract
from codex_manager.remote_skills.skill import RemoteSkill, SkillHandler
from codex_manager.remote_skills.submit import SubmissionStatus
from codex_manager.remote_skills.sync_session import PreparedSend, SessionSkills

__all__ = [
    "AsyncRemoteSkills",
    "AsyncSessionSkills",
    "CatalogSync",
    "CatalogView",
    "CatalogWarning",
    "ContentItem",
    "ErrorKind",
    "ImageContent",
    "MalformedPendingCallsError",
    "OutputContract",
    "PreparedSend",
    "RemoteSkill",
    "RemoteSkillDispatch",
    "RemoteSkillError",
    "RemoteSkillOptions",
    "RemoteSkills",
    "SessionCreateOptions",
    "SessionNotBoundError",
    "SessionSkills",
    "SkillAnswer",
    "SkillContext",
    "SkillHandler",
    "SkillNotFoundError",
    "SkillRegistrationError",
    "SkillScope",
    "SubmissionStatus",
    "TextContent",
    "ToolCall",
]
