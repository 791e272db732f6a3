"""Sending one operation through the generated bindings: retries, hooks, status mapping.

Both transports share one configured httpx client (and so one connection pool) per
:class:`~codex_manager.CodexManager`. Event hooks on that httpx client see every attempt:
they apply the API prefix, run the user's ``before`` hooks and keep the raw answer, which
is parsed here (not by the generated attrs models) so that every body reaches the caller
exactly as the server sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Collection, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Final, cast
from urllib.parse import quote

import httpx

from codex_manager._omit import OMIT, Omit
from codex_manager._proxies import proxy_applies
from codex_manager._surrogates import SURROGATE_ESCAPE_BYTES, replace_lone_surrogates
from codex_manager.client._bindings import Binding, binding
from codex_manager.client._direct import (
    DIRECT_OPERATIONS,
    AiohttpAnswerRoad,
    RawAnswer,
    encode_json_body,
    request_headers,
    untouched,
)
from codex_manager.client._direct_sync import SyncAnswerRoad
from codex_manager.client._http import (
    HttpTransportChoice,
    SdkHttpClient,
    carried_by_aiohttp,
    cause_of_kind,
    classify_failure,
    failure_detail,
    is_unmapped_aiohttp_error,
    new_async_http_client,
)
from codex_manager.client._http1 import valid_header
from codex_manager.client._operations import OPERATIONS, REST_OPERATIONS, Operation
from codex_manager.config import ClientConfig, redact_url
from codex_manager.errors import (
    APIStatusError,
    ClientClosedError,
    CodexManagerError,
    ConfigError,
    ConnectError,
    InvalidPathParameterError,
    ProtocolError,
    RequestTimeoutError,
    TransportError,
    UnexpectedResponseError,
    api_status_error,
)
from codex_manager.hooks import AsyncHooks, ErrorInfo, Hooks, RequestInfo, ResponseInfo
from codex_manager.json_types import JSONObject, JSONValue
from codex_manager.retry import RetryPolicy, retry_after_from_headers

if TYPE_CHECKING:
    from codex_manager.client._literals import OperationId
    from codex_manager_api import Client as ApiClient

logger = logging.getLogger("codex_manager.client")

SPEC_PREFIX: Final = "/api"
"""The prefix the generated bindings put in front of every route (as in the spec)."""

QueryValue = str | int | float | bool
"""A query parameter value."""


@dataclass
class _Attempt:
    """State of one attempt, shared with the httpx event hooks through a context variable."""

    info: RequestInfo
    response: httpx.Response | None = None
    shape_problem: str | None = None
    exact_route: bytes | None = None
    """The path after the client's base path, sent as is, when httpx would resolve a
    ``.``/``..`` segment away."""


_current_attempt: ContextVar[_Attempt | None] = ContextVar(
    "codex_manager_current_attempt", default=None
)


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP answer with its body parsed as JSON (raw text when it is not JSON)."""

    operation_id: str
    method: str
    url: str
    status_code: int
    headers: Mapping[str, str]
    body: JSONValue
    shape_problem: str | None = None
    """Why the generated model rejected the body (``None`` when it accepted it)."""

    def unexpected(self, reason: str) -> UnexpectedResponseError:
        """An :class:`UnexpectedResponseError` describing this answer."""
        return UnexpectedResponseError(
            reason,
            status_code=self.status_code,
            body=self.body,
            operation_id=self.operation_id,
            method=self.method,
            url=self.url,
        )

    def status_error(self) -> APIStatusError:
        """The :class:`APIStatusError` subclass for this answer's status."""
        return api_status_error(
            self.status_code,
            self.body,
            operation_id=self.operation_id,
            method=self.method,
            url=self.url,
            retry_after=retry_after_from_headers(self.headers),
        )

    def json_object(self) -> JSONObject:
        """The body as a JSON object; anything else raises :class:`UnexpectedResponseError`."""
        if not isinstance(self.body, dict):
            raise self.unexpected("expected a JSON object")
        return self.body


def _parse_content(content: bytes) -> JSONValue:
    if not content:
        return None
    try:
        parsed: JSONValue = json.loads(content)
    except ValueError:
        return content.decode("utf-8", errors="replace")
    if SURROGATE_ESCAPE_BYTES.search(content) is not None:
        return replace_lone_surrogates(parsed)  # as the stream reads them (U+FFFD)
    return parsed


def _quotes_a_header(exc: Exception) -> bool:
    """Whether ``exc``'s message quotes a request header's value, which may be a token."""
    return isinstance(exc, httpx.LocalProtocolError) and "header" in str(exc).lower()


