"""The scripted agent that plays Codex inside :class:`FakeCodexManager`.

A message starts a turn; the session's *script* decides what happens in it. A script is a
callable receiving a turn context:

- ``async def script(turn: TurnContext) -> None`` runs on the server's event loop;
- ``def script(turn: SyncTurnContext) -> None`` runs in a worker thread with blocking methods.

When the script returns, the turn completes (``turn/completed``, status ``completed``); an
exception fails the turn (status ``failed``); an interrupt ends it (status ``interrupted``).

The default script, :func:`default_script`, follows the project's text convention:

- every ``CALL <tool> <json-args>`` in the message calls ``<tool>`` with those arguments
  (arguments default to ``{}``), one after another; a line holding only ``PARALLEL`` makes all
  the calls of the message go out at once;
- after the answers it replies ``TOOL RESULT: <answer text>`` (one line per call), where the
  answer text is the text of the content items the answer carried (for a raw ``response``
  pass-through, the texts of its ``contentItems``);
- a ``CALL`` of a tool missing from the session's catalog (fixed by ``dynamicTools`` at
  creation) gets ``ECHO: <text> (tool '<name>' not offered)`` and no call;
- any other text gets ``ECHO: <text>``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from typing_extensions import TypeIs

from codex_manager.json_types import JSONInput, JSONObject, JSONValue

from ._codex import content_texts

if TYPE_CHECKING:
    from ._codex import Codex
    from ._state import PendingCall, SessionState, TurnState

_T = TypeVar("_T")

_CALL = re.compile(r"(?<![A-Za-z0-9_])CALL[ \t]+([A-Za-z0-9_][A-Za-z0-9_.:/-]*)")
_PARALLEL = re.compile(r"^[ \t]*PARALLEL[ \t]*$", re.MULTILINE)
_DECODER = json.JSONDecoder()


class TurnFinishedError(RuntimeError):
    """The turn already ended (interrupted, or its session was deleted)."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call came back with, as the model sees it.

    Attributes:
        request_id: The call's request id (string form).
        call_id: The model's call id.
        tool: The tool name.
        arguments: The call arguments.
        payload: The JSON-RPC result forwarded by the server (None when expired).
        content_items: The content items of the result.
        text: The joined text of the content items (what the model reads).
        success: The result's ``success`` flag (True when absent; False when expired).
        expired: True when no answer came (turn ended, session deleted, or timeout).
    """

    request_id: str
    call_id: str
    tool: str
    arguments: JSONValue
    payload: JSONValue
    content_items: tuple[JSONObject, ...]
    text: str
    success: bool
    expired: bool


ToolCallSpec: TypeAlias = tuple[str, JSONInput]
"""A tool name and its arguments, for :meth:`TurnContext.call_tools_parallel`."""


def _plain(value: JSONInput) -> JSONValue:
    """Copy a JSON-compatible input into plain ``dict``/``list`` values."""
    result: JSONValue = json.loads(json.dumps(value))
    return result


_QUESTION_DEFAULTS: dict[str, JSONValue] = {
    "header": "",
    "options": None,
    "isOther": False,
    "isSecret": False,
}
"""What Codex always sends in a user-input question and a script may leave out."""


def _question(value: JSONInput) -> JSONValue:
    """One user-input question as Codex sends it: the script's keys over the defaults.

    The real server passes Codex's questions through, and they always carry every key: a
    question missing one would be one no client ever sees (and the typed client refuses).
    """
    question = _plain(value)
    if not isinstance(question, dict):
        raise TypeError(f"a user-input question is a JSON object, not {question!r}")
    for key in ("id", "question"):
        if not isinstance(question.get(key), str):
            raise ValueError(f"a user-input question needs a string {key!r}: {question!r}")
    return {**_QUESTION_DEFAULTS, **question}


class ToolCallHandle:
    """A tool call in progress; ``await handle.result()`` waits for its answer."""

    def __init__(self, context: TurnContext, call: PendingCall) -> None:
        self._context = context
        self._call = call

    @property
    def request_id(self) -> str:
        """The request id clients answer at."""
        return self._call.request_id

    @property
    def call_id(self) -> str:
        """The model's call id."""
        return self._call.call_id

    async def result(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - mirrors the sync API
    ) -> ToolResult:
        """Wait for the answer; after ``timeout`` seconds give up (the result is expired)."""
        return await self._context._await_call(self._call, timeout)


