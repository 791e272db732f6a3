"""``CodexManager`` and ``AsyncCodexManager``: construction, lifecycle, stream and skills.

The per-operation methods come from the generated method groups (``_resources_sync`` /
``_resources_async``); this module adds what is not an operation: configuration, the shared
connection pool, retries and hooks, ``cm.wait``, ``cm.stream``, ``cm.remote_skills`` and the
stream decorators.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Self

import httpx

from codex_manager._first_use import OnFirstUse
from codex_manager._stream_runs import StreamRuns
from codex_manager.client._http import HttpTransportChoice
from codex_manager.client._resources_async import AsyncResourceGroups
from codex_manager.client._resources_sync import ResourceGroups
from codex_manager.client._shortcuts import StreamShortcuts
from codex_manager.client._transport import AsyncTransport, SyncTransport
from codex_manager.config import DEFAULT_API_PREFIX, DEFAULT_BASE_URL, ClientConfig, redact_url
from codex_manager.errors import ConfigError
from codex_manager.hooks import AsyncHooks, Hooks
from codex_manager.retry import RetryPolicy
from codex_manager.wait import AsyncTurnWaiter, TurnWaiter

if TYPE_CHECKING:
    from codex_manager.remote_skills import AsyncRemoteSkills, RemoteSkillOptions, RemoteSkills
    from codex_manager.stream import AsyncEventStream, EventStream, StreamOptions


def _build_config(
    config: ClientConfig | None,
    http_client: httpx.Client | httpx.AsyncClient | None,
    *,
    base_url: str | None,
    api_prefix: str | None,
    timeout: float | None,
    headers: Mapping[str, str] | None,
    bearer_token: str | None,
    rbac_token: str | None,
    rbac_role: str | None,
    rbac_actor: str | None,
) -> ClientConfig:
    given = {
        "base_url": base_url,
        "api_prefix": api_prefix,
        "timeout": timeout,
        "headers": headers,
        "bearer_token": bearer_token,
        "rbac_token": rbac_token,
        "rbac_role": rbac_role,
        "rbac_actor": rbac_actor,
    }
    if config is not None:
        clashing = sorted(name for name, value in given.items() if value is not None)
        if clashing:
            raise ConfigError(
                "pass either config= or connection arguments, not both (got config= and "
                + ", ".join(clashing)
                + ")"
            )
        return config
    if base_url is None and http_client is not None and str(http_client.base_url):
        base_url = str(http_client.base_url)  # the stream must follow the REST calls there
    return ClientConfig(
        base_url=base_url if base_url is not None else DEFAULT_BASE_URL,
        api_prefix=api_prefix if api_prefix is not None else DEFAULT_API_PREFIX,
        timeout=timeout if timeout is not None else ClientConfig.timeout,
        headers=headers if headers is not None else {},
        bearer_token=bearer_token,
        rbac_token=rbac_token,
        rbac_role=rbac_role,
        rbac_actor=rbac_actor,
    )


class CodexManager(StreamShortcuts["CodexManager"], ResourceGroups):
    """Synchronous client of codex-manager.

    Every server operation is a typed method, grouped by domain (``cm.sessions.create(...)``,
    ``cm.session(session_id).messages.send(...)``, ``cm.tool_calls.respond(...)``, ...).
    Calls block; no event loop is involved. Use it as a context manager, or call
    :meth:`close`, to release the connection pool.

    Args:
        base_url: Server origin (default ``http://127.0.0.1:3001``).
        api_prefix: Route prefix (default ``/api``).
        timeout: Request timeout in seconds.
        headers: Extra headers for every request.
        bearer_token: Sent as ``Authorization: Bearer ...``.
        rbac_token: Sent as ``x-codex-rbac-token``.
        rbac_role: Sent as ``x-codex-rbac-role``.
        rbac_actor: Sent as ``x-codex-rbac-actor``.
        retry: Default retry policy of every call (each method also takes ``retry=``).
        http_client: An ``httpx.Client`` to use (and not close). Its base URL, when it has
            one, names the server (``base_url`` may be left out; another one is a
            :class:`ConfigError`, since the stream connects to ``base_url``); when empty, it is
            set. The auth headers and the SDK's event hooks are added to it until
            :meth:`close` (or until this client is garbage-collected, if never closed). It
            serves one open SDK client at a time (a second one raises :class:`ConfigError`).
        transport: An httpx transport for the client the SDK creates (tests, proxies).
        config: A complete :class:`ClientConfig` instead of the connection arguments.
        stream_options: Tuning of :attr:`stream` (ping interval, handler concurrency,
            reconnect policy); defaults when omitted.
        skill_options: Defaults of every :attr:`remote_skills` registry (timeouts, submit
            retries, concurrency); each session may override them.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_prefix: str | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        bearer_token: str | None = None,
        rbac_token: str | None = None,
        rbac_role: str | None = None,
        rbac_actor: str | None = None,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        config: ClientConfig | None = None,
        stream_options: StreamOptions | None = None,
        skill_options: RemoteSkillOptions | None = None,
    ) -> None:
        self._config = _build_config(
            config,
            http_client,
            base_url=base_url,
            api_prefix=api_prefix,
            timeout=timeout,
            headers=headers,
            bearer_token=bearer_token,
            rbac_token=rbac_token,
            rbac_role=rbac_role,
            rbac_actor=rbac_actor,
        )
        self._transport = SyncTransport(
            self._config, retry=retry, http_client=http_client, transport=transport
        )
        self._transport.release_given_client_when_collected(self)
        super().__init__(self._transport)
        self.wait: TurnWaiter = TurnWaiter(self)
        """Helpers that wait for turns to finish (``cm.wait.turn(...)``)."""
        self._stream: OnFirstUse[EventStream[CodexManager]] = OnFirstUse()
        self._stream_runs = StreamRuns()  # every stream running on this client (see close())
        self._remote_skills: OnFirstUse[RemoteSkills] = OnFirstUse()
        self._stream_options = stream_options
        self._skill_options = skill_options

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        stream_options: StreamOptions | None = None,
        skill_options: RemoteSkillOptions | None = None,
    ) -> Self:
        """A client configured from ``CODEX_MANAGER_*`` variables (``ClientConfig.from_env``)."""
        return cls(
            config=ClientConfig.from_env(environ),
            retry=retry,
            http_client=http_client,
            transport=transport,
            stream_options=stream_options,
            skill_options=skill_options,
        )

    @classmethod
    def from_profile(
        cls,
        name: str | None = None,
        config_path: str | os.PathLike[str] | None = None,
        *,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        stream_options: StreamOptions | None = None,
        skill_options: RemoteSkillOptions | None = None,
    ) -> Self:
        """A client configured from a CLI profile (``ClientConfig.from_profile``)."""
        return cls(
            config=ClientConfig.from_profile(name, config_path),
            retry=retry,
            http_client=http_client,
            transport=transport,
            stream_options=stream_options,
            skill_options=skill_options,
        )

    @property
    def client_config(self) -> ClientConfig:
        """The connection settings (``cm.config`` is the Codex configuration API)."""
        return self._config

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy of every call."""
        return self._transport.retry

    @property
    def hooks(self) -> Hooks:
        """Request hooks: ``@cm.hooks.before(op)``, ``.after(op)``, ``.on_error(op)``."""
        return self._transport.hooks

    @property
    def http_client(self) -> httpx.Client:
        """The shared ``httpx.Client`` (one connection pool for every call)."""
        return self._transport.http

    @property
    def stream(self) -> EventStream[CodexManager]:
        """The websocket event stream of this client (built on first use)."""
        # Threads sharing a new client must get one stream.
        return self._stream.get(self._new_stream)

    def _new_stream(self) -> EventStream[CodexManager]:
        from codex_manager.stream import EventStream

        return EventStream(self, options=self._stream_options)

    @property
    def remote_skills(self) -> RemoteSkills:
        """Python functions as Codex dynamic tools for this client's sessions."""
        return self._remote_skills.get(self._new_remote_skills)

    def _new_remote_skills(self) -> RemoteSkills:
        from codex_manager.remote_skills import RemoteSkills

        return RemoteSkills(self, self._skill_options)

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` ran (calls then raise :class:`ClientClosedError`)."""
        return self._transport.closed

    def close(self) -> None:
        """Stop the streams running on this client, then release the connection pool.

        Every stream running on this client (``cm.stream`` or an ``EventStream(cm)`` of its
        own, in any thread) is stopped, no handler of it starts any more (calls not started
        stay pending on the server), and ``close()`` waits for those in progress (at most
        the stream's ``shutdown_timeout`` + 2 s), so that their answers still go out; so are
        calls an interrupted drain left running. Called from a handler (or work it started
        in a task, ``asyncio.to_thread`` or a skill), it does not wait for that handler's
        stream. The pool is closed when the client created it.
        """
        try:
            self._stream_runs.stop_and_wait()
        finally:  # a stream cannot start any more: the runs registry is closed
            skills = self._remote_skills.value
            if skills is not None:
                skills.close()
            self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"CodexManager(base_url={redact_url(self._config.base_url)!r}, "
            f"api_prefix={self._config.api_prefix!r})"
        )


class AsyncCodexManager(StreamShortcuts["AsyncCodexManager"], AsyncResourceGroups):
    """Asynchronous client of codex-manager: the API of :class:`CodexManager` with ``await``.

    Use ``async with`` or call :meth:`aclose`. Arguments as for :class:`CodexManager`, with an
    ``httpx.AsyncClient`` / async transport, plus:

    Args:
        http_transport: What the client it creates sends through: ``"auto"`` (default):
            aiohttp via ``httpx-aiohttp`` when that package is installed, else stock httpx;
            ``"aiohttp"`` (a :class:`~codex_manager.errors.ConfigError` when it is not
            installed); ``"httpx"``. Ignored when ``transport`` or ``http_client`` is given.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_prefix: str | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        bearer_token: str | None = None,
        rbac_token: str | None = None,
        rbac_role: str | None = None,
        rbac_actor: str | None = None,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        config: ClientConfig | None = None,
        stream_options: StreamOptions | None = None,
        skill_options: RemoteSkillOptions | None = None,
        http_transport: HttpTransportChoice = "auto",
    ) -> None:
        self._config = _build_config(
            config,
            http_client,
            base_url=base_url,
            api_prefix=api_prefix,
            timeout=timeout,
            headers=headers,
            bearer_token=bearer_token,
            rbac_token=rbac_token,
            rbac_role=rbac_role,
            rbac_actor=rbac_actor,
        )
        self._transport = AsyncTransport(
            self._config,
            retry=retry,
            http_client=http_client,
            transport=transport,
            http_transport=http_transport,
        )
        self._transport.release_given_client_when_collected(self)
        super().__init__(self._transport)
        self.wait: AsyncTurnWaiter = AsyncTurnWaiter(self)
        """Helpers that wait for turns to finish (``await cm.wait.turn(...)``)."""
        self._stream: OnFirstUse[AsyncEventStream[AsyncCodexManager]] = OnFirstUse()
        self._stream_runs = StreamRuns()  # every stream running on this client (see close())
        self._remote_skills: OnFirstUse[AsyncRemoteSkills] = OnFirstUse()
        self._stream_options = stream_options
        self._skill_options = skill_options

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        stream_options: StreamOptions | None = None,
        skill_options: RemoteSkillOptions | None = None,
    ) -> Self:
        """A client configured from ``CODEX_MANAGER_*`` variables (``ClientConfig.from_env``)."""
        return cls(
            config=ClientConfig.from_env(environ),
            retry=retry,
            http_client=http_client,
            transport=transport,
            stream_options=stream_options,
            skill_options=skill_options,
        )

    @classmethod
    def from_profile(
        cls,
        name: str | None = None,
        config_path: str | os.PathLike[str] | None = None,
        *,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        stream_options: StreamOptions | None = None,
        skill_options: RemoteSkillOptions | None = None,
    ) -> Self:
        """A client configured from a CLI profile (``ClientConfig.from_profile``)."""
        return cls(
            config=ClientConfig.from_profile(name, config_path),
            retry=retry,
            http_client=http_client,
            transport=transport,
            stream_options=stream_options,
            skill_options=skill_options,
        )

    @property
    def client_config(self) -> ClientConfig:
        """The connection settings (``cm.config`` is the Codex configuration API)."""
        return self._config

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy of every call."""
        return self._transport.retry

    @property
    def hooks(self) -> AsyncHooks:
        """Request hooks (plain or ``async def``): ``@cm.hooks.before(op)`` and friends."""
        return self._transport.hooks

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The shared ``httpx.AsyncClient`` (one connection pool for every call)."""
        return self._transport.http

    @property
    def stream(self) -> AsyncEventStream[AsyncCodexManager]:
        """The websocket event stream of this client (built on first use)."""
        # Threads sharing a new client must get one stream.
        return self._stream.get(self._new_stream)

    def _new_stream(self) -> AsyncEventStream[AsyncCodexManager]:
        from codex_manager.stream import AsyncEventStream

        return AsyncEventStream(self, options=self._stream_options)

    @property
    def remote_skills(self) -> AsyncRemoteSkills:
        """Python functions as Codex dynamic tools for this client's sessions."""
        return self._remote_skills.get(self._new_remote_skills)

    def _new_remote_skills(self) -> AsyncRemoteSkills:
        from codex_manager.remote_skills import AsyncRemoteSkills

        return AsyncRemoteSkills(self, self._skill_options)

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`aclose` ran (calls then raise :class:`ClientClosedError`)."""
        return self._transport.closed

    async def aclose(self) -> None:
        """Stop the streams running on this client, then release the connection pool.

        As :meth:`CodexManager.close`: each running stream (of any loop) is stopped and its
        handlers in progress are awaited (at most its ``shutdown_timeout`` + 2 s), except
        those of the stream whose handler (or work it started) calls it.
        """
        try:
            await self._stream_runs.stop_and_wait_async()
        finally:  # a stream cannot start any more: the runs registry is closed
            skills = self._remote_skills.value
            if skills is not None:
                skills.close()
            await self._transport.aclose()

    async def close(self) -> None:
        """Alias of :meth:`aclose`."""
        await self.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"AsyncCodexManager(base_url={redact_url(self._config.base_url)!r}, "
            f"api_prefix={self._config.api_prefix!r})"
        )


__all__ = ["AsyncCodexManager", "CodexManager"]
