"""Shared setup of the example tests."""

from __future__ import annotations

import os
import sys

import pytest

from .helpers import EXAMPLES

# The in-process tests import the examples as packages (``stream_handlers.sync``, ...).
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))


@pytest.fixture
def no_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``CODEX_MANAGER_*`` variable: examples start their embedded fake server."""
    for name in list(os.environ):
        if name.startswith("CODEX_MANAGER_"):
            monkeypatch.delenv(name)
