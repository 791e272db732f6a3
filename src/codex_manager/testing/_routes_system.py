"""Health, API info and the thin codex-proxy routes.

Everything past health and API info is **canned**: the real server forwards these to codex
app-server and returns its result; the fake answers with fixed, realistic bodies of the
documented shape (validating request bodies like the server), so a client can exercise every
operation over the wire.
"""

from __future__ import annotations

import os

from aiohttp import web

from codex_manager.json_types import JSONObject, JSONValue

from . import _schemas as schemas
from ._clock import iso_now, uuid7
from ._http import Route, ctx_of, parse, query_bool, query_limit, reply
from ._state import DEFAULT_CWD, MODEL


async def health(request: web.Request) -> web.Response:
    """GET /api/health (shape of the recording A00)."""
    ctx = ctx_of(request)
    jobs = list(ctx.store.jobs.values())

    def count(state: str) -> int:
        return sum(1 for job in jobs if job.get("state") == state)

    return reply(
        {
            "status": "ok",
            "service": "api",
            "codex": {"running": True, "pid": os.getpid(), "initialized": True},
            "orchestratorQueue": {
                "enabled": True,
                "queued": count("queued"),
                "running": count("started"),
                "completed": count("completed"),
                "failed": count("failed"),
                "canceled": count("canceled"),
                "projects": len({job.get("projectId") for job in jobs}),
            },
            "auth": {
                "hasOpenAiApiKey": True,
                "codexHomeAuthFile": False,
                "likelyUnauthenticated": False,
            },
            "timestamp": iso_now(),
        }
    )


async def api_info(request: web.Request) -> web.Response:
    """GET /api."""
    return reply({"name": "Codex Manager API", "version": "0.1.0"})


async def capabilities(request: web.Request) -> web.Response:
    """GET /api/capabilities (canned)."""
    query_bool(request, "refresh")
    methods: JSONObject = {
        name: "available"
        for name in (
            "thread/fork",
            "thread/compact/start",
            "thread/rollback",
            "thread/backgroundTerminals/clean",
            "review/start",
            "turn/steer",
            "skills/list",
            "app/list",
            "model/list",
            "experimentalFeature/list",
            "collaborationMode/list",
        )
    }
    details: JSONObject = {name: {"status": "available", "reason": None} for name in methods}
    return reply(
        {
            "status": "ok",
            "runtime": {"initialized": True, "capabilitiesLastUpdatedAt": iso_now()},
            "methods": methods,
            "details": details,
            "features": {},
        }
    )


def _page(request: web.Request, data: list[JSONValue]) -> web.Response:
    limit = query_limit(request) or len(data) or 1
    cursor = request.query.get("cursor")
    offset = int(cursor) if cursor is not None and cursor.isascii() and cursor.isdigit() else 0
    page = data[offset : offset + limit]
    next_cursor = str(offset + limit) if offset + limit < len(data) else None
    return reply({"data": page, "nextCursor": next_cursor})


async def experimental_features(request: web.Request) -> web.Response:
    """GET /api/features/experimental (canned list)."""
    return _page(
        request,
        [
            {
                "name": "unified_exec",
                "stage": "beta",
                "displayName": "Unified exec",
                "description": "Run commands in one persistent shell.",
                "enabled": False,
                "defaultEnabled": False,
            },
            {
                "name": "apps",
                "stage": "experimental",
                "displayName": "Apps",
                "description": "Connect apps as tools.",
                "enabled": False,
                "defaultEnabled": False,
            },
        ],
    )


async def collaboration_modes(request: web.Request) -> web.Response:
    """GET /api/collaboration/modes (canned list)."""
    return _page(
        request,
        [
            {"name": "default", "mode": "default", "model": None, "reasoningEffort": None},
            {"name": "plan", "mode": "plan", "model": None, "reasoningEffort": "medium"},
        ],
    )


async def list_apps(request: web.Request) -> web.Response:
    """GET /api/apps (canned: no apps)."""
    query_bool(request, "forceRefetch")
    return _page(request, [])


