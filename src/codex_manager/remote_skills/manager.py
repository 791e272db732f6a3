"""``cm.remote_skills``: creating sessions with a skill catalog and reaching their registries."""

from __future__ import annotations

import concurrent.futures
import inspect
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypedDict

from typing_extensions import Unpack

from codex_manager._daemon_pool import DaemonThreadPool
from codex_manager.remote_skills.async_session import AsyncRuntime, AsyncSessionSkills
from codex_manager.remote_skills.options import RemoteSkillOptions
from codex_manager.remote_skills.sync_session import SessionSkills
from codex_manager.retry import RetryPolicy
from codex_manager.types import (
    ApprovalPolicy,
    CreateSessionResponse,
    FilesystemSandbox,
    NetworkAccess,
)

if TYPE_CHECKING:
    from codex_manager.client import AsyncCodexManager, CodexManager

__all__ = ["AsyncRemoteSkills", "RemoteSkills", "SessionCreateOptions"]


class SessionCreateOptions(TypedDict, total=False):
    """Keyword arguments of ``create_session`` forwarded to ``cm.sessions.create``."""

    cwd: str
    model: str
    approval_policy: ApprovalPolicy
    network_access: NetworkAccess
    filesystem_sandbox: FilesystemSandbox
    retry: RetryPolicy | None


_SYNC_CALLBACK_ERROR = (
    "the register callback given to CodexManager.remote_skills.create_session returned an "
    "awaitable; the sync client needs a plain (def) callback. Use AsyncCodexManager for an "
    "async register callback."
)


class RemoteSkills:
    """``cm.remote_skills`` on the synchronous :class:`~codex_manager.CodexManager`."""

    def __init__(self, client: CodexManager, options: RemoteSkillOptions | None = None) -> None:
        """Internal: the client builds this as ``cm.remote_skills``."""
        self._client = client
        self._sessions: dict[str, SessionSkills] = {}
        self._lock = threading.Lock()
        self._executors: list[DaemonThreadPool] = []
        # Pools made for one registry each (skill_options of another bound), ended with it.
        self._own_pools: list[concurrent.futures.Executor] = []
        self._options = options or RemoteSkillOptions()
        self._bound = self._options.thread_bound()
        self._executor = self._new_executor(self._bound)

    def _new_executor(self, bound: int) -> DaemonThreadPool:
        executor = DaemonThreadPool(bound, "remote-skill")
        self._executors.append(executor)
        return executor

    def _executor_for(self, options: RemoteSkillOptions) -> concurrent.futures.Executor:
        if options.thread_bound() == self._bound:
            return self._executor
        own = self._new_executor(options.thread_bound())
        self._own_pools.append(own)  # a list append: atomic, whatever lock the caller holds
        return own

    def _let_go(self, registry: object, executor: concurrent.futures.Executor) -> None:
        """The client is done with ``registry``: its own pool (if it had one) ends its
        threads once the registry itself is gone (it may still be used meanwhile)."""
        with self._lock:
            if not _take_out(self._own_pools, executor):
                return
            self._executors = [pool for pool in self._executors if pool is not executor]
        weakref.finalize(registry, executor.shutdown, wait=False)

    @property
    def options(self) -> RemoteSkillOptions:
        """Default options of new session registries."""
        return self._options

    def configure(self, options: RemoteSkillOptions) -> None:
        """Set the default options of registries made from now on (existing ones keep theirs)."""
        with self._lock:
            self._options = options
            if options.thread_bound() != self._bound:
                self._bound = options.thread_bound()
                self._executor = self._new_executor(self._bound)

    def create_session(
        self,
        register: Callable[[SessionSkills], object] | None = None,
        *,
        skill_options: RemoteSkillOptions | None = None,
        **session_create_kwargs: Unpack[SessionCreateOptions],
    ) -> tuple[CreateSessionResponse, SessionSkills]:
        """Create a session whose catalog is filled by ``register(skills)`` first.

        The catalog goes out as ``dynamicTools`` of ``POST /api/sessions``, the reliable path:
        Codex fixes the tool list when the session starts. Returns ``(created, skills)``.

        Raises:
            TypeError: ``register`` returned an awaitable (use ``AsyncCodexManager``).
            SkillRegistrationError: a skill the callback registered is invalid.
        """
        options = skill_options or self._options
        executor = self._executor_for(options)
        skills = SessionSkills(self._client, None, options, executor)
        try:
            if register is not None:
                returned = register(skills)
                if inspect.isawaitable(returned):
                    if inspect.iscoroutine(returned):
                        returned.close()  # never awaited: no "never awaited" warning
                    raise TypeError(_SYNC_CALLBACK_ERROR)
            tools = skills.dynamic_tools()
            created = self._client.sessions.create(dynamic_tools=tools, **session_create_kwargs)
        except BaseException:
            self._let_go(skills, executor)
            raise
        session_id = created["session"]["sessionId"]
        skills._bind(session_id, tuple(tool["name"] for tool in tools))
        with self._lock:
            self._sessions[session_id] = skills
        return created, skills

    def session(
        self, session_id: str, *, skill_options: RemoteSkillOptions | None = None
    ) -> SessionSkills:
        """The registry of an existing session (the same object on every call).

        ``skill_options`` applies only when the registry is first made.
        """
        with self._lock:
            found = self._sessions.get(session_id)
            if found is None:
                options = skill_options or self._options
                found = SessionSkills(self._client, None, options, self._executor_for(options))
                found._bind(session_id, None)
                self._sessions[session_id] = found
            return found

    def forget(self, session_id: str) -> SessionSkills | None:
        """Drop the registry of a session this client is done with (deleted, say): a
        long-lived client otherwise keeps every registry it made. Returns it (``None`` if
        there was none); a later :meth:`session` makes a new, empty one. A registry made
        with ``skill_options`` of another ``max_concurrent_calls`` has worker threads of its
        own: they end once nothing refers to the registry any more (until then it works).
        """
        with self._lock:
            forgotten = self._sessions.pop(session_id, None)
        if forgotten is not None:
            self._let_go(forgotten, forgotten._executor)
        return forgotten

    def close(self) -> None:
        """Stop the handler worker threads (called when the client closes)."""
        for executor in self._executors:
            executor.shutdown(wait=False, cancel_futures=True)