def _shown_cause(exc: Exception) -> Exception | None:
    """What a :class:`TransportError` for ``exc`` chains: ``exc``, unless it quotes a header's
    value (a traceback, ``logging.exception``, would show it)."""
    return None if _quotes_a_header(exc) else exc


def _refuse_invalid_headers(info: RequestInfo) -> None:
    """Refuse, alike on every transport, a header no request may carry (a before hook's, say:
    aiohttp raised a bare ``ValueError`` for it, httpx a ``ProtocolError``).

    Raises:
        ProtocolError: a header name or value holds a line break (the value is not shown).
    """
    for name, value in info.headers.items():
        if not valid_header(name, value):
            raise _transport_error(httpx.LocalProtocolError("Illegal header value"), info)


class UnsendableRequestError(ProtocolError):
    """A request refused before anything was sent (a header no request may carry): it never
    will be, so it is not retried."""


def _transport_error(exc: Exception, info: RequestInfo) -> TransportError:
    where = f"{info.operation_id}: {info.method} {info.url}"
    if _quotes_a_header(exc):
        # Such messages quote the header's value, which may be a token: never show it.
        detail = f"{type(exc).__name__}: a request header is not valid HTTP (value not shown)"
    else:
        detail = failure_detail(exc)
    kind: type[TransportError]
    failure = classify_failure(exc)
    if isinstance(exc, httpx.LocalProtocolError):
        kind, what = UnsendableRequestError, "failed"
    elif failure == "connect":
        kind, what = ConnectError, "could not connect"
    elif failure == "timeout":
        kind, what = RequestTimeoutError, "timed out"
    else:
        kind, what = ProtocolError, "failed"
    return kind(
        f"{where} {what} ({detail})",
        operation_id=info.operation_id,
        method=info.method,
        url=info.url,
    )


def _http_answer(
    plan: _CallPlan,
    info: RequestInfo,
    status_code: int,
    headers: Mapping[str, str],
    body: JSONValue,
    shape_problem: str | None,
) -> HttpAnswer:
    """The answer to one attempt of ``plan``, whichever road brought it."""
    return HttpAnswer(
        operation_id=plan.operation.operation_id,
        method=info.method,
        url=info.url,
        status_code=status_code,
        headers=headers,
        body=body,
        shape_problem=shape_problem,
    )


class _ParsedAnswer:
    """What a generated ``_parse_response`` reads of a response, for an answer already parsed.

    The parser reads ``status_code``, ``json()`` and, for an undocumented status, ``content``;
    building an ``httpx.Response`` (and parsing its JSON a second time) just to hand it those
    cost about 10 us per answer on the direct road.
    """

    __slots__ = ("_body", "content", "status_code")

    def __init__(self, raw: RawAnswer, body: JSONValue) -> None:
        self.status_code = raw.status_code
        self.content = raw.content
        self._body = body

    def json(self) -> JSONValue:
        """The parsed body (raises like ``httpx.Response.json`` when it was not JSON)."""
        if isinstance(self._body, str) or self._body is None:
            reparsed: JSONValue = json.loads(self.content)  # raises the ValueError httpx would
            return reparsed
        return self._body


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _snake(name: str) -> str:
    """``sessionId`` -> ``session_id`` (the generated bindings' keyword names)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


@dataclass(frozen=True)
class _RouteTemplate:
    """A route split once at its placeholders, so filling it needs no regex per call."""

    literals: tuple[str, ...]
    """The text around the placeholders (one more than there are placeholders)."""
    placeholders: tuple[tuple[str, str], ...]
    """Per placeholder: the bindings' keyword (``session_id``) and the text as written."""

    def fill(self, path: Mapping[str, str]) -> str:
        """The route with each value URL-quoted (an unknown one keeps its placeholder)."""
        pieces = [self.literals[0]]
        for (keyword, written), literal in zip(self.placeholders, self.literals[1:], strict=True):
            pieces.append(_path_segment(path.get(keyword, written)))
            pieces.append(literal)
        return "".join(pieces)


_DOT_SEGMENTS = frozenset({".", ".."})


def _path_segment(value: str) -> str:
    """``value`` URL-quoted as one path segment.

    ``.`` and ``..`` are written ``%2E``/``%2E%2E``: sent as they are, URL resolution (httpx's
    included) removes them with the segment before, so deleting the setting ``..`` of a
    session would delete the session.
    """
    return value.replace(".", "%2E") if value in _DOT_SEGMENTS else quote(value, safe="")


