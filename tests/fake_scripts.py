"""Fake-server scripts shared by tests of different packages."""

from __future__ import annotations

from codex_manager.testing import TurnContext


async def ask_which_ticket(turn: TurnContext) -> None:
    """A turn that asks the user one question and waits for the answer.

    The fake fills in what Codex always sends with it (header, options, isOther, isSecret).
    """
    await turn.request_user_input([{"id": "q", "question": "Which ticket?"}])
