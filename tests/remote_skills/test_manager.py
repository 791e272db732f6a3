"""``cm.remote_skills``: the registries a client keeps."""

from __future__ import annotations

import gc
import weakref

from codex_manager import AsyncCodexManager, CodexManager, RetryPolicy
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
