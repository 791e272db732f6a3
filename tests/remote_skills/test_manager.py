"""``cm.remote_skills``: the registries a client keeps."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from codex_manager import AsyncCodexManager, CodexManager, RetryPolicy
from codex_manager.remote_skills import RemoteSkillOptions
from codex_manager.testing import FakeCodexManager


def test_a_forgotten_registry_is_let_go_and_a_new_one_made_on_demand() -> None:
    # A long-lived client kept every registry it ever made (about a KiB each), with no way
    # to drop those of finished sessions.
    cm = CodexManager("http://127.0.0.1:9")
    kept = cm.remote_skills.session("S")
    assert cm.remote_skills.forget("S") is kept
    assert cm.remote_skills.forget("S") is None
    left = weakref.ref(kept)
    del kept
    gc.collect()
    assert left() is None
    assert cm.remote_skills.session("S").names() == ()
    cm.close()


async def test_an_async_registry_can_be_forgotten() -> None:
    async with AsyncCodexManager("http://127.0.0.1:9") as acm:
        kept = acm.remote_skills.session("S")
        assert acm.remote_skills.forget("S") is kept
        assert acm.remote_skills.session("S") is not kept


def test_create_session_takes_a_retry_policy_for_its_request() -> None:
    # Accepted at run time all along, but refused by type checkers (missing from the
    # keyword arguments' TypedDict).
    with FakeCodexManager(noise=False) as server, CodexManager(server.base_url) as cm:
        created, skills = cm.remote_skills.create_session(retry=RetryPolicy.disabled(), cwd=".")
        assert created["session"]["sessionId"] == skills.session_id


def _add(a: int, b: int) -> int:
    """Adds."""
    return a + b


def test_a_forgotten_registry_with_its_own_bound_takes_its_threads_with_it() -> None:
    # skill_options of another max_concurrent_calls gave each registry a pool of its own,
    # which forget() kept: a hundred sessions served and forgotten left a hundred threads.
    own = RemoteSkillOptions(max_concurrent_calls=4)
    with FakeCodexManager(noise=False) as server, CodexManager(server.base_url) as cm:
        before = threading.active_count()
        for _ in range(20):
            _created, skills = cm.remote_skills.create_session(
                register=lambda s: s.skill(_add), skill_options=own
            )
            skills.send('CALL _add {"a": 1, "b": 2}', inject_skills=False)
            server.wait_for_tool_call(skills.session_id)
            [record] = skills.drain_pending_calls()
            assert record.answer_text == "3"
            assert skills.session_id is not None
            cm.remote_skills.forget(skills.session_id)
        del skills

        def threads_gone() -> bool:
            gc.collect()  # the last registry, should a cycle hold it
            return threading.active_count() <= before

        server.wait_for(threads_gone, 5)


def test_a_forgotten_registry_still_answers_while_it_is_used() -> None:
    # forget() shut its own pool down at once: the registry it returned (or a handler still
    # holding it) then failed with the pool's bare RuntimeError.
    own = RemoteSkillOptions(max_concurrent_calls=4)
    with FakeCodexManager(noise=False) as server, CodexManager(server.base_url) as cm:
        _created, skills = cm.remote_skills.create_session(
            register=lambda s: s.skill(_add), skill_options=own
        )
        assert skills.session_id is not None
        assert cm.remote_skills.forget(skills.session_id) is skills
        skills.send('CALL _add {"a": 2, "b": 2}', inject_skills=False)
        server.wait_for_tool_call(skills.session_id)
        [record] = skills.drain_pending_calls()
    assert (record.answer_text, record.submission_status) == ("4", "accepted")


def test_a_registry_whose_session_could_not_be_made_takes_its_threads_with_it() -> None:
    with FakeCodexManager(noise=False) as server, CodexManager(server.base_url) as cm:
        pools = len(cm.remote_skills._executors)

        def refuse(skills: object) -> None:
            raise RuntimeError("no")

        with pytest.raises(RuntimeError):
            cm.remote_skills.create_session(
                register=refuse, skill_options=RemoteSkillOptions(max_concurrent_calls=4)
            )
        assert len(cm.remote_skills._executors) == pools


async def test_a_forgotten_async_registry_with_its_own_bound_lets_its_pool_go() -> None:
    own = RemoteSkillOptions(max_concurrent_calls=4)
    with FakeCodexManager(noise=False) as server:
        async with AsyncCodexManager(server.base_url) as acm:
            pools = len(acm.remote_skills._executors)
            skills = acm.remote_skills.session("s1", skill_options=own)
            assert len(acm.remote_skills._executors) == pools + 1
            acm.remote_skills.forget("s1")
            assert len(acm.remote_skills._executors) == pools
            assert skills.session_id == "s1"
