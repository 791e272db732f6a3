"""Projects (a real in-memory store) and orchestrator jobs (the agent's noise jobs)."""

from __future__ import annotations

import copy

from aiohttp import web

from codex_manager.json_types import JSONObject, JSONValue

from . import _schemas as schemas
from ._clock import iso_now, uuid7
from ._http import Ctx, Route, ctx_of, parse, reply

_JOB_STATES = ("queued", "running", "completed", "failed", "canceled")


def _duplicate(ctx: Ctx, name: str, except_id: str | None = None) -> str | None:
    """Id of another project with this name (case-insensitive), if any."""
    for pid, project in ctx.store.projects.items():
        if str(project.get("name")).lower() == name.lower() and pid != except_id:
            return pid
    return None


def _conflict(existing_id: str) -> web.Response:
    return reply({"status": "duplicate_name", "projectId": existing_id}, 409)


def _missing(project_id: str) -> web.Response:
    return reply({"status": "not_found", "projectId": project_id}, 404)


def _session_ids(ctx: Ctx, project_id: str) -> list[str]:
    return [
        session.id
        for session in ctx.store.sessions.values()
        if session.project_id == project_id and session.id not in ctx.store.purged
    ]


async def list_projects(request: web.Request) -> web.Response:
    """GET /api/projects."""
    ctx = ctx_of(request)
    data: list[JSONValue] = [copy.deepcopy(project) for project in ctx.store.projects.values()]
    return reply({"data": data})


async def create_project(request: web.Request) -> web.Response:
    """POST /api/projects: 409 on a duplicate name (case-insensitive)."""
    ctx = ctx_of(request)
    body = await parse(request, schemas.PROJECT_NAME)
    name = str(body["name"])
    existing = _duplicate(ctx, name)
    if existing is not None:
        return _conflict(existing)
    now = iso_now()
    directory = body.get("workingDirectory")
    project: JSONObject = {
        "projectId": uuid7(),
        "name": name,
        "workingDirectory": directory if isinstance(directory, str) else None,
        "createdAt": now,
        "updatedAt": now,
    }
    ctx.store.projects[str(project["projectId"])] = project
    ctx.codex.broadcast("project_upserted", {"project": copy.deepcopy(project)})
    return reply({"status": "ok", "project": copy.deepcopy(project)})


async def rename_project(request: web.Request) -> web.Response:
    """POST /api/projects/{projectId}/rename."""
    ctx = ctx_of(request)
    project_id = request.match_info["projectId"]
    body = await parse(request, schemas.PROJECT_NAME)
    project = ctx.store.projects.get(project_id)
    if project is None:
        return _missing(project_id)
    name = str(body["name"])
    existing = _duplicate(ctx, name, project_id)
    if existing is not None:
        return _conflict(existing)
    project["name"] = name
    project["updatedAt"] = iso_now()
    ctx.codex.broadcast("project_upserted", {"project": copy.deepcopy(project)})
    return reply({"status": "ok", "project": copy.deepcopy(project)})


async def delete_project(request: web.Request) -> web.Response:
    """DELETE /api/projects/{projectId}: 409 while sessions are assigned."""
    ctx = ctx_of(request)
    project_id = request.match_info["projectId"]
    if project_id not in ctx.store.projects:
        return _missing(project_id)
    assigned = _session_ids(ctx, project_id)
    if assigned:
        return reply(
            {"status": "project_not_empty", "projectId": project_id, "sessionCount": len(assigned)},
            409,
        )
    del ctx.store.projects[project_id]
    ctx.codex.broadcast("project_deleted", {"projectId": project_id, "sessionIds": []})
    return reply({"status": "ok", "projectId": project_id, "unassignedSessionCount": 0})


async def project_agent_sessions(request: web.Request) -> web.Response:
    """GET /api/projects/{projectId}/agent-sessions (no orchestrator sessions in the fake)."""
    ctx = ctx_of(request)
    project_id = request.match_info["projectId"]
    if project_id not in ctx.store.projects:
        return _missing(project_id)
    return reply({"status": "ok", "projectId": project_id, "data": []})


async def move_project_chats(request: web.Request) -> web.Response:
    """POST /api/projects/{projectId}/chats/move-all: every chat leaves the project, archived
    too for ``archive`` (so the project can then be deleted)."""
    ctx = ctx_of(request)
    project_id = request.match_info["projectId"]
    body = await parse(request, schemas.MOVE_CHATS)
    if project_id not in ctx.store.projects:
        return _missing(project_id)
    ids = _session_ids(ctx, project_id)
    destination = body["destination"]
    result: JSONObject = {"status": "ok", "projectId": project_id, "destination": destination}
    already = 0
    if destination == "archive":
        unready: list[JSONValue] = [sid for sid in ids if not ctx.store.sessions[sid].materialized]
        if unready:
            return reply(
                {
                    "status": "not_materialized_sessions",
                    "projectId": project_id,
                    "sessionIds": unready,
                },
                409,
            )
        already = sum(1 for sid in ids if ctx.store.sessions[sid].archived)
        for sid in ids:
            ctx.store.sessions[sid].archived = True
    for sid in ids:
        session = ctx.store.sessions[sid]
        session.project_id = None
        ctx.codex.session_broadcast(
            "session_project_updated", {"sessionId": sid, "projectId": None}, session
        )
    result["movedSessionCount"] = len(ids)
    result["archivedSessionCount"] = len(ids) - already if destination == "archive" else 0
    result["alreadyArchivedSessionCount"] = already
    return reply(result)