class TurnContext:
    """What an async script sees of its turn. Methods run on the server's event loop."""

    def __init__(self, codex: Codex, session: SessionState, turn: TurnState) -> None:
        self._codex = codex
        self._session = session
        self._turn = turn

    @property
    def session_id(self) -> str:
        """The session (thread) id."""
        return self._session.id

    @property
    def turn_id(self) -> str:
        """The turn id."""
        return self._turn.id

    @property
    def text(self) -> str:
        """The user message that started the turn."""
        return self._turn.text

    @property
    def catalog(self) -> tuple[JSONObject, ...]:
        """The session's tool catalog, fixed at creation."""
        return tuple(json.loads(json.dumps(tool)) for tool in self._session.catalog)

    @property
    def tool_names(self) -> tuple[str, ...]:
        """Names of the tools in the catalog."""
        return tuple(str(tool.get("name")) for tool in self._session.catalog)

    def offers(self, tool: str) -> bool:
        """Whether the catalog has ``tool``."""
        return tool in self.tool_names

    def _check_open(self) -> None:
        if self._turn.status != "inProgress" or self._session.id in self._codex.store.purged:
            raise TurnFinishedError(f"turn {self._turn.id} has ended")

    def start_tool_call(self, tool: str, arguments: JSONInput = None) -> ToolCallHandle:
        """Make a tool call without waiting for it (``arguments`` default to ``{}``)."""
        self._check_open()
        args = _plain(arguments) if arguments is not None else {}
        call = self._codex.start_tool_call(self._session, self._turn, tool, args)
        return ToolCallHandle(self, call)

    async def call_tool(
        self,
        tool: str,
        arguments: JSONInput = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - mirrors the sync API
    ) -> ToolResult:
        """Call a tool and wait for its answer (or ``timeout`` seconds)."""
        return await self.start_tool_call(tool, arguments).result(timeout)

    async def call_tools_parallel(
        self,
        calls: Sequence[ToolCallSpec],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - mirrors the sync API
    ) -> list[ToolResult]:
        """Make several calls at once, then wait for all of them; results in call order."""
        handles = [self.start_tool_call(tool, arguments) for tool, arguments in calls]
        return list(await asyncio.gather(*(handle.result(timeout) for handle in handles)))

    def reply(self, text: str) -> None:
        """Send an assistant message (item started, delta, item completed)."""
        self._check_open()
        self._codex.reply(self._session, self._turn, text)

    def send_unsupported_request(self, method: str, params: JSONInput = None) -> int:
        """Send a server request the server does not support (publishes ``server_request``).

        Returns its JSON-RPC id. ``params`` default to ``{threadId, turnId}``.
        """
        self._check_open()
        plain = _plain(params) if params is not None else None
        body: JSONObject = (
            plain
            if isinstance(plain, dict)
            else {"threadId": self._session.id, "turnId": self._turn.id}
        )
        return self._codex.unsupported_request(self._session, self._turn, method, body)

    async def request_approval(
        self, command: str = "echo hello", *, reason: str | None = None
    ) -> JSONValue:
        """Ask for a command-execution approval; returns the JSON-RPC result it got."""
        self._check_open()
        item_id = f"call_{self._codex.store.take_item_number():06d}"
        params: JSONObject = {
            "threadId": self._session.id,
            "turnId": self._turn.id,
            "itemId": item_id,
            "command": command,
            "cwd": self._session.cwd,
            "reason": reason,
        }
        decision = self._codex.request_decision(
            self._session,
            self._turn.id,
            "approval",
            "item/commandExecution/requestApproval",
            params,
            {"summary": f"Command approval requested: {command}"},
        )
        return await decision.future

    async def request_user_input(self, questions: Sequence[JSONInput]) -> JSONValue:
        """Ask the user questions (``item/tool/requestUserInput``); returns the result.

        Each question needs an ``id`` and a ``question``; ``header``, ``options``,
        ``isOther`` and ``isSecret`` default as Codex would send them (``""``, ``None``,
        ``False``, ``False``).
        """
        self._check_open()
        plain_questions: list[JSONValue] = [_question(question) for question in questions]
        item_id = f"call_{self._codex.store.take_item_number():06d}"
        params: JSONObject = {
            "threadId": self._session.id,
            "turnId": self._turn.id,
            "itemId": item_id,
            "questions": plain_questions,
        }
        decision = self._codex.request_decision(
            self._session,
            self._turn.id,
            "tool_input",
            "item/tool/requestUserInput",
            params,
            {"summary": "User input requested", "questions": list(plain_questions)},
        )
        return await decision.future

    async def _await_call(self, call: PendingCall, wait: float | None) -> ToolResult:
        from ._state import ToolCallAnswer

        try:
            answer = await asyncio.wait_for(asyncio.shield(call.future), wait)
        except TimeoutError:
            # Given up on: it leaves the pending list (a late answer gets 404, as for any
            # expired call), unless an answer won the race.
            self._codex.expire_calls(lambda pending: pending is call)
            answer = (
                call.future.result()
                if call.future.done()
                else ToolCallAnswer(payload=None, expired=True)
            )
        payload, expired = answer.payload, answer.expired

        self._codex.finish_tool_call(
            self._session, self._turn, call, ToolCallAnswer(payload=payload, expired=expired)
        )
        items, text, success = content_texts(payload)
        return ToolResult(
            request_id=call.request_id,
            call_id=call.call_id,
            tool=call.tool,
            arguments=call.arguments,
            payload=payload,
            content_items=items,
            text=text,
            success=success and not expired,
            expired=expired,
        )


