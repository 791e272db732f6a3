"""In-memory state of the fake server. Only the server's event-loop thread touches it."""

from __future__ import annotations

import asyncio
import copy
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from codex_manager.json_types import JSONObject, JSONValue

from ._clock import epoch_seconds
from .records import (
    AnswerRecord,
    CatalogRecord,
    MessageRecord,
    PublishedEvent,
    ToolCallOutcome,
    ToolCallRecord,
)

if TYPE_CHECKING:
    from .agent import Script

DEFAULT_CWD = "/home/user/workspace"
MODEL_PROVIDER = "fake"
MODEL = "fake-model"


def default_controls() -> JSONObject:
    """The server's stock default session controls (as in the recordings)."""
    return {
        "model": None,
        "approvalPolicy": "untrusted",
        "networkAccess": "restricted",
        "filesystemSandbox": "read-only",
        "settings": {},
    }


@dataclass
class TurnState:
    """One codex turn."""

    id: str
    text: str
    status: str = "inProgress"
    items: list[JSONObject] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    started_at: int = field(default_factory=epoch_seconds)
    started_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)
    completed_at: int | None = None
    duration_ms: int | None = None
    task: asyncio.Task[None] | None = None
    abandoned: bool = False
    error: str | None = None


@dataclass
class SessionState:
    """One session (= codex thread)."""

    id: str
    cwd: str
    controls: JSONObject
    catalog: list[JSONObject]
    created_at: int = field(default_factory=epoch_seconds)
    updated_at: int = field(default_factory=epoch_seconds)
    title: str = "New chat"
    named: bool = False
    project_id: str | None = None
    system_owned: bool = False
    archived: bool = False
    materialized: bool = False
    preview: str = ""
    turns: list[TurnState] = field(default_factory=list)
    active_turn_id: str | None = None
    supplemental: dict[str, JSONObject] = field(default_factory=dict)
    suggestions: dict[str, JSONObject] = field(default_factory=dict)
    call_rows: dict[str, str] = field(default_factory=dict)
    script: Script | None = None
    turn_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    warned: bool = False

    def turn(self, turn_id: str) -> TurnState | None:
        """The turn with this id, if any."""
        for turn in self.turns:
            if turn.id == turn_id:
                return turn
        return None


@dataclass
class ToolCallAnswer:
    """What a tool call ended with, as the agent sees it."""

    payload: JSONValue
    expired: bool


@dataclass
class PendingCall:
    """A dynamic tool call waiting for (or receiving) its answer."""

    request_id: str
    rpc_id: int
    thread_id: str
    turn_id: str
    call_id: str
    tool: str
    arguments: JSONValue
    params: JSONObject
    created_at: str
    created_time: float
    transcript_id: str
    future: asyncio.Future[ToolCallAnswer]
    in_flight: bool = False

    def public(self) -> JSONObject:
        """The PendingToolCall record of the REST list and ``tool_call_requested``."""
        return {
            "requestId": self.request_id,
            "method": "item/tool/call",
            "threadId": self.thread_id,
            "turnId": self.turn_id,
            "itemId": self.call_id,
            "callId": self.call_id,
            "tool": self.tool,
            "arguments": copy.deepcopy(self.arguments),
            "summary": f"Tool call requested: {self.tool}",
            "details": copy.deepcopy(self.params),
            "createdAt": self.created_at,
            "status": "pending",
        }


@dataclass
class PendingDecision:
    """A pending approval or tool-input request."""

    kind: Literal["approval", "tool_input"]
    key: str
    rpc_id: int
    thread_id: str
    turn_id: str | None
    record: JSONObject
    future: asyncio.Future[JSONValue]
    created_time: float = field(default_factory=time.time)

    @property
    def row_id(self) -> str:
        """The ``messageId`` of its supplemental transcript row."""
        return f"{'approval' if self.kind == 'approval' else 'tool-input'}-{self.key}"


@dataclass
class Store:
    """Everything the fake remembers."""

    sessions: dict[str, SessionState] = field(default_factory=dict)
    purged: dict[str, str | None] = field(default_factory=dict)
    calls: dict[str, PendingCall] = field(default_factory=dict)
    decisions: dict[str, PendingDecision] = field(default_factory=dict)
    projects: dict[str, JSONObject] = field(default_factory=dict)
    jobs: dict[str, JSONObject] = field(default_factory=dict)
    logins: set[str] = field(default_factory=set)
    default_controls: JSONObject = field(default_factory=default_controls)
    next_rpc_id: int = 0
    next_item_number: int = 1
    next_row_number: int = 1
    answers: list[AnswerRecord] = field(default_factory=list)
    messages: list[MessageRecord] = field(default_factory=list)
    catalogs: list[CatalogRecord] = field(default_factory=list)
    events: deque[PublishedEvent] = field(default_factory=lambda: deque(maxlen=100_000))
    tool_calls: list[ToolCallRecord] = field(default_factory=list)

    def take_rpc_id(self) -> int:
        """Next JSON-RPC id of a server-initiated request (one counter for every session)."""
        value = self.next_rpc_id
        self.next_rpc_id += 1
        return value

    def take_item_number(self) -> int:
        """Next number for model-side ids such as ``call_000003`` / ``msg_000006``."""
        value = self.next_item_number
        self.next_item_number += 1
        return value

    def take_row_number(self) -> int:
        """Next sequence number of a supplemental transcript row."""
        value = self.next_row_number
        self.next_row_number += 1
        return value

    def live(self, session_id: str) -> SessionState | None:
        """The session if it exists and is not purged."""
        if session_id in self.purged:
            return None
        return self.sessions.get(session_id)

    def record_tool_call(self, call: PendingCall) -> None:
        """Add the inspection record of a new call."""
        self.tool_calls.append(
            ToolCallRecord(
                request_id=call.request_id,
                rpc_id=call.rpc_id,
                thread_id=call.thread_id,
                turn_id=call.turn_id,
                call_id=call.call_id,
                tool=call.tool,
                arguments=copy.deepcopy(call.arguments),
                outcome="pending",
                forwarded=None,
                created_at=call.created_time,
            )
        )

    def update_tool_call(
        self, call: PendingCall, outcome: ToolCallOutcome, forwarded: JSONValue = None
    ) -> None:
        """Replace the inspection record of ``call`` with its new outcome."""
        for index in range(len(self.tool_calls) - 1, -1, -1):
            record = self.tool_calls[index]
            if record.rpc_id == call.rpc_id and record.thread_id == call.thread_id:
                self.tool_calls[index] = ToolCallRecord(
                    request_id=record.request_id,
                    rpc_id=record.rpc_id,
                    thread_id=record.thread_id,
                    turn_id=record.turn_id,
                    call_id=record.call_id,
                    tool=record.tool,
                    arguments=record.arguments,
                    outcome=outcome,
                    forwarded=copy.deepcopy(forwarded),
                    created_at=record.created_at,
                )
                return
