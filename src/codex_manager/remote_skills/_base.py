"""What the sync and async session registries share: everything that does no I/O."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, TypeAlias, TypeVar, overload

from codex_manager._stream_runs import (
    ConnectionMark,
    StreamRun,
    current_run,
    read_mark,
    runs_of,
)
from codex_manager.errors import ClientClosedError
from codex_manager.remote_skills.calls import SkillAnswer, ToolCall
from codex_manager.remote_skills.catalog import (
    CatalogSync,
    catalog_warning_text,
    late_registration_text,
    warn_catalog,
)
from codex_manager.remote_skills.dedupe import CallKey, CallTracker
from codex_manager.remote_skills.dispatch import RemoteSkillDispatch
from codex_manager.remote_skills.errors import (
    MalformedPendingCallsError,
    SessionNotBoundError,
    SkillNotFoundError,
)
from codex_manager.remote_skills.execution import (
    DEFAULT_TIMEOUT_SECONDS,
    LocalOutcome,
    PreparedCall,
)
from codex_manager.remote_skills.options import RemoteSkillOptions
from codex_manager.remote_skills.registry import CatalogView, SkillRegistry
from codex_manager.remote_skills.signals import (
    signal_session_id,
    signal_thread_id,
    tool_call_from_pending,
    tool_call_from_signal,
)
from codex_manager.remote_skills.skill import RemoteSkill, SkillHandler, build_skill
from codex_manager.remote_skills.submit import SubmissionPolicy, SubmissionResult, SubmissionStatus
from codex_manager.stream.frames import StreamEvent
from codex_manager.types import DynamicToolDefinition, PendingToolCall

if TYPE_CHECKING:
    # The stream's decoded model (msgspec), imported on first use of the stream models.
    from codex_manager.stream.models import PendingToolCall as StreamPendingToolCall

__all__ = [
    "HandlerT",
    "PendingCallInput",
    "SessionSkillsBase",
    "SignalInput",
    "SkillScope",
    "pending_rows",
]

logger = logging.getLogger("codex_manager.remote_skills")

HandlerT = TypeVar("HandlerT", bound=SkillHandler)
SessionT = TypeVar("SessionT", bound="SessionSkillsBase")

SignalInput: TypeAlias = StreamEvent | Mapping[str, object]
"""A stream event or signal (``AppServerSignal`` is a ``StreamEvent``), or a raw frame dict."""

PendingCallInput: TypeAlias = "PendingToolCall | StreamPendingToolCall | Mapping[str, object]"
"""One row of ``GET /api/sessions/{id}/tool-calls``, or a ``tool_call_requested`` payload (as
``event.decode_payload(codex_manager.stream.PendingToolCall)`` gives it, or as a mapping)."""

_NO_REQUEST_ID = SubmissionResult("failed", False, 0, "the call carries no request id to answer")

_CONFIRMED: frozenset[SubmissionStatus] = frozenset({"accepted", "misrouted"})
"""Answers the server took (a 200): the call is over. ``misrouted``: the server restarted and
the call it was for is gone."""


_open_scopes: contextvars.ContextVar[tuple[SkillScope[Any], ...]] = contextvars.ContextVar(
    "codex_manager_skill_scopes", default=()
)
"""The ``using()`` blocks open in this thread or task, innermost last."""


class SkillScope(Generic[SessionT]):
    """What ``using(...)`` returns: scoped registration for ``with`` or ``async with``.

    On entry the optional skill is registered; on exit every skill the block registered
    (including that one) is unregistered, even when the block raised. Only the block's own
    registrations count: those of its thread or task, so scopes that overlap in other tasks
    or threads keep theirs.
    """

    def __init__(self, skills: SessionT, register: Callable[[], RemoteSkill | None]) -> None:
        self.skills = skills
        self._register = register
        self.added: list[RemoteSkill] = []
        self._token: contextvars.Token[tuple[SkillScope[Any], ...]] | None = None

    def __enter__(self) -> SessionT:
        self.added = []
        self._token = _open_scopes.set((*_open_scopes.get(), self))
        try:
            self._register()
        except BaseException:
            # No ``with`` body, so no __exit__: left open, the scope would collect every
            # later registration of this thread or task.
            self.__exit__()
            raise
        return self.skills

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _open_scopes.reset(self._token)
            self._token = None
        for skill in self.added:
            if self.skills.get(skill.name) is skill:  # not replaced or removed meanwhile
                self.skills.unregister(skill.name)

    async def __aenter__(self) -> SessionT:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__()


def _nothing() -> None:
    """What stopping a call already running does: nothing, it finishes."""


class SessionSkillsBase:
    """Registry operations of one session; the I/O methods live in the sync/async subclasses."""

    def __init__(self, session_id: str | None, options: RemoteSkillOptions) -> None:
        self._session_id = session_id
        self._options = options
        self._settings = options.execution_settings()
        self._policy = options.submission_policy()
        self._registry = SkillRegistry()
        self._tracker: CallTracker[LocalOutcome] = CallTracker(options.dedupe_memory)

    # -- identity -------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        """The session (thread) this registry serves.

        Raises:
            SessionNotBoundError: inside a ``create_session`` register callback, before the
                session exists.
        """
        if self._session_id is None:
            raise SessionNotBoundError(
                "this registry is not attached to a session yet (the session is created after "
                "the register callback returns)"
            )
        return self._session_id

    @property
    def options(self) -> RemoteSkillOptions:
        """The options in force for this session."""
        return self._options

    def _bind(self, session_id: str, creation_catalog: tuple[str, ...] | None) -> None:
        self._session_id = session_id
        if creation_catalog is not None:
            self._registry.mark_created(creation_catalog)

    # -- registration -----------------------------------------------------------------------

    def register(
        self,
        name: str | None,
        handler: SkillHandler,
        *,
        description: str | None = None,
        input_schema: Mapping[str, object] | None = None,
        output_schema: Mapping[str, object] | None = None,
        timeout_seconds: float | None = None,
        replace: bool = False,
    ) -> RemoteSkill:
        """Register ``handler`` as the tool ``name`` (``None``: the function's name).

        Without ``input_schema`` the schema is synthesized from the signature and docstring;
        an explicit one is used exactly as given. ``output_schema`` (or the return annotation)
        documents the result in :meth:`instruction_text`.

        Raises:
            SkillRegistrationError: bad name or description, a schema Codex would reject, a
                signature that cannot be a tool, a taken name (without ``replace=True``), or
                more than 128 tools.
        """
        skill = build_skill(
            name,
            handler,
            description=description,
            input_schema=input_schema,
            output_schema=output_schema,
            timeout_seconds=timeout_seconds,
        )
        self._registry.add(skill, replace=replace)
        for scope in _open_scopes.get():  # the using() blocks this registration happens in
            if scope.skills is self:
                scope.added.append(skill)
        warn_catalog(late_registration_text(skill.name, self._registry.creation_catalog))
        return skill

    @overload
    def skill(self, handler: HandlerT, /) -> HandlerT: ...

    @overload
    def skill(
        self,
        handler: None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        input_schema: Mapping[str, object] | None = None,
        output_schema: Mapping[str, object] | None = None,
        timeout_seconds: float | None = None,
        replace: bool = False,
    ) -> Callable[[HandlerT], HandlerT]: ...

    def skill(
        self,
        handler: HandlerT | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        input_schema: Mapping[str, object] | None = None,
        output_schema: Mapping[str, object] | None = None,
        timeout_seconds: float | None = None,
        replace: bool = False,
    ) -> HandlerT | Callable[[HandlerT], HandlerT]:
        """Decorator form of :meth:`register`: ``@skills.skill`` or ``@skills.skill(name=...)``.

        Returns the function unchanged, so it stays callable as plain Python.
        """

        def decorate(function: HandlerT) -> HandlerT:
            self.register(
                name,
                function,
                description=description,
                input_schema=input_schema,
                output_schema=output_schema,
                timeout_seconds=timeout_seconds,
                replace=replace,
            )
            return function

        if handler is not None:
            return decorate(handler)
        return decorate

    def using(
        self,
        handler: SkillHandler | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        input_schema: Mapping[str, object] | None = None,
        output_schema: Mapping[str, object] | None = None,
        timeout_seconds: float | None = None,
    ) -> SkillScope[Self]:
        """Scoped registration: skills added for a block are removed when it ends.

        ``with skills.using(handler, name=...):`` registers one skill for the block;
        ``with skills.using():`` removes at exit every skill registered inside it. Works with
        ``async with`` too.
        """

        def register() -> RemoteSkill | None:
            if handler is None:
                return None
            return self.register(
                name,
                handler,
                description=description,
                input_schema=input_schema,
                output_schema=output_schema,
                timeout_seconds=timeout_seconds,
            )

        return SkillScope(self, register)

    def unregister(self, name: str, *, missing_ok: bool = True) -> bool:
        """Remove the skill ``name``; returns whether it was registered.

        Calls to it that arrive later get a "no longer available" answer. Codex keeps the tool
        list it was given at session start, see :meth:`catalog_view`.

        Raises:
            SkillNotFoundError: ``missing_ok=False`` and no such skill.
        """
        removed = self._registry.remove(name)
        if removed is None and not missing_ok:
            raise SkillNotFoundError(name)
        return removed is not None

    def clear(self) -> tuple[str, ...]:
        """Remove every skill; returns the removed names."""
        return self._registry.clear()

    def get(self, name: str) -> RemoteSkill | None:
        """The skill registered as ``name``, if any."""
        return self._registry.get(name)

    def names(self) -> tuple[str, ...]:
        """Registered skill names, in registration order."""
        return self._registry.names()

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._registry.get(name) is not None

    def __len__(self) -> int:
        return len(self._registry.names())

    # -- catalog ------------------------------------------------------------------------------

    def dynamic_tools(self) -> list[DynamicToolDefinition]:
        """The ``dynamicTools`` payload: ``name``, ``description`` and ``inputSchema`` of each."""
        return [
            {
                "name": spec["name"],
                "description": spec["description"],
                "inputSchema": spec["inputSchema"],
            }
            for spec in self._registry.definitions()
        ]

    def instruction_text(self) -> str:
        """Deterministic text listing every skill with its input and output contracts.

        Empty when no skill is registered.
        """
        return self._registry.instruction_text()

    def inject_request(self, text: str) -> str:
        """``text`` preceded by :meth:`instruction_text` (unchanged when there are no skills)."""
        instructions = self.instruction_text()
        if not instructions:
            return text
        return f"{instructions}\n\n{text}"

    def catalog_view(self) -> CatalogView:
        """Which tools the model was given at creation versus which exist locally now."""
        return self._registry.view()

    def _catalog_result(
        self,
        method: Literal["resume", "deferred_to_send", "failed"],
        tools_sent: tuple[str, ...],
        error: str | None = None,
    ) -> CatalogSync:
        view = self._registry.view()
        warning = catalog_warning_text(view)
        warn_catalog(warning)
        return CatalogSync(
            method=method,
            tools_sent=tools_sent,
            model_tools=view.model_tools,
            local_only=view.local_only,
            removed=view.removed,
            warning=warning,
            error=error,
        )

    # -- matching -----------------------------------------------------------------------------

    def _owned_call(self, call: ToolCall | None) -> ToolCall | None:
        if call is None or self._session_id is None:
            return None
        return call if call.thread_id == self._session_id else None

    def _call_from_signal(self, signal: SignalInput) -> ToolCall | None:
        call = tool_call_from_signal(signal)
        if call is None or self._session_id is None:
            return None
        named_session = signal_session_id(signal)
        if named_session is not None and named_session != self._session_id:
            return None
        frame_thread = signal_thread_id(signal)
        if frame_thread is not None and frame_thread != self._session_id:
            return None
        return self._owned_call(call)

    def _call_from_pending(self, row: PendingCallInput) -> ToolCall | None:
        return self._owned_call(tool_call_from_pending(row))

    def matches_signal(self, signal: SignalInput) -> bool:
        """Whether ``signal`` is a tool call of this session (thread id and session both match)."""
        return self._call_from_signal(signal) is not None

    # -- shared pipeline pieces -----------------------------------------------------------------

    def _policy_for(
        self, max_submit_attempts: int | None, retry_delay_seconds: float | None
    ) -> SubmissionPolicy:
        return self._policy.overridden(max_submit_attempts, retry_delay_seconds)

    @contextlib.contextmanager
    def _close_waits_for(self, client: object, call: ToolCall) -> Iterator[None]:
        """Have the client's ``close()`` wait for ``call`` while it runs, so that its answer
        still goes out: for calls outside a stream's handlers (a drain's, a ``respond_to_*``
        of the caller's own thread or task), which no stream run covers (the callers check
        :data:`current_run` first). A close from the call's own handler does not wait for
        itself.

        Raises:
            ClientClosedError: the client is closing: the call is not run (it stays pending).
        """
        try:
            waited = self._waited_by_close(client)
        except ClientClosedError:
            self._refuse_on_closed_client(True, call)
            raise  # not reached: the line above raises its own
        if waited is None:
            yield  # not an SDK client (a test double): nothing closes under it
            return
        run, done = waited
        token = current_run.set(run)
        try:
            yield
        finally:
            current_run.reset(token)
            done()

    def _waited_by_close(self, client: object) -> tuple[StreamRun, Callable[[], None]] | None:
        """A run the client's ``close()`` waits for (up to the registry's default timeout)
        until the returned function is called; ``None`` for a client that is not the SDK's.

        Raises:
            ClientClosedError: the client is closing.
        """
        runs = runs_of(client)
        if runs is None:
            return None
        finished = threading.Event()
        timeout = self._options.default_timeout_seconds
        run = StreamRun(
            stop=_nothing,  # already started: let it finish
            grace_seconds=DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout,
            handlers_idle=finished.is_set,
        )
        runs.enter(run)

        def done() -> None:
            finished.set()
            runs.leave(run)

        return run, done

    @staticmethod
    def _closing(client: object) -> bool:
        """Whether ``client``'s close began: waits between answer attempts end early then."""
        runs = runs_of(client)
        return runs is not None and runs.closing

    @staticmethod
    def _refuse_on_closed_client(closed: bool, call: ToolCall) -> None:
        """Raise before the handler runs when the client is closed: its answer could not go out.

        Raises:
            ClientClosedError: ``closed`` is true.
        """
        if closed:
            raise ClientClosedError(
                f"the client is closed: tool call {call.request_id!r} ({call.tool}) of session "
                f"{call.thread_id!r} was not run, its answer could not be sent"
            )

    @staticmethod
    def _duplicate(call: ToolCall, start: float) -> RemoteSkillDispatch:
        return RemoteSkillDispatch.build(
            call, None, None, None, time.perf_counter() - start, duplicate=True
        )

    def _keep_delivering(self, call: ToolCall, send_later: Callable[[LocalOutcome], bool]) -> None:
        """The delivery of ``call``'s answer was interrupted (Ctrl-C, a cancel): take the call
        back (``_complete`` left it unsent) and have ``send_later`` deliver the answer in the
        background, the call kept claimed meanwhile; should it be unable to (the client
        closes), the answer is kept for a later drain. A drain that took the call meanwhile
        sends it instead."""
        again = self._tracker.claim(call.key)
        if again.action == "resubmit" and again.answer is not None:
            if not send_later(again.answer):
                self._tracker.unsent(call.key, again.answer)
        elif again.action in ("run", "resubmit"):
            self._tracker.release(call.key)  # nothing kept to send: as it was

    @staticmethod
    def _read_at(signal: object) -> float | None:
        """When the stream read ``signal``, if it is the event the calling handler handles
        (``None`` otherwise: a drain's call, one a handler answers for another event)."""
        mark = read_mark.get()
        return mark.read_at if mark is not None and mark.marks(signal) else None

    @staticmethod
    def _waited_past_deadline(prepared: PreparedCall, read_at: float | None) -> bool:
        """Whether a call the stream read waited for a handler thread (or slot) past its whole
        deadline, which counts from when the stream read it: it must not start then."""
        timeout = prepared.timeout
        return timeout is not None and read_at is not None and time.monotonic() - read_at >= timeout

    @staticmethod
    def _too_large(
        call: ToolCall, outcome: LocalOutcome, refused: SubmissionResult
    ) -> LocalOutcome:
        """What to answer instead of a result the server refused as too large (413): sent
        again, it would be refused on every drain until the call expired, the model never
        told why."""
        size = sum(
            len(str(item.get("text", item.get("imageUrl", ""))))
            for item in outcome.answer.content_items
        )
        text = (
            f"Tool {call.tool!r} returned a result too large for the server to take "
            f"(about {size:,} characters); nothing of it was delivered."
        )
        return LocalOutcome(
            SkillAnswer.failure(text),
            outcome.handled,
            f"{text} ({refused.error})",
            "result_conversion",
        )

    def _settle(
        self,
        call: ToolCall,
        outcome: LocalOutcome,
        result: SubmissionResult,
        start: float,
        resubmitted: bool,
    ) -> RemoteSkillDispatch:
        if result.status in _CONFIRMED:
            self._tracker.delivered(call.key)
        else:
            # Kept for a resubmission, not run again, should the call show up pending once
            # more: also after a 404 or 409, for the server puts a call whose delivery failed
            # back to pending, and a call being delivered is not listed as pending.
            self._tracker.unsent(call.key, outcome)
        return RemoteSkillDispatch.build(
            call,
            outcome,
            outcome.answer,
            result,
            time.perf_counter() - start,
            resubmitted=resubmitted,
        )

    @staticmethod
    def _local_record(call: ToolCall, outcome: LocalOutcome, start: float) -> RemoteSkillDispatch:
        return RemoteSkillDispatch.build(
            call, outcome, outcome.answer, None, time.perf_counter() - start
        )

    _no_request_id = _NO_REQUEST_ID

    @staticmethod
    def _report_late_answer(
        call: ToolCall, record: RemoteSkillDispatch | None, error: BaseException | None, why: str
    ) -> None:
        """Log how the answer of a call whose caller is gone (``why``: "was interrupted", "was
        cancelled") fared: only a failure, as no caller reads the record."""
        if error is not None:  # the answer is kept for a later drain (see _complete)
            logger.warning(
                "tool call %s (%s): the answer of a handler whose caller %s could not be sent",
                call.request_id,
                call.tool,
                why,
                exc_info=error,
            )
        elif record is not None and record.submission_status != "accepted":
            logger.warning(
                "tool call %s (%s): the answer of a handler whose caller %s was not accepted: "
                "%s %s",
                call.request_id,
                call.tool,
                why,
                record.submission_status,
                record.submission_error or "",
            )

    def _give_back(
        self,
        key: CallKey,
        still_running: Sequence[
            asyncio.Future[LocalOutcome] | concurrent.futures.Future[LocalOutcome]
        ],
    ) -> None:
        """The caller was interrupted (Ctrl-C, a cancel) before the call was answered.

        A handler still running in its worker thread (``still_running``: the outcome it will
        have) keeps the call taken until it returns, then its answer waits for a resubmission
        (a later drain or redelivery sends it without running the handler again): released
        now, the next drain would run it a second time. Otherwise the call is released.
        """
        if still_running:
            still_running[0].add_done_callback(
                lambda done: self._tracker.unsent(key, done.result())
            )
        else:
            self._tracker.release(key)

    def _check_first(
        self, handler_seconds: float, resubmitted: bool, mark: ConnectionMark | None
    ) -> bool:
        """Whether to check, before posting, that the call is still pending in its session:
        its handler took long enough for a restart, the answer is a resubmission, or the
        stream that brought the call lost its connection meanwhile (a restart drops it)."""
        threshold = self._options.ownership_check_after_seconds
        if threshold is None:
            return False
        return (
            resubmitted or handler_seconds >= threshold or (mark is not None and mark.lost_since())
        )

    @staticmethod
    def _listed_as_ours(listed: object, call: ToolCall) -> bool:
        """Whether a ``tool_calls.list()`` payload still holds ``call`` at its request id."""
        try:
            rows = pending_rows(listed)
        except ValueError:
            return False
        for row in rows:
            found = tool_call_from_pending(row)
            if found is not None and found.request_id == call.request_id:
                return found.key == call.key
        return False


def pending_rows(listed: object) -> list[Mapping[str, object]]:
    """The rows of a ``tool_calls.list()`` payload.

    Raises:
        MalformedPendingCallsError: (a ``ValueError``) the payload is not an object with a
            ``data`` array.
    """
    data = listed.get("data") if isinstance(listed, Mapping) else None
    if not isinstance(data, list):
        shape = sorted(listed) if isinstance(listed, Mapping) else type(listed).__name__
        raise MalformedPendingCallsError(
            "malformed tool-calls list payload: expected an object with a 'data' array, "
            f"got {shape}"
        )
    return [row for row in data if isinstance(row, Mapping)]
