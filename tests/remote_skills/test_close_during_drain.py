"""Closing a client while a drain (or a respond of the caller's own) runs a call outside any
stream: ``close()`` waits for it, so that its answer goes out, and calls not started yet stay
pending for the next drain instead of running into a closed client.

Before, only stream handlers were waited for: a drain on a timer thread had its handler run
(a card charged) and its answer refused with "the client is closed", the call left pending,
and the next process's drain ran it again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.remote_skills import (
    AsyncSessionSkills,
    RemoteSkillDispatch,
    RemoteSkillOptions,
    SessionSkills,
)
from codex_manager.testing import FakeCodexManager

CHARGE = 'CALL charge_card {"amount": 5}'
TWO_CHARGES = 'PARALLEL\nCALL charge_card {"amount": 5}\nCALL charge_card {"amount": 7}'


def _charging(charged: list[int], started: threading.Event) -> Callable[[SessionSkills], None]:
    """A register callback: charge_card takes half a second, then counts the charge."""

    def register(skills: SessionSkills) -> None:
        @skills.skill
        def charge_card(amount: int) -> str:
            """Charge the customer's card."""
            started.set()
            time.sleep(0.5)
            charged.append(amount)
            return f"charged {amount}"

    return register


def test_sync_close_waits_for_a_call_a_drain_is_running() -> None:
    charged: list[int] = []
    started = threading.Event()
    register = _charging(charged, started)

    drained: list[list[RemoteSkillDispatch]] = []
    with FakeCodexManager(noise=False) as server:
        with CodexManager(server.base_url) as cm:
            _, skills = cm.remote_skills.create_session(register=register)
            cm.session(skills.session_id).messages.send(CHARGE)
            server.wait_for_tool_call(skills.session_id)
            poller = threading.Thread(target=lambda: drained.append(skills.drain_pending_calls()))
            poller.start()
            assert started.wait(10)
        # close() (the with block) returned: the call ran and its answer went out.
        assert charged == [5]
        poller.join(10)
        [records] = drained
        assert [record.submission_status for record in records] == ["accepted"]
        assert [answer.status for answer in server.answers] == [200]
        assert server.pending_tool_calls(skills.session_id) == []


def test_sync_calls_a_closing_client_has_not_started_stay_pending() -> None:
    charged: list[int] = []
    started = threading.Event()
    register = _charging(charged, started)

    drained: list[list[RemoteSkillDispatch]] = []
    one_at_a_time = RemoteSkillOptions(max_concurrent_calls=1)
    with FakeCodexManager(noise=False) as server:
        with CodexManager(server.base_url) as cm:
            _, skills = cm.remote_skills.create_session(
                register=register, skill_options=one_at_a_time
            )
            cm.session(skills.session_id).messages.send(TWO_CHARGES)
            server.wait_for(lambda: len(server.pending_tool_calls(skills.session_id)) == 2, 10)
            poller = threading.Thread(target=lambda: drained.append(skills.drain_pending_calls()))
            poller.start()
            assert started.wait(10)
        poller.join(10)
        # The first call was answered; the second never ran and waits for the next drain
        # (the drain reported what it did instead of raising ClientClosedError).
        assert len(charged) == 1
        [records] = drained
        assert [record.submission_status for record in records] == ["accepted"]
        assert [answer.status for answer in server.answers] == [200]
        assert len(server.pending_tool_calls(skills.session_id)) == 1


def test_sync_close_from_a_skill_a_drain_runs_in_a_plain_thread_does_not_wait_for_itself() -> None:
    took: list[float] = []

    with FakeCodexManager(noise=False) as server:
        cm = CodexManager(server.base_url)

        def register(skills: SessionSkills) -> None:
            @skills.skill
            def charge_card(amount: int) -> str:
                """Charge the customer's card."""
                begun = time.monotonic()
                cm.close()  # would wait for this very call (300 s, the default timeout)
                took.append(time.monotonic() - begun)
                return f"charged {amount}"

        _, skills = cm.remote_skills.create_session(register=register)
        cm.session(skills.session_id).messages.send(CHARGE)
        server.wait_for_tool_call(skills.session_id)
        poller = threading.Thread(target=skills.drain_pending_calls, daemon=True)
        poller.start()
        poller.join(15)
        assert not poller.is_alive()
        assert took
        assert took[0] < 5
        assert cm.is_closed


