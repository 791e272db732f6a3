"""Starting and stopping, several servers, async use, scripts, pure helpers and faults."""

from __future__ import annotations

import asyncio
import functools
import http.client
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable
from typing import cast

import httpx
import pytest

from codex_manager import CodexManager, RetryPolicy, TransportError
from codex_manager.testing import (
    FakeCodexManager,
    FakeServerError,
    SyncTurnContext,
    TurnContext,
    _codex,
    normalize_method,
    parse_calls,
)

from .helpers import LOOKUP_TICKET


def _refuses(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_start_stop_and_port_release() -> None:
    server = FakeCodexManager().start()
    port = server.port
    assert server.base_url == f"http://127.0.0.1:{port}"
    assert server.api_base.endswith("/api")
    assert server.ws_url == f"ws://127.0.0.1:{port}/api/stream"
    assert httpx.get(server.base_url + "/api/health").status_code == 200
    server.stop()
    assert not server.running
    assert _refuses(port)
    with pytest.raises(FakeServerError):
        _ = server.base_url
    with pytest.raises(FakeServerError):
        server.create_session()
    server.stop()  # idempotent


def test_several_servers_are_independent() -> None:
    with FakeCodexManager() as first, FakeCodexManager() as second:
        assert first.port != second.port
        one = first.create_session(dynamic_tools=[LOOKUP_TICKET])
        assert first.session_ids == (one,)
        assert second.session_ids == ()
        with httpx.Client(base_url=second.base_url) as http:
            assert http.get("/api/sessions").json()["data"] == []


async def test_async_with_and_async_waits() -> None:
    async with FakeCodexManager() as server:
        sid = server.create_session(dynamic_tools=[LOOKUP_TICKET])
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            sent = await http.post(
                f"/api/sessions/{sid}/messages",
                json={"text": 'CALL lookup_ticket {"ticket_id": "Z-9"}'},
            )
            assert sent.status_code == 202
            await server.wait_for_async(lambda: bool(server.pending_tool_calls(sid)))
            call = server.pending_tool_calls(sid)[0]
            assert call["arguments"] == {"ticket_id": "Z-9"}
            await http.post(f"/api/tool-calls/{call['requestId']}/response", json={"text": "ok"})
            await server.wait_idle_async()
        assert server.turns(sid)[0].replies == ("TOOL RESULT: ok",)


def test_sync_script_runs_in_a_worker_thread(server: FakeCodexManager) -> None:
    seen: list[str] = []

    def script(turn: SyncTurnContext) -> None:
        seen.append(turn.text)
        result = turn.call_tool("lookup_ticket", {"ticket_id": "S-1"})
        turn.reply(f"sync got {result.text} success={result.success}")

    sid = server.create_session(dynamic_tools=[LOOKUP_TICKET], script=script)
    with httpx.Client(base_url=server.base_url) as http:
        http.post(f"/api/sessions/{sid}/messages", json={"text": "please"})
        call = server.wait_for_tool_call(sid)
        http.post(
            f"/api/tool-calls/{call['requestId']}/response",
            json={"success": False, "contentItems": [{"type": "inputText", "text": "nope"}]},
        )
    server.wait_idle()
    assert seen == ["please"]
    assert server.turns(sid)[0].replies == ("sync got nope success=False",)


def test_default_script_for_the_whole_server() -> None:
    async def shout(turn: TurnContext) -> None:
        turn.reply(turn.text.upper())

    with FakeCodexManager(script=shout) as server, httpx.Client(base_url=server.base_url) as http:
        sid = server.create_session()
        http.post(f"/api/sessions/{sid}/messages", json={"text": "quiet"})
        server.wait_idle()
        assert server.turns(sid)[0].replies == ("QUIET",)
        server.set_default_script(None)
        http.post(f"/api/sessions/{sid}/messages", json={"text": "quiet"})
        server.wait_idle()
        assert server.turns(sid)[1].replies == ("ECHO: quiet",)


def test_failing_script_fails_the_turn(server: FakeCodexManager) -> None:
    async def broken(turn: TurnContext) -> None:
        raise RuntimeError("model exploded")

    sid = server.create_session(script=broken)
    with httpx.Client(base_url=server.base_url) as http:
        http.post(f"/api/sessions/{sid}/messages", json={"text": "x"})
        server.wait_idle()
        turn = http.get(f"/api/sessions/{sid}").json()["thread"]["turns"][0]
    assert turn["status"] == "failed"


def test_turns_of_a_session_run_one_after_another(server: FakeCodexManager) -> None:
    sid = server.create_session(dynamic_tools=[LOOKUP_TICKET])
    with httpx.Client(base_url=server.base_url) as http:
        http.post(f"/api/sessions/{sid}/messages", json={"text": "CALL lookup_ticket {}"})
        http.post(f"/api/sessions/{sid}/messages", json={"text": "second"})
        call = server.wait_for_tool_call(sid)
        assert [t.status for t in server.turns(sid)] == ["inProgress", "inProgress"]
        http.post(f"/api/tool-calls/{call['requestId']}/response", json={"text": "1"})
    server.wait_idle()
    assert [t.replies for t in server.turns(sid)] == [("TOOL RESULT: 1",), ("ECHO: second",)]


def test_delay_responses(server: FakeCodexManager) -> None:
    server.delay_responses(2.0)
    with httpx.Client(base_url=server.base_url, timeout=0.1) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.get("/api/health")
        server.clear_faults()
        assert http.get("/api/health").status_code == 200


def test_a_client_that_gives_up_on_a_delayed_post_is_no_route_failure(
    server: FakeCodexManager, caplog: pytest.LogCaptureFixture
) -> None:
    # The fake logged "route failed" with a ConnectionResetError traceback for every POST
    # whose client timed out during a delay: noise in the output of tests of timeouts.
    server.delay_responses(0.5)
    with (
        httpx.Client(base_url=server.base_url, timeout=0.1) as http,
        pytest.raises(httpx.ReadTimeout),
    ):
        http.post("/api/tool-calls/0/response", json={"text": "late"})
    time.sleep(0.8)  # the fake reads the body of a connection gone meanwhile
    server.clear_faults()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert server.answers == ()


def test_create_session_validates_tools(server: FakeCodexManager) -> None:
    with pytest.raises(FakeServerError):
        server.create_session(dynamic_tools=[{"name": "x"}])
    with pytest.raises(FakeServerError):
        server.set_script("missing", None)


@pytest.mark.parametrize(
    ("method", "normalized"),
    [
        ("item/tool/call", "item.tool.call"),
        ("item/tool/requestUserInput", "item.tool.request_user_input"),
        ("item/fileChange/requestApproval", "item.file_change.request_approval"),
        ("turn/started", "turn.started"),
        ("thread/tokenUsage/updated", "thread.token_usage.updated"),
        ("mcpServer/oauthLogin/completed", "mcp_server.oauth_login.completed"),
        ("execCommandApproval", "exec_command_approval"),
        ("MCPServer/OAuthLogin", "mcp_server.o_auth_login"),
        ("/turn/started", "unknown.turn.started"),
        ("item//call", "item.unknown.call"),
        ("a/__/b", "a.b"),
        ("", "unknown"),
        ("__", "unknown"),
    ],
)
def test_normalize_method(method: str, normalized: str) -> None:
    assert normalize_method(method) == normalized


def test_parse_calls() -> None:
    assert parse_calls('CALL lookup_ticket {"ticket_id": "ABC-123"}') == [
        ("lookup_ticket", {"ticket_id": "ABC-123"})
    ]
    assert parse_calls("please CALL a\nthen CALL b [1, 2] and CALL c {broken") == [
        ("a", {}),
        ("b", [1, 2]),
        ("c", {}),
    ]
    assert parse_calls("RECALL x, no calls here") == []
    # A "CALL" inside a call's arguments is not another call; a sentence's full stop is not
    # part of the tool's name.
    assert parse_calls('CALL lookup_ticket {"ticket_id": "CALL me"}') == [
        ("lookup_ticket", {"ticket_id": "CALL me"})
    ]
    assert parse_calls("Please CALL lookup_ticket.") == [("lookup_ticket", {})]


def test_wait_for_times_out(server: FakeCodexManager) -> None:
    with pytest.raises(TimeoutError):
        server.wait_for(lambda: False, timeout=0.05)


async def test_control_methods_from_a_running_loop() -> None:
    with FakeCodexManager() as server:
        # Control calls block briefly but work from inside another event loop.
        sid = server.create_session()
        await asyncio.sleep(0)
        assert server.session_ids == (sid,)


def _poll_until_stopped(fake: FakeCodexManager, outcomes: list[tuple[str, float]]) -> None:
    while True:
        began = time.monotonic()
        try:
            fake.is_idle()
        except FakeServerError as error:
            outcomes.append((str(error), time.monotonic() - began))
            return


def test_a_control_call_racing_stop_fails_at_once() -> None:
    # It waited 30 s (what it sent to the stopping loop never ran), then a bare TimeoutError.
    for _ in range(3):
        server = FakeCodexManager(noise=False).start()
        outcomes: list[tuple[str, float]] = []
        poller = threading.Thread(target=_poll_until_stopped, args=(server, outcomes), daemon=True)
        poller.start()
        time.sleep(0.05)
        server.stop()
        poller.join(10)
        assert not poller.is_alive()
        assert len(outcomes) == 1
        assert outcomes[0][1] < 5, outcomes


def test_a_decorated_async_script_is_awaited(server: FakeCodexManager) -> None:
    # Seen as sync (the wrapper is a plain function), it was run in a thread and its
    # coroutine dropped: the turn "completed" without a reply.
    def logged(script: Callable[[TurnContext], Awaitable[None]]) -> Callable[..., object]:
        @functools.wraps(script)
        def wrapper(turn: TurnContext) -> Awaitable[None]:
            return script(turn)

        return wrapper

    @logged
    async def agent(turn: TurnContext) -> None:
        await asyncio.sleep(0)
        turn.reply("from the async agent")

    sid = server.create_session(script=agent)  # type: ignore[arg-type]  # a plain callable
    with httpx.Client(base_url=server.base_url) as http:
        http.post(f"/api/sessions/{sid}/messages", json={"text": "x"})
    server.wait_idle()
    assert server.turns(sid)[0].replies == ("from the async agent",)


def test_a_sync_script_returning_a_coroutine_fails_its_turn_clearly(
    server: FakeCodexManager,
) -> None:
    async def later(turn: TurnContext) -> None:
        turn.reply("never")

    def sneaky(turn: SyncTurnContext) -> object:
        return later(cast(TurnContext, turn))

    sid = server.create_session(script=sneaky)  # type: ignore[arg-type]  # returns a coroutine
    with httpx.Client(base_url=server.base_url) as http:
        http.post(f"/api/sessions/{sid}/messages", json={"text": "x"})
    server.wait_idle()
    (turn,) = server.turns(sid)
    assert turn.status == "failed"
    assert turn.error is not None
    assert turn.error.startswith("TypeError: ")
    assert "returned an awaitable" in turn.error


def test_a_blocked_sync_script_does_not_keep_the_process_alive() -> None:
    # Scripts ran in asyncio.to_thread's threads, which the interpreter joins at exit: a test
    # run whose script waited on an event never set hung after its last test passed.
    program = textwrap.dedent(
        """
        import threading
        import httpx
        from codex_manager.testing import FakeCodexManager

        never = threading.Event()
        server = FakeCodexManager(noise=False).start()
        sid = server.create_session(script=lambda turn: never.wait())
        httpx.post(f"{server.base_url}/api/sessions/{sid}/messages", json={"text": "x"})
        server.wait_for(lambda: server.turns(sid)[0].status == "inProgress", 10)
        server.stop()
        print("left")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "left"


def test_restart_downtime_refuses_kept_connections_too(server: FakeCodexManager) -> None:
    # Only the listener stopped: a pooled keep-alive connection kept getting answers, so a
    # "server down" test never met a failure.
    with CodexManager(server.base_url, retry=RetryPolicy.disabled()) as cm:
        cm.system.health()  # a kept connection now
        restarting = threading.Thread(target=server.restart, kwargs={"downtime": 1.0})
        restarting.start()
        time.sleep(0.3)
        with pytest.raises(TransportError):
            cm.system.health()
        restarting.join(10)
        assert cm.system.health()["status"] == "ok"


def test_a_wait_that_times_out_says_what_is_going_on(server: FakeCodexManager) -> None:
    # "condition not met within 0.5 s" named neither the session, the failed turn nor why.
    def broken(turn: SyncTurnContext) -> None:
        raise KeyError("ticket")

    sid = server.create_session(script=broken)
    with httpx.Client(base_url=server.base_url) as http:
        http.post(f"/api/sessions/{sid}/messages", json={"text": "x"})
    server.wait_idle()
    with pytest.raises(TimeoutError) as waited:
        server.wait_for_tool_call(sid, timeout=0.05)
    text = str(waited.value)
    assert f"no tool call pending in session {sid}" in text
    assert "its last turn ended failed (KeyError: 'ticket')" in text

    busy = server.create_session(dynamic_tools=[LOOKUP_TICKET])
    with httpx.Client(base_url=server.base_url) as http:
        http.post(f"/api/sessions/{busy}/messages", json={"text": "CALL lookup_ticket {}"})
    server.wait_for_tool_call(busy)
    with pytest.raises(TimeoutError) as not_idle:
        server.wait_idle(timeout=0.05)
    assert f"session {busy}" in str(not_idle.value)
    assert "'lookup_ticket' (request 0" in str(not_idle.value)


def test_a_stopped_server_s_blocked_scripts_leave_a_later_server_its_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One pool served every server of the process: scripts a stopped server left blocked
    # took its threads for good, and a later server's sync scripts never started.
    monkeypatch.setattr(_codex, "SCRIPT_THREADS", 2)
    never = threading.Event()

    def blocked(turn: SyncTurnContext) -> None:
        never.wait(30)

    with FakeCodexManager(noise=False) as first:
        for _ in range(2):
            sid = first.create_session(script=blocked)
            httpx.post(f"{first.base_url}/api/sessions/{sid}/messages", json={"text": "x"})
        first.wait_for(lambda: [t.status for t in first.turns()] == ["inProgress"] * 2, 10)
    try:
        with FakeCodexManager(noise=False) as second:
            sid = second.create_session(script=lambda turn: turn.reply("ran"))
            httpx.post(f"{second.base_url}/api/sessions/{sid}/messages", json={"text": "x"})
            second.wait_idle()
            assert second.turns(sid)[0].replies == ("ran",)
    finally:
        never.set()


@pytest.mark.parametrize("downtime", [0.0, 0.2])
def test_a_restart_drops_kept_alive_http_connections(downtime: float) -> None:
    # Without downtime they were kept: a pooled connection outlived the "restart", which a
    # real server's new process never allows.
    with FakeCodexManager(noise=False) as server:
        kept = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        kept.request("GET", "/api/health")
        assert kept.getresponse().read()
        server.restart(downtime=downtime)

        def ask_again() -> None:
            kept.request("GET", "/api/health")
            kept.getresponse()

        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            ask_again()
        kept.close()
