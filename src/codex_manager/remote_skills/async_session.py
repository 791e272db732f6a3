"""``AsyncSessionSkills``: the session-scoped registry of the asynchronous client."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

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
    Outlived,
    execute_async,
    prepare_call,
    timed_out,
)
from codex_manager.remote_skills.options import RemoteSkillOptions
from codex_manager.remote_skills.submit import SubmissionPolicy, SubmissionResult, submit_async
from codex_manager.remote_skills.sync_session import PreparedSend
from codex_manager.retry import RetryPolicy
from codex_manager.types import (
    ApprovalPolicy,
    DynamicToolDefinition,
    FilesystemSandbox,
    NetworkAccess,
    ReasoningEffort,
    SendSessionMessageAcceptedResponse,
)

if TYPE_CHECKING:
    from codex_manager.client import AsyncCodexManager

__all__ = ["AsyncRuntime", "AsyncSessionSkills"]


@dataclass(slots=True)
class AsyncRuntime:
    """What all sessions of one async client share: the concurrency bound and worker threads."""

    max_concurrent_calls: int
    executor: concurrent.futures.Executor
    _semaphore: asyncio.Semaphore | None = None
    late_answers: set[asyncio.Task[None]] = field(default_factory=set)
    """Answers sent after their caller was cancelled (held here: the loop keeps weak refs)."""

    @property
    def semaphore(self) -> asyncio.Semaphore:
        """The bound on calls handled at once (created on first use, inside the loop)."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrent_calls)
        return self._semaphore


