"""SDK errors survive pickling: raised in a worker process, they come back whole."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest

from codex_manager.errors import (
    APIStatusError,
    CodexManagerError,
    ConfigError,
    NotFoundError,
    TransportError,
    TurnWaitTimeoutError,
)
from codex_manager.stream.errors import HandlerError, StreamConnectionError, StreamServerError

ERRORS: list[CodexManagerError] = [
    ConfigError("timeout must be > 0 (got 0)"),
    TransportError("connection refused"),
    APIStatusError(418, {"error": "teapot"}, operation_id="health", method="GET", url="u"),
    NotFoundError(
        404, {"error": "no such session"}, operation_id="readSession", method="GET", url="u"
    ),
    TurnWaitTimeoutError(
        session_id="s",
        turn_id="t",
        timeout=1.0,
        last_status="inProgress",
        last_seen="turn status 'inProgress'",
        pending_tool_calls=1,
        pending_approvals=0,
        pending_user_inputs=0,
    ),
    StreamConnectionError("no ready frame within 10 s", "ws://127.0.0.1/api/stream"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: type(error).__name__)
def test_an_error_comes_back_from_pickle_as_it_went(error: CodexManagerError) -> None:
    # Exception's own pickling calls type(error)(*error.args): the errors whose __init__ takes
    # keywords could not be unpickled (concurrent.futures.ProcessPoolExecutor, multiprocessing).
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)


class _SlottedError(TransportError):
    """A user's subclass whose attributes live in __slots__."""

    __slots__ = ("attempt",)

    def __init__(self, message: str, *, attempt: int) -> None:
        super().__init__(message)
        self.attempt = attempt


def test_a_subclass_with_slots_keeps_them() -> None:
    copy = pickle.loads(pickle.dumps(_SlottedError("gave up", attempt=3)))
    assert isinstance(copy, _SlottedError)
    assert copy.attempt == 3
    assert str(copy) == "gave up"


class _PrivateSlotError(TransportError):
    __slots__ = ("__secret",)  # stored as _PrivateSlotError__secret

    def __init__(self, message: str, secret: str) -> None:
        super().__init__(message)
        self.__secret = secret

    @property
    def secret(self) -> str:
        return self.__secret


def test_a_private_slot_survives_too() -> None:
    copy = pickle.loads(pickle.dumps(_PrivateSlotError("no", "s3")))
    assert copy.secret == "s3"


class _LockHoldingError(Exception):
    def __init__(self) -> None:
        super().__init__("gave up waiting")
        self.lock = threading.Lock()


class _TwoArgumentError(Exception):
    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")  # unpickling calls _TwoArgumentError(args[0]): refused


@pytest.mark.parametrize(
    "exception", [_LockHoldingError(), _TwoArgumentError("lookup", "timed out")]
)
def test_a_handler_error_pickles_whatever_the_handler_raised(exception: Exception) -> None:
    error = HandlerError("app.handler", exception, StreamServerError("busy"))
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is HandlerError
    assert str(copy) == str(error)
    assert copy.handler_name == "app.handler"
    assert isinstance(copy.item, StreamServerError)
    assert isinstance(copy.exception, RuntimeError)
    assert f"{type(exception).__qualname__}: {exception}" in str(copy.exception)
    assert "could not be pickled" in str(copy.exception)


def test_a_handler_error_keeps_an_exception_that_pickles() -> None:
    copy = pickle.loads(pickle.dumps(HandlerError("h", KeyError("k"), StreamServerError("x"))))
    assert type(copy.exception) is KeyError
    assert copy.exception.args == ("k",)


def test_a_copy_of_a_handler_error_keeps_an_exception_that_cannot_be_pickled() -> None:
    original = _LockHoldingError()
    error = HandlerError("app.handler", original, StreamServerError("busy"))
    assert copy.copy(error).exception is original
    assert str(copy.copy(error)) == str(error)
