"""StreamOptions refuses a setting it cannot use, with a ConfigError naming it."""

from __future__ import annotations

from fractions import Fraction

import pytest

from codex_manager.errors import CodexManagerError, ConfigError
from codex_manager.stream import StreamOptions


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"ping_interval": 0}, "ping_interval"),
        ({"pong_timeout": -1.0}, "pong_timeout"),
        ({"open_timeout": "10"}, "open_timeout"),  # a string from a config file: not a number
        # A real number that time.sleep and Event.wait refuse: said now, not at first use.
        ({"ping_interval": Fraction(1, 2)}, "ping_interval"),
        ({"close_timeout": float("nan")}, "close_timeout"),
        ({"shutdown_timeout": -0.5}, "shutdown_timeout"),
        ({"shutdown_timeout": None}, "shutdown_timeout"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": 2.5}, "max_concurrency"),
        ({"max_pending": True}, "max_pending"),
        ({"max_frame_bytes": "1MB"}, "max_frame_bytes"),
    ],
)
def test_a_bad_setting_is_a_config_error_naming_it(settings: dict[str, object], named: str) -> None:
    # Never a TypeError from comparing a string with a number: `except CodexManagerError`
    # (or `except ValueError`) catches every bad setting.
    with pytest.raises(ConfigError, match=f"StreamOptions.{named}") as raised:
        StreamOptions(**settings)  # type: ignore[arg-type]
    assert isinstance(raised.value, CodexManagerError)
    assert repr(settings[named]) in str(raised.value)


def test_the_defaults_and_explicit_good_values_pass() -> None:
    StreamOptions()
    StreamOptions(ping_interval=0.5, shutdown_timeout=0, max_concurrency=None, max_pending=1)