async def test_async_close_waits_for_a_call_a_drain_is_running() -> None:
    charged: list[int] = []
    started = asyncio.Event()

    def register(skills: AsyncSessionSkills) -> None:
        @skills.skill
        async def charge_card(amount: int) -> str:
            """Charge the customer's card."""
            started.set()
            await asyncio.sleep(0.5)
            charged.append(amount)
            return f"charged {amount}"

    with FakeCodexManager(noise=False) as server:
        async with AsyncCodexManager(server.base_url) as cm:
            _, skills = await cm.remote_skills.create_session(register=register)
            await cm.session(skills.session_id).messages.send(CHARGE)
            await server.wait_for_tool_call_async(skills.session_id)
            poller = asyncio.create_task(skills.drain_pending_calls())
            await asyncio.wait_for(started.wait(), 10)
        assert charged == [5]
        records = await asyncio.wait_for(poller, 10)
        assert [record.submission_status for record in records] == ["accepted"]
        assert [answer.status for answer in server.answers] == [200]
        assert server.pending_tool_calls(skills.session_id) == []


def test_sync_close_cuts_a_wait_between_answer_attempts_short() -> None:
    # A long wait before the next attempt (a Retry-After, a slow retry policy) kept close()
    # waiting for all of it, or past its allowance, after which the answer met a closed
    # client and the call stayed pending.
    options = RemoteSkillOptions(retry_delay_seconds=30.0, default_timeout_seconds=3.0)
    drained: list[list[RemoteSkillDispatch]] = []
    with FakeCodexManager(noise=False) as server:
        cm = CodexManager(server.base_url)
        _, skills = cm.remote_skills.create_session(
            register=lambda s: s.skill(len), skill_options=options
        )
        cm.session(skills.session_id).messages.send('CALL len {"obj": "abc"}')
        server.wait_for_tool_call(skills.session_id)
        server.fail_next_answers(1)  # the first answer gets a 500: the next waits 30 s
        poller = threading.Thread(target=lambda: drained.append(skills.drain_pending_calls()))
        poller.start()
        server.wait_for(lambda: len(server.answers) == 1, 10)
        started = time.monotonic()
        cm.close()
        assert time.monotonic() - started < 3.0
        poller.join(10)
        assert [(r.submission_status, r.submission_attempts) for r in drained[0]] == [
            ("accepted", 2)
        ]
        assert server.pending_tool_calls(skills.session_id) == []


async def test_async_close_cuts_a_wait_between_answer_attempts_short() -> None:
    options = RemoteSkillOptions(retry_delay_seconds=30.0, default_timeout_seconds=3.0)
    with FakeCodexManager(noise=False) as server:
        acm = AsyncCodexManager(server.base_url)
        _, skills = await acm.remote_skills.create_session(
            register=lambda s: s.skill(len), skill_options=options
        )
        await acm.session(skills.session_id).messages.send('CALL len {"obj": "abc"}')
        await asyncio.to_thread(server.wait_for_tool_call, skills.session_id)
        server.fail_next_answers(1)
        drain = asyncio.create_task(skills.drain_pending_calls())
        await asyncio.to_thread(server.wait_for, lambda: len(server.answers) == 1, 10)
        started = time.monotonic()
        await acm.aclose()
        assert time.monotonic() - started < 3.0
        records = await asyncio.wait_for(drain, 10)
        assert [(r.submission_status, r.submission_attempts) for r in records] == [("accepted", 2)]
        assert server.pending_tool_calls(skills.session_id) == []
