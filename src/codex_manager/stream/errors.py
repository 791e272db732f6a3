"""Errors of the event stream.

None of these is raised into the read loop: bad frames, failing handlers and dropped
connections are logged and handed to ``on_error`` handlers, and the stream goes on.
Only :class:`StreamConnectionError` can end :meth:`run_forever`: when the reconnect
policy is exhausted, or at once as :class:`StreamRefusedError` when the server refuses the
upgrade with a 4xx status (retrying cannot help).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_manager.config import redact_url
from codex_manager.errors import CodexManagerError, Reduced

if TYPE_CHECKING:
    from codex_manager.stream.frames import HandledItem

_PREVIEW_LIMIT = 200


def preview(data: str | bytes | bytearray | memoryview) -> str:
    """A short, printable excerpt of a frame for logs and error messages."""
    if isinstance(data, str):
        text = data
    else:
        text = bytes(data[: _PREVIEW_LIMIT * 4]).decode("utf-8", errors="replace")
    return text if len(text) <= _PREVIEW_LIMIT else text[:_PREVIEW_LIMIT] + "..."


class StreamError(CodexManagerError):
    """Root of every event-stream error (what ``on_error`` handlers receive)."""


class StreamFrameError(StreamError):
    """A frame could not be decoded: malformed JSON, a binary frame or a wrong shape.

    The frame is skipped; the stream goes on.

    Attributes:
        reason: What was wrong, in a few words.
        frame_preview: The start of the frame (at most about 200 characters).
        frame_type: The frame's ``type`` when it could be read, else ``None``.
    """

    def __init__(self, reason: str, frame_preview: str, frame_type: str | None = None):
        self.reason = reason
        self.frame_preview = frame_preview
        self.frame_type = frame_type
        where = f" ({frame_type})" if frame_type else ""
        super().__init__(f"skipped stream frame{where}: {reason}: {frame_preview!r}")


class StreamServerError(StreamError):
    """The server answered a command with an ``error`` frame.

    Attributes:
        server_message: The ``message`` of the error frame.
    """

    def __init__(self, server_message: str):
        self.server_message = server_message
        super().__init__(f"stream server reported an error: {server_message}")


class HandlerError(StreamError):
    """A handler raised; the original exception is ``exception`` (and ``__cause__``).

    Attributes:
        handler_name: Qualified name of the handler.
        exception: What it raised. Pickled (to leave a worker process), an exception that
            cannot be pickled and unpickled travels as a ``RuntimeError`` that names its
            type and message.
        item: What it was handling (an event, a signal, an error or a reconnect notice).
    """

    def __init__(self, handler_name: str, exception: BaseException, item: HandledItem):
        self.handler_name = handler_name
        self.exception = exception
        self.item: HandledItem = item
        super().__init__(f"handler {handler_name} raised {type(exception).__name__}: {exception}")
        self.__cause__ = exception

    def __reduce__(self) -> Reduced:
        # The handler's exception is the application's: one holding a lock or a socket, or
        # whose __init__ takes other arguments than its args, would make this error fail to
        # pickle (or to unpickle) on its way out of a worker process. It travels as a
        # description then; the rest of the error as it is.
        rebuild, (cls, args, state) = super().__reduce__()
        if not _survives_pickling(self.exception):
            state = {**state, "exception": _stand_in(self.exception)}
        return rebuild, (cls, args, state)

    def __copy__(self) -> HandlerError:
        # copy.copy would go through __reduce__: a shallow copy keeps the exception itself.
        # (A deep copy goes through it, as a pickle does.)
        rebuild, (cls, args, state) = super().__reduce__()
        copied = rebuild(cls, args, state)
        assert isinstance(copied, HandlerError)
        return copied


def _survives_pickling(value: object) -> bool:
    import pickle  # loaded already when an error is being pickled

    try:
        pickle.loads(pickle.dumps(value))
    except Exception:  # whatever the value's own pickling raises
        return False
    return True


def _stand_in(exception: BaseException) -> RuntimeError:
    """What travels in place of an exception that cannot be pickled."""
    kind = type(exception)
    try:
        text = str(exception)
    except Exception:  # a __str__ that raises: the type alone
        text = "<its message could not be read>"
    return RuntimeError(
        f"{kind.__module__}.{kind.__qualname__}: {text} (the original could not be pickled)"
    )


class StreamConnectionError(StreamError):
    """The websocket could not be opened or was lost; the stream reconnects.

    Raised out of ``run_forever()`` only when the reconnect policy allows no further attempt.

    Attributes:
        url: The websocket URL (without credentials; those travel in headers).
    """

    def __init__(self, message: str, url: str):
        self.url = redact_url(url)
        super().__init__(f"{message} ({self.url})")


class StreamRefusedError(StreamConnectionError):
    """The server answered the websocket upgrade with a client error (HTTP 4xx).

    Retrying cannot help (wrong URL or prefix, missing credentials), so ``run_forever()``
    raises it at once.

    Attributes:
        status_code: The HTTP status of the refusal.
    """

    def __init__(self, status_code: int, url: str):
        self.status_code = status_code
        super().__init__(f"the server refused the websocket upgrade with HTTP {status_code}", url)


class DeadConnectionError(StreamConnectionError):
    """No ``pong`` arrived within the pong timeout after a ``ping``: the connection is dead."""


__all__ = [
    "DeadConnectionError",
    "HandlerError",
    "StreamConnectionError",
    "StreamError",
    "StreamFrameError",
    "StreamRefusedError",
    "StreamServerError",
]
