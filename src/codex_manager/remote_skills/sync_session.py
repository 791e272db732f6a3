"""``SessionSkills``: the session-scoped registry of the synchronous client."""

from __future__ import annotations

import concurrent.futures
import contextvars
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from codex_manager._daemon_pool import DaemonThreadPool
from codex_manager._omit import OMIT, Omit
from codex_manager._stream_runs import ConnectionMark, current_run
from codex_manager.errors import (
    ClientClosedError,
    CodexManagerError,
    GoneError,
    PermissionDeniedError,
    UnexpectedResponseError,
)
from codex_manager.remote_skills._base import (
    PendingCallInput,
    SessionSkillsBase,
    SignalInput,
    pending_rows,
)
from codex_manager.remote_skills.calls import SkillAnswer, ToolCall
from codex_manager.remote_skills.catalog import CatalogSync
from codex_manager.remote_skills.dispatch import RemoteSkillDispatch
from codex_manager.remote_skills.errors import MalformedPendingCallsError
from codex_manager.remote_skills.execution import (
    LocalOutcome,
    SyncOutlived,
    execute_sync,
    prepare_call,
    run_in_place,
    timed_out,
)
from codex_manager.remote_skills.options import RemoteSkillOptions
from codex_manager.remote_skills.submit import SubmissionPolicy, SubmissionResult, submit_sync
from codex_manager.remote_skills.watchdog import shared_watchdog
from codex_manager.retry import RetryPolicy
from codex_manager.stream.dispatch import in_handler_worker
from codex_manager.types import (
    ApprovalPolicy,
    DynamicToolDefinition,
    FilesystemSandbox,
    NetworkAccess,
    ReasoningEffort,
    SendSessionMessageAcceptedResponse,
)

if TYPE_CHECKING:
    from codex_manager.client import CodexManager

__all__ = ["PreparedSend", "SessionSkills"]

logger = logging.getLogger("codex_manager.remote_skills")


@dataclass(frozen=True, slots=True)
class PreparedSend:
    """Result of ``send_prepared()``: the catalog step, then the message send."""

    catalog: CatalogSync
    """What ``prepare_catalog()`` did."""
    response: SendSessionMessageAcceptedResponse
    """The server's ``202 accepted`` answer to the message."""