@cache
def _route_template(route: str) -> _RouteTemplate:
    split = _PLACEHOLDER.split(route)  # literal, name, literal, name, ..., literal
    names = split[1::2]
    return _RouteTemplate(
        literals=tuple(split[0::2]),
        placeholders=tuple((_snake(name), "{" + name + "}") for name in names),
    )


class _PrefixRewriter:
    """Maps the spec's ``/api`` prefix onto the configured one (after the base URL's path)."""

    def __init__(self, config: ClientConfig):
        base_path = httpx.URL(config.server_url).raw_path.rstrip(b"/")
        self._from = base_path + SPEC_PREFIX.encode()
        self._to = base_path + config.api_prefix.encode()

    def apply(self, request: httpx.Request) -> None:
        if self._from == self._to:
            return
        raw = request.url.raw_path
        if (
            raw == self._from
            or raw.startswith(self._from + b"/")
            or raw.startswith(self._from + b"?")
        ):
            request.url = request.url.copy_with(raw_path=self._to + raw[len(self._from) :])


@dataclass
class _CallPlan:
    """What :meth:`call` sends, prepared once and reused by every attempt."""

    operation: Operation
    binding: Binding
    kwargs: dict[str, object]
    url: str
    replay_safe: bool
    replay_after_unclear: bool
    """Whether an attempt that may have been carried out (timeout, dropped connection, 502,
    504) may be replayed without ``retry_non_idempotent``."""
    ok: Collection[int]
    json_body: bytes | None = None
    """The body as sent on the direct road (encoded on its first attempt)."""
    exact_route: bytes | None = None
    """See :attr:`_Attempt.exact_route`."""

    def encoded_body(self) -> bytes:
        """The request body as JSON bytes, encoded once for every attempt."""
        if self.json_body is None:
            model = self.kwargs.get("body")
            to_dict = getattr(model, "to_dict", None)
            self.json_body = encode_json_body(to_dict() if callable(to_dict) else model)
        return self.json_body


def _server_of(url: httpx.URL) -> tuple[str, str, int | None, str]:
    """What names a server in a base URL (credentials and a trailing slash aside)."""
    return url.scheme, url.host, url.port, url.path.rstrip("/")


_REPLAY_ANSWERS_AS_FAILURE = frozenset({"deleteSession", "deleteProject", "deleteSessionSetting"})
"""DELETEs whose replay, after an attempt that deleted, reports something else: 410 (session
purged), 404 (project gone), ``"unchanged"`` with ``removed: false`` (setting already
removed). After an attempt that may have been carried out (a timeout, a dropped connection,
a gateway's 502/504) they are replayed like a POST, only with ``retry_non_idempotent``, or a
deletion that worked would be reported as failed or as never done. A 429 or 503 (nothing
done) is retried as usual."""

_NOTHING_DONE_STATUSES = frozenset({429, 503})
"""Statuses that say the request was not carried out (rate limited, unavailable)."""

_SERVING: weakref.WeakSet[httpx.Client | httpx.AsyncClient] = weakref.WeakSet()
"""The httpx clients given to an open SDK client (``http_client=``)."""
# Reentrant: an SDK client left open is released by a finalizer when it is collected, and a
# collection may start on this thread while it holds the lock.
_SERVING_LOCK = threading.RLock()


def _renew_serving_lock() -> None:
    """A child made by fork() while another thread held the lock gets a fresh one."""
    global _SERVING_LOCK
    _SERVING_LOCK = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_serving_lock)


_Adopted = tuple[httpx.Client | httpx.AsyncClient, Callable[..., object], Callable[..., object]]
"""An httpx client carrying an SDK client's calls, and the two hooks added to it."""


