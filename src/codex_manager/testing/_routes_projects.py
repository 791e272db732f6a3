"""Projects (a real in-memory store) and orchestrator jobs (the agent's noise jobs)."""

from __future__ import annotations

import copy

from aiohttp import web

from codex_manager.json_types import JSONObject, JSONValue

from . import _schemas as schemas
from ._clock import iso_now, uuid7
from ._http import Ctx, Route, ctx_of, parse, reply

_JOB_STATES = ("queued", "running", "completed", "failed", "canceled")


def _duplicate(ctx: Ctx, name: str, except_id: str | None = None) -> bool:
    return any(
        str(project.get("name")).lower() == name.lower() and pid != except_id
        for pid, project in ctx.store.projects.items()
    )


def _conflict(name: str) -> web.Response:
    return reply(
        {
            "status": "conflict",
            "code": "duplicate_name",
            "message": f"a project named '{name}' already exists",
        },
        409,
    )


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
    if _duplicate(ctx, name):
        return _conflict(name)
    now = iso_now()
    directory = body.get("workingDirectory")
    project: JSONObject = {
        "id": uuid7(),
        "name": name,
        "workingDirectory": directory if isinstance(directory, str) else None,
        "createdAt": now,
        "updatedAt": now,
    }
    ctx.store.projects[str(project["id"])] = project
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
    if _duplicate(ctx, name, project_id):
        return _conflict(name)
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
            {
                "status": "not_empty",
                "projectId": project_id,
                "message": "project must be empty before deletion",
                "sessionIds": list[JSONValue](assigned),
            },
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
    """POST /api/projects/{projectId}/chats/move-all (unassign, or archive)."""
    ctx = ctx_of(request)
    project_id = request.match_info["projectId"]
    body = await parse(request, schemas.MOVE_CHATS)
    if project_id not in ctx.store.projects:
        return _missing(project_id)
    ids = _session_ids(ctx, project_id)
    destination = body["destination"]
    if destination == "archive":
        unready = [sid for sid in ids if not ctx.store.sessions[sid].materialized]
        if unready:
            return reply(
                {
                    "status": "not_materialized",
                    "projectId": project_id,
                    "sessionIds": list[JSONValue](unready),
                },
                409,
            )
        for sid in ids:
            ctx.store.sessions[sid].archived = True
    else:
        for sid in ids:
            ctx.store.sessions[sid].project_id = None
    return reply(
        {
            "status": "ok",
            "projectId": project_id,
            "destination": destination,
            "sessionIds": list[JSONValue](ids),
        }
    )


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
        {"status": "ok", "projectId": project_id, "deletedSessionIds": list[JSONValue](ids)}
    )


def _job_view(job: JSONObject) -> JSONObject:
    view = copy.deepcopy(job)
    if view.get("state") == "started":
        view["state"] = "running"
    return view


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
        return reply({"status": "conflict", "jobId": job_id, "state": job.get("state")}, 409)
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