class SyncTurnContext:
    """What a synchronous script sees: the :class:`TurnContext` API, blocking."""

    def __init__(self, context: TurnContext, loop: asyncio.AbstractEventLoop) -> None:
        self._context = context
        self._loop = loop

    def _run(self, coroutine: Awaitable[_T]) -> _T:
        async def wrapper() -> _T:
            return await coroutine

        future: ThreadFuture[_T] = asyncio.run_coroutine_threadsafe(wrapper(), self._loop)
        return future.result()

    def _call(self, function: Callable[[], _T]) -> _T:
        async def wrapper() -> _T:
            return function()

        return self._run(wrapper())

    @property
    def session_id(self) -> str:
        """The session (thread) id."""
        return self._context.session_id

    @property
    def turn_id(self) -> str:
        """The turn id."""
        return self._context.turn_id

    @property
    def text(self) -> str:
        """The user message that started the turn."""
        return self._context.text

    @property
    def catalog(self) -> tuple[JSONObject, ...]:
        """The session's tool catalog, fixed at creation."""
        return self._call(lambda: self._context.catalog)

    @property
    def tool_names(self) -> tuple[str, ...]:
        """Names of the tools in the catalog."""
        return self._call(lambda: self._context.tool_names)

    def offers(self, tool: str) -> bool:
        """Whether the catalog has ``tool``."""
        return tool in self.tool_names

    def call_tool(
        self, tool: str, arguments: JSONInput = None, *, timeout: float | None = None
    ) -> ToolResult:
        """Call a tool and block until its answer (or ``timeout`` seconds)."""
        return self._run(self._context.call_tool(tool, arguments, timeout=timeout))

    def call_tools_parallel(
        self, calls: Sequence[ToolCallSpec], *, timeout: float | None = None
    ) -> list[ToolResult]:
        """Make several calls at once and block until all are answered."""
        return self._run(self._context.call_tools_parallel(calls, timeout=timeout))

    def reply(self, text: str) -> None:
        """Send an assistant message."""
        self._call(lambda: self._context.reply(text))

    def send_unsupported_request(self, method: str, params: JSONInput = None) -> int:
        """Send a server request the server does not support (publishes ``server_request``)."""
        return self._call(lambda: self._context.send_unsupported_request(method, params))

    def request_approval(
        self, command: str = "echo hello", *, reason: str | None = None
    ) -> JSONValue:
        """Ask for a command-execution approval and block until decided."""
        return self._run(self._context.request_approval(command, reason=reason))

    def request_user_input(self, questions: Sequence[JSONInput]) -> JSONValue:
        """Ask the user questions and block until answered."""
        return self._run(self._context.request_user_input(questions))


