"""Many sync streams read by the process's hub thread, over real loopback websockets.

``run_forever`` on a plain TCP connection hands the reading to the hub once ``ready`` came;
these tests check what that must not change: every event reaches its stream's handlers, in
order per thread, through backpressure, a dropped connection of one stream among several,
pings, and a hub that fails; and that the hub's thread ends with the last stream.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable

import pytest
from websockets.sync.server import ServerConnection

from codex_manager.config import ClientConfig
from codex_manager.stream import EventStream, StreamEvent, StreamOptions
from codex_manager.stream.sync_hub import HubWatch, SocketHub

from .peer_server import PeerServer, ready_events_then_close
from .raw_peer import RawPeer, RawPeerServer
from .test_sync_stream import (
    FAST_RECONNECT,
    Context,
    background,
    finish,
    make_stream,
    wait_until,
)
from .ws_server import FakeClient, MiniStreamServer, Recorder

HUB_THREAD = "codex-manager-stream-hub"


def _hub_running() -> bool:
    return any(thread.name == HUB_THREAD for thread in threading.enumerate())


def test_many_streams_each_get_their_own_events_in_order(server: MiniStreamServer) -> None:
    sessions = [f"s{index}" for index in range(12)]
    seen: dict[str, Recorder[int]] = {session: Recorder() for session in sessions}
    streams: list[EventStream[FakeClient]] = []
    runners: list[threading.Thread] = []
    for session in sessions:
        stream = make_stream(server)

        @stream.on_event("tick")
        def record(event: StreamEvent, context: Context) -> None:
            assert event.thread_id == context.thread_id
            assert isinstance(event.payload, int)
            seen[str(event.thread_id)].add(event.payload)

        streams.append(stream)
        runners.append(background(stream, session))
    for session in sessions:
        server.wait_for_command({"type": "subscribe", "threadId": session})
    wait_until(_hub_running)
    for number in range(30):
        for session in sessions:
            server.publish("tick", session, number)
    for session in sessions:
        # One lane per (handler, thread): the order of the frames is kept.
        assert seen[session].wait_for(30) == list(range(30))
    for stream, runner in zip(streams, runners, strict=True):
        finish(stream, runner)
    wait_until(lambda: not _hub_running())


def test_backpressure_through_the_hub_keeps_every_event_and_the_order(
    server: MiniStreamServer,
) -> None:
    settings = StreamOptions(max_concurrency=1, max_pending=2, reconnect=FAST_RECONNECT)
    stream = EventStream(FakeClient(server.config), options=settings)
    gate = threading.Event()
    seen: Recorder[int] = Recorder()

    @stream.on_event("work")
    def slow(event: StreamEvent, context: Context) -> None:
        assert gate.wait(10)
        assert isinstance(event.payload, int)
        seen.add(event.payload)

    runner = background(stream, "t1")
    server.wait_for_command({"type": "subscribe", "threadId": "t1"})
    for number in range(40):
        server.publish("work", "t1", number)
    dispatcher = stream._dispatcher
    assert dispatcher is not None
    wait_until(lambda: dispatcher.waiting_for_slot)  # handed back: the stream's thread waits
    gate.set()
    assert seen.wait_for(40) == list(range(40))
    # Reading went back to the hub: later events still arrive.
    server.publish("work", "t1", 40)
    assert seen.wait_for(41)[-1] == 40
    finish(stream, runner)


def test_one_stream_losing_its_connection_leaves_the_others_reading(
    server: MiniStreamServer,
) -> None:
    streams = [make_stream(server) for _ in range(3)]
    seen: Recorder[tuple[str | None, object]] = Recorder()
    for stream in streams:
        stream.on_event("tick")(lambda event, context: seen.add((event.thread_id, event.payload)))
    runners = [background(stream, f"t{index}") for index, stream in enumerate(streams)]
    for index in range(3):
        server.wait_for_command({"type": "subscribe", "threadId": f"t{index}"})
    server.drop_connections()  # all three lose theirs; each reconnects on its own
    for index in range(3):
        server.wait_for_command({"type": "subscribe", "threadId": f"t{index}"}, count=2)
    for index in range(3):
        server.publish("tick", f"t{index}", "after")
    assert sorted(seen.wait_for(3), key=str) == [("t0", "after"), ("t1", "after"), ("t2", "after")]
    for stream, runner in zip(streams, runners, strict=True):
        finish(stream, runner)


def test_pings_are_sent_and_pongs_seen_while_the_hub_reads(server: MiniStreamServer) -> None:
    stream = make_stream(server, ping_interval=0.01, pong_timeout=0.5)
    seen: Recorder[object] = Recorder()
    errors: Recorder[object] = Recorder()
    stream.on_event("tick")(lambda event, context: seen.add(event.payload))
    stream.on_error(lambda error, context: errors.add(error))
    runner = background(stream, "t1")
    server.wait_for_command({"type": "subscribe", "threadId": "t1"})
    for number in range(200):
        server.publish("tick", "t1", number)
    server.wait_for_command({"type": "ping"}, count=30)
    assert seen.wait_for(200) == list(range(200))
    assert server.connections_opened == 1  # every pong was seen in time
    assert errors.snapshot() == []
    finish(stream, runner)


def test_a_failing_hub_hands_the_connections_back(
    server: MiniStreamServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = make_stream(server)
    seen: Recorder[object] = Recorder()
    stream.on_event("tick")(lambda event, context: seen.add(event.payload))
    failures = 0
    original = HubWatch.on_readable

    def fail_once(self: HubWatch) -> bool:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RuntimeError("hub bug")
        return original(self)

    monkeypatch.setattr(HubWatch, "on_readable", fail_once)
    runner = background(stream, "t1")
    server.wait_for_command({"type": "subscribe", "threadId": "t1"})
    for number in range(5):
        server.publish("tick", "t1", number)
    # The frames the failed read left in the socket are read after it, by a new hub.
    assert seen.wait_for(5) == list(range(5))
    assert failures == 1
    finish(stream, runner)


def test_a_hub_thread_that_cannot_start_leaves_the_stream_reading_for_itself(
    server: MiniStreamServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = 0
    start = threading.Thread.start

    def refuse_the_hub(self: threading.Thread) -> None:
        nonlocal refused
        if self.name == HUB_THREAD and refused == 0:
            refused += 1
            raise RuntimeError("can't start new thread")
        start(self)

    monkeypatch.setattr(threading.Thread, "start", refuse_the_hub)
    stream = make_stream(server)
    seen: Recorder[object] = Recorder()
    stream.on_event("tick")(lambda event, context: seen.add(event.payload))
    runner = background(stream, "t1")
    server.wait_for_command({"type": "subscribe", "threadId": "t1"})
    for number in range(5):
        server.publish("tick", "t1", number)
    assert seen.wait_for(5) == list(range(5))
    assert refused == 1
    wait_until(_hub_running)  # a later watch starts the hub after all
    for number in range(5, 8):
        server.publish("tick", "t1", number)
    assert seen.wait_for(8) == list(range(8))
    finish(stream, runner)


def test_events_iteration_reads_in_its_own_thread(
    server: MiniStreamServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    watched: list[HubWatch] = []
    original = SocketHub.watch

    def record(self: SocketHub, watch: HubWatch) -> None:
        watched.append(watch)
        original(self, watch)

    monkeypatch.setattr(SocketHub, "watch", record)
    stream = make_stream(server)
    seen: list[object] = []

    def feed() -> None:
        server.wait_for_command({"type": "subscribe", "threadId": "t1"})
        for number in range(3):
            server.publish("tick", "t1", number)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    for event in stream.events("t1"):
        seen.append(event.payload)
        if len(seen) == 3:
            stream.stop()
    feeder.join(10)
    # Every event is yielded here: the hub (which yields nothing) never read this stream.
    assert seen == [0, 1, 2]
    assert watched == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() with threads (3.12+)
def test_a_forked_child_reads_with_a_hub_and_workers_of_its_own(
    server: MiniStreamServer,
) -> None:
    parent = make_stream(server)
    parent_seen: Recorder[object] = Recorder()
    parent.on_event("tick")(lambda event, context: parent_seen.add(event.payload))
    runner = background(parent, "parent")
    server.wait_for_command({"type": "subscribe", "threadId": "parent"})
    server.publish("tick", "parent", "p")
    parent_seen.wait_for(1)
    wait_until(_hub_running)  # the parent's hub and workers exist when it forks
    pid = os.fork()
    if pid == 0:  # the child: a stream of its own must get its events
        code = 1
        try:
            child = make_stream(server)
            got = threading.Event()

            @child.on_event("tick")
            def record(event: StreamEvent, context: Context) -> None:
                if event.payload == "c":
                    got.set()
                    context.stop()

            child_runner = background(child, "child")
            code = 0 if got.wait(20) else 2
            child_runner.join(10)
        finally:
            os._exit(code)
    server.wait_for_command({"type": "subscribe", "threadId": "child"})
    server.publish("tick", "child", "c")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    finish(parent, runner)


def test_events_the_server_sent_before_closing_reach_their_handlers(
    peer: Callable[..., PeerServer],
) -> None:
    # Five events and a normal close in one write: the hub takes them all in at once (and
    # answers the close), while the one pending slot keeps the stream's thread waiting for
    # longer than the ping interval. Its ping then meets a closing connection: the stream
    # must deliver the five events and reconnect, not crash nor drop them.
    connections: list[int] = []

    def talk(connection: ServerConnection) -> None:
        connections.append(1)
        connection.send(json.dumps({"type": "ready", "threadId": None}))
        json.loads(connection.recv(timeout=5))  # the subscribe command
        if len(connections) > 1:
            return
        protocol = connection.protocol
        with connection.protocol_mutex:
            for number in range(5):
                event = {"type": "tick", "threadId": "t1", "payload": number}
                protocol.send_text(json.dumps(event).encode())
            protocol.send_close(1000, "going away")
            connection.socket.sendall(b"".join(protocol.data_to_send()))

    server = peer(talk)
    options = StreamOptions(
        max_concurrency=1,
        max_pending=1,
        ping_interval=0.1,
        pong_timeout=10.0,
        reconnect=FAST_RECONNECT,
        shutdown_timeout=5.0,
    )
    stream = EventStream(FakeClient(server.config), options=options)
    seen: Recorder[object] = Recorder()

    @stream.on_event("tick")
    def slow(event: StreamEvent, context: Context) -> None:
        time.sleep(0.3)  # longer than the ping interval
        seen.add(event.payload)

    failures: list[BaseException] = []

    def run() -> None:
        try:
            stream.run_forever(thread_id="t1")
        except BaseException as error:
            failures.append(error)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    assert seen.wait_for(5) == [0, 1, 2, 3, 4]
    wait_until(lambda: len(connections) >= 2)  # it reconnected after the close
    stream.stop()
    runner.join(10)
    assert failures == []


def test_a_peer_that_stops_reading_holds_up_no_other_stream(server: MiniStreamServer) -> None:
    # It floods pings and never reads the pongs: the replies pile up in the socket buffers.
    # The hub never sends, so the other streams keep getting their events; the stuck
    # stream's own thread gives up the send after its pong timeout, and stops when asked.
    def flood_pings(peer: RawPeer) -> None:
        peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        peer.text({"type": "ready", "threadId": None})
        peer.write()
        while True:
            peer.protocol.send_ping(b"x" * 125)
            peer.write()

    flooding = RawPeerServer(flood_pings)
    stuck_options = StreamOptions(pong_timeout=1.0, reconnect=FAST_RECONNECT, shutdown_timeout=5)
    stuck = EventStream(FakeClient(ClientConfig(base_url=flooding.base_url)), options=stuck_options)
    stuck_runner = background(stuck, "stuck")
    healthy = make_stream(server)
    seen: Recorder[object] = Recorder()
    healthy.on_event("tick")(lambda event, context: seen.add(event.payload))
    healthy_runner = background(healthy, "healthy")
    server.wait_for_command({"type": "subscribe", "threadId": "healthy"})
    time.sleep(1.5)  # the flood fills the buffers meanwhile
    for number in range(3):
        server.publish("tick", "healthy", number)
    assert seen.wait_for(3) == [0, 1, 2]
    finish(stuck, stuck_runner)  # within the pong timeout of the send it is stuck in
    finish(healthy, healthy_runner)
    flooding.close()


def test_events_between_ready_and_a_close_reach_their_handlers(
    peer: Callable[..., PeerServer],
) -> None:
    # The subscribe command then meets a closing connection: the events the server sent
    # before its close must still be handled, and the stream reconnect.
    talk, connections = ready_events_then_close("t1", 5)
    server = peer(talk)
    options = StreamOptions(reconnect=FAST_RECONNECT, shutdown_timeout=5.0)
    stream = EventStream(FakeClient(server.config), options=options)
    seen: Recorder[object] = Recorder()
    stream.on_event("tick")(lambda event, context: seen.add(event.payload))
    runner = background(stream, "t1")
    assert seen.wait_for(5) == [0, 1, 2, 3, 4]
    wait_until(lambda: len(connections) >= 2)
    finish(stream, runner)


def test_handlers_holding_the_reader_past_the_pong_timeout_do_not_kill_the_connection(
    server: MiniStreamServer,
) -> None:
    # One pending slot and handlers of 0.1 s: the stream's thread waits for a slot at each
    # event, and a pong behind twenty of them is read two seconds after its ping. The
    # connection is alive all along (frames keep coming).
    options = StreamOptions(
        max_concurrency=1,
        max_pending=1,
        ping_interval=0.05,
        pong_timeout=0.3,
        reconnect=FAST_RECONNECT,
        shutdown_timeout=5.0,
    )
    stream = EventStream(FakeClient(server.config), options=options)
    seen: Recorder[object] = Recorder()

    @stream.on_event("work")
    def slow(event: StreamEvent, context: Context) -> None:
        time.sleep(0.1)
        seen.add(event.payload)

    runner = background(stream)
    server.wait_for_command({"type": "ping"})
    for number in range(20):
        server.publish("work", "t1", number)
    assert seen.wait_for(20) == list(range(20))
    finish(stream, runner)
    assert server.connections_opened == 1