async def list_skills(request: web.Request) -> web.Response:
    """GET /api/skills (canned: the system skills seen in the recordings)."""
    query_bool(request, "forceReload")
    cwd = request.query.get("cwd") or DEFAULT_CWD
    skills: list[JSONValue] = [
        {
            "name": name,
            "description": description,
            "path": f"/home/user/.codex/skills/.system/{name}/SKILL.md",
            "scope": "system",
            "enabled": True,
        }
        for name, description in (
            ("skill-creator", "Create or update a Codex skill."),
            ("skill-installer", "Install Codex skills from a curated list."),
        )
    ]
    return reply({"data": [{"cwd": cwd, "skills": skills, "errors": []}]})


async def write_skill_config(request: web.Request) -> web.Response:
    """POST /api/skills/config (canned)."""
    body = await parse(request, schemas.SKILL_CONFIG)
    return reply({"status": "ok", "result": {"effectiveEnabled": body["enabled"]}})


async def read_remote_skills(request: web.Request) -> web.Response:
    """GET /api/skills/remote (canned: none)."""
    return reply({"status": "ok", "result": {"data": []}})


async def write_remote_skills(request: web.Request) -> web.Response:
    """POST /api/skills/remote (canned)."""
    body = await parse(request, schemas.REMOTE_SKILLS)
    hazelnut = str(body["hazelnutId"])
    return reply(
        {
            "status": "ok",
            "result": {
                "id": hazelnut,
                "name": hazelnut,
                "path": f"/home/user/.codex/skills/{hazelnut}",
                "isPreload": body["isPreload"],
            },
        }
    )


async def reload_mcp(request: web.Request) -> web.Response:
    """POST /api/mcp/reload (canned)."""
    await parse(request, schemas.ANY_OBJECT)
    return reply({"status": "ok", "result": {}})


async def mcp_oauth_login(request: web.Request) -> web.Response:
    """POST /api/mcp/servers/{serverName}/oauth/login (canned authorization URL)."""
    await parse(request, schemas.MCP_OAUTH)
    server = request.match_info["serverName"]
    return reply(
        {
            "status": "ok",
            "result": {
                "authorizationUrl": f"https://auth.invalid/{server}/authorize",
                "loginId": uuid7(),
            },
        }
    )


async def list_mcp_servers(request: web.Request) -> web.Response:
    """GET /api/mcp/servers (canned: none)."""
    return _page(request, [])


async def read_account(request: web.Request) -> web.Response:
    """GET /api/account (canned API-key account)."""
    return reply({"account": {"type": "apiKey"}, "requiresOpenaiAuth": True})


async def start_login(request: web.Request) -> web.Response:
    """POST /api/account/login/start (canned)."""
    ctx = ctx_of(request)
    body = await parse(request, schemas.ACCOUNT_LOGIN)
    kind = body["type"]
    if kind == "chatgpt":
        login_id = uuid7()
        ctx.store.logins.add(login_id)
        return reply(
            {
                "status": "ok",
                "result": {
                    "type": "chatgpt",
                    "loginId": login_id,
                    "authUrl": "https://auth.invalid/login",
                },
            }
        )
    return reply({"status": "ok", "result": {"type": kind}})


async def cancel_login(request: web.Request) -> web.Response:
    """POST /api/account/login/cancel: 404 for an unknown login id."""
    ctx = ctx_of(request)
    body = await parse(request, schemas.ACCOUNT_LOGIN_CANCEL)
    login_id = str(body["loginId"])
    if login_id not in ctx.store.logins:
        return reply(
            {
                "status": "not_found",
                "code": "login_not_found",
                "message": f"login {login_id} not found",
            },
            404,
        )
    ctx.store.logins.discard(login_id)
    return reply({"status": "ok", "result": {"status": "canceled", "loginId": login_id}})


async def logout(request: web.Request) -> web.Response:
    """POST /api/account/logout (canned)."""
    await parse(request, schemas.ANY_OBJECT)
    return reply({"status": "ok", "result": {}})


async def rate_limits(request: web.Request) -> web.Response:
    """GET /api/account/rate-limits (canned, as in ``account_rate_limits_updated``)."""
    return reply(
        {
            "rateLimits": {
                "limitId": "codex",
                "limitName": None,
                "primary": {"usedPercent": 3, "windowDurationMins": 300, "resetsAt": None},
                "secondary": None,
                "credits": None,
                "planType": None,
            }
        }
    )


