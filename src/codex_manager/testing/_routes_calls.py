"""Pending-request routes: dynamic tool calls, approvals, tool input (server-contract §2.8-2.11)."""

from __future__ import annotations

import asyncio
import copy
import time

from aiohttp import web

from codex_manager.json_types import JSONObject, JSONValue

from . import _schemas as schemas
from ._http import BodyError, Ctx, Route, ctx_of, guard, read_body, reply, validation_error
from ._validation import Missing, Value, validate
from .records import AnswerRecord


def forwarded_payload(body: JSONObject) -> JSONValue:
    """The JSON-RPC result the server sends to codex: ``response`` wins when present."""
    if "response" in body:
        return copy.deepcopy(body["response"])
    items = body.get("contentItems")
    if isinstance(items, list):
        content: list[JSONValue] = copy.deepcopy(items)
    elif isinstance(body.get("text"), str):
        content = [{"type": "inputText", "text": body["text"]}]
    else:
        content = []
    success = body.get("success")
    return {"success": success if isinstance(success, bool) else True, "contentItems": content}


def _record(
    ctx: Ctx,
    request_id: str,
    thread_id: str | None,
    body: Value,
    forwarded: JSONValue,
    status: int,
) -> None:
    ctx.store.answers.append(
        AnswerRecord(
            request_id=request_id,
            thread_id=thread_id,
            body=None if isinstance(body, Missing) else copy.deepcopy(body),
            forwarded=copy.deepcopy(forwarded),
            status=status,
            at=time.time(),
        )
    )


async def list_tool_calls(request: web.Request) -> web.Response:
    """GET /api/sessions/{id}/tool-calls: pending (not in-flight) calls, oldest first."""
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id)
    calls = sorted(
        (
            call
            for call in ctx.store.calls.values()
            if call.thread_id == session_id and not call.in_flight
        ),
        key=lambda call: (call.created_time, call.rpc_id),
    )
    data: list[JSONValue] = [call.public() for call in calls]
    return reply({"data": data})


async def respond_tool_call(request: web.Request) -> web.Response:
    """POST /api/tool-calls/{requestId}/response: 400 / 409 in flight / 404 / 200 / 500."""
    ctx = ctx_of(request)
    request_id = request.match_info["requestId"]
    try:
        raw = await read_body(request)
    except BodyError as error:
        _record(ctx, request_id, None, None, None, error.response.status)
        raise
    body, issues = validate(schemas.TOOL_CALL_RESPONSE, raw)
    call = ctx.store.calls.get(request_id)
    thread_id = call.thread_id if call is not None else None
    if issues:
        _record(ctx, request_id, thread_id, raw, None, 400)
        return validation_error(issues)
    if call is not None and call.in_flight:
        _record(ctx, request_id, thread_id, raw, None, 409)
        return reply({"status": "conflict", "code": "in_flight", "requestId": request_id}, 409)
    if call is None:
        _record(ctx, request_id, None, raw, None, 404)
        return reply({"status": "not_found", "requestId": request_id}, 404)
    payload = forwarded_payload(body)
    call.in_flight = True
    ctx.store.update_tool_call(call, "in_flight")
    try:
        hold = ctx.faults.take_hold(request_id)
        if hold > 0:
            await asyncio.sleep(hold)
        if ctx.faults.take_answer_failure():
            # Put back into pending unless the call expired (e.g. its session was deleted).
            if ctx.store.calls.get(request_id) is call:
                ctx.store.update_tool_call(call, "pending")
            _record(ctx, request_id, call.thread_id, raw, payload, 500)
            return reply({"status": "error", "requestId": request_id}, 500)
        if ctx.store.calls.get(request_id) is call:
            ctx.codex.resolve_call(call, payload)
        _record(ctx, request_id, call.thread_id, raw, payload, 200)
        return reply({"status": "ok", "requestId": request_id, "threadId": call.thread_id})
    finally:
        call.in_flight = False


async def list_approvals(request: web.Request) -> web.Response:
    """GET /api/sessions/{id}/approvals."""
    return _list_decisions(request, "approval")


async def list_tool_input(request: web.Request) -> web.Response:
    """GET /api/sessions/{id}/tool-input."""
    return _list_decisions(request, "tool_input")


def _list_decisions(request: web.Request, kind: str) -> web.Response:
    ctx = ctx_of(request)
    session_id = request.match_info["sessionId"]
    guard(ctx, session_id)
    data: list[JSONValue] = [
        copy.deepcopy(decision.record)
        for decision in ctx.store.decisions.values()
        if decision.kind == kind and decision.thread_id == session_id
    ]
    return reply({"data": data})


async def decide_approval(request: web.Request) -> web.Response:
    """POST /api/approvals/{approvalId}/decision."""
    ctx = ctx_of(request)
    approval_id = request.match_info["approvalId"]
    body, issues = validate(schemas.APPROVAL_DECISION, await read_body(request))
    if issues:
        return validation_error(issues)
    decision = ctx.store.decisions.get(approval_id)
    if decision is None or decision.kind != "approval":
        return reply({"status": "not_found", "approvalId": approval_id}, 404)
    if ctx.faults.take_decision_failure():
        return reply({"status": "error", "approvalId": approval_id}, 500)
    scope = body.get("scope", "turn")
    result: JSONObject = {"decision": body["decision"], "scope": scope}
    outcome: JSONObject = {"approvalId": approval_id, "status": "resolved", **result}
    ctx.codex.resolve_decision(decision, outcome, result)
    return reply({"status": "ok", "approvalId": approval_id, "threadId": decision.thread_id})


async def decide_tool_input(request: web.Request) -> web.Response:
    """POST /api/tool-input/{requestId}/decision."""
    ctx = ctx_of(request)
    request_id = request.match_info["requestId"]
    body, issues = validate(schemas.TOOL_INPUT_DECISION, await read_body(request))
    if issues:
        return validation_error(issues)
    decision = ctx.store.decisions.get(request_id)
    if decision is None or decision.kind != "tool_input":
        return reply({"status": "not_found", "requestId": request_id}, 404)
    if ctx.faults.take_decision_failure():
        return reply({"status": "error", "requestId": request_id}, 500)
    result: JSONValue
    if "response" in body:
        result = copy.deepcopy(body["response"])
    elif body["decision"] == "accept":
        answers = body.get("answers")
        result = {"answers": copy.deepcopy(answers) if isinstance(answers, dict) else {}}
    else:
        result = {"status": body["decision"]}
    outcome: JSONObject = {
        "requestId": request_id,
        "status": "resolved",
        "decision": body["decision"],
    }
    ctx.codex.resolve_decision(decision, outcome, result)
    return reply({"status": "ok", "requestId": request_id, "threadId": decision.thread_id})


ROUTES: list[Route] = [
    ("GET", "/api/sessions/{sessionId}/tool-calls", list_tool_calls),
    ("POST", "/api/tool-calls/{requestId}/response", respond_tool_call),
    ("GET", "/api/sessions/{sessionId}/approvals", list_approvals),
    ("POST", "/api/approvals/{approvalId}/decision", decide_approval),
    ("GET", "/api/sessions/{sessionId}/tool-input", list_tool_input),
    ("POST", "/api/tool-input/{requestId}/decision", decide_tool_input),
]