AsyncScript: TypeAlias = Callable[[TurnContext], Awaitable[None]]
"""An ``async def script(turn: TurnContext) -> None``."""

SyncScript: TypeAlias = Callable[[SyncTurnContext], None]
"""A ``def script(turn: SyncTurnContext) -> None`` (runs in a worker thread)."""

Script: TypeAlias = AsyncScript | SyncScript
"""A turn script, async or sync."""


def parse_calls(text: str) -> list[tuple[str, JSONValue]]:
    """The ``CALL <tool> <json-args>`` requests in a message, in order."""
    calls: list[tuple[str, JSONValue]] = []
    consumed = 0  # the end of the last arguments read: a "CALL" inside them is not a call
    for match in _CALL.finditer(text):
        if match.start() < consumed:
            continue
        start = match.end()
        while text.startswith((" ", "\t"), start):
            start += 1
        arguments: JSONValue = {}
        if text.startswith(("{", "["), start):
            try:
                arguments, consumed = _DECODER.raw_decode(text, start)
            except ValueError:
                arguments = {}
        # A name ends before sentence punctuation ("Please CALL lookup_ticket.").
        calls.append((match.group(1).rstrip(".:/-") or match.group(1), arguments))
    return calls


def answer_line(result: ToolResult) -> str:
    """The ``TOOL RESULT:`` line for one call."""
    if result.expired:
        return "TOOL RESULT: (no answer: tool call expired)"
    return f"TOOL RESULT: {result.text}"


async def default_script(turn: TurnContext) -> None:
    """The text convention: ``CALL <tool> <json-args>`` -> call, else ``ECHO: <text>``."""
    calls = parse_calls(turn.text)
    if not calls:
        turn.reply(f"ECHO: {turn.text}")
        return
    missing = [tool for tool, _ in calls if not turn.offers(tool)]
    if missing:
        turn.reply(f"ECHO: {turn.text} (tool '{missing[0]}' not offered)")
        return
    specs: list[ToolCallSpec] = [(tool, arguments) for tool, arguments in calls]
    if _PARALLEL.search(turn.text):
        results = await turn.call_tools_parallel(specs)
    else:
        results = [await turn.call_tool(tool, arguments) for tool, arguments in specs]
    turn.reply("\n".join(answer_line(result) for result in results))


def is_async_script(script: Script) -> TypeIs[AsyncScript]:
    """Whether ``script`` is a coroutine function (or an object with an async ``__call__``),
    also behind a decorator that kept ``__wrapped__`` or as an ``AsyncMock``."""
    if inspect.iscoroutinefunction(script) or asyncio.iscoroutinefunction(script):
        return True
    unwrapped = inspect.unwrap(script)
    if unwrapped is not script and inspect.iscoroutinefunction(unwrapped):
        return True
    call = getattr(script, "__call__", None)  # noqa: B004 - callable objects
    return call is not None and inspect.iscoroutinefunction(call)