class AsyncSessionSkills(SessionSkillsBase):
    """Remote skills of one session on :class:`~codex_manager.AsyncCodexManager`.

    Async handlers run on the event loop, sync handlers in worker threads; calls run
    concurrently up to the client's ``max_concurrent_calls``, and each call is handled exactly
    once even when the stream path and :meth:`drain_pending_calls` see it together.
    """

    def __init__(
        self,
        client: AsyncCodexManager,
        session_id: str | None,
        options: RemoteSkillOptions,
        runtime: AsyncRuntime,
    ) -> None:
        """Internal: use ``cm.remote_skills.session(...)`` or ``create_session(...)``."""
        super().__init__(session_id, options)
        self._client = client
        self._runtime = runtime

    # -- talking to the server ----------------------------------------------------------------

    async def send(
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
        """Async twin of ``SessionSkills.send``."""
        tools = self.dynamic_tools() if isinstance(dynamic_tools, Omit) else list(dynamic_tools)
        body = self.inject_request(text) if inject_skills else text
        return await self._client.session(self.session_id).messages.send(
            body,
            dynamic_tools=tools,
            model=model,
            effort=effort,
            approval_policy=approval_policy,
            network_access=network_access,
            filesystem_sandbox=filesystem_sandbox,
        )

    async def sync_runtime(self) -> CatalogSync:
        """Async twin of ``SessionSkills.sync_runtime``."""
        tools = self.dynamic_tools()
        await self._client.sessions.resume(self.session_id, dynamic_tools=tools)
        return self._catalog_result("resume", tuple(tool["name"] for tool in tools))

    async def prepare_catalog(self) -> CatalogSync:
        """Async twin of ``SessionSkills.prepare_catalog``."""
        tools = self.dynamic_tools()
        names = tuple(tool["name"] for tool in tools)
        try:
            await self._client.sessions.resume(self.session_id, dynamic_tools=tools)
        except CodexManagerError as resume_error:
            try:
                read = await self._client.sessions.get(self.session_id)
            except CodexManagerError as read_error:
                return self._catalog_result(
                    "failed", names, f"resume failed ({resume_error}); read failed ({read_error})"
                )
            if not read["session"]["materialized"]:
                return self._catalog_result("deferred_to_send", names)
            return self._catalog_result("failed", names, f"resume failed: {resume_error}")
        return self._catalog_result("resume", names)

    async def send_prepared(
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
        catalog = await self.prepare_catalog()
        response = await self.send(
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

    async def _execute(
        self,
        call: ToolCall,
        outlived: Outlived | None = None,
        read_at: float | None = None,
    ) -> LocalOutcome:
        prepared = prepare_call(self._registry, call, self._session_id, self._settings)
        if isinstance(prepared, LocalOutcome):
            return prepared
        if self._waited_past_deadline(prepared, read_at):
            return timed_out(prepared)
        return await execute_async(prepared, self._settings, self._runtime.executor, outlived)

    async def dispatch_app_server_signal(self, signal: SignalInput) -> RemoteSkillDispatch | None:
        """Async twin of ``SessionSkills.dispatch_app_server_signal`` (local only)."""
        call = self._call_from_signal(signal)
        if call is None:
            return None
        start = time.perf_counter()
        async with self._runtime.semaphore:
            outcome = await self._execute(call)
        return self._local_record(call, outcome, start)

    async def respond_to_signal(
        self,
        signal: SignalInput,
        *,
        max_submit_attempts: int | None = None,
        retry_delay_seconds: float | None = None,
    ) -> RemoteSkillDispatch | None:
        """Async twin of ``SessionSkills.respond_to_signal``."""
        call = self._call_from_signal(signal)
        if call is None:
            return None
        policy = self._policy_for(max_submit_attempts, retry_delay_seconds)
        return await self._respond(call, policy, self._read_at(signal))

    async def respond_to_pending_call(
        self,
        call: PendingCallInput,
        *,
        max_submit_attempts: int | None = None,
        retry_delay_seconds: float | None = None,
    ) -> RemoteSkillDispatch | None:
        """Async twin of ``SessionSkills.respond_to_pending_call``."""
        owned = self._call_from_pending(call)
        if owned is None:
            return None
        return await self._respond(
            owned, self._policy_for(max_submit_attempts, retry_delay_seconds)
        )

    async def drain_pending_calls(
        self,
        *,
        max_submit_attempts: int | None = None,
        retry_delay_seconds: float | None = None,
    ) -> list[RemoteSkillDispatch]:
        """Async twin of ``SessionSkills.drain_pending_calls``; the calls run concurrently."""
        try:
            listed = await self._client.session(self.session_id).tool_calls.list()
        except (GoneError, PermissionDeniedError):
            return []
        except UnexpectedResponseError as exc:
            raise MalformedPendingCallsError(
                f"malformed tool-calls list payload for session {self.session_id!r}: {exc}"
            ) from exc
        rows = pending_rows(listed)

        async def respond(row: PendingCallInput) -> RemoteSkillDispatch | None:
            try:
                return await self.respond_to_pending_call(
                    row,
                    max_submit_attempts=max_submit_attempts,
                    retry_delay_seconds=retry_delay_seconds,
                )
            except ClientClosedError:
                return None  # the client closes: not run, it stays pending for the next drain

        results = await asyncio.gather(*(respond(row) for row in rows))
        return [record for record in results if record is not None]

    async def _still_pending(self, call: ToolCall) -> bool | None:
        try:
            listed = await self._client.session(call.thread_id).tool_calls.list(
                retry=RetryPolicy.disabled()
            )
        except (GoneError, PermissionDeniedError):
            return False
        except CodexManagerError:
            return None
        return self._listed_as_ours(listed, call)

    async def _respond(
        self, call: ToolCall, policy: SubmissionPolicy, read_at: float | None = None
    ) -> RemoteSkillDispatch:
        """Answer ``call``; ``read_at``: when the stream read it, if it did (its deadline)."""
        if current_run.get() is not None:  # a stream handler's call: its run covers it
            return await self._respond_now(call, policy, read_at)
        with self._close_waits_for(self._client, call):
            return await self._respond_now(call, policy, read_at)

    async def _respond_now(
        self, call: ToolCall, policy: SubmissionPolicy, read_at: float | None
    ) -> RemoteSkillDispatch:
        self._refuse_on_closed_client(self._client.is_closed, call)
        start = time.perf_counter()
        claim = self._tracker.claim(call.key)
        if claim.action in ("busy", "done"):
            return self._duplicate(call, start)
        resubmitted = claim.action == "resubmit" and claim.answer is not None
        mark = ConnectionMark.now()
        still_running: list[asyncio.Future[LocalOutcome]] = []
        try:
            if resubmitted and claim.answer is not None:
                outcome = claim.answer
            else:
                # The bound covers running handlers; answers are posted outside it so a busy
                # pool never holds back delivery of finished calls.
                async with self._runtime.semaphore:
                    outcome = await self._execute(call, still_running.append, read_at)
        except BaseException:
            if not (
                still_running
                and self._answer_once_returned(call, still_running[0], policy, start, mark)
            ):
                self._give_back(call.key, still_running)
            raise
        try:
            return await self._complete(call, outcome, policy, start, resubmitted, mark)
        except asyncio.CancelledError:
            # Cancelled while the answer was on its way (a wait between attempts, the POST):
            # it goes on in a task of its own, the client's aclose() waiting for it.

            def send_later(kept: LocalOutcome) -> bool:
                delivered: asyncio.Future[LocalOutcome] = asyncio.get_running_loop().create_future()
                delivered.set_result(kept)
                return self._answer_once_returned(call, delivered, policy, start, mark)

            self._keep_delivering(call, send_later)
            raise

    def _answer_once_returned(
        self,
        call: ToolCall,
        outcome: asyncio.Future[LocalOutcome],
        policy: SubmissionPolicy,
        start: float,
        mark: ConnectionMark | None,
    ) -> bool:
        """The caller was cancelled while a plain handler runs on in its worker thread: send
        its answer once it returns, from a task of its own, the client's ``aclose()`` waiting
        for it. Otherwise the call stays pending until a later drain, and a program that ends
        meanwhile leaves it to the next process's drain, which runs the handler a second time.
        ``False`` when the client is closing already (the answer is kept for a later drain).
        """
        try:
            waited = self._waited_by_close(self._client)
        except ClientClosedError:
            return False
        late_answers = self._runtime.late_answers

        async def answer(returned: asyncio.Future[LocalOutcome]) -> None:
            try:
                record = await self._complete(call, returned.result(), policy, start, False, mark)
            except BaseException as exc:
                self._report_late_answer(call, None, exc, "was cancelled")
                if isinstance(exc, asyncio.CancelledError):
                    raise  # the loop shuts down: this task ends cancelled, as asked
            else:
                self._report_late_answer(call, record, None, "was cancelled")
            finally:
                if waited is not None:
                    waited[1]()

        def in_a_task(returned: asyncio.Future[LocalOutcome]) -> None:
            task = returned.get_loop().create_task(answer(returned))
            late_answers.add(task)  # a task only the loop refers to may be collected
            task.add_done_callback(late_answers.discard)

        outcome.add_done_callback(in_a_task)
        return True

    async def _complete(
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
                result = await self._deliver(request_id, call, outcome.answer, policy, check_first)
                if result.too_large:
                    refused = result
                    outcome = self._too_large(call, outcome, refused)
                    sent = await self._deliver(request_id, call, outcome.answer, policy, False)
                    result = replace(sent, attempts=refused.attempts + sent.attempts)
        except BaseException:
            self._tracker.unsent(call.key, outcome)
            raise
        return self._settle(call, outcome, result, start, resubmitted)

    async def _deliver(
        self,
        request_id: str,
        call: ToolCall,
        answer: SkillAnswer,
        policy: SubmissionPolicy,
        check_first: bool,
    ) -> SubmissionResult:
        """Post ``answer`` (with the policy's retries)."""
        return await submit_async(
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