async def delete_project_chats(request: web.Request) -> web.Response:
    """POST /api/projects/{projectId}/chats/delete-all (hard-deletes the sessions)."""
    ctx = ctx_of(request)
    project_id = request.match_info["projectId"]
    await parse(request, schemas.ANY_OBJECT)
    if project_id not in ctx.store.projects:
        return _missing(project_id)
    ids = _session_ids(ctx, project_id)
    for sid in ids:
        ctx.codex.delete_session(ctx.store.sessions[sid])
    return reply(
        {
            "status": "ok",
            "projectId": project_id,
            "deletedSessionCount": len(ids),
            "skippedSessionCount": 0,
        }
    )


def _job_view(job: JSONObject) -> JSONObject:
    """An OrchestratorJob record from a stored noise job."""
    state = job.get("state")
    result = job.get("result")
    return {
        "id": job.get("jobId"),
        "type": job.get("jobType"),
        "version": 1,
        "projectId": job.get("projectId"),
        "sourceSessionId": job.get("sourceSessionId"),
        "priority": "background",
        "state": "running" if state == "started" else state,
        "dedupeKey": None,
        "payload": {},
        "result": copy.deepcopy(result) if isinstance(result, dict) else None,
        "error": None,
        "attempts": 1,
        "maxAttempts": 1,
        "createdAt": job.get("createdAt"),
        "startedAt": job.get("createdAt"),
        "completedAt": None,
        "cancelRequestedAt": None,
    }


async def get_job(request: web.Request) -> web.Response:
    """GET /api/orchestrator/jobs/{jobId}."""
    ctx = ctx_of(request)
    job_id = request.match_info["jobId"]
    job = ctx.store.jobs.get(job_id)
    if job is None:
        return reply({"status": "not_found", "jobId": job_id}, 404)
    return reply({"status": "ok", "job": _job_view(job)})


async def list_project_jobs(request: web.Request) -> web.Response:
    """GET /api/projects/{projectId}/orchestrator/jobs[?state=]."""
    ctx = ctx_of(request)
    project_id = request.match_info["projectId"]
    state = request.query.get("state")
    if state is not None and state not in _JOB_STATES:
        from ._http import validation_error

        return validation_error(
            [
                {
                    "code": "invalid_value",
                    "values": list[JSONValue](_JOB_STATES),
                    "path": ["state"],
                    "message": "Invalid option: expected one of "
                    + "|".join(f'"{s}"' for s in _JOB_STATES),
                }
            ]
        )
    data: list[JSONValue] = [
        _job_view(job)
        for job in ctx.store.jobs.values()
        if job.get("projectId") == project_id
        and (state is None or _job_view(job).get("state") == state)
    ]
    return reply({"status": "ok", "data": data})


async def cancel_job(request: web.Request) -> web.Response:
    """POST /api/orchestrator/jobs/{jobId}/cancel: 409 once the job is terminal."""
    ctx = ctx_of(request)
    job_id = request.match_info["jobId"]
    await parse(request, schemas.ANY_OBJECT)
    job = ctx.store.jobs.get(job_id)
    if job is None:
        return reply({"status": "not_found", "jobId": job_id}, 404)
    if job.get("state") in ("completed", "failed", "canceled"):
        return reply({"status": "already_terminal", "job": _job_view(job)}, 409)
    job["state"] = "canceled"
    return reply({"status": "ok", "job": _job_view(job)})


ROUTES: list[Route] = [
    ("GET", "/api/projects", list_projects),
    ("POST", "/api/projects", create_project),
    ("POST", "/api/projects/{projectId}/rename", rename_project),
    ("DELETE", "/api/projects/{projectId}", delete_project),
    ("GET", "/api/projects/{projectId}/agent-sessions", project_agent_sessions),
    ("POST", "/api/projects/{projectId}/chats/move-all", move_project_chats),
    ("POST", "/api/projects/{projectId}/chats/delete-all", delete_project_chats),
    ("GET", "/api/orchestrator/jobs/{jobId}", get_job),
    ("GET", "/api/projects/{projectId}/orchestrator/jobs", list_project_jobs),
    ("POST", "/api/orchestrator/jobs/{jobId}/cancel", cancel_job),
]
