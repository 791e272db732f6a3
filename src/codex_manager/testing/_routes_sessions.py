"""Session routes: list/create/read/delete, resume, messages, interrupt and session actions.

The thin-proxy actions (fork, compact, rollback, background-terminals/clean, review, steer)
return canned bodies of the documented shape; they honour the session guards.
"""

from __future__ import annotations

import copy
import time

from aiohttp import web

from codex_manager.json_types import JSONObject, JSONValue

from . import _schemas as schemas
from ._clock import epoch_seconds, iso_now, uuid7
from ._http import (
    Ctx,
    Route,
    codex_error,
    ctx_of,
    gone,
    guard,
    internal_error,
    not_found,
    parse,
    query_bool,
    query_limit,
    reply,
    require_session,
    system_session,
)
from ._runner import start_turn
from ._state import DEFAULT_CWD, SessionState, TurnState
from ._transcript import session_summary, thread_json, transcript
from .agent import default_script
from .records import CatalogRecord, MessageRecord


def _tools(body: JSONObject) -> list[JSONObject] | None:
    raw = body.get("dynamicTools")
    if not isinstance(raw, list):
        return None
    return [copy.deepcopy(tool) for tool in raw if isinstance(tool, dict)]


def _record_catalog(ctx: Ctx, session_id: str, source: str, tools: list[JSONObject]) -> None:
    ctx.store.catalogs.append(
        CatalogRecord(
            session_id=session_id,
            source="create"
            if source == "create"
            else "resume"
            if source == "resume"
            else "messages",
            tools=tuple(copy.deepcopy(tools)),
            applied=source == "create",
            at=time.time(),
        )
    )


def new_session(ctx: Ctx, body: JSONObject, *, system_owned: bool = False) -> SessionState:
    """Create a session from a validated create body (also used by the control API)."""
    controls = copy.deepcopy(ctx.store.default_controls)
    for key in ("model", "approvalPolicy", "networkAccess", "filesystemSandbox"):
        if key in body:
            controls[key] = body[key]
    cwd = body.get("cwd")
    tools = _tools(body)
    session = SessionState(
        id=uuid7(),
        cwd=cwd if isinstance(cwd, str) else DEFAULT_CWD,
        controls=controls,
        catalog=tools or [],
        system_owned=system_owned,
    )
    ctx.store.sessions[session.id] = session
    if tools is not None:
        _record_catalog(ctx, session.id, "create", tools)
    return session


