"""The websocket: ready, commands, the thread filter and the four delivery rules."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from codex_manager.json_types import JSONValue
from codex_manager.testing import FakeCodexManager, TurnContext

from .helpers import LOOKUP_TICKET, open_stream, payload_of


def test_ready_carries_the_query_filter(server: FakeCodexManager) -> None:
    with open_stream(server) as stream:
        assert stream.next() == {"type": "ready", "threadId": None}
    with open_stream(server, "thread-x") as stream:
        assert stream.next() == {"type": "ready", "threadId": "thread-x"}


def test_commands_ping_subscribe_unsubscribe_and_errors(server: FakeCodexManager) -> None:
    with open_stream(server) as stream:
        stream.next()
        stream.send({"type": "ping"})
        assert stream.next() == {"type": "pong"}
        invalid = {"type": "error", "message": "invalid websocket command"}
        bad_commands: list[JSONValue] = [
            {"type": "subscribe"},
            {"type": "subscribe", "threadId": ""},
            {"type": "x"},
            5,
        ]
        for bad in bad_commands:
            stream.send(bad)
            assert stream.next() == invalid
        stream.connection.send("not json")
        assert stream.next() == invalid
        stream.connection.send(b'{"type":"ping"}')  # binary frames are decoded as UTF-8
        assert stream.next() == {"type": "pong"}
        stream.send({"type": "subscribe", "threadId": "  "})  # non-empty (the server trims not)
        stream.send({"type": "ping"})
        assert stream.next() == {"type": "pong"}
        stream.send({"type": "subscribe", "threadId": "a"})
        stream.send({"type": "unsubscribe"})
        stream.send({"type": "ping"})
        assert stream.next() == {"type": "pong"}  # no acknowledgements


def test_filter_is_active_from_the_first_frame(
    server: FakeCodexManager, http: httpx.Client
) -> None:
    mine = server.create_session(dynamic_tools=[LOOKUP_TICKET])
    other = server.create_session()
    with open_stream(server, mine) as filtered, open_stream(server) as unfiltered:
        filtered.next()
        unfiltered.next()
        http.post(f"/api/sessions/{other}/messages", json={"text": "hello other"})
        unfiltered.until("app_server.turn.completed")
        http.post(f"/api/sessions/{mine}/messages", json={"text": "hello mine"})
        filtered.until("app_server.turn.completed")
        unfiltered.until("app_server.turn.completed", where=lambda f: f["threadId"] == mine)
    # Rule 3: a filtered socket never sees another thread's events; rule 2: broadcasts
    # (threadId null) reach it anyway.
    assert {frame["threadId"] for frame in filtered.frames[1:]} == {mine, None}
    unscoped = {frame["type"] for frame in filtered.frames[1:] if frame["threadId"] is None}
    assert unscoped == {"account_rate_limits_updated"}
    # An unfiltered socket sees everything, including broadcasts (threadId null).
    seen = {frame["threadId"] for frame in unfiltered.frames[1:]}
    assert seen == {mine, other, None}


def test_broadcast_reaches_filtered_sockets(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    with open_stream(server, "some-other-thread") as stream:
        stream.next()
        http.post(f"/api/sessions/{session_id}/messages", json={"text": "hi"})
        limits = stream.until("account_rate_limits_updated")  # rule 2: broadcast
        assert limits["threadId"] is None
        assert all(frame["threadId"] is None for frame in stream.frames[1:])


def test_system_owned_events_only_reach_exact_filter(
    server: FakeCodexManager, http: httpx.Client
) -> None:
    system = server.create_session(system_owned=True)
    with open_stream(server, system) as exact, open_stream(server) as unfiltered:
        exact.next()
        unfiltered.next()
        server.delete_session(system)  # session_deleted is thread-forced for system sessions
        frame = exact.until("session_deleted")
        assert payload_of(frame)["sessionId"] == system
        assert unfiltered.quiet(0.3) == []


def test_session_broadcasts_name_their_session_and_reach_every_filter(
    server: FakeCodexManager, http: httpx.Client
) -> None:
    # They went out with threadId null: a stream following another session saw them as
    # its own on the fake, while the real server names the session (and the SDK then drops
    # another session's frame on a filtered stream).
    session_id = server.create_session()
    http.post(f"/api/sessions/{session_id}/messages", json={"text": "hi"})  # materialized
    server.wait_idle()
    project_id = http.post("/api/projects", json={"name": "P"}).json()["project"]["projectId"]
    with open_stream(server, "another-session") as stream:
        stream.next()
        http.post(f"/api/sessions/{session_id}/project", json={"projectId": project_id})
        assigned = stream.until("session_project_updated")
        assert assigned["threadId"] == session_id
        assert payload_of(assigned) == {
            "status": "ok",
            "sessionId": session_id,
            "projectId": project_id,
            "previousProjectId": None,
        }
        moved = http.post(
            f"/api/projects/{project_id}/chats/move-all", json={"destination": "archive"}
        )
        assert moved.json() == {
            "status": "ok",
            "projectId": project_id,
            "destination": "archive",
            "movedSessionCount": 1,
            "archivedSessionCount": 1,
            "alreadyArchivedSessionCount": 0,
        }
        left = stream.until("session_project_updated")
        assert left["threadId"] == session_id
        assert payload_of(left) == {"sessionId": session_id, "projectId": None}
        # Archived chats left the project too: it can go.
        assert http.delete(f"/api/projects/{project_id}").status_code == 200
        server.delete_session(session_id)
        gone = stream.until("session_deleted")
        assert gone["threadId"] == session_id


def test_subscribe_switches_filter(server: FakeCodexManager, http: httpx.Client) -> None:
    first = server.create_session()
    second = server.create_session()
    with open_stream(server, first) as stream:
        stream.next()
        stream.send({"type": "subscribe", "threadId": second})
        stream.send({"type": "ping"})
        stream.until("pong")
        http.post(f"/api/sessions/{first}/messages", json={"text": "one"})
        http.post(f"/api/sessions/{second}/messages", json={"text": "two"})
        stream.until("app_server.turn.completed")
    assert {frame.get("threadId") for frame in stream.frames[2:]} - {None} == {second}


def test_raw_and_unknown_frames(server: FakeCodexManager) -> None:
    with open_stream(server) as stream:
        stream.next()
        assert server.send_raw_frame('{"type": "weird"') == 1
        assert stream.connection.recv(timeout=5) == '{"type": "weird"'
        server.send_raw_frame(b"\x00\x01")
        assert stream.connection.recv(timeout=5) == b"\x00\x01"
        server.publish_event("brand_new_event", {"x": 1}, thread_id="t")
        assert stream.next() == {"type": "brand_new_event", "threadId": "t", "payload": {"x": 1}}


def test_drop_websockets(server: FakeCodexManager) -> None:
    with open_stream(server) as stream:
        stream.next()
        server.wait_for(lambda: server.websocket_count == 1)
        server.drop_websockets()
        with pytest.raises(ConnectionClosed):
            stream.next()
    server.wait_for(lambda: server.websocket_count == 0)
    with open_stream(server) as again:
        assert again.next()["type"] == "ready"
        server.drop_websockets(abrupt=True)
        with pytest.raises(ConnectionClosed):
            again.next()
        assert again.connection.close_code == 1006


def test_stall_websockets_leaves_connections_open_but_silent(server: FakeCodexManager) -> None:
    with open_stream(server) as stalled:
        stalled.next()
        server.wait_for(lambda: server.websocket_count == 1)
        assert server.stall_websockets() == 1
        stalled.send({"type": "ping"})
        server.publish_event("brand_new_event", {"x": 1}, broadcast=True)
        with pytest.raises(TimeoutError):
            stalled.next(timeout=0.3)  # no pong, no event: silent, yet connected
        assert server.websocket_count == 1
        with open_stream(server) as fresh:  # a new connection is served normally
            assert fresh.next()["type"] == "ready"
            fresh.send({"type": "ping"})
            assert fresh.next() == {"type": "pong"}
            server.publish_event("brand_new_event", {"x": 2}, broadcast=True)
            assert fresh.next()["payload"] == {"x": 2}
        with pytest.raises(TimeoutError):
            stalled.next(timeout=0.1)


def test_a_stalled_websocket_answers_no_protocol_ping_either(server: FakeCodexManager) -> None:
    # aiohttp answered websocket pings by itself: a client checking liveness with protocol
    # pings (not the server's ping command) saw a hung server as alive.
    with open_stream(server) as stalled:
        stalled.next()
        assert stalled.connection.ping().wait(2)  # answered while the server is well
        assert server.stall_websockets() == 1
        assert not stalled.connection.ping().wait(0.5)
        with open_stream(server) as fresh:
            fresh.next()
            assert fresh.connection.ping().wait(2)


def test_slow_event_delivery_keeps_order(
    server: FakeCodexManager, http: httpx.Client, session_id: str
) -> None:
    server.slow_event_delivery(0.002)
    with open_stream(server, session_id) as stream:
        stream.next()
        http.post(f"/api/sessions/{session_id}/messages", json={"text": "slow"})
        stream.until("app_server.turn.completed", timeout=10)
    kinds = stream.types()
    assert kinds.index("app_server.turn.started") < kinds.index(
        "app_server.item.agent_message.delta"
    )
    published = [  # what a socket following the session receives: its own, and broadcasts
        event.type
        for event in server.events_published
        if event.thread_id == session_id or event.broadcast
    ]
    assert kinds[1:] == published[: len(kinds) - 1]


def test_quiet_mode_keeps_essential_frames(http: httpx.Client) -> None:
    with FakeCodexManager(noise=False, transcript_events=False) as quiet:
        session = quiet.create_session(dynamic_tools=[LOOKUP_TICKET])
        with open_stream(quiet, session) as stream, httpx.Client(base_url=quiet.base_url) as client:
            stream.next()
            client.post(f"/api/sessions/{session}/messages", json={"text": "hi"})
            stream.until("app_server.turn.completed")
        kinds = [kind for kind in stream.types()[1:] if kind != "notification"]
        assert kinds == [
            "app_server.thread.status.changed",
            "app_server.turn.started",
            "app_server.item.started",
            "app_server.item.completed",
            "app_server.item.started",
            "app_server.item.agent_message.delta",
            "app_server.item.completed",
            "app_server.thread.status.changed",
            "app_server.turn.completed",
        ]


def test_websocket_route_without_upgrade_is_400(http: httpx.Client) -> None:
    assert http.get("/api/stream").status_code == 400


def test_unsupported_server_request_frames(server: FakeCodexManager, http: httpx.Client) -> None:
    async def odd(turn: TurnContext) -> None:
        turn.send_unsupported_request("item/permissions/requestApproval")
        turn.reply("done")

    sid = server.create_session(script=odd)
    with open_stream(server, sid) as stream:
        stream.next()
        http.post(f"/api/sessions/{sid}/messages", json={"text": "x"})
        signal = stream.until("app_server.request.item.permissions.request_approval")
        raw = stream.next()
    assert payload_of(signal)["requestId"] == 0
    assert raw["type"] == "server_request"
    assert payload_of(raw)["method"] == "item/permissions/requestApproval"
    assert payload_of(raw)["id"] == 0


def test_transcript_updated_frames_only_when_asked_for(http: httpx.Client) -> None:
    # The real server sends none in a turn (the round-trip recording); the option adds them.
    for wanted in (False, True):
        with FakeCodexManager(noise=False, transcript_events=wanted) as fake:
            session = fake.create_session()
            with (
                open_stream(fake, session) as stream,
                httpx.Client(base_url=fake.base_url) as client,
            ):
                stream.next()
                client.post(f"/api/sessions/{session}/messages", json={"text": "hi"})
                stream.until("app_server.turn.completed")
            assert ("transcript_updated" in stream.types()) is wanted