async def read_config(request: web.Request) -> web.Response:
    """GET /api/config (canned)."""
    query_bool(request, "includeLayers")
    return reply(
        {
            "config": {
                "model": MODEL,
                "model_provider": "fake",
                "approval_policy": "untrusted",
                "sandbox_mode": "read-only",
            },
            "origins": {},
            "layers": None,
        }
    )


async def config_requirements(request: web.Request) -> web.Response:
    """GET /api/config/requirements (canned: none)."""
    return reply({"requirements": None})


def _config_written() -> web.Response:
    return reply(
        {
            "status": "ok",
            "result": {
                "status": "ok",
                "version": uuid7(),
                "filePath": "/home/user/.codex/config.toml",
                "overriddenMetadata": None,
            },
        }
    )


async def write_config_value(request: web.Request) -> web.Response:
    """POST /api/config/value (canned)."""
    await parse(request, schemas.CONFIG_VALUE)
    return _config_written()


async def write_config_batch(request: web.Request) -> web.Response:
    """POST /api/config/batch (canned)."""
    await parse(request, schemas.CONFIG_BATCH)
    return _config_written()


async def exec_command(request: web.Request) -> web.Response:
    """POST /api/commands/exec (canned: nothing runs; exit code 0, empty output)."""
    await parse(request, schemas.COMMAND_EXEC)
    return reply({"status": "ok", "result": {"exitCode": 0, "stdout": "", "stderr": ""}})


async def feedback(request: web.Request) -> web.Response:
    """POST /api/feedback (canned)."""
    body = await parse(request, schemas.FEEDBACK)
    return reply({"status": "ok", "result": {"threadId": body.get("threadId", uuid7())}})


async def list_models(request: web.Request) -> web.Response:
    """GET /api/models (canned: the fake model)."""
    return _page(
        request,
        [
            {
                "id": MODEL,
                "model": MODEL,
                "displayName": "Fake model",
                "description": "Scripted model of codex_manager.testing",
                "supportedReasoningEfforts": [
                    {"reasoningEffort": effort, "description": effort}
                    for effort in ("low", "medium", "high")
                ],
                "defaultReasoningEffort": "medium",
                "isDefault": True,
            }
        ],
    )


async def list_extensions(request: web.Request) -> web.Response:
    """GET /api/agents/extensions (canned: no extensions loaded)."""
    return reply({"status": "ok", "loadedAt": iso_now(), "extensions": [], "errors": []})


async def reload_extensions(request: web.Request) -> web.Response:
    """POST /api/agents/extensions/reload (canned)."""
    await parse(request, schemas.ANY_OBJECT)
    return reply({"status": "ok", "reloadedAt": iso_now(), "extensions": [], "errors": []})


ROUTES: list[Route] = [
    ("GET", "/api/health", health),
    ("GET", "/api", api_info),
    ("GET", "/api/capabilities", capabilities),
    ("GET", "/api/features/experimental", experimental_features),
    ("GET", "/api/collaboration/modes", collaboration_modes),
    ("GET", "/api/apps", list_apps),
    ("GET", "/api/skills", list_skills),
    ("POST", "/api/skills/config", write_skill_config),
    ("GET", "/api/skills/remote", read_remote_skills),
    ("POST", "/api/skills/remote", write_remote_skills),
    ("POST", "/api/mcp/reload", reload_mcp),
    ("POST", "/api/mcp/servers/{serverName}/oauth/login", mcp_oauth_login),
    ("GET", "/api/mcp/servers", list_mcp_servers),
    ("GET", "/api/account", read_account),
    ("POST", "/api/account/login/start", start_login),
    ("POST", "/api/account/login/cancel", cancel_login),
    ("POST", "/api/account/logout", logout),
    ("GET", "/api/account/rate-limits", rate_limits),
    ("GET", "/api/config", read_config),
    ("GET", "/api/config/requirements", config_requirements),
    ("POST", "/api/config/value", write_config_value),
    ("POST", "/api/config/batch", write_config_batch),
    ("POST", "/api/commands/exec", exec_command),
    ("POST", "/api/feedback", feedback),
    ("GET", "/api/models", list_models),
    ("GET", "/api/agents/extensions", list_extensions),
    ("POST", "/api/agents/extensions/reload", reload_extensions),
]