def _sessions_list(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    archived = bool(query_bool(request, "archived"))
    include_system = bool(query_bool(request, "includeSystemOwned"))
    limit = query_limit(request) or 100
    cursor = request.query.get("cursor")
    offset = int(cursor) if cursor is not None and cursor.isascii() and cursor.isdigit() else 0
    rows = [
        session
        for session in ctx.store.sessions.values()
        if session.id not in ctx.store.purged
        and session.archived == archived
        and (include_system or not session.system_owned)
    ]
    rows.sort(key=lambda session: (session.updated_at, session.created_at), reverse=True)
    page = rows[offset : offset + limit]
    next_cursor = str(offset + limit) if offset + limit < len(rows) else None
    data: list[JSONValue] = [session_summary(session) for session in page]
    return reply({"data": data, "nextCursor": next_cursor, "archived": archived})


async def list_sessions(request: web.Request) -> web.Response:
    """GET /api/sessions."""
    return _sessions_list(request)


async def create_session(request: web.Request) -> web.Response:
    """POST /api/sessions -> 200 {session, thread}."""
    ctx = ctx_of(request)
    body = await parse(request, schemas.CREATE_SESSION)
    session = new_session(ctx, body)
    return reply({"session": session_summary(session), "thread": thread_json(session)})


async def read_session(request: web.Request) -> web.Response:
    """GET /api/sessions/{id}: 410 when purged, generic 500 for an unknown id."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id, system=False)
    session = ctx.store.sessions.get(session_id)
    if session is None:
        return internal_error()
    return reply(
        {
            "session": session_summary(session),
            "thread": thread_json(session),
            "transcript": transcript(session),
        }
    )


async def delete_session(request: web.Request) -> web.Response:
    """DELETE /api/sessions/{id}: 403 system-owned, 410 purged, 404 unknown, else 200."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    session = ctx.store.sessions.get(session_id)
    if session is not None and session.system_owned:
        return system_session(session_id)
    if session_id in ctx.store.purged:
        return gone(ctx, session_id)
    if session is None:
        return not_found(session_id)
    ctx.codex.delete_session(session)
    return reply(
        {
            "status": "ok",
            "sessionId": session_id,
            "title": session.title,
            "deletedFileCount": 1 if session.materialized else 0,
        }
    )


async def resume_session(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/resume: body first, then 410/403; unknown id -> generic 500."""
    ctx = ctx_of(request)
    body = await parse(request, schemas.RESUME_SESSION)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id)
    session = ctx.store.sessions.get(session_id)
    if session is None:
        return internal_error()
    tools = _tools(body)
    if tools is not None:
        _record_catalog(ctx, session_id, "resume", tools)
    summary = session_summary(session)
    summary["materialized"] = True
    return reply({"session": summary, "thread": thread_json(session)})


async def send_message(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/messages -> 202 and a turn played by the scripted agent."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id, existence=True)
    session = require_session(ctx, session_id)
    body = await parse(request, schemas.SEND_MESSAGE)
    text = str(body["text"])
    for key in ("model", "approvalPolicy", "networkAccess", "filesystemSandbox"):
        if key in body:
            session.controls[key] = body[key]
    tools = _tools(body)
    if tools is not None:
        _record_catalog(ctx, session_id, "messages", tools)
    if not session.materialized:
        session.materialized = True
        session.preview = text
    session.updated_at = epoch_seconds()
    script = session.script or ctx.script or default_script
    turn = start_turn(ctx.codex, session, text, script)
    ctx.store.messages.append(
        MessageRecord(
            session_id=session_id,
            turn_id=turn.id,
            text=text,
            body=copy.deepcopy(body),
            at=time.time(),
        )
    )
    return reply({"status": "accepted", "sessionId": session_id, "turnId": turn.id}, 202)


async def interrupt_turn(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/interrupt: 200 or 409 ``no_active_turn``."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id)
    body = await parse(request, schemas.INTERRUPT)
    session = ctx.store.sessions.get(session_id)
    requested = body.get("turnId")
    turn_id = (
        requested
        if isinstance(requested, str)
        else (session.active_turn_id if session is not None else None)
    )
    if turn_id is None:
        return reply({"status": "no_active_turn", "sessionId": session_id}, 409)
    if session is None:
        return internal_error()
    turn = session.turn(turn_id)
    if turn is None:
        return internal_error()  # codex rejects turn/interrupt for a turn it does not know
    if turn.task is not None and not turn.task.done():
        turn.task.cancel()
    return reply({"status": "ok", "sessionId": session_id, "turnId": turn_id})


def _session_action(
    request: web.Request, method: str
) -> tuple[Ctx, str, SessionState | web.Response]:
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id)
    session = ctx.store.sessions.get(session_id)
    if session is None:
        return (
            ctx,
            session_id,
            codex_error(500, "codex_error", f"thread not found: {session_id}", method, session_id),
        )
    return ctx, session_id, session


async def fork_session(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/fork (canned: a new session copying the catalog and turns)."""
    ctx, session_id, found = _session_action(request, "thread/fork")
    await parse(request, schemas.ANY_OBJECT)  # after the guards, as the server checks
    if isinstance(found, web.Response):
        return found
    fork = SessionState(
        id=uuid7(),
        cwd=found.cwd,
        controls=copy.deepcopy(found.controls),
        catalog=copy.deepcopy(found.catalog),
        materialized=found.materialized,
        preview=found.preview,
        title=found.title,
        project_id=found.project_id,
    )
    fork.turns = [_finished_copy(turn) for turn in found.turns]
    ctx.store.sessions[fork.id] = fork
    thread = thread_json(fork)
    thread["forkedFromId"] = session_id
    return reply(
        {
            "status": "ok",
            "sourceSessionId": session_id,
            "session": session_summary(fork),
            "thread": thread,
        }
    )


def _finished_copy(turn: TurnState) -> TurnState:
    return TurnState(
        id=turn.id,
        text=turn.text,
        status=turn.status if turn.status != "inProgress" else "interrupted",
        items=copy.deepcopy(turn.items),
        replies=list(turn.replies),
        started_at=turn.started_at,
        started_ms=turn.started_ms,
        completed_at=turn.completed_at,
        duration_ms=turn.duration_ms,
    )


async def compact_session(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/compact (canned ``{status, sessionId, result}``)."""
    _, session_id, found = _session_action(request, "thread/compact/start")
    await parse(request, schemas.ANY_OBJECT)
    if isinstance(found, web.Response):
        return found
    return reply({"status": "ok", "sessionId": session_id, "result": {}})


async def rollback_session(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/rollback: drops the last turns; 409 while a turn runs."""
    _, session_id, found = _session_action(request, "thread/rollback")
    body = await parse(request, schemas.ROLLBACK)
    if isinstance(found, web.Response):
        return found
    if found.active_turn_id is not None:
        return codex_error(
            409,
            "invalid_state",
            "cannot rollback while a turn is in progress",
            "thread/rollback",
            session_id,
        )
    count = body.get("numTurns")
    num_turns = count if isinstance(count, int) else 1
    if num_turns:
        del found.turns[-num_turns:]
    found.updated_at = epoch_seconds()
    return reply(
        {
            "status": "ok",
            "sessionId": session_id,
            "numTurns": num_turns,
            "result": {"thread": thread_json(found)},
        }
    )


async def clean_background_terminals(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/background-terminals/clean (canned)."""
    _, session_id, found = _session_action(request, "thread/backgroundTerminals/clean")
    await parse(request, schemas.ANY_OBJECT)
    if isinstance(found, web.Response):
        return found
    return reply({"status": "ok", "sessionId": session_id, "result": {}})


async def start_review(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/review (canned: a review turn id, no turn is played)."""
    _, session_id, found = _session_action(request, "review/start")
    body = await parse(request, schemas.REVIEW)
    if isinstance(found, web.Response):
        return found
    turn: JSONObject = {
        "id": uuid7(),
        "items": [],
        "status": "inProgress",
        "error": None,
    }
    return reply(
        {
            "status": "ok",
            "sessionId": session_id,
            "result": {
                "turn": turn,
                "reviewThreadId": session_id,
                "delivery": body.get("delivery", "inline"),
            },
        }
    )


async def steer_turn(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/turns/{turnId}/steer: 200 on the active turn, else 409."""
    _, session_id, found = _session_action(request, "turn/steer")
    body = await parse(request, schemas.STEER)
    if isinstance(found, web.Response):
        return found
    turn_id = request.match_info["turnId"]
    if found.active_turn_id != turn_id:
        return codex_error(
            409, "invalid_state", f"turn {turn_id} is not in progress", "turn/steer", session_id
        )
    return reply(
        {
            "status": "ok",
            "sessionId": session_id,
            "turnId": turn_id,
            "input": body["input"],
            "result": {"turnId": turn_id},
        }
    )


async def rename_session(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/rename -> ``{status, sessionId, title}``."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id)
    body = await parse(request, schemas.RENAME_SESSION)
    session = ctx.store.sessions.get(session_id)
    if session is None:
        return internal_error()
    session.title = str(body["title"])
    session.named = True
    session.updated_at = epoch_seconds()
    return reply({"status": "ok", "session": session_summary(session)})


async def archive_session(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/archive: 409 ``not_materialized`` before the first message."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id)
    await parse(request, schemas.ANY_OBJECT)
    session = ctx.store.sessions.get(session_id)
    if session is None:
        return internal_error()
    if not session.materialized:
        return reply({"status": "not_materialized", "sessionId": session_id}, 409)
    session.archived = True
    return reply({"status": "ok", "sessionId": session_id})


async def unarchive_session(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/unarchive."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id)
    await parse(request, schemas.ANY_OBJECT)
    session = ctx.store.sessions.get(session_id)
    if session is None:
        return internal_error()
    session.archived = False
    return reply(
        {"status": "ok", "session": session_summary(session), "thread": thread_json(session)}
    )


async def upsert_transcript(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/transcript/upsert (publishes ``transcript_updated``)."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id, existence=True)
    session = require_session(ctx, session_id)
    entry = await parse(request, schemas.TRANSCRIPT_UPSERT)
    session.supplemental[str(entry["messageId"])] = copy.deepcopy(entry)
    ctx.codex.thread_event(
        "transcript_updated",
        {
            "threadId": session_id,
            "turnId": entry["turnId"],
            "messageId": entry["messageId"],
            "type": entry["type"],
            "entry": copy.deepcopy(entry),
        },
        session_id,
    )
    return reply({"status": "ok", "sessionId": session_id, "entry": entry})


async def set_session_project(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/project: assign or unassign a project."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id, existence=True)
    session = require_session(ctx, session_id)
    body = await parse(request, schemas.SESSION_PROJECT)
    project_id = body.get("projectId")
    if isinstance(project_id, str) and project_id not in ctx.store.projects:
        return reply(
            {"status": "project_not_found", "sessionId": session_id, "projectId": project_id},
            404,
        )
    previous = session.project_id
    session.project_id = project_id if isinstance(project_id, str) else None
    if previous != session.project_id:
        ctx.codex.session_broadcast(
            "session_project_updated",
            {
                "status": "ok",
                "sessionId": session_id,
                "projectId": session.project_id,
                "previousProjectId": previous,
            },
            session,
        )
    return reply(
        {
            "status": "ok",
            "sessionId": session_id,
            "projectId": session.project_id,
            "previousProjectId": previous,
        }
    )


async def set_approval_policy(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/approval-policy."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id, existence=True)
    session = require_session(ctx, session_id)
    body = await parse(request, schemas.APPROVAL_POLICY_BODY)
    session.controls["approvalPolicy"] = body["approvalPolicy"]
    return reply(
        {"status": "ok", "sessionId": session_id, "approvalPolicy": body["approvalPolicy"]}
    )


def _has_context(session: SessionState) -> bool:
    return any(turn.items for turn in session.turns)


async def suggest_request(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/suggested-request (canned suggestion; 409 without context)."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id, existence=True)
    session = require_session(ctx, session_id)
    body = await parse(request, schemas.SUGGESTED_REQUEST)
    request_key = uuid7()
    draft = body.get("draft")
    if not _has_context(session) and not isinstance(draft, str):
        return reply(
            {
                "status": "no_context",
                "sessionId": session_id,
                "requestKey": request_key,
                "message": "No conversation context is available yet.",
            },
            409,
        )
    suggestion = f"Continue: {draft}" if isinstance(draft, str) else "Can you summarize the result?"
    return reply(
        {
            "status": "ok",
            "sessionId": session_id,
            "requestKey": request_key,
            "suggestion": suggestion,
        }
    )


async def enqueue_suggested_request(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/suggested-request/jobs -> 202 queued (canned)."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id, existence=True)
    require_session(ctx, session_id)
    await parse(request, schemas.SUGGESTED_REQUEST)
    return reply(
        {
            "status": "queued",
            "jobId": uuid7(),
            "requestKey": uuid7(),
            "sessionId": session_id,
            "projectId": f"session:{session_id}",
            "dedupe": "enqueued",
        },
        202,
    )


async def upsert_suggested_request(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/suggested-request/upsert."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id, existence=True)
    session = require_session(ctx, session_id)
    body = await parse(request, schemas.SUGGESTED_REQUEST_UPSERT)
    if body["status"] == "complete" and "suggestion" not in body:
        return reply(
            {
                "status": "invalid_request",
                "code": "missing_suggestion",
                "message": "suggestion is required when status is complete",
            },
            400,
        )
    entry: JSONObject = {"status": body["status"], "updatedAt": iso_now()}
    for key in ("suggestion", "error"):
        if key in body:
            entry[key] = body[key]
    key = str(body["requestKey"])
    session.suggestions[key] = entry
    ctx.codex.thread_event(
        "suggested_request_updated",
        {"sessionId": session_id, "requestKey": key, "entry": copy.deepcopy(entry)},
        session_id,
    )
    return reply({"status": "ok", "sessionId": session_id, "requestKey": key, "entry": entry})


ROUTES: list[Route] = [
    ("GET", "/api/sessions", list_sessions),
    ("POST", "/api/sessions", create_session),
    ("GET", "/api/sessions/{sessionId}", read_session),
    ("DELETE", "/api/sessions/{sessionId}", delete_session),
    ("POST", "/api/sessions/{sessionId}/resume", resume_session),
    ("POST", "/api/sessions/{sessionId}/messages", send_message),
    ("POST", "/api/sessions/{sessionId}/interrupt", interrupt_turn),
    ("POST", "/api/sessions/{sessionId}/fork", fork_session),
    ("POST", "/api/sessions/{sessionId}/compact", compact_session),
    ("POST", "/api/sessions/{sessionId}/rollback", rollback_session),
    ("POST", "/api/sessions/{sessionId}/background-terminals/clean", clean_background_terminals),
    ("POST", "/api/sessions/{sessionId}/review", start_review),
    ("POST", "/api/sessions/{sessionId}/turns/{turnId}/steer", steer_turn),
    ("POST", "/api/sessions/{sessionId}/rename", rename_session),
    ("POST", "/api/sessions/{sessionId}/archive", archive_session),
    ("POST", "/api/sessions/{sessionId}/unarchive", unarchive_session),
    ("POST", "/api/sessions/{sessionId}/transcript/upsert", upsert_transcript),
    ("POST", "/api/sessions/{sessionId}/project", set_session_project),
    ("POST", "/api/sessions/{sessionId}/approval-policy", set_approval_policy),
    ("POST", "/api/sessions/{sessionId}/suggested-request", suggest_request),
    ("POST", "/api/sessions/{sessionId}/suggested-request/jobs", enqueue_suggested_request),
    ("POST", "/api/sessions/{sessionId}/suggested-request/upsert", upsert_suggested_request),
]
