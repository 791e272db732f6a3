"""One thread that reads the sockets of every running sync stream of the process.

A sync stream's own thread reading its socket wakes for every few frames of its session:
with a stream per session, 50 threads each taking the GIL, a system call or three and a
context switch per wake-up. Here one thread waits on all the sockets at once (``select``)
and, while frames keep coming, goes from socket to socket without sleeping: it decodes the
frames and hands the events to the handlers, as the stream's thread would.

Only the common case comes here: events for the handlers, read from a plain TCP connection
(see :meth:`SocketWebSocket.receive_ready`) of a stream run by ``run_forever``. Anything
else is handed back to the stream's own thread, which then reads as before until it has
dealt with it: a frame that is not an event (``ready``, ``pong``, ``error``, malformed), an
event the handlers cannot take without waiting (backpressure), a frame that wants an
answer (a ping, a close), the end of the connection. The hub never sends, so a peer that
stops reading can hold up its own stream but never the others. The stream's thread keeps its
other duties (pings, deadlines, reconnecting, stopping).
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections import deque
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed

from codex_manager._per_process import PerProcess
from codex_manager.stream.sync_socket import SocketWebSocket

logger = logging.getLogger("codex_manager.stream")

Handler = Callable[[str | bytes], bool]
"""Takes one message; ``False``: it could not be dealt with here (hand it back)."""


class HubWatch:
    """One connection watched by the hub, until its stream's thread takes it back."""

    def __init__(self, websocket: SocketWebSocket, handle: Handler) -> None:
        """Watch ``websocket``; ``handle`` is called (in the hub thread) per message."""
        self.websocket = websocket
        self._handle = handle
        # Held by the hub while it reads for this watch; taken by give_back() to make sure
        # the hub is done with the connection before the stream's thread reads it again.
        self._lock = threading.Lock()
        self._active = True
        self.returned = threading.Event()
        self.held: str | bytes | None = None
        self.failure: BaseException | None = None

    @property
    def active(self) -> bool:
        """Whether the hub still reads this connection."""
        return self._active

    def on_readable(self) -> bool:
        """Read and handle what arrived; ``False``: the connection goes back to its stream."""
        with self._lock:
            if not self._active:
                return False
            websocket = self.websocket
            try:
                websocket.receive_ready()
            except ConnectionClosed:
                pass  # what came before the end is handled first; the stream sees the end
            except Exception as error:  # a bug, not the peer: let the stream raise it
                self.failure = error
                return self._give_back()
            handle = self._handle
            while True:
                message = websocket.take_message()
                if message is None:
                    break
                try:
                    handled = handle(message)
                except Exception:  # the stream's thread tries it again, and raises if it must
                    logger.debug("event stream hub: handing a message back", exc_info=True)
                    handled = False
                if not handled:
                    self.held = message
                    return self._give_back()
            if websocket.ending or websocket.owes_replies:
                return self._give_back()  # its thread sends: the hub never waits on a peer
            return True

    def _give_back(self) -> bool:
        self._active = False
        self.returned.set()
        return False

    def give_back(self) -> None:
        """End the watch: waits for a read in progress, then the hub reads no more."""
        with self._lock:
            self._give_back()


class SocketHub:
    """The reading thread and its selector; started with the first watch, ends with the last."""

    def __init__(self) -> None:
        """Nothing runs until :meth:`watch` is called."""
        self._lock = threading.Lock()
        self._commands: deque[tuple[bool, HubWatch]] = deque()
        self._thread: threading.Thread | None = None
        self._wake_send: socket.socket | None = None
        self._wake_pending = False

    def watch(self, watch: HubWatch) -> None:
        """Start reading ``watch``'s connection in the hub thread."""
        self._command(True, watch)

    def unwatch(self, watch: HubWatch) -> None:
        """Stop reading it: waits for a read in progress; the socket may be closed after."""
        watch.give_back()
        self._command(False, watch)

    def _command(self, add: bool, watch: HubWatch) -> None:
        with self._lock:
            if self._thread is None and not add:
                return  # no hub thread: it watches nothing
            if self._thread is not None or self._start():
                self._commands.append((add, watch))
                if self._wake_pending or self._wake_send is None:
                    return
                self._wake_pending = True
                with contextlib.suppress(OSError):  # full: a wake-up is pending anyway
                    self._wake_send.send(b"\0")
                return
        watch.give_back()  # no thread to be had now: the stream reads for itself

    def _start(self) -> bool:
        """Start the hub thread (lock held); ``False`` when the process cannot have one now."""
        receive, send = socket.socketpair()
        receive.setblocking(False)
        send.setblocking(False)
        thread = threading.Thread(
            target=self._serve, args=(receive, send), name="codex-manager-stream-hub", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:
            logger.warning("event stream hub: no thread to start; streams read for themselves")
            receive.close()
            send.close()
            return False
        self._thread = thread
        self._wake_send = send
        self._wake_pending = True  # its first pass reads the commands anyway
        return True

    def _serve(self, wake: socket.socket, wake_send: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(wake, selectors.EVENT_READ, None)
        watched: dict[HubWatch, int] = {}  # each watch and the descriptor it registered
        taken: deque[tuple[bool, HubWatch]] = deque()  # commands taken, not applied yet
        try:
            while True:
                with self._lock:
                    self._wake_pending = False
                    taken.extend(self._commands)
                    self._commands.clear()
                while taken:
                    self._apply(selector, watched, *taken[0])
                    taken.popleft()
                if not watched:
                    with self._lock:
                        if not self._commands:  # nothing to read, nothing coming: end
                            self._thread = None
                            self._wake_send = None
                            return
                    continue
                for key, _ in selector.select():
                    watch = key.data
                    if watch is None:
                        with contextlib.suppress(OSError):
                            wake.recv(4096)
                        continue
                    if not watch.on_readable():
                        self._forget(selector, watched, watch)
        except BaseException:
            logger.exception("event stream hub failed; the streams read for themselves")
            with self._lock:
                self._thread = None
                self._wake_send = None
                stranded = [*watched, *(watch for _, watch in (*taken, *self._commands))]
                self._commands.clear()
            for watch in stranded:
                watch.give_back()
        finally:
            selector.close()
            wake.close()
            wake_send.close()

    def _apply(
        self,
        selector: selectors.BaseSelector,
        watched: dict[HubWatch, int],
        add: bool,
        watch: HubWatch,
    ) -> None:
        if not add:
            self._forget(selector, watched, watch)
            return
        if not watch.active:
            return  # taken back before the hub got to it
        fd = watch.websocket.fileno()
        try:
            selector.register(fd, selectors.EVENT_READ, watch)
        except (KeyError, ValueError, OSError):  # closed meanwhile, or its descriptor reused
            watch.give_back()  # its stream reads for itself and will see why
            return
        watched[watch] = fd

    @staticmethod
    def _forget(
        selector: selectors.BaseSelector, watched: dict[HubWatch, int], watch: HubWatch
    ) -> None:
        fd = watched.pop(watch, None)
        if fd is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                selector.unregister(fd)


_hub: PerProcess[SocketHub] = PerProcess()


def stream_hub() -> SocketHub:
    """The process's hub (a forked child has none of the parent's threads: it gets its own)."""
    return _hub.get(SocketHub)


__all__ = ["HubWatch", "SocketHub", "stream_hub"]
