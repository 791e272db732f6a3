"""The normalized tool call and the answer given to it."""

from __future__ import annotations

from dataclasses import dataclass

from codex_manager.json_types import JSONValue
from codex_manager.remote_skills.content import ContentItem
from codex_manager.remote_skills.dedupe import CallKey, call_key

__all__ = ["SkillAnswer", "ToolCall"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One dynamic tool call, whichever path (stream signal or pending REST row) brought it."""

    tool: str
    """Tool name the model called."""
    arguments: JSONValue
    """Arguments as sent (normally a JSON object)."""
    request_id: str | None
    """Where the answer goes (string form of the JSON-RPC id)."""
    call_id: str | None
    """The model's call id, when given."""
    thread_id: str
    """The thread (session) the call belongs to."""
    turn_id: str | None
    """The turn the call belongs to, when known."""

    @property
    def key(self) -> CallKey:
        """Identity used for exactly-once handling."""
        return call_key(self.thread_id, self.call_id, self.request_id, self.turn_id)


@dataclass(frozen=True, slots=True)
class SkillAnswer:
    """What is sent back for one call."""

    success: bool
    """The ``success`` flag (the model does not read it; failures are also in the text)."""
    content_items: tuple[ContentItem, ...]
    """The content items the model reads."""

    @property
    def text(self) -> str:
        """The text items joined by newlines (images omitted)."""
        return "\n".join(item["text"] for item in self.content_items if item["type"] == "inputText")

    @classmethod
    def failure(cls, text: str) -> SkillAnswer:
        """A ``success: false`` answer carrying ``text``.

        Lone surrogates (``os.fsdecode`` makes them of a file name that is not UTF-8) are
        written as ``\\udce9`` escapes: the answer could not be encoded otherwise, and a
        failure must reach the model whatever its message holds.
        """
        readable = text.encode("utf-8", "backslashreplace").decode("utf-8")
        return cls(False, ({"type": "inputText", "text": readable},))
