"""``examples/remote_skill_demo.py`` (what ``make demo`` runs): once as a real subprocess,
as ``make demo`` starts it, then in-process against servers named by the environment or by
``--base-url``."""

from __future__ import annotations

import pytest

from codex_manager.testing import FakeCodexManager

from .helpers import run_example, run_script_in_process


def test_demo_on_the_embedded_fake() -> None:
    out = run_example("remote_skill_demo.py")
    assert '[tool-call] lookup_ticket {"ticket_id": "ABC-123"}' in out
    assert '[assistant] TOOL RESULT: {"ticketId":"ABC-123","status":"open"}' in out
    assert "embedded FakeCodexManager" in out


def test_demo_against_a_server_named_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeCodexManager(noise=True) as server:
        monkeypatch.setenv("CODEX_MANAGER_API_BASE", server.base_url)
        out = run_script_in_process("remote_skill_demo.py")
        (session_id,) = server.session_ids
        assert server.catalog(session_id) == ("lookup_ticket",)
        assert [answer.status for answer in server.answers] == [200]
    assert "embedded" not in out
    assert "ABC-123" in out.split("[assistant]")[1]


@pytest.mark.usefixtures("no_server_env")
def test_demo_against_a_server_given_by_base_url() -> None:
    with FakeCodexManager(noise=False) as server:
        out = run_script_in_process(
            "remote_skill_demo.py",
            "--base-url",
            server.base_url,
            "--message",
            'CALL lookup_ticket {"ticket_id": "XY-9"}',
        )
        assert len(server.session_ids) == 1
    assert '[assistant] TOOL RESULT: {"ticketId":"XY-9","status":"open"}' in out
