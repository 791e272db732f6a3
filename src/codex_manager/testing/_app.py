"""The aiohttp application: every route, the stream, Fastify-style 404s and error mapping."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from . import _routes_calls, _routes_projects, _routes_sessions, _routes_settings, _routes_system
from ._http import CTX_KEY, BodyError, Ctx, GuardedError, Handler, internal_error, reply

_log = logging.getLogger("codex_manager.testing")

ROUTE_MODULES = (
    _routes_system,
    _routes_sessions,
    _routes_calls,
    _routes_settings,
    _routes_projects,
)


def route_not_found(request: web.Request) -> web.Response:
    """Fastify's default 404 for an unknown method+path."""
    return reply(
        {
            "message": f"Route {request.method}:{request.raw_path} not found",
            "error": "Not Found",
            "statusCode": 404,
        },
        404,
    )


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request.app[CTX_KEY]
    delay = ctx.faults.response_delay
    if delay > 0 and request.path != "/api/stream":
        await asyncio.sleep(delay)
    try:
        return await handler(request)
    except (BodyError, GuardedError) as refused:
        return refused.response
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return route_not_found(request)
    except web.HTTPRequestEntityTooLarge:
        # Fastify's FST_ERR_CTP_BODY_TOO_LARGE, in the server's shape for errors that carry
        # a status of their own.
        return reply(
            {"status": "error", "code": "request_failed", "message": "Request body is too large"},
            413,
        )
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except ConnectionResetError:
        # The client went away (it gave up at its timeout, say): no one reads the answer, and
        # it is no failure of the fake's (re-raised, aiohttp logs it with a traceback).
        _log.debug("fake codex-manager: client gone during %s %s", request.method, request.path)
        return web.Response(status=499, text="client closed the connection")
    except Exception:
        _log.exception("fake codex-manager route failed: %s %s", request.method, request.path)
        return internal_error()


def build_app(ctx: Ctx, body_limit: int) -> web.Application:
    """The application serving ``ctx``; request bodies above ``body_limit`` bytes get 413."""
    app = web.Application(middlewares=[_middleware], client_max_size=body_limit)
    app[CTX_KEY] = ctx
    app.router.add_get("/api/stream", ctx.codex.hub.handle, allow_head=False)
    for module in ROUTE_MODULES:
        for method, path, handler in module.ROUTES:
            app.router.add_route(method, path, handler)
            if method == "GET":
                app.router.add_route("HEAD", path, handler)
    return app


def operation_count() -> int:
    """Number of method+path pairs served (70 REST routes + the websocket)."""
    return 1 + sum(len(module.ROUTES) for module in ROUTE_MODULES)
