"""Defaults and checks of RemoteSkillOptions' concurrency bound."""

from __future__ import annotations

import pytest

from codex_manager.errors import CodexManagerError, ConfigError
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


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"default_timeout_seconds": 0}, "default_timeout_seconds"),
        ({"default_timeout_seconds": "5"}, "default_timeout_seconds"),
        ({"default_timeout_seconds": True}, "default_timeout_seconds"),
        ({"max_concurrent_calls": 2.5}, "max_concurrent_calls"),
        ({"dedupe_memory": 0}, "dedupe_memory"),
        ({"dedupe_memory": "many"}, "dedupe_memory"),
        ({"ownership_check_after_seconds": float("nan")}, "ownership_check_after_seconds"),
        ({"ownership_check_after_seconds": "1"}, "ownership_check_after_seconds"),
        ({"max_submit_attempts": 0}, "max_submit_attempts"),
        ({"max_submit_attempts": True}, "max_submit_attempts"),
        ({"retry_delay_seconds": -1}, "retry_delay_seconds"),
    ],
)
def test_a_bad_setting_is_a_config_error_naming_it(settings: dict[str, object], named: str) -> None:
    # A ConfigError, as every other setting of the SDK: `except CodexManagerError` catches it
    # (and, a ValueError, `except ValueError` too); never a TypeError from a comparison.
    with pytest.raises(ConfigError, match=named) as raised:
        RemoteSkillOptions(**settings)  # type: ignore[arg-type]
    assert isinstance(raised.value, CodexManagerError)
    assert isinstance(raised.value, ValueError)
