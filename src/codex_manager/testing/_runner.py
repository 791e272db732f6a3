"""Runs one turn: begin frames, the script, completion frames and expiry."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging

from codex_manager.json_types import JSONValue

from ._clock import uuid7
from ._codex import Codex
from ._state import SessionState, TurnState
from .agent import Script, SyncTurnContext, TurnContext, TurnFinishedError, is_async_script

_log = logging.getLogger("codex_manager.testing")


def start_turn(codex: Codex, session: SessionState, text: str, script: Script) -> TurnState:
    """Create the turn, remember it as active, and run it in a task (turns of a session queue)."""
    turn = TurnState(id=uuid7(), text=text)
    session.turns.append(turn)
    session.active_turn_id = turn.id
    turn.task = asyncio.get_running_loop().create_task(_run(codex, session, turn, script))
    return turn


async def _run(codex: Codex, session: SessionState, turn: TurnState, script: Script) -> None:
    try:
        await session.turn_lock.acquire()
    except asyncio.CancelledError:
        if turn.abandoned:
            codex.abandon_turn(session, turn)
        else:
            codex.complete_turn(session, turn, "interrupted")
        return
    try:
        status, error = await _play(codex, session, turn, script)
        if turn.abandoned:
            # The emulated codex process went away (restart): nothing is published.
            codex.abandon_turn(session, turn)
        else:
            codex.complete_turn(session, turn, status, error)
    finally:
        session.turn_lock.release()


async def _play(
    codex: Codex, session: SessionState, turn: TurnState, script: Script
) -> tuple[str, JSONValue]:
    try:
        if codex.options.turn_start_delay > 0:
            await asyncio.sleep(codex.options.turn_start_delay)
        codex.begin_turn(session, turn)
        context = TurnContext(codex, session, turn)
        if is_async_script(script):
            await script(context)
        else:
            loop = asyncio.get_running_loop()
            call = functools.partial(
                contextvars.copy_context().run, script, SyncTurnContext(context, loop)
            )
            returned = await loop.run_in_executor(codex.script_threads, call)
            if inspect.isawaitable(returned):
                if inspect.iscoroutine(returned):
                    returned.close()  # given the sync context, it cannot run: say so, loudly
                raise TypeError(
                    f"the script {script!r} returned an awaitable but was not recognised as "
                    "async (a plain decorator around an async def?): it must be an async def "
                    "function, or an object whose __call__ is one"
                )
    except (asyncio.CancelledError, TurnFinishedError):
        return "interrupted", None
    except Exception as exc:  # a failing script fails the turn, like a model error
        _log.warning("fake agent script failed in turn %s: %r", turn.id, exc)
        message = f"{type(exc).__name__}: {exc}"
        return "failed", {"message": message, "codexErrorInfo": None, "additionalDetails": None}
    return "completed", None
