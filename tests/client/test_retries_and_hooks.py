"""Retries (counted, Retry-After honoured, idempotency), hooks, headers and the API prefix."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import traceback
from collections.abc import Awaitable, Callable

import httpx
import pytest
import trustme

from codex_manager import AsyncCodexManager, CodexManager, HttpTransportChoice, RetryPolicy
from codex_manager.errors import (
    AuthenticationError,
    ConnectError,
    InvalidRequestBodyError,
    ProtocolError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    TurnWaitTimeoutError,
    UnknownOperationError,
)
from codex_manager.hooks import ErrorInfo, RequestInfo, ResponseInfo, as_operation_id
from tests.client.conftest import ACCEPTED, HEALTH, SESSIONS_PAGE, Reply, ScriptedServer

FAST = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.002)


def test_transient_statuses_are_retried_and_counted(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(503, {"status": "error"}), Reply(429, {}), Reply(200, HEALTH))
    failures: list[ErrorInfo] = []
    with CodexManager(scripted.base_url, retry=FAST) as cm:
        cm.hooks.on_error("*")(failures.append)
        assert cm.system.health()["status"] == "ok"
    assert len(scripted.received) == 3
    assert [f.request.attempt for f in failures] == [1, 2]
    assert all(f.will_retry for f in failures)


def test_retries_stop_at_max_attempts(scripted: ScriptedServer) -> None:
    scripted.queue(*[Reply(503, {"status": "error"})] * 5)
    failures: list[ErrorInfo] = []
    with CodexManager(scripted.base_url, retry=FAST) as cm:
        cm.hooks.on_error()(failures.append)
        with pytest.raises(ServerError):
            cm.system.health()
    assert len(scripted.received) == 3
    assert [f.will_retry for f in failures] == [True, True, False]


def test_retry_after_is_honoured(scripted: ScriptedServer) -> None:
    scripted.queue(
        Reply(503, {}, headers={"Retry-After": "0.05"}),
        Reply(429, {}, headers={"Retry-After-Ms": "30"}),
        Reply(200, HEALTH),
    )
    slept: list[float] = []
    with CodexManager(scripted.base_url, retry=RetryPolicy(initial_delay=5)) as cm:
        cm._transport._sleep = slept.append  # record instead of waiting
        cm.system.health()
    assert slept == [0.05, 0.03]


async def test_async_retry_after_is_honoured(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(503, {}, headers={"Retry-After": "0.01"}), Reply(200, HEALTH))
    delays: list[float | None] = []
    async with AsyncCodexManager(scripted.base_url, retry=RetryPolicy(initial_delay=5)) as cm:

        @cm.hooks.on_error("getHealth")
        async def record(info: ErrorInfo) -> None:
            delays.append(info.retry_delay)

        assert (await cm.system.health())["status"] == "ok"
    assert delays == [0.01]
    assert len(scripted.received) == 2


def test_post_is_not_replayed_unless_allowed(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(503, {}), Reply(503, {}), Reply(202, ACCEPTED))
    with CodexManager(scripted.base_url, retry=FAST) as cm:
        with pytest.raises(ServerError):
            cm.session("s").messages.send("hi")
        assert len(scripted.received) == 1
        opt_in = RetryPolicy(max_attempts=3, initial_delay=0.001, retry_non_idempotent=True)
        assert cm.session("s").messages.send("hi", retry=opt_in)["turnId"] == "t"
    assert len(scripted.received) == 3


def test_per_call_disabled_retry_makes_one_attempt(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(503, {}), Reply(200, HEALTH))
    with CodexManager(scripted.base_url, retry=FAST) as cm, pytest.raises(ServerError):
        cm.system.health(retry=RetryPolicy.disabled())
    assert len(scripted.received) == 1


def test_connect_errors_are_retried_even_for_post(closed_port_url: str) -> None:
    failures: list[ErrorInfo] = []
    with CodexManager(closed_port_url, retry=FAST) as cm:
        cm.hooks.on_error("sendSessionMessage")(failures.append)
        with pytest.raises(ConnectError) as caught:
            cm.session("s").messages.send("hi")
    assert len(failures) == 3
    assert caught.value.operation_id == "sendSessionMessage"
    assert "could not connect" in str(caught.value)


async def test_async_connect_error(closed_port_url: str) -> None:
    async with AsyncCodexManager(closed_port_url, retry=RetryPolicy.disabled()) as cm:
        with pytest.raises(ConnectError):
            await cm.system.health()


def test_read_timeouts_are_retried_only_when_replay_is_safe(scripted: ScriptedServer) -> None:
    slow = Reply(200, HEALTH, delay=0.3)
    scripted.queue(slow, slow)
    with CodexManager(scripted.base_url, timeout=0.05, retry=FAST) as cm:
        with pytest.raises(RequestTimeoutError, match="timed out"):
            cm.system.health(retry=RetryPolicy(max_attempts=2, initial_delay=0.001))
        assert len(scripted.received) == 2
        scripted.queue(Reply(202, ACCEPTED, delay=0.3))
        with pytest.raises(RequestTimeoutError):
            cm.session("s").messages.send("hi")
    assert len(scripted.received) == 3


DELETED = {"status": "ok", "sessionId": "s", "title": None, "deletedFileCount": 3}
GONE = {"status": "deleted", "sessionId": "s", "message": "permanently deleted", "deletedAt": "x"}
UNCHANGED = {
    "status": "unchanged",
    "sessionId": "s",
    "scope": "session",
    "key": "k",
    "removed": False,
    "settings": {},
}


@pytest.mark.parametrize("answer", [Reply(504, {}), Reply(200, DELETED, delay=0.3)])
@pytest.mark.parametrize(
    ("target", "replayed"),
    [
        ("session", Reply(410, GONE)),
        ("project", Reply(404, {"error": "not found"})),
        ("setting", Reply(200, UNCHANGED)),
    ],
)
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_deletion_is_not_replayed_into_its_own_failure(
    scripted: ScriptedServer, answer: Reply, target: str, replayed: Reply, kind: str
) -> None:
    # The first attempt deleted; its answer was lost (a gateway timeout, or the client's own
    # while the server interrupted the turn). Replayed, the DELETE met 410 Gone (a project:
    # 404, a setting: "unchanged", removed false) and the caller was told the deletion failed
    # or never happened.
    scripted.queue(answer, replayed)
    failure = (ServerError, RequestTimeoutError)
    if kind == "sync":
        with CodexManager(scripted.base_url, timeout=0.05, retry=FAST) as cm:
            deletions: dict[str, Callable[[], object]] = {
                "session": lambda: cm.sessions.delete("x"),
                "project": lambda: cm.projects.delete("x"),
                "setting": lambda: cm.sessions.delete_setting("x", "k"),
            }
            with pytest.raises(failure):
                deletions[target]()
    else:
        async with AsyncCodexManager(scripted.base_url, timeout=0.05, retry=FAST) as acm:
            adeletions: dict[str, Callable[[], Awaitable[object]]] = {
                "session": lambda: acm.sessions.delete("x"),
                "project": lambda: acm.projects.delete("x"),
                "setting": lambda: acm.sessions.delete_setting("x", "k"),
            }
            with pytest.raises(failure):
                await adeletions[target]()
    assert len(scripted.received) == 1


@pytest.mark.parametrize("http_transport", ["aiohttp", "httpx"])
async def test_a_deletion_whose_connection_dropped_is_sent_once_on_either_transport(
    scripted: ScriptedServer, http_transport: HttpTransportChoice
) -> None:
    # aiohttp sent the DELETE a second time by itself when the connection dropped, under the
    # SDK's policy: the deletion the server had carried out then read 410 Gone.
    scripted.queue(Reply(200, DELETED, drop=True), Reply(410, {"status": "deleted"}))
    async with AsyncCodexManager(
        scripted.base_url, retry=FAST, http_transport=http_transport
    ) as acm:
        with pytest.raises(ProtocolError):
            await acm.sessions.delete("x")
    assert [r.method for r in scripted.received] == ["DELETE"]


async def test_a_dropped_read_is_sent_as_often_as_the_policy_says_and_no_more(
    scripted: ScriptedServer,
) -> None:
    # Each of aiohttp's own hidden replays doubled the attempts max_attempts allows.
    scripted.queue(*[Reply(200, SESSIONS_PAGE, drop=True)] * 4)
    async with AsyncCodexManager(scripted.base_url, retry=FAST, http_transport="aiohttp") as acm:
        with pytest.raises(ProtocolError):
            await acm.sessions.list()
    assert len(scripted.received) == FAST.max_attempts


@pytest.mark.parametrize("status", [429, 503])
def test_a_deletion_refused_before_it_was_carried_out_is_retried(
    scripted: ScriptedServer, status: int
) -> None:
    # A 429 or 503 says nothing was done: the retry cannot meet its own deletion.
    scripted.queue(Reply(status, {}), Reply(200, DELETED))
    with CodexManager(scripted.base_url, retry=FAST) as cm:
        assert cm.sessions.delete("s")["deletedFileCount"] == 3
    assert len(scripted.received) == 2


def test_a_deletion_is_replayed_when_allowed(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(503, {}), Reply(200, DELETED))
    opt_in = RetryPolicy(max_attempts=2, initial_delay=0.001, retry_non_idempotent=True)
    with CodexManager(scripted.base_url, retry=opt_in) as cm:
        assert cm.sessions.delete("s")["deletedFileCount"] == 3
    assert len(scripted.received) == 2


def test_a_setting_deletion_is_still_replayed(scripted: ScriptedServer) -> None:
    removed = {"status": "ok", "sessionId": "s", "scope": "session", "removed": True}
    scripted.queue(Reply(503, {}), Reply(200, {**removed, "key": "k", "settings": {}}))
    with CodexManager(scripted.base_url, retry=FAST) as cm:
        assert cm.sessions.delete_setting("s", "k")["removed"] is True
    assert len(scripted.received) == 2


def test_dropped_connection_is_a_protocol_error(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(200, drop=True))
    cm = CodexManager(scripted.base_url, retry=RetryPolicy.disabled())
    with cm, pytest.raises(ProtocolError) as caught:
        cm.session("s").messages.send("hi")
    assert caught.value.operation_id == "sendSessionMessage"
    assert caught.value.method == "POST"


async def test_async_client_runs_plain_and_async_hooks(scripted: ScriptedServer) -> None:
    calls: list[str] = []
    async with AsyncCodexManager(scripted.base_url) as cm:

        @cm.hooks.before()
        def plain(info: RequestInfo) -> None:
            calls.append("plain " + info.operation_id)

        @cm.hooks.before("getHealth")
        async def coroutine(info: RequestInfo) -> None:
            info.headers["x-async"] = "yes"
            calls.append("async " + info.operation_id)

        await cm.system.health()
    assert calls == ["plain getHealth", "async getHealth"]
    assert scripted.received[0].headers["x-async"] == "yes"


def test_before_hook_sets_headers_per_operation(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(200, HEALTH), Reply(200, SESSIONS_PAGE))
    seen: list[RequestInfo] = []
    answers: list[ResponseInfo] = []
    with CodexManager(scripted.base_url, bearer_token="old") as cm:

        @cm.hooks.before("getHealth")
        def refresh(info: RequestInfo) -> None:
            info.headers["Authorization"] = "Bearer fresh"
            seen.append(info)

        cm.hooks.after()(answers.append)
        cm.system.health()
        cm.sessions.list()
        with pytest.raises(UnknownOperationError):
            cm.hooks.before("noSuchOperation")  # type: ignore[arg-type]  # deliberately unknown
        # An id computed at run time: typed (and checked) by as_operation_id.
        computed: list[RequestInfo] = []
        cm.hooks.before(as_operation_id("get" + "Health"))(computed.append)
        with pytest.raises(UnknownOperationError):
            as_operation_id("getHelth")
        assert cm.hooks.remove(refresh)
        cm.system.health()
        assert [info.operation_id for info in computed] == ["getHealth"]
    assert [r.headers["authorization"] for r in scripted.received] == [
        "Bearer fresh",
        "Bearer old",
        "Bearer old",
    ]
    assert [i.operation_id for i in seen] == ["getHealth"]
    assert seen[0].url.endswith("/api/health")
    assert seen[0].method == "GET"
    assert [(a.request.operation_id, a.status_code) for a in answers] == [
        ("getHealth", 200),
        ("listSessions", 200),
        ("getHealth", 200),
    ]


def test_auth_and_custom_headers_are_sent(scripted: ScriptedServer) -> None:
    with CodexManager(
        scripted.base_url,
        headers={"x-team": "blue"},
        bearer_token="b",
        rbac_token="r",
        rbac_role="admin",
        rbac_actor="me",
    ) as cm:
        cm.extensions.list()
    headers = scripted.received[0].headers
    assert headers["authorization"] == "Bearer b"
    assert headers["x-codex-rbac-token"] == "r"
    assert headers["x-codex-rbac-role"] == "admin"
    assert headers["x-codex-rbac-actor"] == "me"
    assert headers["x-team"] == "blue"


def test_custom_api_prefix_and_query(scripted: ScriptedServer) -> None:
    removed = {
        "status": "ok",
        "sessionId": "a/b c",
        "scope": "session",
        "key": "k",
        "removed": True,
        "settings": {},
    }
    scripted.queue(Reply(200, SESSIONS_PAGE), Reply(200, removed))
    with CodexManager(scripted.base_url + "/base", api_prefix="/v2") as cm:
        cm.sessions.list(archived=True, limit=5)
        cm.session("a/b c").settings.delete("k", scope="session")
    first, second = scripted.received
    assert first.path.startswith("/base/v2/sessions?")
    assert "archived=true" in first.path
    assert "limit=5" in first.path
    assert second.method == "DELETE"
    assert second.path == "/base/v2/sessions/a%2Fb%20c/settings/k?scope=session"


def test_user_http_client_is_adopted_not_closed(scripted: ScriptedServer) -> None:
    http = httpx.Client()
    with CodexManager(scripted.base_url, http_client=http, bearer_token="t") as cm:
        cm.system.health()
        assert cm.http_client is http
    assert not http.is_closed
    assert scripted.received[0].headers["authorization"] == "Bearer t"
    http.close()


def test_pool_is_reused(scripted: ScriptedServer) -> None:
    scripted.queue(Reply(200, HEALTH), Reply(200, {"name": "Codex Manager API", "version": "1"}))
    with CodexManager(scripted.base_url) as cm:
        client = cm.http_client
        cm.system.health()
        cm.system.info()
        assert cm.http_client is client
    assert client.is_closed


def test_secrets_stay_out_of_logs_and_errors(
    scripted: ScriptedServer, caplog: pytest.LogCaptureFixture, closed_port_url: str
) -> None:
    secret = "s3cr3t-token-value"
    scripted.queue(Reply(503, {}), Reply(401, {"status": "error", "code": "auth_required"}))
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    with CodexManager(
        scripted.base_url,
        bearer_token=secret,
        rbac_token=secret,
        headers={"x-api-key": secret},
        retry=FAST,
    ) as cm:

        @cm.hooks.on_error()
        def remember(info: ErrorInfo) -> None:
            errors.append(repr(info.request))
            errors.append(str(info.error))

        with pytest.raises(AuthenticationError) as caught:
            cm.system.health()
        errors.append(str(caught.value))
        errors.append(repr(cm) + repr(cm.client_config))
    with CodexManager(closed_port_url, bearer_token=secret, retry=FAST) as cm:
        with pytest.raises(ConnectError) as refused:
            cm.system.health()
        errors.append(str(refused.value))
    assert errors
    assert any("retrying" in record.getMessage() for record in caplog.records)
    for text in [*errors, *(record.getMessage() for record in caplog.records)]:
        assert secret not in text


@pytest.mark.parametrize("client", ["sync", "async"])
async def test_a_password_in_the_base_url_is_sent_once_and_shown_nowhere(
    scripted: ScriptedServer, caplog: pytest.LogCaptureFixture, client: str
) -> None:
    # With a bearer token too: aiohttp refused a URL with user info beside an Authorization
    # header (a ValueError out of every call); the URL's credentials win, as httpx's do.
    secret = "s3cr3t-pw"
    base_url = scripted.base_url.replace("http://", f"http://alice:{secret}@")
    scripted.queue(Reply(200, HEALTH), Reply(500, {"status": "error", "code": "boom"}))
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    if client == "sync":
        with CodexManager(base_url, bearer_token="tok", retry=RetryPolicy.disabled()) as cm:
            cm.system.health()
            with pytest.raises(ServerError) as caught:
                cm.system.health()
            shown += [repr(cm), repr(cm.client_config), cm.client_config.stream_url()]
    else:
        async with AsyncCodexManager(
            base_url, bearer_token="tok", retry=RetryPolicy.disabled()
        ) as acm:
            await acm.system.health()
            with pytest.raises(ServerError) as caught:
                await acm.system.health()
            shown += [repr(acm), repr(acm.client_config)]
    shown += [str(caught.value), caught.value.url, *(r.getMessage() for r in caplog.records)]
    for text in shown:
        assert secret not in text
    assert caught.value.url.startswith(scripted.base_url)  # no URL sent has the credentials
    for received in scripted.received:
        authorizations = [v for name, v in received.header_lines if name == "authorization"]
        assert authorizations == ["Basic YWxpY2U6czNjcjN0LXB3"]  # alice:s3cr3t-pw


@pytest.mark.parametrize("client", ["sync", "async"])
async def test_a_token_httpx_refuses_to_send_never_shows_in_the_error(
    scripted: ScriptedServer, client: str
) -> None:
    # httpx (h11) quotes the refused header value in its message: the token must not leak.
    # (The configuration refuses such a token; a hook's header reaches httpx unchecked.)
    def sign(info: RequestInfo) -> None:
        info.headers["Authorization"] = "Bearer TOP\x00SECRET"

    if client == "sync":
        with CodexManager(scripted.base_url, retry=RetryPolicy.disabled()) as cm:
            cm.hooks.before()(sign)
            with pytest.raises(ProtocolError) as caught:
                cm.system.health()
    else:
        async with AsyncCodexManager(
            scripted.base_url, retry=RetryPolicy.disabled(), http_transport="httpx"
        ) as acm:
            acm.hooks.before()(sign)
            with pytest.raises(ProtocolError) as caught:
                await acm.system.health()
    assert "TOPSECRET" not in str(caught.value)
    assert "not valid HTTP" in str(caught.value)


@pytest.mark.parametrize("client", ["sync", "async"])
async def test_a_turn_wait_on_a_stalled_server_ends_as_a_turn_wait_timeout(
    scripted: ScriptedServer, client: str
) -> None:
    # Each poll is one attempt (the async one also cut at the deadline): with the client's
    # retries one poll took attempts x timeout, and raised RequestTimeoutError.
    scripted.queue(*[Reply(200, {}, delay=1.0) for _ in range(6)])

    async def wait() -> None:
        if client == "sync":
            with CodexManager(scripted.base_url, timeout=0.3) as cm:
                cm.wait.turn("s", "t", timeout=0.2, poll_interval=0.05)
        else:
            async with AsyncCodexManager(scripted.base_url, timeout=5.0) as acm:
                await acm.wait.turn("s", "t", timeout=0.2, poll_interval=0.05)

    with pytest.raises(TurnWaitTimeoutError) as caught:
        await wait()
    assert caught.value.last_status is None
    assert caught.value.__cause__ is not None  # the last poll's failure


def test_a_request_httpx_refuses_to_send_is_not_retried(scripted: ScriptedServer) -> None:
    failures: list[ErrorInfo] = []
    with CodexManager(scripted.base_url, retry=FAST) as cm:

        @cm.hooks.before()
        def sign(info: RequestInfo) -> None:
            info.headers["Authorization"] = "Bearer TOP\x00SECRET"

        cm.hooks.on_error()(failures.append)
        with pytest.raises(ProtocolError):
            cm.system.health()  # a GET: retried on transport errors, but this one never sends
    assert [failure.will_retry for failure in failures] == [False]
    assert scripted.received == []


async def test_a_string_for_a_list_parameter_is_refused_before_sending(
    scripted: ScriptedServer,
) -> None:
    # A str is a Sequence[str] to mypy: commands.execute("ls -la") went out as
    # {"command": "ls -la"} and met the server's 400.
    with CodexManager(scripted.base_url) as cm:
        with pytest.raises(InvalidRequestBodyError, match=r"command must be a list.*\['ls'\]"):
            cm.commands.execute("ls")
        with pytest.raises(InvalidRequestBodyError, match="scopes"):
            cm.mcp.oauth_login("server", scopes="read")
    async with AsyncCodexManager(scripted.base_url) as acm:
        with pytest.raises(InvalidRequestBodyError, match="key_path"):
            await acm.config.write_value("a.b", 1, merge_strategy="replace")
    assert scripted.received == []


def _session_read(turn_status: str) -> dict[str, object]:
    """A readSession body (the documented shape) whose turn ``t`` has ``turn_status``."""
    controls = {
        "model": None,
        "approvalPolicy": "never",
        "networkAccess": "restricted",
        "filesystemSandbox": "read-only",
    }
    common = {"modelProvider": "x", "createdAt": 1, "updatedAt": 1, "cwd": "/", "source": "vscode"}
    reply = {"messageId": "m", "turnId": "t", "role": "assistant", "type": "agentMessage"}
    return {
        "session": {
            "sessionId": "s",
            "title": "t",
            "materialized": True,
            "approvalPolicy": "never",
            "sessionControls": controls,
            "projectId": None,
            **common,
        },
        "thread": {
            "id": "s",
            "preview": "",
            "turns": [{"id": "t", "status": turn_status, "items": []}],
            **common,
        },
        "transcript": [{**reply, "content": "done", "status": "complete"}]
        if turn_status == "completed"
        else [],
    }


@pytest.mark.parametrize("client", ["sync", "async"])
async def test_a_turn_wait_polls_through_a_429(scripted: ScriptedServer, client: str) -> None:
    # One "too many requests" (a proxy's, say) ended a wait of minutes with RateLimitError.
    limited = Reply(429, {"status": "error"}, headers={"Retry-After": "0"})
    scripted.queue(
        Reply(200, _session_read("inProgress")), limited, Reply(200, _session_read("completed"))
    )
    if client == "sync":
        with CodexManager(scripted.base_url) as cm:
            result = cm.wait.turn("s", "t", timeout=10, poll_interval=0.01)
    else:
        async with AsyncCodexManager(scripted.base_url) as acm:
            result = await acm.wait.turn("s", "t", timeout=10, poll_interval=0.01)
    assert (result.status, result.reply) == ("completed", "done")
    assert len(scripted.received) == 3


def test_a_status_error_carries_what_retry_after_asked(scripted: ScriptedServer) -> None:
    # So that callers with retries of their own (a remote skill's answer) can honour it.
    scripted.queue(Reply(429, {}, headers={"Retry-After": "7"}))
    with CodexManager(scripted.base_url) as cm, pytest.raises(RateLimitError) as raised:
        cm.tool_calls.respond("3", text="ok", retry=RetryPolicy.disabled())
    assert raised.value.retry_after == pytest.approx(7.0)


async def test_an_async_status_error_carries_what_retry_after_asked(
    scripted: ScriptedServer,
) -> None:
    scripted.queue(Reply(503, {}, headers={"Retry-After-Ms": "1500"}))
    async with AsyncCodexManager(scripted.base_url) as cm:
        with pytest.raises(ServerError) as raised:
            await cm.tool_calls.respond("3", text="ok", retry=RetryPolicy.disabled())
    assert raised.value.retry_after == pytest.approx(1.5)


@pytest.mark.parametrize("http_transport", ["aiohttp", "httpx"])
async def test_a_header_no_request_may_carry_is_refused_alike_on_every_transport(
    scripted: ScriptedServer, http_transport: HttpTransportChoice
) -> None:
    # On aiohttp it came out as a bare ValueError, outside the SDK's errors; and the error
    # chained on the others quoted the value (a token) in every traceback.
    def add_token(info: RequestInfo) -> None:
        info.headers["x-api-key"] = "SECRET-TOKEN-123\n"

    failures: list[BaseException] = []
    with CodexManager(scripted.base_url, retry=RetryPolicy.disabled()) as cm:
        cm.hooks.before("*")(add_token)
        for attempt in (cm.system.info, lambda: cm.tool_calls.respond("1", text="x")):
            with pytest.raises(ProtocolError) as caught:
                attempt()
            failures.append(caught.value)
    async with AsyncCodexManager(
        scripted.base_url, retry=RetryPolicy.disabled(), http_transport=http_transport
    ) as acm:
        acm.hooks.before("*")(add_token)
        for asynchronous in (acm.system.info, lambda: acm.tool_calls.respond("1", text="x")):
            with pytest.raises(ProtocolError) as caught:
                await asynchronous()
            failures.append(caught.value)
    for failure in failures:
        assert "value not shown" in str(failure)
        assert "SECRET-TOKEN-123" not in "".join(traceback.format_exception(failure))
    assert scripted.received == []


def test_a_given_clients_header_that_is_refused_is_not_quoted_in_the_traceback(
    scripted: ScriptedServer,
) -> None:
    given = httpx.Client(headers={"x-api-key": "SECRET-TOKEN-123\n"})
    with (
        CodexManager(scripted.base_url, http_client=given, retry=RetryPolicy.disabled()) as cm,
        pytest.raises(ProtocolError) as caught,
    ):
        cm.system.info()
    assert "SECRET-TOKEN-123" not in "".join(traceback.format_exception(caught.value))
    given.close()


class _UntrustedTLSServer:
    """Accepts TLS handshakes with a certificate no client trusts; counts the attempts."""

    def __init__(self) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        trustme.CA().issue_cert("127.0.0.1").configure_cert(self.context)
        self.handshakes = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.handshakes += 1
            with contextlib.suppress(OSError):
                self.context.wrap_socket(conn, server_side=True).close()
            conn.close()

    def close(self) -> None:
        self._listener.close()


@pytest.mark.parametrize("kind", ["sync", "aiohttp", "httpx"])
async def test_a_certificate_that_is_not_trusted_is_not_retried(kind: str) -> None:
    # A refused certificate stays refused: three attempts and their backoff only delayed
    # the error.
    server = _UntrustedTLSServer()
    try:
        if kind == "sync":
            with CodexManager(server.base_url, retry=FAST) as cm, pytest.raises(ConnectError):
                cm.system.health()
        else:
            transport: HttpTransportChoice = "aiohttp" if kind == "aiohttp" else "httpx"
            async with AsyncCodexManager(
                server.base_url, retry=FAST, http_transport=transport
            ) as acm:
                with pytest.raises(ConnectError):
                    await acm.system.health()
        assert server.handshakes == 1
    finally:
        server.close()