class AsyncRemoteSkills:
    """``cm.remote_skills`` on :class:`~codex_manager.AsyncCodexManager`."""

    def __init__(
        self, client: AsyncCodexManager, options: RemoteSkillOptions | None = None
    ) -> None:
        """Internal: the client builds this as ``cm.remote_skills``."""
        self._client = client
        self._sessions: dict[str, AsyncSessionSkills] = {}
        self._executors: list[DaemonThreadPool] = []
        # Runtimes made for one registry each (skill_options of another bound), ended with it.
        self._own_pools: list[concurrent.futures.Executor] = []
        self._options = options or RemoteSkillOptions()
        self._runtime = self._new_runtime(self._options)

    def _new_runtime(self, options: RemoteSkillOptions) -> AsyncRuntime:
        # As many threads as calls: a plain handler admitted by the bound never queues for a
        # thread, so its timeout only counts its own run (threads start only when needed).
        bound = options.call_bound()
        executor = DaemonThreadPool(bound, "remote-skill")
        self._executors.append(executor)
        return AsyncRuntime(bound, executor)

    def _fits(self, options: RemoteSkillOptions) -> bool:
        return options.call_bound() == self._runtime.max_concurrent_calls

    def _runtime_for(self, options: RemoteSkillOptions) -> AsyncRuntime:
        # Sessions with their own bound get their own pool; the rest share the client's.
        if self._fits(options):
            return self._runtime
        own = self._new_runtime(options)
        self._own_pools.append(own.executor)
        return own

    def _let_go(self, registry: object, runtime: AsyncRuntime) -> None:
        """Async twin of ``RemoteSkills._let_go``."""
        executor = runtime.executor
        if _take_out(self._own_pools, executor):
            self._executors = [pool for pool in self._executors if pool is not executor]
            weakref.finalize(registry, executor.shutdown, wait=False)

    @property
    def options(self) -> RemoteSkillOptions:
        """Default options of new session registries."""
        return self._options

    def configure(self, options: RemoteSkillOptions) -> None:
        """Set the default options of registries made from now on (existing ones keep theirs).

        ``max_concurrent_calls`` bounds the calls handled at once across all sessions that use
        the defaults; a session given other ``skill_options`` gets its own bound.
        """
        self._options = options
        if not self._fits(options):
            self._runtime = self._new_runtime(options)

    async def create_session(
        self,
        register: Callable[[AsyncSessionSkills], Awaitable[object] | object] | None = None,
        *,
        skill_options: RemoteSkillOptions | None = None,
        **session_create_kwargs: Unpack[SessionCreateOptions],
    ) -> tuple[CreateSessionResponse, AsyncSessionSkills]:
        """Async twin of ``RemoteSkills.create_session``; ``register`` may be sync or async."""
        options = skill_options or self._options
        runtime = self._runtime_for(options)
        skills = AsyncSessionSkills(self._client, None, options, runtime)
        try:
            if register is not None:
                returned = register(skills)
                if inspect.isawaitable(returned):
                    await returned
            tools = skills.dynamic_tools()
            created = await self._client.sessions.create(
                dynamic_tools=tools, **session_create_kwargs
            )
        except BaseException:
            self._let_go(skills, runtime)
            raise
        session_id = created["session"]["sessionId"]
        skills._bind(session_id, tuple(tool["name"] for tool in tools))
        self._sessions[session_id] = skills
        return created, skills

    def session(
        self, session_id: str, *, skill_options: RemoteSkillOptions | None = None
    ) -> AsyncSessionSkills:
        """The registry of an existing session (the same object on every call)."""
        found = self._sessions.get(session_id)
        if found is None:
            options = skill_options or self._options
            found = AsyncSessionSkills(self._client, None, options, self._runtime_for(options))
            found._bind(session_id, None)
            self._sessions[session_id] = found
        return found

    def forget(self, session_id: str) -> AsyncSessionSkills | None:
        """Async twin of :meth:`RemoteSkills.forget`."""
        forgotten = self._sessions.pop(session_id, None)
        if forgotten is not None:
            self._let_go(forgotten, forgotten._runtime)
        return forgotten

    def close(self) -> None:
        """Stop the handler worker threads (called when the client closes)."""
        for executor in self._executors:
            executor.shutdown(wait=False, cancel_futures=True)


def _take_out(
    pools: list[concurrent.futures.Executor], executor: concurrent.futures.Executor
) -> bool:
    """Remove ``executor`` from ``pools`` (by identity); whether it was there."""
    for index, pool in enumerate(pools):
        if pool is executor:
            del pools[index]
            return True
    return False
