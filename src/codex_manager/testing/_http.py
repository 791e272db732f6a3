"""HTTP helpers shared by the route modules: bodies, errors and session guards."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from aiohttp import web

from codex_manager.json_types import JSONObject, JSONValue

from ._codex import Codex, deleted_payload
from ._faults import Faults
from ._json import stringify
from ._state import SessionState, Store
from ._validation import MISSING, Int, Issues, Schema, Value, validate

if TYPE_CHECKING:
    from .agent import Script


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""An aiohttp request handler."""

Route = tuple[str, str, Handler]
"""A method, a path pattern and its handler."""


@dataclass
class Ctx:
    """What every route handler needs."""

    store: Store
    codex: Codex
    faults: Faults
    defaults_locked: bool = False
    script: Script | None = None


CTX_KEY = web.AppKey("codex_manager_fake_ctx", Ctx)


def ctx_of(request: web.Request) -> Ctx:
    """The fake's state for this request."""
    return request.app[CTX_KEY]


def reply(body: JSONValue, status: int = 200) -> web.Response:
    """A JSON response (``application/json; charset=utf-8`` like Fastify)."""
    return web.json_response(body, status=status, dumps=stringify)


def validation_error(issues: list[JSONObject]) -> web.Response:
    """400 ``invalid_request`` with zod-style issues."""
    return reply(
        {
            "status": "error",
            "code": "invalid_request",
            "message": "request validation failed",
            "issues": list[JSONValue](issues),
        },
        400,
    )


def request_failed(status: int, message: str) -> web.Response:
    """An error carrying a Fastify ``statusCode`` (e.g. an unparsable body)."""
    return reply({"status": "error", "code": "request_failed", "message": message}, status)


def internal_error() -> web.Response:
    """The generic 500 (runtime message hidden)."""
    return reply(
        {"status": "error", "code": "internal_error", "message": "internal server error"}, 500
    )


def codex_error(
    status: int, code: str, message: str, method: str, session_id: str | None
) -> web.Response:
    """A "mapped codex error" body."""
    return reply(
        {
            "status": "error",
            "code": code,
            "message": message,
            "details": {"method": method, "sessionId": session_id},
        },
        status,
    )


class BodyError(Exception):
    """The body could not be parsed; carries the response to send."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


async def read_body(request: web.Request) -> Value:
    """Parse the body like Fastify: JSON, text/plain, or absent (``MISSING``)."""
    raw = await request.read()
    content_type = request.headers.get("Content-Type")
    media = (content_type or "").split(";")[0].strip().lower()
    if not raw:
        if media == "application/json" or media.endswith("+json"):
            raise BodyError(
                request_failed(
                    400, "Body cannot be empty when content-type is set to 'application/json'"
                )
            )
        return MISSING
    if media == "text/plain":
        return raw.decode("utf-8", errors="replace")
    if media and media != "application/json" and not media.endswith("+json"):
        raise BodyError(request_failed(415, f"Unsupported Media Type: {content_type}"))
    try:
        value: JSONValue = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BodyError(
            request_failed(
                400, "Body is not valid JSON but content-type is set to 'application/json'"
            )
        ) from None
    return value


async def parse(request: web.Request, schema: Schema) -> JSONObject:
    """Read and validate the body; raises :class:`BodyError` with the 400/415 response."""
    value = await read_body(request)
    parsed, issues = validate(schema, value)
    if issues:
        raise BodyError(validation_error(issues))
    return parsed


def parse_query(request: web.Request, schema: Schema) -> JSONObject:
    """Validate query parameters (each a string)."""
    query: JSONObject = {key: value for key, value in request.query.items()}
    parsed, issues = validate(schema, query)
    if issues:
        raise BodyError(validation_error(issues))
    return parsed


def query_bool(request: web.Request, name: str) -> bool | None:
    """A boolean query parameter (``true``/``false``/``1``/``0``); 400 on other text."""
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise BodyError(
        validation_error(
            [
                {
                    "code": "invalid_value",
                    "values": ["true", "false"],
                    "path": [name],
                    "message": 'Invalid option: expected one of "true"|"false"',
                }
            ]
        )
    )


def query_limit(request: web.Request, name: str = "limit") -> int | None:
    """An integer 1..200 query parameter, read as the server's ``z.coerce.number()`` does."""
    raw = request.query.get(name)
    if raw is None:
        return None
    issues = Issues()
    value = _LIMIT.parse(_js_number(raw), [name], issues)
    if issues.items:
        raise BodyError(validation_error(issues.items))
    assert isinstance(value, int)
    return value


_LIMIT: Final = Int(minimum=1, maximum=200)


def _js_number(text: str) -> float:
    """JavaScript's ``Number(text)``: blank is 0, ``Infinity``, unsigned 0x/0o/0b literals,
    ASCII decimals; anything else is NaN (where Python's ``int``/``float`` are laxer)."""
    stripped = text.strip()
    if not stripped:
        return 0.0
    if _JS_INFINITY.fullmatch(stripped):
        return -math.inf if stripped.startswith("-") else math.inf
    if _JS_RADIX.fullmatch(stripped):
        return float(int(stripped[2:], {"x": 16, "o": 8, "b": 2}[stripped[1].lower()]))
    if _JS_DECIMAL.fullmatch(stripped):
        return float(stripped)
    return math.nan


_JS_INFINITY: Final = re.compile(r"[+-]?Infinity")
_JS_RADIX: Final = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)", re.ASCII)
_JS_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def gone(ctx: Ctx, session_id: str) -> web.Response:
    """410 DeletedSessionPayload."""
    return reply(deleted_payload(session_id, ctx.store.purged.get(session_id)), 410)


def system_session(session_id: str) -> web.Response:
    """403 SystemSessionError."""
    return reply(
        {
            "status": "error",
            "code": "system_session",
            "sessionId": session_id,
            "message": "system-owned sessions are reserved for orchestrator workers",
        },
        403,
    )


def not_found(session_id: str) -> web.Response:
    """404 session not found."""
    return reply({"status": "not_found", "sessionId": session_id}, 404)


class GuardedError(Exception):
    """A session guard refused the request."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def guard(ctx: Ctx, session_id: str, *, system: bool = True, existence: bool = False) -> None:
    """Session guards in the server's order: purged 410, system-owned 403, existence 404."""
    if session_id in ctx.store.purged:
        raise GuardedError(gone(ctx, session_id))
    session = ctx.store.sessions.get(session_id)
    if system and session is not None and session.system_owned:
        raise GuardedError(system_session(session_id))
    if existence and session is None:
        raise GuardedError(not_found(session_id))


def require_session(ctx: Ctx, session_id: str) -> SessionState:
    """The live session (call after :func:`guard` with ``existence=True``)."""
    session = ctx.store.live(session_id)
    if session is None:
        raise GuardedError(not_found(session_id))
    return session
