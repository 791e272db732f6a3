"""The team-mesh example end to end on the fake: one scripted agent per member."""

from __future__ import annotations

import pytest
from team_mesh.sync import MEMBERS, Member, TeamBoard, run_team, scripted_member

from codex_manager import CodexManager
from codex_manager.testing import FakeCodexManager

from .helpers import run_script_in_process

TEAM_TOOLS = (
    "team_pull_work",
    "team_queue_work",
    "team_publish_artifact",
    "team_read_board",
    "team_mark_done",
)


def test_work_moves_developer_docs_reviewer_and_everyone_marks_done(
    capsys: pytest.CaptureFixture[str],
) -> None:
    board = TeamBoard()
    sessions: dict[Member, str] = {}
    with FakeCodexManager(noise=True) as server, CodexManager(server.base_url) as cm:
        # A session that is not part of the team, offering the same tool name: the mesh's
        # listener sees its call (it follows every thread) and must leave it alone.
        outsider = server.create_session(
            dynamic_tools=[
                {
                    "name": "team_pull_work",
                    "description": "not the team's",
                    "inputSchema": {"type": "object", "properties": {}},
                }
            ]
        )
        cm.session(outsider).messages.send("CALL team_pull_work {}")
        server.wait_for_tool_call(outsider, timeout=30)

        def give_scripts(session_ids: dict[Member, str]) -> None:
            sessions.update(session_ids)
            for member, session_id in session_ids.items():
                server.set_script(session_id, scripted_member(member))

        results = run_team(cm, board, on_sessions=give_scripts)

        assert [result.status for result in results] == ["completed"] * 3
        for member in MEMBERS:
            assert server.catalog(sessions[member]) == TEAM_TOOLS
            made = [call for call in server.tool_calls if call.thread_id == sessions[member]]
            assert {call.outcome for call in made} == {"resolved"}
        outsider_calls = [call for call in server.tool_calls if call.thread_id == outsider]
        assert [call.outcome for call in outsider_calls] == ["pending"]

    entries = [(entry.member, entry.kind, entry.text) for entry in board.entries]
    goal = "Add a --dry-run flag to the deploy command"
    assert entries == [
        ("lead", "task", f"developer: Implement: {goal}"),
        ("developer", "artifact", f"patch: patch for {goal}"),
        ("developer", "task", f"docs: Document: {goal}"),
        ("developer", "done", "developer finished"),
        ("docs", "artifact", f"docs: docs for {goal}"),
        ("docs", "task", f"reviewer: Review: {goal}"),
        ("docs", "done", "docs finished"),
        ("reviewer", "artifact", f"review: review for {goal}"),
        ("reviewer", "done", "reviewer finished"),
    ]
    assert set(board.done) == set(MEMBERS)

    lines = capsys.readouterr().out.splitlines()
    calls = [line for line in lines if line.startswith("[tool-call]")]
    assert len(calls) == 14  # 5 + 5 + 4, each answered once (stream or drain)
    for member in MEMBERS:
        assert f"[tool-call] {member}: team_pull_work" in calls
        assert f"[tool-call] {member}: team_mark_done" in calls
    assert "[tool-call] reviewer: team_queue_work" not in calls
    turns = [line for line in lines if line.startswith("[turn]")]
    assert [line.split(":")[0] for line in turns] == [f"[turn] {m}" for m in MEMBERS]


def test_member_skills_are_bound_to_their_member() -> None:
    board = TeamBoard()
    board.queue("lead", "docs", "Document: X")
    assert board.pull("developer") is None
    assert board.pull("docs") == "Document: X"
    board.mark_done("reviewer", "")
    assert board.done == {"reviewer": ""}
    assert [entry.seq for entry in board.latest(1)] == [2]


@pytest.mark.usefixtures("no_server_env")
def test_the_script_runs_as_written() -> None:
    lines = run_script_in_process("team_mesh/sync.py").splitlines()
    assert [line for line in lines if line.startswith("[turn]")] == [
        "[turn] developer: completed: developer finished: Implement: "
        "Add a --dry-run flag to the deploy command",
        "[turn] docs: completed: docs finished: Document: "
        "Add a --dry-run flag to the deploy command",
        "[turn] reviewer: completed: reviewer finished: Review: "
        "Add a --dry-run flag to the deploy command",
    ]
    assert sum(line.endswith("done: " + m + " finished") for line in lines for m in MEMBERS) == 3
