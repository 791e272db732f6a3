"""Rendering of sessions, threads and transcripts in the server's JSON shapes."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Literal

from codex_manager.json_types import JSONObject, JSONValue

from ._clock import epoch_millis
from ._json import stringify
from ._state import MODEL, MODEL_PROVIDER

if TYPE_CHECKING:
    from ._state import PendingCall, PendingDecision, SessionState, TurnState


def _pretty(value: JSONValue) -> str:
    """``JSON.stringify(value, null, 2)``."""
    return stringify(value, indent=2)


def tool_call_row(
    call: PendingCall,
    phase: Literal["request", "resolved", "expired"],
    *,
    success: bool = True,
) -> JSONObject:
    """The supplemental transcript row of a tool call (replaced in place on resolution)."""
    started = int(call.created_time * 1000)
    if phase == "request":
        return {
            "messageId": call.transcript_id,
            "turnId": call.turn_id or "tool-call",
            "role": "system",
            "type": "tool_call.request",
            "content": f"Tool call requested: {call.tool}",
            "details": _pretty(call.public()),
            "startedAt": started,
            "status": "streaming",
        }
    status = "resolved" if phase == "resolved" else "expired"
    word = "resolved" if phase == "resolved" else "expired"
    return {
        "messageId": call.transcript_id,
        "turnId": call.turn_id or "tool-call",
        "role": "system",
        "type": "tool_call.resolved",
        "content": f"Tool call {word} (success={'true' if success else 'false'})",
        "details": _pretty({"requestId": call.request_id, "status": status, "success": success}),
        "startedAt": started,
        "status": "complete",
        "completedAt": epoch_millis(),
    }


def decision_row(
    decision: PendingDecision,
    phase: Literal["request", "resolved", "expired"],
    outcome: JSONObject | None = None,
) -> JSONObject:
    """The supplemental transcript row of an approval or tool-input request.

    Like a tool call's, one row replaced in place on resolution or expiry; ``outcome`` is
    the ``*_resolved`` event's payload.
    """
    noun = "Approval" if decision.kind == "approval" else "Tool input"
    kind = "approval" if decision.kind == "approval" else "tool_input"
    row: JSONObject = {
        "messageId": decision.row_id,
        "turnId": decision.turn_id or kind,
        "role": "system",
        "startedAt": int(decision.created_time * 1000),
    }
    if phase == "request":
        return {
            **row,
            "type": f"{kind}.request",
            "content": f"{noun} requested: {decision.record.get('method')}",
            "details": _pretty(decision.record),
            "status": "streaming",
        }
    chosen = (outcome or {}).get("decision")
    return {
        **row,
        "type": f"{kind}.resolved",
        "content": f"{noun} {phase}" + (f" ({chosen})" if phase == "resolved" and chosen else ""),
        "details": _pretty(outcome or {}),
        "status": "complete",
        "completedAt": epoch_millis(),
    }


def session_summary(session: SessionState) -> JSONObject:
    """SessionSummary."""
    return {
        "sessionId": session.id,
        "title": session.title,
        "materialized": session.materialized,
        "modelProvider": MODEL_PROVIDER,
        "approvalPolicy": session.controls.get("approvalPolicy", "untrusted"),
        "sessionControls": copy.deepcopy(session.controls),
        "createdAt": session.created_at,
        "updatedAt": session.updated_at,
        "cwd": session.cwd,
        "source": "vscode",
        "projectId": session.project_id,
    }


def _turn_json(turn: TurnState) -> JSONObject:
    return {
        "id": turn.id,
        "rootTurnId": turn.id,
        "items": [copy.deepcopy(item) for item in turn.items],
        "itemsView": "full",
        "status": turn.status,
        "error": None,
        "startedAt": turn.started_at,
        "completedAt": turn.completed_at,
        "durationMs": turn.duration_ms,
    }


def thread_json(session: SessionState, *, include_turns: bool = True) -> JSONObject:
    """CodexThread, with the codex 0.169 fields seen in the recordings."""
    thread: JSONObject = {
        "id": session.id,
        "environments": [
            {
                "environmentId": "local",
                "cwd": session.cwd,
                "runtimeWorkspaceRoots": [session.cwd],
            }
        ],
        "extra": None,
        "sessionId": session.id,
        "forkedFromId": None,
        "attachedToThreadId": None,
        "parentThreadId": None,
        "preview": session.preview,
        "ephemeral": False,
        "section": None,
        "sectionEnteredAt": None,
        "projectId": session.project_id,
        "historyMode": "paginated",
        "modelProvider": MODEL_PROVIDER,
        "model": MODEL,
        "reasoningEffort": None,
        "createdAt": session.created_at,
        "updatedAt": session.updated_at,
        "recencyAt": session.created_at,
        # codex's ThreadStatus, as its thread/status/changed notifications carry it
        "status": (
            {"type": "active", "activeFlags": []} if session.active_turn_id else {"type": "idle"}
        ),
        "path": f"/home/user/.codex/sessions/rollout-{session.id}.jsonl",
        "cwd": session.cwd,
        "cliVersion": "0.169.0",
        "originator": "codex_manager_api",
        "source": "vscode",
        "canAcceptDirectInput": True,
        "threadSource": None,
        "agentNickname": None,
        "agentRole": None,
        "gitInfo": None,
        "name": session.title if session.named or session.materialized else None,
        "daybreakEnabled": None,
    }
    if include_turns:
        thread["turns"] = [_turn_json(turn) for turn in session.turns]
    return thread


def _item_entry(turn: TurnState, item: JSONObject) -> JSONObject:
    kind = item.get("type")
    finished = turn.status != "inProgress"
    completed_at = item.get("completedAtMs")
    entry: JSONObject = {
        "messageId": str(item.get("id")),
        "turnId": turn.id,
    }
    if kind == "userMessage":
        parts = item.get("content")
        texts = [
            str(part.get("text"))
            for part in (parts if isinstance(parts, list) else [])
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        entry.update({"role": "user", "type": "userMessage", "content": "\n".join(texts)})
    elif kind == "agentMessage":
        entry.update(
            {"role": "assistant", "type": "agentMessage", "content": str(item.get("text"))}
        )
    else:
        entry.update(
            {
                "role": "system",
                "type": str(kind),
                "content": f"[{kind}]",
                "details": _pretty(item),
            }
        )
    if kind == "dynamicToolCall":
        done = finished or item.get("status") != "inProgress"
    else:
        done = finished or completed_at is not None
    entry["status"] = "complete" if done else "streaming"
    entry["startedAt"] = turn.started_at * 1000
    if isinstance(completed_at, int):
        entry["completedAt"] = completed_at
    return entry


def transcript(session: SessionState) -> list[JSONValue]:
    """Codex turns flattened into entries, merged with supplemental rows by message id.

    A tool call's supplemental row follows its ``dynamicToolCall`` item, as in the recordings;
    other supplemental rows (transcript upserts, rows of deleted items) come last.
    """
    entries: list[JSONValue] = []
    placed: set[str] = set()
    for turn in session.turns:
        for item in turn.items:
            entry = _item_entry(turn, item)
            message_id = str(entry["messageId"])
            override = session.supplemental.get(message_id)
            entries.append(copy.deepcopy(override) if override is not None else entry)
            placed.add(message_id)
            row_id = session.call_rows.get(message_id)
            if item.get("type") == "dynamicToolCall" and row_id is not None:
                row = session.supplemental.get(row_id)
                if row is not None and row_id not in placed:
                    entries.append(copy.deepcopy(row))
                    placed.add(row_id)
    for message_id, row in session.supplemental.items():
        if message_id not in placed:
            entries.append(copy.deepcopy(row))
    return entries
