"""Request hooks: ``before`` / ``after`` / ``on_error`` callbacks per operation.

Register them on a client's :attr:`hooks` registry, for one operation id (``"createSession"``)
or for all (``"*"``)::

    @cm.hooks.before("*")
    def add_trace_header(request: RequestInfo) -> None:
        request.headers["x-trace-id"] = new_trace_id()

    @cm.hooks.on_error("respondToolCall")
    def count_failures(info: ErrorInfo) -> None:
        metrics.increment("respond.failed", retry=info.will_retry)

Hooks run once per attempt, so retries are visible. ``before`` hooks may set
``request.headers`` (e.g. a refreshed token); those headers are sent with that attempt only.
On the sync client hooks are plain functions; on the async client they may also be
``async def``. An exception raised by a hook propagates to the caller.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Generic, Literal, TypeAlias, TypeVar, cast

from codex_manager.config import redact_headers
from codex_manager.errors import CodexManagerError, UnknownOperationError

if TYPE_CHECKING:
    from codex_manager.client._literals import OperationId

ALL_OPERATIONS: Final = "*"
"""Operation id that selects every operation."""

HookTarget: TypeAlias = "OperationId | Literal['*']"
"""What a hook is registered for: one operation of the spec, or ``"*"`` for all (checked at
registration too: a name the spec does not have raises :class:`UnknownOperationError`)."""


@dataclass
class RequestInfo:
    """What a hook knows about one attempt of a request.

    Attributes:
        operation_id: OpenAPI operation id (``"sendSessionMessage"``).
        method: HTTP method.
        url: Request URL.
        attempt: 1 for the first attempt, 2 for the first retry, ...
        headers: Extra headers for this attempt; ``before`` hooks may add or replace them.
    """

    operation_id: OperationId
    method: str
    url: str
    attempt: int
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"RequestInfo(operation_id={self.operation_id!r}, method={self.method!r}, "
            f"url={self.url!r}, attempt={self.attempt}, headers={redact_headers(self.headers)!r})"
        )


@dataclass(frozen=True)
class ResponseInfo:
    """An HTTP answer received for an attempt (any status).

    Attributes:
        request: The attempt.
        status_code: HTTP status code.
        elapsed: Seconds from sending to the complete answer.
    """

    request: RequestInfo
    status_code: int
    elapsed: float


@dataclass(frozen=True)
class ErrorInfo:
    """A failed attempt: a transport error or a status the method reports as an error.

    Attributes:
        request: The attempt.
        error: The exception raised (or about to be retried).
        will_retry: Whether the SDK retries after this failure.
        retry_delay: Seconds it waits before retrying (``None`` when not retrying).
    """

    request: RequestInfo
    error: CodexManagerError
    will_retry: bool
    retry_delay: float | None


BeforeHook: TypeAlias = Callable[[RequestInfo], None]
"""Sync ``before`` hook."""
AfterHook: TypeAlias = Callable[[ResponseInfo], None]
"""Sync ``after`` hook."""
ErrorHook: TypeAlias = Callable[[ErrorInfo], None]
"""Sync ``on_error`` hook."""
AsyncBeforeHook: TypeAlias = Callable[[RequestInfo], Awaitable[None] | None]
"""``before`` hook of the async client (plain or ``async def``)."""
AsyncAfterHook: TypeAlias = Callable[[ResponseInfo], Awaitable[None] | None]
"""``after`` hook of the async client (plain or ``async def``)."""
AsyncErrorHook: TypeAlias = Callable[[ErrorInfo], Awaitable[None] | None]
"""``on_error`` hook of the async client (plain or ``async def``)."""

_B = TypeVar("_B")
_A = TypeVar("_A")
_E = TypeVar("_E")
_H = TypeVar("_H")
# What a decorator gives back: the decorated function itself, its own type kept.
_SyncB = TypeVar("_SyncB", bound=BeforeHook)
_SyncA = TypeVar("_SyncA", bound=AfterHook)
_SyncE = TypeVar("_SyncE", bound=ErrorHook)
_AsyncB = TypeVar("_AsyncB", bound=AsyncBeforeHook)
_AsyncA = TypeVar("_AsyncA", bound=AsyncAfterHook)
_AsyncE = TypeVar("_AsyncE", bound=AsyncErrorHook)


class _HookTable(Generic[_H]):
    """Hooks of one kind, keyed by operation id."""

    def __init__(self) -> None:
        self._by_operation: dict[str, list[_H]] = {}

    def add(self, operation_id: str, hook: _H) -> None:
        self._by_operation.setdefault(operation_id, []).append(hook)

    def remove(self, hook: object) -> bool:
        removed = False
        for operation_id, hooks in self._by_operation.items():
            kept = [h for h in hooks if h is not hook]
            removed = removed or len(kept) != len(hooks)
            self._by_operation[operation_id] = kept
        return removed

    def for_operation(self, operation_id: str) -> list[_H]:
        return [
            *self._by_operation.get(ALL_OPERATIONS, ()),
            *self._by_operation.get(operation_id, ()),
        ]

    def __bool__(self) -> bool:
        return any(self._by_operation.values())


class _HookRegistry(Generic[_B, _A, _E]):
    def __init__(self, known_operations: Collection[str] | None = None) -> None:
        self._known = frozenset(known_operations) if known_operations is not None else None
        self._before: _HookTable[_B] = _HookTable()
        self._after: _HookTable[_A] = _HookTable()
        self._error: _HookTable[_E] = _HookTable()

    def _check(self, operation_id: str) -> str:
        known = self._known
        if operation_id != ALL_OPERATIONS and known is not None and operation_id not in known:
            raise UnknownOperationError(
                f"unknown operation id {operation_id!r} for a hook; use '*' or one of the "
                "operation ids of the OpenAPI spec (e.g. 'createSession')"
            )
        return operation_id

    def before(self, operation_id: HookTarget = ALL_OPERATIONS) -> Callable[[_B], _B]:
        """Decorator registering a ``before`` hook for ``operation_id`` (or ``"*"``)."""
        op = self._check(operation_id)

        def register(hook: _B) -> _B:
            self._before.add(op, hook)
            return hook

        return register

    def after(self, operation_id: HookTarget = ALL_OPERATIONS) -> Callable[[_A], _A]:
        """Decorator registering an ``after`` hook for ``operation_id`` (or ``"*"``)."""
        op = self._check(operation_id)

        def register(hook: _A) -> _A:
            self._after.add(op, hook)
            return hook

        return register

    def on_error(self, operation_id: HookTarget = ALL_OPERATIONS) -> Callable[[_E], _E]:
        """Decorator registering an ``on_error`` hook for ``operation_id`` (or ``"*"``)."""
        op = self._check(operation_id)

        def register(hook: _E) -> _E:
            self._error.add(op, hook)
            return hook

        return register

    def remove(self, hook: object) -> bool:
        """Unregister ``hook`` everywhere; returns whether it was registered."""
        removed = [table.remove(hook) for table in (self._before, self._after, self._error)]
        return any(removed)


class Hooks(_HookRegistry[BeforeHook, AfterHook, ErrorHook]):
    """Hook registry of the sync client (:attr:`CodexManager.hooks`)."""

    if TYPE_CHECKING:  # the decorated function keeps its own type

        def before(
            self, operation_id: HookTarget = ALL_OPERATIONS
        ) -> Callable[[_SyncB], _SyncB]: ...
        def after(
            self, operation_id: HookTarget = ALL_OPERATIONS
        ) -> Callable[[_SyncA], _SyncA]: ...
        def on_error(
            self, operation_id: HookTarget = ALL_OPERATIONS
        ) -> Callable[[_SyncE], _SyncE]: ...

    def run_before(self, info: RequestInfo) -> None:
        """Run the ``before`` hooks for ``info.operation_id``."""
        for hook in self._before.for_operation(info.operation_id):
            hook(info)

    def run_after(self, info: ResponseInfo) -> None:
        """Run the ``after`` hooks."""
        for hook in self._after.for_operation(info.request.operation_id):
            hook(info)

    def run_error(self, info: ErrorInfo) -> None:
        """Run the ``on_error`` hooks."""
        for hook in self._error.for_operation(info.request.operation_id):
            hook(info)


class AsyncHooks(_HookRegistry[AsyncBeforeHook, AsyncAfterHook, AsyncErrorHook]):
    """Hook registry of the async client; hooks may be plain functions or coroutines."""

    if TYPE_CHECKING:  # the decorated function keeps its own type

        def before(
            self, operation_id: HookTarget = ALL_OPERATIONS
        ) -> Callable[[_AsyncB], _AsyncB]: ...
        def after(
            self, operation_id: HookTarget = ALL_OPERATIONS
        ) -> Callable[[_AsyncA], _AsyncA]: ...
        def on_error(
            self, operation_id: HookTarget = ALL_OPERATIONS
        ) -> Callable[[_AsyncE], _AsyncE]: ...

    async def run_before(self, info: RequestInfo) -> None:
        """Run the ``before`` hooks for ``info.operation_id``."""
        for hook in self._before.for_operation(info.operation_id):
            await _maybe_await(hook(info))

    async def run_after(self, info: ResponseInfo) -> None:
        """Run the ``after`` hooks."""
        for hook in self._after.for_operation(info.request.operation_id):
            await _maybe_await(hook(info))

    async def run_error(self, info: ErrorInfo) -> None:
        """Run the ``on_error`` hooks."""
        for hook in self._error.for_operation(info.request.operation_id):
            await _maybe_await(hook(info))


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result


def as_operation_id(name: str) -> OperationId:
    """``name`` as an :data:`~codex_manager.types.OperationId`, for ids computed at run time
    (``cm.hooks.before(as_operation_id(name))`` type-checks where a plain ``str`` does not).

    Raises:
        UnknownOperationError: the spec has no operation of that id.
    """
    from codex_manager.client._operations import OPERATIONS

    if name not in OPERATIONS:
        raise UnknownOperationError(
            f"unknown operation id {name!r}; one of the OpenAPI spec's (e.g. 'createSession')"
        )
    return cast("OperationId", name)


__all__ = [
    "ALL_OPERATIONS",
    "AfterHook",
    "AsyncAfterHook",
    "AsyncBeforeHook",
    "AsyncErrorHook",
    "AsyncHooks",
    "BeforeHook",
    "ErrorHook",
    "ErrorInfo",
    "Hooks",
    "RequestInfo",
    "ResponseInfo",
    "as_operation_id",
]
