"""Session settings and session-controls routes (server-contract §2.12)."""

from __future__ import annotations

import copy

from aiohttp import web

from codex_manager.json_types import JSONObject, JSONValue

from . import _schemas as schemas
from ._http import (
    BodyError,
    Ctx,
    Route,
    ctx_of,
    guard,
    parse,
    parse_query,
    reply,
    require_session,
    validation_error,
)
from ._state import SessionState
from ._validation import issue_custom

_LOCK_MESSAGE = "Managed by harness configuration"


def _controls(ctx: Ctx, session: SessionState, scope: JSONValue) -> JSONObject:
    return ctx.store.default_controls if scope == "default" else session.controls


def _settings(controls: JSONObject) -> JSONObject:
    settings = controls.get("settings")
    if not isinstance(settings, dict):
        settings = {}
        controls["settings"] = settings
    return settings


def _session_for(request: web.Request) -> tuple[Ctx, str, SessionState]:
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id, existence=True)
    return ctx, session_id, require_session(ctx, session_id)


async def get_settings(request: web.Request) -> web.Response:
    """GET /api/sessions/{id}/settings[?scope=&key=]."""
    query = parse_query(request, schemas.SETTINGS_QUERY)
    ctx, session_id, session = _session_for(request)
    scope = query.get("scope", "session")
    settings = _settings(_controls(ctx, session, scope))
    if "key" in query:
        key = str(query["key"])
        return reply(
            {
                "status": "ok",
                "sessionId": session_id,
                "scope": scope,
                "key": key,
                "found": key in settings,
                "value": copy.deepcopy(settings.get(key)),
            }
        )
    return reply(
        {
            "status": "ok",
            "sessionId": session_id,
            "scope": scope,
            "settings": copy.deepcopy(settings),
        }
    )


async def set_settings(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/settings (bulk ``settings`` or one ``key``/``value``)."""
    ctx, session_id, session = _session_for(request)
    body = await parse(request, schemas.SET_SETTINGS)
    has_key, has_value, has_bulk = "key" in body, "value" in body, "settings" in body
    if has_bulk and (has_key or has_value):
        raise BodyError(validation_error([issue_custom("provide either settings or key/value")]))
    if not has_bulk and not (has_key and has_value):
        raise BodyError(validation_error([issue_custom("provide settings, or both key and value")]))
    scope = body["scope"]
    controls = _controls(ctx, session, scope)
    current = _settings(controls)
    if scope == "default" and ctx.defaults_locked:
        return reply(
            {
                "status": "locked",
                "scope": scope,
                "message": _LOCK_MESSAGE,
                "sessionId": session_id,
                "settings": copy.deepcopy(current),
            },
            423,
        )
    if has_bulk:
        incoming = body["settings"]
        assert isinstance(incoming, dict)
        updated = (
            copy.deepcopy(incoming)
            if body.get("mode") == "replace"
            else {**current, **copy.deepcopy(incoming)}
        )
    else:
        updated = {**current, str(body["key"]): copy.deepcopy(body["value"])}
    status = "unchanged" if updated == current else "ok"
    controls["settings"] = updated
    result: JSONObject = {"status": status, "sessionId": session_id, "scope": scope}
    if has_key:
        result["key"] = body["key"]
    result["settings"] = copy.deepcopy(updated)
    return reply(result)


async def delete_setting(request: web.Request) -> web.Response:
    """DELETE /api/sessions/{id}/settings/{key}."""
    query = parse_query(request, schemas.DELETE_SETTING_QUERY)
    ctx, session_id, session = _session_for(request)
    scope = query.get("scope", "session")
    key = request.match_info["key"]
    controls = _controls(ctx, session, scope)
    current = _settings(controls)
    if scope == "default" and ctx.defaults_locked:
        return reply(
            {
                "status": "locked",
                "scope": scope,
                "message": _LOCK_MESSAGE,
                "sessionId": session_id,
                "settings": copy.deepcopy(current),
            },
            423,
        )
    removed = key in current
    if removed:
        del current[key]
    return reply(
        {
            "status": "ok" if removed else "unchanged",
            "sessionId": session_id,
            "scope": scope,
            "key": key,
            "removed": removed,
            "settings": copy.deepcopy(current),
        }
    )


def _controls_view(ctx: Ctx, session_id: str, session: SessionState) -> JSONObject:
    return {
        "sessionId": session_id,
        "controls": copy.deepcopy(session.controls),
        "defaults": copy.deepcopy(ctx.store.default_controls),
        "defaultsEditable": not ctx.defaults_locked,
        "defaultLockReason": _LOCK_MESSAGE if ctx.defaults_locked else None,
    }


async def get_controls(request: web.Request) -> web.Response:
    """GET /api/sessions/{id}/session-controls."""
    ctx, session_id, session = _session_for(request)
    return reply({"status": "ok", **_controls_view(ctx, session_id, session)})


async def apply_controls(request: web.Request) -> web.Response:
    """POST /api/sessions/{id}/session-controls."""
    ctx, session_id, session = _session_for(request)
    body = await parse(request, schemas.APPLY_CONTROLS)
    scope = body["scope"]
    if scope == "default" and ctx.defaults_locked:
        return reply(
            {
                "status": "locked",
                "scope": scope,
                "message": _LOCK_MESSAGE,
                **_controls_view(ctx, session_id, session),
            },
            423,
        )
    incoming = body["controls"]
    assert isinstance(incoming, dict)
    target = _controls(ctx, session, scope)
    applied: JSONObject = copy.deepcopy(incoming)
    if "settings" not in applied:
        applied["settings"] = copy.deepcopy(_settings(target))
    status = "unchanged" if applied == target else "ok"
    target.clear()
    target.update(applied)
    summary = (
        f"model={applied.get('model')}, approvalPolicy={applied.get('approvalPolicy')}, "
        f"networkAccess={applied.get('networkAccess')}, "
        f"filesystemSandbox={applied.get('filesystemSandbox')}"
    )
    return reply(
        {
            "status": status,
            "scope": scope,
            "applied": copy.deepcopy(applied),
            "summary": summary,
            **_controls_view(ctx, session_id, session),
        }
    )


ROUTES: list[Route] = [
    ("GET", "/api/sessions/{sessionId}/settings", get_settings),
    ("POST", "/api/sessions/{sessionId}/settings", set_settings),
    ("DELETE", "/api/sessions/{sessionId}/settings/{key}", delete_setting),
    ("GET", "/api/sessions/{sessionId}/session-controls", get_controls),
    ("POST", "/api/sessions/{sessionId}/session-controls", apply_controls),
]