class _TransportBase:
    """What the sync and async transports share: configuration and request preparation."""

    def __init__(self, config: ClientConfig, retry: RetryPolicy | None):
        self.config = config
        self.retry = retry or RetryPolicy()
        self._rewriter = _PrefixRewriter(config)
        self._credentials: dict[str, str] = {}
        self._replaced_headers: list[tuple[str, str]] = []
        self._set_base_url: httpx.URL | None = None
        self._base_path = b""
        self._holds_given_client = False
        self._owns_http = True
        self._adopted: _Adopted | None = None
        self._closed = False

    def _adopt(
        self,
        http: httpx.Client | httpx.AsyncClient,
        on_request: Callable[..., object],
        on_response: Callable[..., object],
    ) -> None:
        """Set ``http`` up to carry this client's calls: base URL, credentials, hooks.

        A client given to one open SDK client cannot be given to another: the second's base
        URL would be ignored, each would send the other's credentials and run its hooks.
        Nor can one whose base URL is another server: the REST calls would go there and the
        stream (which connects by the configuration) to the configured server.
        """
        with _SERVING_LOCK:
            if http in _SERVING:
                raise ConfigError(
                    "this http_client already serves another open SDK client; give each its "
                    "own (they would share the base URL, the credentials and the hooks)"
                )
            if str(http.base_url) and _server_of(http.base_url) != _server_of(
                httpx.URL(self.config.server_url)
            ):
                raise ConfigError(
                    f"the http_client's base URL {redact_url(str(http.base_url))!r} is not the "
                    f"client's server {self.config.server_url!r}: the REST calls would go to "
                    "the first and the stream to the second; give the same base URL to both, "
                    "or none to the http_client"
                )
            _SERVING.add(http)
        self._holds_given_client = True
        self._set_base_url = None
        if not str(http.base_url):
            http.base_url = httpx.URL(self.config.server_url)
            self._set_base_url = http.base_url  # as httpx keeps it (a trailing slash added)
        self._base_path = http.base_url.raw_path.rstrip(b"/")
        self._credentials = self.config.auth_headers()
        self._replaced_headers = [
            (name, value)
            for name in self._credentials
            if (value := http.headers.get(name)) is not None
        ]
        http.headers.update(self._credentials)
        http.event_hooks["request"].append(on_request)
        http.event_hooks["response"].append(on_response)
        self._adopted = (http, on_request, on_response)

    def _release(
        self,
        http: httpx.Client | httpx.AsyncClient,
        on_request: Callable[..., object],
        on_response: Callable[..., object],
    ) -> None:
        """Give a client that was given back as it was: its own base URL and headers, no
        hooks of ours."""
        with _SERVING_LOCK:
            if not self._holds_given_client:
                return  # released already: another SDK client may hold it by now
            self._holds_given_client = False
            for kind, hook in (("request", on_request), ("response", on_response)):
                with contextlib.suppress(ValueError):
                    http.event_hooks[kind].remove(hook)
            for name, value in self._credentials.items():
                if http.headers.get(name) == value:  # unless the caller changed it meanwhile
                    del http.headers[name]
            for name, value in self._replaced_headers:
                if name not in http.headers:
                    http.headers[name] = value
            if self._set_base_url is not None and http.base_url == self._set_base_url:
                http.base_url = httpx.URL("")  # unless the caller set one meanwhile
            _SERVING.discard(http)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or ``aclose``) ran."""
        return self._closed

    def release_given_client_when_collected(self, owner: object) -> None:
        """Give the caller's ``http_client`` back when ``owner`` (the SDK client) is collected.

        An SDK client dropped without ``close()`` would otherwise keep the caller's client
        claimed (no other SDK client could take it) and carrying its credentials and hooks.
        The finalizer holds the transport, not ``owner``; closing first makes it a no-op.
        """
        if not self._owns_http and self._adopted is not None:
            weakref.finalize(owner, self._release, *self._adopted)

    def _plan(
        self,
        operation_id: str,
        *,
        path: Mapping[str, str],
        query: Mapping[str, QueryValue | Omit],
        body: Mapping[str, object] | Omit,
        ok: Collection[int],
    ) -> _CallPlan:
        if operation_id not in REST_OPERATIONS:
            raise CodexManagerError(f"{operation_id!r} is not a REST operation")
        if self._closed:
            # A given http_client lives on, without this client's credentials: a call sent
            # through it now would go out unauthenticated, or with another client's.
            raise ClientClosedError(f"{operation_id}: the client is closed; nothing was sent")
        operation = OPERATIONS[operation_id]
        for name, value in path.items():
            if not value:
                # The route would lose a segment and be another one (GET /api/sessions/
                # lists the sessions), or none.
                raise InvalidPathParameterError(
                    f"{operation_id}: the path parameter {name!r} is empty; nothing was sent"
                )
        bound = binding(operation_id)
        kwargs: dict[str, object] = dict(path)
        kwargs.update({key: value for key, value in query.items() if value is not OMIT})
        if not isinstance(body, Omit):
            kwargs["body"] = bound.build_body(body)
        url = self._url(operation, path)
        return _CallPlan(
            operation=operation,
            binding=bound,
            kwargs=kwargs,
            url=url,
            replay_safe=self.retry.is_idempotent(operation.method),
            replay_after_unclear=self.retry.is_idempotent(operation.method)
            and operation_id not in _REPLAY_ANSWERS_AS_FAILURE,
            ok=ok,
            # The generated binding quotes path values but leaves dot segments for httpx to
            # resolve away: such a request is sent on this path instead.
            exact_route=(
                (self.config.api_prefix + _route_template(operation.path).fill(path)).encode()
                if _DOT_SEGMENTS.intersection(path.values())
                else None
            ),
        )

    def _url(self, operation: Operation, path: Mapping[str, str]) -> str:
        """The request URL, for hooks and errors before httpx has built the request."""
        return self.config.api_base + _route_template(operation.path).fill(path)

    def _new_attempt(self, plan: _CallPlan, attempt: int) -> _Attempt:
        return _Attempt(
            RequestInfo(
                # The operations table is the spec's: each of its ids is an OperationId.
                operation_id=cast("OperationId", plan.operation.operation_id),
                method=plan.operation.method,
                url=plan.url,  # built on config.server_url: it never has credentials
                attempt=attempt,
            ),
            exact_route=plan.exact_route,
        )

    def _prepare(self, request: httpx.Request, state: _Attempt | None) -> None:
        """Put the request on its final path (the configured prefix, dot segments kept)."""
        if state is None or state.exact_route is None:
            self._rewriter.apply(request)
            return
        query = request.url.query
        request.url = request.url.copy_with(
            raw_path=self._base_path + state.exact_route + (b"?" + query if query else b"")
        )

    def _answer(self, plan: _CallPlan, state: _Attempt) -> HttpAnswer:
        response = state.response
        if response is None:  # pragma: no cover - the response hook always runs first
            raise CodexManagerError(f"{plan.operation.operation_id}: no response recorded")
        return _http_answer(
            plan,
            state.info,
            response.status_code,
            response.headers,  # read-only use (Retry-After); a copy costs ~3 us
            _parse_content(response.content),
            state.shape_problem,
        )

    @staticmethod
    def _may_take_road(plan: _CallPlan, http: httpx.Client | httpx.AsyncClient) -> bool:
        """Whether ``plan`` is a direct-road operation and ``http`` is still as the SDK built it."""
        return plan.operation.operation_id in DIRECT_OPERATIONS and untouched(http, own_hooks=1)

    @staticmethod
    def _answer_from_raw(
        plan: _CallPlan, raw: RawAnswer, info: RequestInfo, api: ApiClient
    ) -> HttpAnswer:
        """An answer the direct road brought, checked by the route's generated parser."""
        body = _parse_content(raw.content)
        shape_problem: str | None = None
        try:
            plan.binding.parse_response(client=api, response=_ParsedAnswer(raw, body))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            shape_problem = f"{type(exc).__name__}: {exc}"
        return _http_answer(plan, info, raw.status_code, raw.headers, body, shape_problem)

    @staticmethod
    def _failure(plan: _CallPlan, answer: HttpAnswer) -> CodexManagerError | None:
        """The error an answer stands for, or ``None`` when it is a result of the method."""
        if answer.status_code not in plan.ok:
            return answer.status_error()
        if answer.status_code >= 500 and (
            not isinstance(answer.body, dict) or answer.shape_problem is not None
        ):
            # A documented 5xx outcome without its body (a proxy's page, the server's generic
            # failure) is a server error like any other, not a malformed result.
            return answer.status_error()
        if not isinstance(answer.body, dict):
            return answer.unexpected("expected a JSON object")
        if answer.shape_problem is not None:
            return answer.unexpected(f"not the documented schema: {answer.shape_problem}")
        return None

    def _retry_delay(
        self,
        policy: RetryPolicy,
        plan: _CallPlan,
        attempt: int,
        error: CodexManagerError,
        answer: HttpAnswer | None,
    ) -> float | None:
        """Seconds to wait before retrying after ``error``, or ``None`` to give up."""
        if not policy.allows_another(attempt):
            return None
        replayable = plan.replay_after_unclear or policy.retry_non_idempotent
        if isinstance(error, ConnectError):
            # Nothing reached the server; but a certificate it was refused for stays refused.
            retry = policy.retry_connect_errors and not cause_of_kind(
                error, ssl.SSLCertVerificationError, implicit=True
            )
        elif isinstance(error, TransportError):
            # A request refused before sending (a header no request may carry) never will be.
            retry = replayable and not isinstance(error, UnsendableRequestError)
        elif answer is not None and isinstance(error, APIStatusError):
            status = answer.status_code
            done_nothing = status in _NOTHING_DONE_STATUSES
            safe = plan.replay_safe if done_nothing else plan.replay_after_unclear
            retry = policy.is_retryable_status(status, idempotent=safe)
        else:
            retry = False
        if not retry:
            return None
        retry_after = retry_after_from_headers(answer.headers) if answer is not None else None
        return policy.delay_for(attempt, retry_after)

    def _check_open_for_retry(
        self, plan: _CallPlan, attempt: int, error: CodexManagerError
    ) -> None:
        """Raise :class:`ClientClosedError` if the client closed while a retry was waiting.

        The closed connection pool would refuse the next attempt with a bare error of its
        library (httpx's or aiohttp's ``RuntimeError``), outside the SDK's error types.
        """
        if self._closed:
            raise ClientClosedError(
                f"{plan.operation.operation_id}: the client was closed while the call waited "
                f"to retry; attempt {attempt} had failed ({type(error).__name__}: {error})"
            ) from error

    @staticmethod
    def _log_retry(info: RequestInfo, error: CodexManagerError, delay: float, limit: int) -> None:
        logger.info(
            "%s: attempt %d/%d failed (%s); retrying in %.3f s",
            info.operation_id,
            info.attempt,
            limit,
            type(error).__name__,
            delay,
        )