class SessionSkills(SessionSkillsBase):
    """Remote skills of one session on :class:`~codex_manager.CodexManager`.

    Obtain it from ``cm.remote_skills.create_session(...)`` or ``cm.remote_skills.session(id)``.
    Safe to use from several threads (e.g. a stream handler thread and a periodic drain): each
    call is handled exactly once, keyed by (thread id, call id).
    """

    def __init__(
        self,
        client: CodexManager,
        session_id: str | None,
        options: RemoteSkillOptions,
        executor: concurrent.futures.Executor,
    ) -> None:
        """Internal: use ``cm.remote_skills.session(...)`` or ``create_session(...)``."""
        super().__init__(session_id, options)
        self._client = client
        self._executor = executor

    # -- talking to the server ----------------------------------------------------------------

    def send(
        self,
        text: str,
        *,
        inject_skills: bool = True,
        dynamic_tools: Sequence[DynamicToolDefinition] | Omit = OMIT,
        model: str | Omit = OMIT,
        effort: ReasoningEffort | Omit = OMIT,
        approval_policy: ApprovalPolicy | Omit = OMIT,
        network_access: NetworkAccess | Omit = OMIT,
        filesystem_sandbox: FilesystemSandbox | Omit = OMIT,
    ) -> SendSessionMessageAcceptedResponse:
        """Send a message to the session, with the current catalog as ``dynamic_tools``.

        ``inject_skills`` prepends :meth:`instruction_text`. Pass ``dynamic_tools`` to send a
        different catalog (``[]`` for none). Note that Codex 0.169 keeps the tool list fixed at
        session creation; the catalog sent here does not change what the model can call.
        """
        tools = self.dynamic_tools() if isinstance(dynamic_tools, Omit) else list(dynamic_tools)
        body = self.inject_request(text) if inject_skills else text
        return self._client.session(self.session_id).messages.send(
            body,
            dynamic_tools=tools,
            model=model,
            effort=effort,
            approval_policy=approval_policy,
            network_access=network_access,
            filesystem_sandbox=filesystem_sandbox,
        )

    def sync_runtime(self) -> CatalogSync:
        """Push the current catalog with ``POST /api/sessions/{id}/resume``.

        The result says what was sent and, honestly, what the model was given at creation
        (a :class:`CatalogWarning` is emitted when they differ).

        Raises:
            APIStatusError, TransportError: the server refused or could not be reached.
        """
        tools = self.dynamic_tools()
        self._client.sessions.resume(self.session_id, dynamic_tools=tools)
        return self._catalog_result("resume", tuple(tool["name"] for tool in tools))

    def prepare_catalog(self) -> CatalogSync:
        """Best-effort :meth:`sync_runtime` that never raises for server errors.

        When the resume fails and the session is not materialized yet (no first turn), the
        catalog is left to travel with the next :meth:`send` (``method="deferred_to_send"``).
        """
        tools = self.dynamic_tools()
        names = tuple(tool["name"] for tool in tools)
        try:
            self._client.sessions.resume(self.session_id, dynamic_tools=tools)
        except CodexManagerError as resume_error:
            try:
                read = self._client.sessions.get(self.session_id)
            except CodexManagerError as read_error:
                return self._catalog_result(
                    "failed", names, f"resume failed ({resume_error}); read failed ({read_error})"
                )
            if not read["session"]["materialized"]:
                return self._catalog_result("deferred_to_send", names)
            return self._catalog_result("failed", names, f"resume failed: {resume_error}")
        return self._catalog_result("resume", names)

    def send_prepared(
        self,
        text: str,
        *,
        inject_skills: bool = True,
        dynamic_tools: Sequence[DynamicToolDefinition] | Omit = OMIT,
        model: str | Omit = OMIT,
        effort: ReasoningEffort | Omit = OMIT,
        approval_policy: ApprovalPolicy | Omit = OMIT,
        network_access: NetworkAccess | Omit = OMIT,
        filesystem_sandbox: FilesystemSandbox | Omit = OMIT,
    ) -> PreparedSend:
        """:meth:`prepare_catalog` then :meth:`send`."""
        catalog = self.prepare_catalog()
        response = self.send(
            text,
            inject_skills=inject_skills,
            dynamic_tools=dynamic_tools,
            model=model,
            effort=effort,
            approval_policy=approval_policy,
            network_access=network_access,
            filesystem_sandbox=filesystem_sandbox,
        )
        return PreparedSend(catalog, response)

    # -- dispatch -----------------------------------------------------------------------------

    def _execute(self, call: ToolCall, outlived: SyncOutlived | None = None) -> LocalOutcome:
        prepared = prepare_call(self._registry, call, self._session_id, self._settings)
        if isinstance(prepared, LocalOutcome):
            return prepared
        return execute_sync(prepared, self._settings, self._executor, outlived)

    def dispatch_app_server_signal(self, signal: SignalInput) -> RemoteSkillDispatch | None:
        """Run the handler for a tool-call signal locally and submit nothing.

        Returns ``None`` for signals that are not tool calls of this session. Not tracked for
        exactly-once: use :meth:`respond_to_signal` to answer.
        """
        call = self._call_from_signal(signal)
        if call is None:
            return None
        start = time.perf_counter()
        return self._local_record(call, self._execute(call), start)

    def respond_to_signal(
        self,
        signal: SignalInput,
        *,
        max_submit_attempts: int | None = None,
        retry_delay_seconds: float | None = None,
    ) -> RemoteSkillDispatch | None:
        """Handle a tool-call signal and post the answer (the stream path).

        Returns ``None`` for signals that are not tool calls (or belong to another session),
        otherwise the dispatch record; a call already handled or in progress elsewhere gives a
        record with ``duplicate=True`` and runs nothing.
        """
        call = self._call_from_signal(signal)
        if call is None:
            return None
        policy = self._policy_for(max_submit_attempts, retry_delay_seconds)
        return self._respond(call, policy, self._read_at(signal))

    def respond_to_pending_call(
        self,
        call: PendingCallInput,
        *,
        max_submit_attempts: int | None = None,
        retry_delay_seconds: float | None = None,
    ) -> RemoteSkillDispatch | None:
        """Handle one pending-call row (from ``tool_calls.list()``) and post the answer.

        Returns ``None`` when the row is not a tool call of this session.
        """
        owned = self._call_from_pending(call)
        if owned is None:
            return None
        return self._respond(owned, self._policy_for(max_submit_attempts, retry_delay_seconds))

    def drain_pending_calls(
        self,
        *,
        max_submit_attempts: int | None = None,
        retry_delay_seconds: float | None = None,
    ) -> list[RemoteSkillDispatch]:
        """List this session's pending calls and resolve each (the websocket-free path).

        Safe to run alongside the stream path and on every reconnect. A deleted (410) or
        system-owned (403) session gives ``[]``.

        Raises:
            MalformedPendingCallsError: (a ``ValueError``) the list payload has no ``data``
                array.
        """
        try:
            listed = self._client.session(self.session_id).tool_calls.list()
        except (GoneError, PermissionDeniedError):
            return []
        except UnexpectedResponseError as exc:
            raise MalformedPendingCallsError(
                f"malformed tool-calls list payload for session {self.session_id!r}: {exc}"
            ) from exc
        rows = pending_rows(listed)

        def respond(row: PendingCallInput) -> RemoteSkillDispatch | None:
            try:
                return self.respond_to_pending_call(
                    row,
                    max_submit_attempts=max_submit_attempts,
                    retry_delay_seconds=retry_delay_seconds,
                )
            except ClientClosedError:
                return None  # the client closes: not run, it stays pending for the next drain

        if len(rows) <= 1:
            results = [respond(row) for row in rows]
        else:
            # Calls are resolved side by side so one slow handler does not hold back the rest;
            # these threads only wait, the handlers themselves run on the registry's pool.
            # Daemon threads, not joined on the way out: Ctrl-C (or any error here) returns
            # at once, and the calls already started are answered meanwhile in the background
            # (closing the client waits for them, as for every call in progress; those not
            # started stay pending).
            workers = min(len(rows), self._options.thread_bound())
            pool = DaemonThreadPool(workers, "remote-skill-drain")
            # Each in a copy of this context, as in place: a stream run's mark goes along.
            calls = [pool.submit(contextvars.copy_context().run, respond, row) for row in rows]
            try:
                results = [call.result() for call in calls]
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
        return [record for record in results if record is not None]

    def _still_pending(self, call: ToolCall) -> bool | None:
        try:
            listed = self._client.session(call.thread_id).tool_calls.list(
                retry=RetryPolicy.disabled()
            )
        except (GoneError, PermissionDeniedError):
            return False
        except CodexManagerError:
            return None
        return self._listed_as_ours(listed, call)

    def _respond(
        self, call: ToolCall, policy: SubmissionPolicy, read_at: float | None = None
    ) -> RemoteSkillDispatch:
        """Answer ``call``; ``read_at``: when the stream read it, if it did (its deadline)."""
        if current_run.get() is not None:  # a stream handler's call: its run covers it
            return self._respond_now(call, policy, read_at)
        with self._close_waits_for(self._client, call):
            return self._respond_now(call, policy, read_at)

    def _respond_now(
        self, call: ToolCall, policy: SubmissionPolicy, read_at: float | None
    ) -> RemoteSkillDispatch:
        self._refuse_on_closed_client(self._client.is_closed, call)
        start = time.perf_counter()
        claim = self._tracker.claim(call.key)
        if claim.action in ("busy", "done"):
            return self._duplicate(call, start)
        resubmitted = claim.action == "resubmit" and claim.answer is not None
        mark = ConnectionMark.now()
        still_running: list[concurrent.futures.Future[LocalOutcome]] = []
        try:
            if resubmitted and claim.answer is not None:
                outcome = claim.answer
            elif in_handler_worker():
                ran = self._execute_in_place(
                    call, policy, start, mark, read_at, still_running.append
                )
                if isinstance(ran, RemoteSkillDispatch):
                    return ran  # the deadline passed: the watchdog's pool answered the call
                outcome = ran
            else:
                outcome = self._execute(call, still_running.append)
        except BaseException:
            if not (
                still_running
                and self._answer_once_returned(call, still_running[0], policy, start, mark)
            ):
                self._give_back(call.key, still_running)
            raise
        try:
            return self._complete(call, outcome, policy, start, resubmitted, mark)
        except BaseException as interruption:
            if not isinstance(interruption, Exception):
                # Ctrl-C while the answer was on its way (a wait between attempts, the POST):
                # it goes on from a thread of its own, the client's close() waiting for it,
                # or a program ending now leaves the call for the next process to run again.

                def send_later(kept: LocalOutcome) -> bool:
                    delivered: concurrent.futures.Future[LocalOutcome] = concurrent.futures.Future()
                    delivered.set_result(kept)
                    return self._answer_once_returned(call, delivered, policy, start, mark)

                self._keep_delivering(call, send_later)
            raise

    def _answer_once_returned(
        self,
        call: ToolCall,
        outcome: concurrent.futures.Future[LocalOutcome],
        policy: SubmissionPolicy,
        start: float,
        mark: ConnectionMark | None,
    ) -> bool:
        """The caller was interrupted (Ctrl-C) while the handler runs on in its worker thread:
        send its answer once it returns, from a thread of its own, the client's ``close()``
        waiting for it. Otherwise the call stays pending, and a program that exits on Ctrl-C
        leaves it to the next process's drain, which would run the handler a second time.
        ``False`` when the client is closing already (the answer is kept for a later drain).
        """
        try:
            waited = self._waited_by_close(self._client)
        except ClientClosedError:
            return False

        def answer(returned: concurrent.futures.Future[LocalOutcome]) -> None:
            try:
                record = self._complete(call, returned.result(), policy, start, False, mark)
            except BaseException as exc:
                self._report_late_answer(call, None, exc, "was interrupted")
            else:
                self._report_late_answer(call, record, None, "was interrupted")
            finally:
                if waited is not None:
                    waited[1]()

        def in_a_thread(returned: concurrent.futures.Future[LocalOutcome]) -> None:
            try:
                threading.Thread(
                    target=answer, args=(returned,), name="remote-skill-late-answer", daemon=True
                ).start()
            except RuntimeError:  # no thread to be had: from the handler's worker, then
                answer(returned)

        outcome.add_done_callback(in_a_thread)
        return True

    def _execute_in_place(
        self,
        call: ToolCall,
        policy: SubmissionPolicy,
        start: float,
        mark: ConnectionMark | None,
        read_at: float | None,
        outlived: SyncOutlived | None = None,
    ) -> LocalOutcome | RemoteSkillDispatch:
        """Run a plain handler in this (stream worker) thread instead of a second pool.

        The timeout stays honest: a watchdog answers the call with the timeout failure at the
        deadline (from a thread of its own) while the handler keeps this thread until it returns,
        just as it would keep a pool thread. Async handlers keep their own loop on the pool.
        """
        prepared = prepare_call(self._registry, call, self._session_id, self._settings)
        if isinstance(prepared, LocalOutcome):
            return prepared
        if self._waited_past_deadline(prepared, read_at):
            return timed_out(prepared)
        if prepared.skill.is_async:
            return execute_sync(prepared, self._settings, self._executor, outlived)
        if prepared.timeout is None:
            return run_in_place(prepared, self._settings)
        race = _DeadlineRace()

        def answer_late() -> None:
            try:
                race.record = self._complete(call, timed_out(prepared), policy, start, False, mark)
            except BaseException as exc:
                race.error = exc
            finally:
                race.settled.release()

        def expire() -> None:
            if not race.claim():
                return
            # The answer goes out on a thread of its own: not the watchdog's (it must not wait
            # on the network), not the registry's pool (handlers that timed out keep its
            # threads, and all of them may be taken). Deadlines passing are rare.
            try:
                threading.Thread(
                    target=answer_late, name="remote-skill-timeout-answer", daemon=True
                ).start()
            except RuntimeError as exc:  # no thread to be had: the handler's thread hears it
                race.give_up(exc)

        watchdog = shared_watchdog()
        timer = watchdog.schedule(prepared.timeout, expire)
        try:
            outcome = run_in_place(prepared, self._settings)
        except BaseException:
            if race.claim():
                watchdog.cancel(timer)
                raise
            # run_in_place makes an answer of whatever the handler raises: only a failure of
            # the SDK's own gets here. After the deadline the timeout answer stands, and the
            # call must stay claimed until it is delivered, or a drain would run it again.
            logger.warning(
                "running tool %r failed after its deadline; the timeout answer stands",
                prepared.skill.name,
                exc_info=True,
            )
        else:
            if race.claim():
                watchdog.cancel(timer)
                return outcome
        # The watchdog won: its answer (the timeout failure) is the one the server got.
        race.settled.acquire()
        if race.error is not None:
            raise race.error
        assert race.record is not None
        return race.record

    def _complete(
        self,
        call: ToolCall,
        outcome: LocalOutcome,
        policy: SubmissionPolicy,
        start: float,
        resubmitted: bool,
        mark: ConnectionMark | None,
    ) -> RemoteSkillDispatch:
        """Post the answer for a claimed call and record the result."""
        check_first = self._check_first(time.perf_counter() - start, resubmitted, mark)
        try:
            request_id = call.request_id
            if request_id is None:
                result = self._no_request_id
            else:
                result = self._deliver(request_id, call, outcome.answer, policy, check_first)
                if result.too_large:
                    refused = result
                    outcome = self._too_large(call, outcome, refused)
                    sent = self._deliver(request_id, call, outcome.answer, policy, False)
                    result = replace(sent, attempts=refused.attempts + sent.attempts)
        except BaseException:
            self._tracker.unsent(call.key, outcome)
            raise
        return self._settle(call, outcome, result, start, resubmitted)

    def _deliver(
        self,
        request_id: str,
        call: ToolCall,
        answer: SkillAnswer,
        policy: SubmissionPolicy,
        check_first: bool,
    ) -> SubmissionResult:
        """Post ``answer`` (with the policy's retries)."""
        return submit_sync(
            lambda: self._client.tool_calls.respond(
                request_id,
                content_items=list(answer.content_items),
                success=answer.success,
                retry=RetryPolicy.disabled(),
            ),
            policy,
            still_pending=lambda: self._still_pending(call),
            check_first=check_first,
            expected_thread=call.thread_id,
            cut_short=lambda: self._closing(self._client),
        )


class _DeadlineRace:
    """Who answers an in-place call: the returning handler or the watchdog (first claim wins)."""

    __slots__ = ("_token", "error", "record", "settled")

    def __init__(self) -> None:
        self._token = threading.Lock()
        # Held until the watchdog's answer is settled; only its loser ever waits on it (a
        # plain lock: an Event per call costs a Condition the common case never uses).
        self.settled = threading.Lock()
        self.settled.acquire()
        self.record: RemoteSkillDispatch | None = None
        self.error: BaseException | None = None

    def claim(self) -> bool:
        """``True`` for the first caller only."""
        return self._token.acquire(blocking=False)

    def give_up(self, error: BaseException) -> None:
        """The watchdog won but cannot answer: the handler's thread raises ``error``."""
        self.error = error
        self.settled.release()
