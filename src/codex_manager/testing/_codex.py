"""Plays codex app-server plus the server's signal glue: turns, items, tool calls, expiry.

Frames follow the recording ``ws_A_roundtrip.json``: for a notification the ``app_server.*``
signal envelope comes first, then alias frames, then the raw ``notification`` frame; for a
server request the ``app_server.request.*`` envelope comes first, then the specialised frame.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from codex_manager._daemon_pool import DaemonThreadPool
from codex_manager.json_types import JSONObject, JSONValue
from codex_manager.stream.normalize import notification_event_type, request_event_type

from ._clock import epoch_millis, epoch_seconds, iso_now, uuid7
from ._faults import Faults
from ._hub import StreamHub
from ._state import (
    MODEL,
    PendingCall,
    PendingDecision,
    SessionState,
    Store,
    ToolCallAnswer,
    TurnState,
)
from ._transcript import decision_row, tool_call_row

_WARNING_TEXT = (
    f"Model metadata for `{MODEL}` not found. Defaulting to fallback metadata; "
    "this can degrade performance and cause issues."
)


SCRIPT_THREADS = 64
"""Sync scripts of one server running at once (one per running turn)."""


@dataclass
class CodexOptions:
    """Behaviour switches of the emulated codex."""

    noise: bool = True
    transcript_events: bool = False
    turn_start_delay: float = 0.0


def _usage(total: int) -> JSONObject:
    return {
        "totalTokens": total + 16,
        "inputTokens": total,
        "cachedInputTokens": 0,
        "cacheWriteInputTokens": 0,
        "outputTokens": 16,
        "reasoningOutputTokens": 0,
    }


def _rate_limits() -> JSONObject:
    return {
        "rateLimits": {
            "limitId": "codex",
            "limitName": None,
            "normalModelSlug": None,
            "primary": None,
            "secondary": None,
            "credits": None,
            "individualLimit": None,
            "spendControlReached": None,
            "planType": None,
            "rateLimitReachedType": None,
        }
    }


def content_texts(payload: JSONValue) -> tuple[tuple[JSONObject, ...], str, bool]:
    """Content items, their joined text and the success flag of a forwarded tool result.

    The model sees only the content items (server-contract §11.5): ``inputText`` items give
    their text, ``inputImage`` items a ``[image <url>]`` marker.
    """
    items: list[JSONObject] = []
    success = True
    if isinstance(payload, dict):
        raw_items = payload.get("contentItems")
        if isinstance(raw_items, list):
            items = [copy.deepcopy(item) for item in raw_items if isinstance(item, dict)]
        flag = payload.get("success")
        if isinstance(flag, bool):
            success = flag
    parts: list[str] = []
    for item in items:
        if item.get("type") == "inputText" and isinstance(item.get("text"), str):
            parts.append(str(item["text"]))
        elif item.get("type") == "inputImage":
            parts.append(f"[image {item.get('imageUrl')}]")
    return tuple(items), "\n".join(parts), success


class Codex:
    """The emulated codex runtime behind the fake server."""

    def __init__(self, store: Store, hub: StreamHub, faults: Faults, options: CodexOptions):
        self.store = store
        self.hub = hub
        self.faults = faults
        self.options = options
        self.on_session_deleted: Callable[[SessionState], None] | None = None
        # Where sync scripts run: daemon threads, so a script still blocked when a test ends
        # (on an event never set, say) keeps neither the interpreter from exiting (as
        # asyncio.to_thread's threads would) nor a later server's scripts from running.
        self.script_threads = DaemonThreadPool(SCRIPT_THREADS, "fake-agent-script")

    # -- publishing ------------------------------------------------------------------------

    def _session_ref(self, thread_id: str | None) -> JSONValue:
        if thread_id is None:
            return None
        session = self.store.sessions.get(thread_id)
        title = session.title if session is not None and session.title.strip() else None
        return {
            "id": thread_id,
            "title": title,
            "projectId": session.project_id if session is not None else None,
        }

    def _suppressed(self, thread_id: str | None) -> bool:
        return thread_id is not None and thread_id in self.store.purged

    def _system(self, thread_id: str | None) -> bool:
        session = self.store.sessions.get(thread_id) if thread_id is not None else None
        return session is not None and session.system_owned

    def thread_event(self, event_type: str, payload: JSONValue, thread_id: str | None) -> None:
        """Publish a thread-scoped server event (forced filter for system-owned threads)."""
        if self._suppressed(thread_id):
            return
        self.hub.publish(
            event_type, payload, thread_id, force_thread_filter=self._system(thread_id)
        )

    def broadcast(self, event_type: str, payload: JSONValue) -> None:
        """Publish an event to every socket."""
        self.hub.publish(event_type, payload, None, broadcast=True)

    def session_broadcast(self, event_type: str, payload: JSONValue, session: SessionState) -> None:
        """Publish a session's event to every socket, with the session as its ``threadId``.

        (A system-owned session's goes only to sockets following it: the contract's "thread-
        forced for system sessions", which needs the thread id on the frame.)
        """
        system = session.system_owned
        self.hub.publish(
            event_type, payload, session.id, broadcast=not system, force_thread_filter=system
        )

    def _envelope(
        self,
        signal_type: str,
        event_type: str,
        method: str,
        params: JSONObject,
        thread_id: str | None,
        turn_id: str | None,
    ) -> JSONObject:
        return {
            "source": "app_server",
            "signalType": signal_type,
            "eventType": event_type,
            "method": method,
            "receivedAt": iso_now(),
            "context": {"threadId": thread_id, "turnId": turn_id},
            "params": copy.deepcopy(params),
            "session": self._session_ref(thread_id),
        }

    def _context_turn(self, params: JSONObject, thread_id: str | None) -> str | None:
        for key in ("turnId", "turn_id"):
            value = params.get(key)
            if isinstance(value, str):
                return value
        for container in ("turn", "item"):
            inner = params.get(container)
            if isinstance(inner, dict):
                for key in (
                    ("id", "turnId", "turn_id")
                    if container == "turn"
                    else (
                        "turnId",
                        "turn_id",
                    )
                ):
                    value = inner.get(key)
                    if isinstance(value, str):
                        return value
        session = self.store.sessions.get(thread_id) if thread_id else None
        return session.active_turn_id if session is not None else None

    def notify(
        self,
        method: str,
        params: JSONObject,
        thread_id: str | None,
        *,
        aliases: Iterable[str] = (),
        broadcast_aliases: bool = False,
        context_turn_id: str | bool | None = True,
        before_raw: Callable[[], object] | None = None,
    ) -> None:
        """Publish a codex notification: envelope, alias frames, then the raw frame.

        ``broadcast_aliases``: the alias frames go to every socket (the account-wide ones,
        e.g. ``account_rate_limits_updated``), not by the thread's delivery rules.
        """
        if self._suppressed(thread_id):
            return
        turn_id = (
            self._context_turn(params, thread_id)
            if context_turn_id is True
            else (context_turn_id if isinstance(context_turn_id, str) else None)
        )
        if not self._system(thread_id):
            event_type = notification_event_type(method)
            envelope = self._envelope(
                "notification", event_type, method, params, thread_id, turn_id
            )
            self.hub.publish(event_type, envelope, thread_id)
            for alias in aliases:
                alias_params = copy.deepcopy(params)
                self.hub.publish(alias, alias_params, thread_id, broadcast=broadcast_aliases)
        if before_raw is not None:
            before_raw()
        self.thread_event(
            "notification", {"method": method, "params": copy.deepcopy(params)}, thread_id
        )

    def server_request_envelope(
        self, method: str, params: JSONObject, rpc_id: int, thread_id: str, turn_id: str | None
    ) -> None:
        """Publish the ``app_server.request.*`` frame of a server-initiated request."""
        if self._suppressed(thread_id) or self._system(thread_id):
            return
        event_type = request_event_type(method)
        envelope = self._envelope("request", event_type, method, params, thread_id, turn_id)
        envelope["requestId"] = rpc_id
        self.hub.publish(event_type, envelope, thread_id)

    def _token_usage(self, session: SessionState, turn: TurnState) -> None:
        if not self.options.noise:
            return
        total = 9178 + 92 * len(turn.items)
        params: JSONObject = {
            "threadId": session.id,
            "turnId": turn.id,
            "tokenUsage": {
                "total": _usage(total),
                "last": _usage(total),
                "modelContextWindow": 258400,
            },
        }
        self.notify(
            "thread/tokenUsage/updated",
            params,
            session.id,
            aliases=("thread_token_usage_updated",),
        )
        self._rate_limits_updated()

    def _rate_limits_updated(self) -> None:
        """codex's account-wide ``account/rateLimits/updated`` (no thread): its envelope and
        raw frame reach the unfiltered sockets, its alias every socket."""
        self.notify(
            "account/rateLimits/updated",
            _rate_limits(),
            None,
            aliases=("account_rate_limits_updated",),
            broadcast_aliases=True,
            context_turn_id=None,
        )

    def _raw_item(self, session: SessionState, turn: TurnState, item: JSONObject) -> None:
        if self.options.noise:
            self.notify(
                "rawResponseItem/completed",
                {"threadId": session.id, "turnId": turn.id, "item": item},
                session.id,
            )

    def _raw_response(self, session: SessionState, turn: TurnState) -> None:
        if not self.options.noise:
            return
        number = self.store.take_item_number()
        self.notify(
            "rawResponse/completed",
            {
                "threadId": session.id,
                "turnId": turn.id,
                "responseId": f"resp_{number:06d}",
                "usage": _usage(9178),
                "usageMetadata": {"amount": None, "metadata": {"total_tokens": 9194}},
            },
            session.id,
        )

    def _job(self, session: SessionState, turn: TurnState, state: str) -> None:
        if not self.options.noise:
            return
        job_id = f"job-{session.id}-{turn.id}"
        job = self.store.jobs.get(job_id)
        if job is None:
            job = {
                "jobId": job_id,
                "projectId": f"session:{session.id}",
                "jobType": "agent_instruction",
                "state": state,
                "sourceSessionId": session.id,
                "createdAt": iso_now(),
            }
            self.store.jobs[job_id] = job
        job["state"] = state
        payload: JSONObject = {
            "jobId": job_id,
            "projectId": f"session:{session.id}",
            "jobType": "agent_instruction",
            "state": state,
            "sourceSessionId": session.id,
        }
        if state == "completed":
            result: JSONObject = {"status": "ok", "outputText": "ECHO: session_initial_rename"}
            payload["result"] = result
            job["result"] = copy.deepcopy(result)
        self.thread_event(f"orchestrator_job_{state}", payload, session.id)

    # -- turns -----------------------------------------------------------------------------

    def begin_turn(self, session: SessionState, turn: TurnState) -> None:
        """Frames of a turn's start: status, ``turn/started`` and the user message item."""
        first = not session.warned
        if self.options.noise and first:
            session.warned = True
            self.notify(
                "warning",
                {"threadId": session.id, "message": _WARNING_TEXT},
                session.id,
                context_turn_id=None,
            )
        self.notify(
            "thread/status/changed",
            {"threadId": session.id, "status": {"type": "active", "activeFlags": []}},
            session.id,
        )
        self.notify(
            "turn/started",
            {
                "threadId": session.id,
                "turn": {
                    "id": turn.id,
                    "rootTurnId": turn.id,
                    "items": [],
                    "itemsView": "notLoaded",
                    "status": "inProgress",
                    "error": None,
                    "startedAt": turn.started_at,
                    "completedAt": None,
                    "durationMs": None,
                },
            },
            session.id,
        )
        for role, text in (
            ("developer", "<permissions instructions>\nFilesystem sandbox: read-only.\n"),
            ("user", f"# AGENTS.md instructions for {session.cwd}\n\n<INSTRUCTIONS>\n"),
            ("user", turn.text),
        ):
            self._raw_item(
                session,
                turn,
                {
                    "type": "message",
                    "id": f"msg_{uuid7()}",
                    "role": role,
                    "content": [{"type": "input_text", "text": text}],
                },
            )
        started = epoch_millis()
        item: JSONObject = {
            "type": "userMessage",
            "id": uuid7(),
            "clientId": None,
            "content": [{"type": "text", "text": turn.text, "text_elements": []}],
            "startedAtMs": started,
            "completedAtMs": None,
        }
        self.notify(
            "item/started",
            {
                "item": copy.deepcopy(item),
                "threadId": session.id,
                "turnId": turn.id,
                "startedAtMs": started,
            },
            session.id,
        )
        item["completedAtMs"] = started
        turn.items.append(item)
        self.notify(
            "item/completed",
            {
                "item": copy.deepcopy(item),
                "threadId": session.id,
                "turnId": turn.id,
                "contentTokenCount": None,
                "completedAtMs": started,
            },
            session.id,
        )
        if first:
            self._job(session, turn, "queued")
            self._job(session, turn, "started")

    def reply(self, session: SessionState, turn: TurnState, text: str) -> None:
        """An assistant message: item started, delta, item completed (+ transcript update)."""
        number = self.store.take_item_number()
        started = epoch_millis()
        item: JSONObject = {
            "type": "agentMessage",
            "moderation": None,
            "id": f"msg_{number:06d}",
            "text": "",
            "phase": None,
            "memoryCitation": None,
            "delivery": None,
            "questions": None,
            "startedAtMs": started,
            "completedAtMs": None,
        }
        self.notify(
            "item/started",
            {
                "item": copy.deepcopy(item),
                "threadId": session.id,
                "turnId": turn.id,
                "startedAtMs": started,
            },
            session.id,
        )
        self.notify(
            "item/agentMessage/delta",
            {"threadId": session.id, "turnId": turn.id, "itemId": item["id"], "delta": text},
            session.id,
        )
        item["text"] = text
        item["completedAtMs"] = epoch_millis()
        turn.items.append(item)
        turn.replies.append(text)
        self.notify(
            "item/completed",
            {
                "item": copy.deepcopy(item),
                "threadId": session.id,
                "turnId": turn.id,
                "contentTokenCount": None,
                "completedAtMs": item["completedAtMs"],
            },
            session.id,
        )
        if self.options.transcript_events:
            entry: JSONObject = {
                "messageId": item["id"],
                "turnId": turn.id,
                "role": "assistant",
                "type": "agentMessage",
                "content": text,
                "status": "complete",
                "startedAt": turn.started_at * 1000,
                "completedAt": item["completedAtMs"],
            }
            self.thread_event(
                "transcript_updated",
                {
                    "threadId": session.id,
                    "turnId": turn.id,
                    "messageId": item["id"],
                    "type": "agentMessage",
                    "entry": entry,
                },
                session.id,
            )
        self._raw_item(
            session,
            turn,
            {
                "type": "message",
                "status": "completed",
                "id": item["id"],
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            },
        )
        self._raw_response(session, turn)
        session.updated_at = epoch_seconds()

    def complete_turn(
        self, session: SessionState, turn: TurnState, status: str, error: JSONValue = None
    ) -> None:
        """End a turn: usage noise, idle status, ``turn/completed``, expiry of its calls."""
        turn.status = status
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            turn.error = str(error["message"])
        turn.completed_at = epoch_seconds()
        turn.duration_ms = max(0, epoch_millis() - turn.started_ms)
        if session.active_turn_id == turn.id:
            session.active_turn_id = None
        session.updated_at = epoch_seconds()
        self._token_usage(session, turn)
        if self.options.noise:
            self.notify(
                "thread/readState/changed",
                {
                    "threadId": session.id,
                    "readState": {
                        "firstUnread": {"type": "turn", "turnId": turn.id},
                        "revision": uuid7(),
                    },
                },
                session.id,
                context_turn_id=turn.id,
            )
        self.notify(
            "thread/status/changed",
            {"threadId": session.id, "status": {"type": "idle"}},
            session.id,
            context_turn_id=turn.id,
        )
        summary_items: list[JSONValue] = [
            copy.deepcopy(item) for item in turn.items if item.get("type") == "agentMessage"
        ]
        self.notify(
            "turn/completed",
            {
                "threadId": session.id,
                "turn": {
                    "id": turn.id,
                    "rootTurnId": turn.id,
                    "items": summary_items,
                    "itemsView": "summary",
                    "status": status,
                    "error": error,
                    "startedAt": turn.started_at,
                    "completedAt": turn.completed_at,
                    "durationMs": turn.duration_ms,
                },
            },
            session.id,
            before_raw=lambda: self._expire_turn_requests(session, turn),
        )
        # A turn that ends while its thread is purged still expires what it left pending.
        self._expire_turn_requests(session, turn)
        if self.options.noise:
            self._rate_limits_updated()
        if len(session.turns) == 1 or turn is session.turns[0]:
            self._job(session, turn, "completed")

    def _expire_turn_requests(self, session: SessionState, turn: TurnState) -> None:
        """Expire the turn's pending tool calls, approvals and tool-input requests (the
        server's handling of turn/completed and turn/failed, before their raw frame)."""
        self.expire_calls(lambda call: call.thread_id == session.id and call.turn_id == turn.id)
        self.expire_decisions(session.id, turn_id=turn.id)

    def abandon_turn(self, session: SessionState, turn: TurnState) -> None:
        """End a turn silently (the codex process died): state only, no frames."""
        turn.status = "interrupted"
        turn.completed_at = epoch_seconds()
        turn.duration_ms = max(0, epoch_millis() - turn.started_ms)
        if session.active_turn_id == turn.id:
            session.active_turn_id = None

    # -- tool calls ------------------------------------------------------------------------

    def start_tool_call(
        self, session: SessionState, turn: TurnState, tool: str, arguments: JSONValue
    ) -> PendingCall:
        """The model calls a dynamic tool: frames, pending record, ``tool_call_requested``."""
        number = self.store.take_item_number()
        call_id = f"call_{number:06d}"
        self._raw_item(
            session,
            turn,
            {
                "type": "function_call",
                "status": "completed",
                "id": f"fc_{number:06d}",
                "name": tool,
                "arguments": json.dumps(arguments),
                "call_id": call_id,
            },
        )
        self._raw_response(session, turn)
        started = epoch_millis()
        item: JSONObject = {
            "type": "dynamicToolCall",
            "id": call_id,
            "namespace": None,
            "tool": tool,
            "arguments": copy.deepcopy(arguments),
            "status": "inProgress",
            "contentItems": None,
            "success": None,
            "durationMs": None,
            "startedAtMs": started,
            "completedAtMs": None,
        }
        turn.items.append(item)
        self.notify(
            "item/started",
            {
                "item": copy.deepcopy(item),
                "threadId": session.id,
                "turnId": turn.id,
                "startedAtMs": started,
            },
            session.id,
        )
        rpc_id = self.store.take_rpc_id()
        params: JSONObject = {
            "threadId": session.id,
            "turnId": turn.id,
            "callId": call_id,
            "namespace": None,
            "tool": tool,
            "arguments": copy.deepcopy(arguments),
        }
        loop = asyncio.get_running_loop()
        call = PendingCall(
            request_id=str(rpc_id),
            rpc_id=rpc_id,
            thread_id=session.id,
            turn_id=turn.id,
            call_id=call_id,
            tool=tool,
            arguments=copy.deepcopy(arguments),
            params=params,
            created_at=iso_now(),
            created_time=time.time(),
            transcript_id=f"tool-call-{rpc_id}-{self.store.take_row_number()}",
            future=loop.create_future(),
        )
        self.server_request_envelope("item/tool/call", params, rpc_id, session.id, turn.id)
        if session.system_owned:
            # The server answers codex itself; no pending record, no events.
            call.future.set_result(
                ToolCallAnswer(
                    payload={
                        "success": False,
                        "contentItems": [
                            {
                                "type": "inputText",
                                "text": "dynamic tool calls are not supported in "
                                "system-owned sessions",
                            }
                        ],
                    },
                    expired=False,
                )
            )
            return call
        self.store.calls[call.request_id] = call
        session.call_rows[call_id] = call.transcript_id
        self.store.record_tool_call(call)
        session.supplemental[call.transcript_id] = tool_call_row(call, "request")
        self.thread_event("tool_call_requested", call.public(), session.id)
        if self.faults.take_delete_on_tool_call():
            loop.call_soon(self.delete_session, session)
        return call

    def finish_tool_call(
        self, session: SessionState, turn: TurnState, call: PendingCall, answer: ToolCallAnswer
    ) -> None:
        """Codex got the result (or gave up): the dynamicToolCall item completes."""
        item = next(
            (
                it
                for it in turn.items
                if it.get("id") == call.call_id and it.get("type") == "dynamicToolCall"
            ),
            None,
        )
        if item is None:
            return
        completed = epoch_millis()
        started = item.get("startedAtMs")
        duration = completed - started if isinstance(started, int) else 0
        if answer.expired:
            item.update({"status": "failed", "durationMs": duration, "completedAtMs": completed})
            return
        items, text, success = content_texts(answer.payload)
        item.update(
            {
                "status": "completed" if success else "failed",
                "contentItems": list(items),
                "success": success,
                "durationMs": duration,
                "completedAtMs": completed,
            }
        )
        self.notify(
            "item/completed",
            {
                "item": copy.deepcopy(item),
                "threadId": session.id,
                "turnId": turn.id,
                "contentTokenCount": None,
                "completedAtMs": completed,
            },
            session.id,
        )
        self._raw_item(
            session,
            turn,
            {
                "type": "function_call_output",
                "id": f"fco_{uuid7()}",
                "call_id": call.call_id,
                "output": text,
            },
        )
        self._token_usage(session, turn)

    def resolve_call(self, call: PendingCall, payload: JSONValue) -> None:
        """A successful answer: transcript row, ``tool_call_resolved``, wake the agent."""
        self.store.calls.pop(call.request_id, None)
        flag = payload.get("success") if isinstance(payload, dict) else None
        success = flag if isinstance(flag, bool) else True
        self.store.update_tool_call(call, "resolved", payload)
        session = self.store.live(call.thread_id)
        if session is not None:
            session.supplemental[call.transcript_id] = tool_call_row(
                call, "resolved", success=success
            )
            self.thread_event(
                "tool_call_resolved",
                {"requestId": call.request_id, "status": "resolved", "success": success},
                call.thread_id,
            )
        if not call.future.done():
            call.future.set_result(ToolCallAnswer(payload=copy.deepcopy(payload), expired=False))

    def expire_calls(
        self, predicate: Callable[[PendingCall], bool], *, silent: bool = False
    ) -> int:
        """Expire matching pending and in-flight calls (codex is not answered)."""
        expired = [call for call in self.store.calls.values() if predicate(call)]
        for call in expired:
            self.store.calls.pop(call.request_id, None)
            self.store.update_tool_call(call, "expired")
            session = self.store.sessions.get(call.thread_id)
            if session is not None and not silent:
                session.supplemental[call.transcript_id] = tool_call_row(
                    call, "expired", success=False
                )
                self.thread_event(
                    "tool_call_resolved",
                    {"requestId": call.request_id, "status": "expired", "success": False},
                    call.thread_id,
                )
            if not call.future.done():
                call.future.set_result(ToolCallAnswer(payload=None, expired=True))
        return len(expired)

    def expire_decisions(
        self, thread_id: str | None, *, turn_id: str | None = None, silent: bool = False
    ) -> None:
        """Expire pending approvals / tool-input requests of a thread (all when None).

        With ``turn_id``, only those of that turn (records without a turn are not matched),
        as the server does when the turn completes or fails.
        """
        for key, decision in list(self.store.decisions.items()):
            if thread_id is not None and decision.thread_id != thread_id:
                continue
            if turn_id is not None and decision.turn_id != turn_id:
                continue
            del self.store.decisions[key]
            if not silent:
                id_field = "approvalId" if decision.kind == "approval" else "requestId"
                self._settle_decision(decision, "expired", {id_field: key, "status": "expired"})
            if not decision.future.done():
                decision.future.cancel()

    def resolve_decision(
        self, decision: PendingDecision, outcome: JSONObject, result: JSONValue
    ) -> None:
        """A client decided: transcript row, ``*_resolved`` event, and the answer to codex."""
        self.store.decisions.pop(decision.key, None)
        self._settle_decision(decision, "resolved", outcome)
        if not decision.future.done():
            decision.future.set_result(result)

    def _settle_decision(
        self,
        decision: PendingDecision,
        phase: Literal["resolved", "expired"],
        outcome: JSONObject,
    ) -> None:
        session = self.store.live(decision.thread_id)
        if session is not None:
            session.supplemental[decision.row_id] = decision_row(decision, phase, outcome)
        event = "approval_resolved" if decision.kind == "approval" else "tool_user_input_resolved"
        self.thread_event(event, outcome, decision.thread_id)

    def unsupported_request(
        self, session: SessionState, turn: TurnState, method: str, params: JSONObject
    ) -> int:
        """A server request the server does not handle: envelope, then ``server_request``.

        The server answers codex with JSON-RPC error -32601 itself; nothing stays pending.
        """
        rpc_id = self.store.take_rpc_id()
        self.server_request_envelope(method, params, rpc_id, session.id, turn.id)
        self.thread_event(
            "server_request",
            {"id": rpc_id, "method": method, "params": copy.deepcopy(params)},
            session.id,
        )
        return rpc_id

    # -- approvals and tool input ----------------------------------------------------------

    def request_decision(
        self,
        session: SessionState,
        turn_id: str | None,
        kind: str,
        method: str,
        params: JSONObject,
        record_extra: JSONObject,
    ) -> PendingDecision:
        """A server-initiated approval / user-input request with its pending record."""
        loop = asyncio.get_running_loop()
        rpc_id = self.store.take_rpc_id()
        key = str(rpc_id)
        self.server_request_envelope(method, params, rpc_id, session.id, turn_id)
        item_id = params.get("itemId")
        record: JSONObject = {
            "approvalId" if kind == "approval" else "requestId": key,
            "method": method,
            "threadId": session.id,
            "turnId": turn_id,
            "itemId": item_id if isinstance(item_id, str) else None,
            **record_extra,
            "details": copy.deepcopy(params),
            "createdAt": iso_now(),
            "status": "pending",
        }
        decision = PendingDecision(
            kind="approval" if kind == "approval" else "tool_input",
            key=key,
            rpc_id=rpc_id,
            thread_id=session.id,
            turn_id=turn_id,
            record=record,
            future=loop.create_future(),
        )
        self.store.decisions[key] = decision
        session.supplemental[decision.row_id] = decision_row(decision, "request")
        self.thread_event(
            "approval" if kind == "approval" else "tool_user_input_requested",
            copy.deepcopy(record),
            session.id,
        )
        return decision

    # -- session lifecycle -----------------------------------------------------------------

    def delete_session(self, session: SessionState) -> JSONObject:
        """Hard-delete: expire everything, purge, broadcast ``session_deleted``."""
        for turn in session.turns:
            if turn.task is not None and not turn.task.done():
                turn.task.cancel()
        self.expire_calls(lambda call: call.thread_id == session.id)
        self.expire_decisions(session.id)
        session.supplemental.clear()
        self.store.purged[session.id] = session.title
        # Rollout files are gone: after a restart (purged set cleared) the id is unknown.
        self.store.sessions.pop(session.id, None)
        payload = deleted_payload(session.id, session.title)
        self.session_broadcast("session_deleted", payload, session)
        if self.on_session_deleted is not None:
            self.on_session_deleted(session)
        return payload


def deleted_payload(session_id: str, title: str | None) -> JSONObject:
    """The DeletedSessionPayload body (410 and ``session_deleted``)."""
    payload: JSONObject = {"status": "deleted", "sessionId": session_id}
    if title is not None:
        payload["title"] = title
    payload["message"] = "This chat was permanently deleted and is no longer available."
    payload["deletedAt"] = iso_now()
    return payload