def _describe(request: httpx.Request, info: RequestInfo) -> None:
    """Record the final method and URL (after the prefix rewrite) for hooks and errors."""
    info.method = request.method
    info.url = redact_url(str(request.url))  # a given http_client's base URL may have them


def _apply_extra_headers(request: httpx.Request, info: RequestInfo) -> None:
    """Send the headers ``before`` hooks set for this attempt."""
    for name, value in info.headers.items():
        request.headers[name] = value


class SyncTransport(_TransportBase):
    """Sends operations for :class:`~codex_manager.CodexManager` (blocking)."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        hooks: Hooks | None = None,
    ):
        super().__init__(config, retry)
        self.hooks = hooks or Hooks(REST_OPERATIONS)
        self._sleep = sleep
        self._owns_http = http_client is None
        if http_client is None:
            http_client = SdkHttpClient(
                base_url=config.server_url, timeout=config.timeout, transport=transport
            )
        self._adopt(http_client, self._on_request, self._on_response)
        self.http = http_client
        self._api: ApiClient | None = None
        # The answer road needs the httpx client to be the SDK's own, on stock transport.
        self._answer_road: SyncAnswerRoad | None = (
            SyncAnswerRoad()
            if self._owns_http and transport is None and not proxy_applies(config.server_url)
            else None
        )

    @property
    def api(self) -> ApiClient:
        """The generated bindings' client, sharing :attr:`http` (built on first use)."""
        if self._api is None:
            from codex_manager_api import Client

            api = Client(base_url=self.config.server_url, raise_on_unexpected_status=False)
            api.set_httpx_client(self.http)
            self._api = api
        return self._api

    def _road_for(self, plan: _CallPlan) -> SyncAnswerRoad | None:
        """The direct road when ``plan`` may take it (see :mod:`codex_manager.client._direct`)."""
        road = self._answer_road
        if (
            road is None
            or not self._may_take_road(plan, self.http)
            or self.http.base_url.userinfo  # a given client's own: httpx makes Basic auth of it
            or not road.serves()
        ):
            return None
        return road

    def _on_request(self, request: httpx.Request) -> None:
        state = _current_attempt.get()
        self._prepare(request, state)
        if state is not None:
            _describe(request, state.info)
            self.hooks.run_before(state.info)
            _refuse_invalid_headers(state.info)
            _apply_extra_headers(request, state.info)

    def _on_response(self, response: httpx.Response) -> None:
        state = _current_attempt.get()
        if state is not None:
            state.response = response

    def call(
        self,
        operation_id: str,
        *,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, QueryValue | Omit] | None = None,
        body: Mapping[str, object] | Omit = OMIT,
        ok: Collection[int] = (200,),
        retry: RetryPolicy | None = None,
    ) -> HttpAnswer:
        """Send ``operation_id``; returns an answer whose status is in ``ok``, else raises."""
        plan = self._plan(operation_id, path=path or {}, query=query or {}, body=body, ok=ok)
        policy = retry or self.retry
        attempt = 0
        while True:
            attempt += 1
            state = self._new_attempt(plan, attempt)
            answer: HttpAnswer | None = None
            error: CodexManagerError | None
            try:
                answer = self._send(plan, state)
                error = self._failure(plan, answer)
            except TransportError as exc:
                error = exc
            if error is None and answer is not None:
                return answer
            assert error is not None
            delay = self._retry_delay(policy, plan, attempt, error, answer)
            self.hooks.run_error(ErrorInfo(state.info, error, delay is not None, delay))
            if delay is None:
                raise error
            self._log_retry(state.info, error, delay, policy.max_attempts)
            self._sleep(delay)
            self._check_open_for_retry(plan, attempt, error)

    def _send(self, plan: _CallPlan, state: _Attempt) -> HttpAnswer:
        road = self._road_for(plan)
        if road is not None:
            return self._send_direct(plan, state, road)
        token = _current_attempt.set(state)
        started = time.monotonic()
        try:
            plan.binding.sync_detailed(client=self.api, **plan.kwargs)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, state.info) from _shown_cause(exc)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # The generated attrs parser rejected the body: the answer is judged from the raw
            # body below. Without an answer, the error came from elsewhere: re-raise it.
            if state.response is None:
                raise
            state.shape_problem = f"{type(exc).__name__}: {exc}"
        finally:
            _current_attempt.reset(token)
        answer = self._answer(plan, state)
        self.hooks.run_after(
            ResponseInfo(state.info, answer.status_code, time.monotonic() - started)
        )
        return answer

    def _send_direct(self, plan: _CallPlan, state: _Attempt, road: SyncAnswerRoad) -> HttpAnswer:
        info = state.info
        started = time.monotonic()
        self.hooks.run_before(info)
        _refuse_invalid_headers(info)
        headers = request_headers(self.http, info.headers)
        try:
            raw = road.post(plan.url, plan.encoded_body(), headers, self.http.timeout)
        except httpx.TransportError as exc:  # the road raises what the httpx road would
            raise _transport_error(exc, info) from _shown_cause(exc)
        _keep_cookies(self.http, raw, plan.url)
        answer = self._answer_from_raw(plan, raw, info, self.api)
        self.hooks.run_after(ResponseInfo(info, answer.status_code, time.monotonic() - started))
        return answer

    def close(self) -> None:
        """Close the connection pools (only when this transport created them)."""
        self._closed = True
        if self._answer_road is not None:
            self._answer_road.close()
        if self._owns_http:
            self.http.close()
        else:
            self._release(self.http, self._on_request, self._on_response)


