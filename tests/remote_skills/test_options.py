"""Defaults and checks of RemoteSkillOptions' concurrency bound."""

from __future__ import annotations

import pytest

from codex_manager.remote_skills.options import RemoteSkillOptions


def test_default_bound_suits_each_client() -> None:
    options = RemoteSkillOptions()
    assert options.max_concurrent_calls is None
    assert options.call_bound() == 256  # async client: handlers are tasks
    assert options.thread_bound() == 128  # sync client: each call holds a thread


def test_an_explicit_bound_applies_to_both_clients() -> None:
    options = RemoteSkillOptions(max_concurrent_calls=3)
    assert (options.call_bound(), options.thread_bound()) == (3, 3)


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_concurrent_calls"):
        RemoteSkillOptions(max_concurrent_calls=0)
