"""README.md's code cannot rot: each block is a file that runs (and is type-checked) here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codex_manager import CodexManager
from codex_manager.testing import FakeCodexManager

from .helpers import EXAMPLES, ROOT, ExampleRun

README = ROOT / "README.md"
OFFLINE_TEST = Path(__file__).with_name("test_readme_offline.py")


def python_blocks() -> list[str]:
    """The ```python blocks of README.md."""
    text = README.read_text(encoding="utf-8")
    return [block.strip() for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL)]


@pytest.mark.parametrize("name", ["remote_skill_sync.py", "remote_skill_async.py"])
def test_readme_shows_the_example_file(name: str) -> None:
    code = (EXAMPLES / "readme" / name).read_text(encoding="utf-8").strip()
    assert code in python_blocks()


def test_readme_shows_the_offline_test() -> None:
    source = OFFLINE_TEST.read_text(encoding="utf-8")
    code = source[source.index("from codex_manager import CodexManager") :].strip()
    assert code in python_blocks()


@pytest.mark.parametrize("name", ["remote_skill_sync.py", "remote_skill_async.py"])
def test_readme_example_answers_a_real_tool_call(name: str) -> None:
    """Run the example against a server named by CODEX_MANAGER_API_BASE, play the user, and
    stop the example (it serves forever, as a skill host does) once the turn is done."""
    with FakeCodexManager(noise=True) as server:
        run = ExampleRun(f"readme/{name}", env={"CODEX_MANAGER_API_BASE": server.base_url})
        try:
            server.wait_for(lambda: server.websocket_count > 0 and bool(server.session_ids), 60)
            (session_id,) = server.session_ids
            with CodexManager(server.base_url) as user:
                user.session(session_id).messages.send('CALL lookup_ticket {"ticket_id": "R-1"}')
            server.wait_for(lambda: server.is_idle() and bool(server.turns()), 60)
            (turn,) = server.turns()
            assert turn.replies == ('TOOL RESULT: {"ticketId":"R-1","status":"open"}',)
            assert [answer.status for answer in server.answers] == [200]
        finally:
            run.kill()