class AsyncTransport(_TransportBase):
    """Sends operations for :class:`~codex_manager.AsyncCodexManager`."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_transport: HttpTransportChoice = "auto",
        sleep: Callable[[float], object] = asyncio.sleep,
        hooks: AsyncHooks | None = None,
    ):
        super().__init__(config, retry)
        self.hooks = hooks or AsyncHooks(REST_OPERATIONS)
        self._sleep = sleep
        self._owns_http = http_client is None
        self._answer_road: AiohttpAnswerRoad | None = None
        if http_client is None:
            setup = new_async_http_client(
                base_url=config.server_url,
                timeout=config.timeout,
                choice=http_transport,
                transport=transport,
            )
            http_client = setup.client
            if setup.aiohttp_transport is not None and not proxy_applies(config.server_url):
                self._answer_road = AiohttpAnswerRoad(setup.aiohttp_transport)
        self._adopt(http_client, self._on_request, self._on_response)
        self.http = http_client
        self._on_aiohttp = carried_by_aiohttp(http_client)
        self._api: ApiClient | None = None

    @property
    def api(self) -> ApiClient:
        """The generated bindings' client, sharing :attr:`http` (built on first use)."""
        if self._api is None:
            from codex_manager_api import Client

            api = Client(base_url=self.config.server_url, raise_on_unexpected_status=False)
            api.set_async_httpx_client(self.http)
            self._api = api
        return self._api

    async def _on_request(self, request: httpx.Request) -> None:
        state = _current_attempt.get()
        self._prepare(request, state)
        if state is not None:
            _describe(request, state.info)
            await self.hooks.run_before(state.info)
            _refuse_invalid_headers(state.info)
            _apply_extra_headers(request, state.info)

    async def _on_response(self, response: httpx.Response) -> None:
        state = _current_attempt.get()
        if state is not None:
            state.response = response

    async def call(
        self,
        operation_id: str,
        *,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, QueryValue | Omit] | None = None,
        body: Mapping[str, object] | Omit = OMIT,
        ok: Collection[int] = (200,),
        retry: RetryPolicy | None = None,
    ) -> HttpAnswer:
        """Send ``operation_id``; returns an answer whose status is in ``ok``, else raises."""
        plan = self._plan(operation_id, path=path or {}, query=query or {}, body=body, ok=ok)
        policy = retry or self.retry
        attempt = 0
        while True:
            attempt += 1
            state = self._new_attempt(plan, attempt)
            answer: HttpAnswer | None = None
            error: CodexManagerError | None
            try:
                answer = await self._send(plan, state)
                error = self._failure(plan, answer)
            except TransportError as exc:
                error = exc
            if error is None and answer is not None:
                return answer
            assert error is not None
            delay = self._retry_delay(policy, plan, attempt, error, answer)
            await self.hooks.run_error(ErrorInfo(state.info, error, delay is not None, delay))
            if delay is None:
                raise error
            self._log_retry(state.info, error, delay, policy.max_attempts)
            await _maybe_await(self._sleep(delay))
            self._check_open_for_retry(plan, attempt, error)

    def _road_for(self, plan: _CallPlan) -> AiohttpAnswerRoad | None:
        """The direct road when ``plan`` may take it (see :mod:`codex_manager.client._direct`)."""
        road = self._answer_road
        return road if road is not None and self._may_take_road(plan, self.http) else None

    async def _send_direct(
        self, plan: _CallPlan, state: _Attempt, road: AiohttpAnswerRoad
    ) -> HttpAnswer:
        info = state.info
        started = time.monotonic()
        await self.hooks.run_before(info)
        _refuse_invalid_headers(info)
        headers = request_headers(self.http, info.headers)
        try:
            raw = await road.post(plan.url, plan.encoded_body(), headers, self.http.timeout)
        except Exception as exc:
            if isinstance(exc, TimeoutError) or is_unmapped_aiohttp_error(exc):
                raise _transport_error(exc, info) from _shown_cause(exc)
            raise
        _keep_cookies(self.http, raw, plan.url)
        answer = self._answer_from_raw(plan, raw, info, self.api)
        await self.hooks.run_after(
            ResponseInfo(info, answer.status_code, time.monotonic() - started)
        )
        return answer

    async def _send(self, plan: _CallPlan, state: _Attempt) -> HttpAnswer:
        if plan.exact_route is not None and self._on_aiohttp:
            raise InvalidPathParameterError(
                f"{plan.operation.operation_id}: a path parameter of '.' or '..' cannot be sent "
                "on the aiohttp transport (it would reach another route); use "
                'http_transport="httpx" for this request'
            )
        road = self._road_for(plan)
        if road is not None:
            return await self._send_direct(plan, state, road)
        token = _current_attempt.set(state)
        started = time.monotonic()
        try:
            pending = plan.binding.asyncio_detailed(client=self.api, **plan.kwargs)
            await _maybe_await(pending)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, state.info) from _shown_cause(exc)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if is_unmapped_aiohttp_error(exc):  # e.g. aiohttp.InvalidURL, a ValueError
                raise _transport_error(exc, state.info) from _shown_cause(exc)
            if state.response is None:
                raise
            state.shape_problem = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            # httpx-aiohttp passes some aiohttp errors through unchanged (a malformed
            # response, for one): they are transport failures all the same.
            if is_unmapped_aiohttp_error(exc):
                raise _transport_error(exc, state.info) from _shown_cause(exc)
            raise
        finally:
            _current_attempt.reset(token)
        answer = self._answer(plan, state)
        await self.hooks.run_after(
            ResponseInfo(state.info, answer.status_code, time.monotonic() - started)
        )
        return answer

    async def aclose(self) -> None:
        """Close the connection pool (only when this transport created it)."""
        self._closed = True
        if self._owns_http:
            await self.http.aclose()
        else:
            self._release(self.http, self._on_request, self._on_response)


def _keep_cookies(http: httpx.Client | httpx.AsyncClient, raw: RawAnswer, url: str) -> None:
    """Store the cookies a direct-road answer sets, as httpx stores those of its answers.

    (A client with cookies then sends on httpx's road, which sends them back.)
    """
    if "set-cookie" in raw.headers:
        request = httpx.Request("POST", url)
        answer = httpx.Response(raw.status_code, headers=raw.headers, request=request)
        http.cookies.extract_cookies(answer)


async def _maybe_await(value: object) -> None:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        await value


__all__ = ["AsyncTransport", "HttpAnswer", "QueryValue", "SyncTransport"]
