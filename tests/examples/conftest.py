"""Start every topic example at once (they run in parallel), so the suite stays fast."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from .helpers import EXAMPLES, ExampleRun

TOPICS = (
    "remote_skill_basics",
    "stream_handlers",
    "polling_fallback",
    "typed_rest",
    "testing_with_fake",
)
"""The example topics; each has ``sync.py`` and ``async_.py``."""

TOPIC_TIMEOUT = 120.0
"""Seconds an example may take (they all start at once, so a busy machine slows each)."""


@pytest.fixture(scope="session")
def topic_runs() -> Iterator[dict[str, ExampleRun]]:
    """Every ``examples/<topic>/{sync,async_}.py``, started together on embedded fakes."""
    runs = {
        f"{topic}/{variant}.py": ExampleRun(f"{topic}/{variant}.py")
        for topic in TOPICS
        for variant in ("sync", "async_")
    }
    runs["team_mesh/sync.py"] = ExampleRun("team_mesh/sync.py")
    yield runs
    for run in runs.values():
        run.kill()


# The in-process tests import the examples as packages (``stream_handlers.sync``, ...).
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))
