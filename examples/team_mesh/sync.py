"""Team mesh: one Codex session per team member, coordinating through a shared board.

Each member (developer, docs, reviewer) gets its own session, created with
``cm.remote_skills.create_session(...)`` and member-bound skills over one shared board:

- ``team_pull_work()``: take the next task queued for me;
- ``team_queue_work(owner, task)``: hand a task to a member;
- ``team_publish_artifact(kind, summary)``: publish what I produced;
- ``team_read_board(limit=8)``: the latest board entries;
- ``team_mark_done(note="")``: say I am finished.

One stream listener (no thread filter) routes every tool call to the registry of the member
whose session made it; ``drain_pending_calls()`` is the fallback while each turn runs. Work
moves developer -> docs -> reviewer.

    python examples/team_mesh/sync.py                    # embedded fake, one scripted agent each
    CODEX_MANAGER_API_BASE=http://127.0.0.1:3001 python examples/team_mesh/sync.py

See docs/team-mesh.md.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import Field

from codex_manager import CodexManager, TurnResult, TurnWaitTimeoutError
from codex_manager.remote_skills import RemoteSkillDispatch, SessionSkills
from codex_manager.stream import AppServerSignal, HandlerContext

if TYPE_CHECKING:  # the fake server (and its aiohttp) is only needed without a real server
    from codex_manager.testing import SyncScript, SyncTurnContext

Member = Literal["developer", "docs", "reviewer"]
"""A team member; each one is a Codex session."""

MEMBERS: tuple[Member, ...] = ("developer", "docs", "reviewer")
"""The members, in the order their turns run."""

GOAL = "Add a --dry-run flag to the deploy command"
"""The task the lead puts on the board for the developer."""

EntryKind = Literal["task", "artifact", "done"]


def log(line: str) -> None:
    """Print one line in one write, so lines from handler threads never interleave."""
    sys.stdout.write(line + "\n")


@dataclass(frozen=True, slots=True)
class BoardEntry:
    """One line of the board."""

    seq: int
    """Position on the board (1, 2, ...)."""
    member: str
    """Who wrote it."""
    kind: EntryKind
    """A queued task, a published artifact, or a done mark."""
    text: str
    """The task (``owner: task``), the artifact (``kind: summary``) or the done note."""


class TeamBoard:
    """The shared board: a work queue per member, artifacts and done marks (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[Member, deque[str]] = {member: deque() for member in MEMBERS}
        self._entries: list[BoardEntry] = []
        self._done: dict[Member, str] = {}

    def _add(self, member: str, kind: EntryKind, text: str) -> BoardEntry:
        entry = BoardEntry(len(self._entries) + 1, member, kind, text)
        self._entries.append(entry)
        return entry

    def queue(self, by: str, owner: Member, task: str) -> BoardEntry:
        """Queue ``task`` for ``owner``."""
        with self._lock:
            self._queues[owner].append(task)
            return self._add(by, "task", f"{owner}: {task}")

    def pull(self, member: Member) -> str | None:
        """The oldest task queued for ``member``, removed from its queue."""
        with self._lock:
            queue = self._queues[member]
            return queue.popleft() if queue else None

    def publish(self, member: Member, kind: str, summary: str) -> BoardEntry:
        """Record an artifact."""
        with self._lock:
            return self._add(member, "artifact", f"{kind}: {summary}")

    def mark_done(self, member: Member, note: str) -> BoardEntry:
        """Record that ``member`` is finished."""
        with self._lock:
            self._done[member] = note
            return self._add(member, "done", note)

    def latest(self, limit: int) -> list[BoardEntry]:
        """The last ``limit`` entries, oldest first."""
        with self._lock:
            return self._entries[-limit:]

    @property
    def entries(self) -> tuple[BoardEntry, ...]:
        """Every entry, in order."""
        with self._lock:
            return tuple(self._entries)

    @property
    def done(self) -> dict[Member, str]:
        """Members that marked themselves done, with their notes."""
        with self._lock:
            return dict(self._done)


def register_member_skills(skills: SessionSkills, board: TeamBoard, member: Member) -> None:
    """The team skills, bound to ``member``: the model never says who it is, its session does."""

    @skills.skill
    def team_pull_work() -> str:
        """Take the next task queued for you on the team board."""
        task = board.pull(member)
        return task if task is not None else "No work is queued for you."

    @skills.skill
    def team_queue_work(owner: Member, task: str) -> str:
        """Queue a task for a team member.

        Args:
            owner: The member who should do it.
            task: What to do, in one or two sentences.
        """
        entry = board.queue(member, owner, task)
        return f"Queued as board entry {entry.seq}."

    @skills.skill
    def team_publish_artifact(kind: str, summary: str) -> str:
        """Publish something you produced so the team can see it.

        Args:
            kind: What it is, e.g. "patch", "docs" or "review".
            summary: A short description of the artifact.
        """
        entry = board.publish(member, kind, summary)
        return f"Published as board entry {entry.seq}."

    @skills.skill
    def team_read_board(
        limit: Annotated[int, Field(ge=1, le=50, description="How many entries")] = 8,
    ) -> list[dict[str, str | int]]:
        """Read the latest entries of the team board, oldest first."""
        return [
            {"seq": e.seq, "member": e.member, "kind": e.kind, "text": e.text}
            for e in board.latest(limit)
        ]

    @skills.skill
    def team_mark_done(note: str = "") -> str:
        """Tell the team you are finished.

        Args:
            note: Anything the others should know.
        """
        board.mark_done(member, note)
        return "Marked done."


class TeamMesh:
    """One session per member, one stream listener routing each call to its member.

    Use as a context manager: entering creates the sessions and starts the listener.
    """

    def __init__(
        self, cm: CodexManager, board: TeamBoard, members: tuple[Member, ...] = MEMBERS
    ) -> None:
        self._cm = cm
        self._board = board
        self._members = members
        self._skills: dict[Member, SessionSkills] = {}
        self._by_session: dict[str, tuple[Member, SessionSkills]] = {}
        self._listener: threading.Thread | None = None

    @property
    def session_ids(self) -> dict[Member, str]:
        """Each member's session id."""
        return {member: skills.session_id for member, skills in self._skills.items()}

    def __enter__(self) -> Self:
        for member in self._members:

            def register(skills: SessionSkills, member: Member = member) -> None:
                register_member_skills(skills, self._board, member)

            _created, skills = self._cm.remote_skills.create_session(register=register, cwd=".")
            self._skills[member] = skills
            self._by_session[skills.session_id] = (member, skills)

        @self._cm.on_app_server_request("item.tool.call")
        def route(signal: AppServerSignal, _ctx: HandlerContext[CodexManager]) -> None:
            found = self._by_session.get(signal.thread_id or "")
            if found is None:
                return  # a session of someone else: never answer it
            member, skills = found
            self._report(member, skills.respond_to_signal(signal))

        # No thread filter: one websocket follows every member's session.
        self._listener = threading.Thread(
            target=self._cm.stream.run_forever, name="team-mesh-listener", daemon=True
        )
        self._listener.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._cm.stream.stop()
        if self._listener is not None:
            self._listener.join()

    @staticmethod
    def _report(member: Member, dispatch: RemoteSkillDispatch | None) -> None:
        if dispatch is not None and not dispatch.duplicate:
            log(f"[tool-call] {member}: {dispatch.tool}")

    def run_turn(self, member: Member, prompt: str, timeout: float = 300.0) -> TurnResult:
        """Send ``prompt`` to ``member``'s session and wait for the turn to finish.

        Calls the stream missed (not connected yet, or reconnecting) are drained by polling.
        """
        skills = self._skills[member]
        accepted = self._cm.session(skills.session_id).messages.send(prompt)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._cm.wait.turn(skills.session_id, accepted["turnId"], timeout=0.5)
            except TurnWaitTimeoutError:
                if time.monotonic() > deadline:
                    raise
            for dispatch in skills.drain_pending_calls():
                self._report(member, dispatch)


PROMPTS: Mapping[Member, str] = {
    "developer": (
        "You are the developer of a small team. Call team_pull_work to get your task, do it, "
        "publish the result with team_publish_artifact (kind 'patch'), queue documentation "
        "work for 'docs' with team_queue_work, then call team_mark_done."
    ),
    "docs": (
        "You write the documentation. Call team_pull_work, read the board with "
        "team_read_board, publish the docs with team_publish_artifact (kind 'docs'), queue a "
        "review for 'reviewer' with team_queue_work, then call team_mark_done."
    ),
    "reviewer": (
        "You review the team's work. Call team_pull_work, read the board with team_read_board, "
        "publish your review with team_publish_artifact (kind 'review'), then call "
        "team_mark_done."
    ),
}
"""What each member is told (a real Codex reads these; the fake's agents are scripted)."""


def run_team(
    cm: CodexManager,
    board: TeamBoard,
    prompts: Mapping[Member, str] = PROMPTS,
    on_sessions: Callable[[dict[Member, str]], None] | None = None,
) -> list[TurnResult]:
    """Put :data:`GOAL` on the board, then run one turn per member, in order.

    ``on_sessions`` receives each member's session id before the first turn (tests use it to
    give each session of a fake server its scripted agent).
    """
    board.queue("lead", "developer", f"{HANDOVER['developer']}: {GOAL}")
    results: list[TurnResult] = []
    with TeamMesh(cm, board) as mesh:
        if on_sessions is not None:
            on_sessions(mesh.session_ids)
        for member in MEMBERS:
            result = mesh.run_turn(member, prompts[member])
            log(f"[turn] {member}: {result.status}: {result.reply}")
            results.append(result)
    return results


NEXT: Mapping[Member, tuple[Member | None, str]] = {
    "developer": ("docs", "patch"),
    "docs": ("reviewer", "docs"),
    "reviewer": (None, "review"),
}
"""For the scripted agents: whom each member hands work to, and what it publishes."""

HANDOVER: Mapping[Member, str] = {
    "developer": "Implement",
    "docs": "Document",
    "reviewer": "Review",
}
"""For the scripted agents: how a handed-over task starts, per receiving member."""


def scripted_member(member: Member) -> SyncScript:
    """A fake Codex for ``member``: pull, read the board, publish, hand over, mark done."""
    next_member, artifact = NEXT[member]

    def agent(turn: SyncTurnContext) -> None:
        task = turn.call_tool("team_pull_work").text
        goal = task.partition(": ")[2] or task  # "Document: <goal>" -> "<goal>"
        turn.call_tool("team_read_board", {"limit": 8})
        turn.call_tool(
            "team_publish_artifact", {"kind": artifact, "summary": f"{artifact} for {goal}"}
        )
        if next_member is not None:
            handover = f"{HANDOVER[next_member]}: {goal}"
            turn.call_tool("team_queue_work", {"owner": next_member, "task": handover})
        turn.call_tool("team_mark_done", {"note": f"{member} finished"})
        turn.reply(f"{member} finished: {task}")

    return agent


def main() -> None:
    """Run the team on a real server (``CODEX_MANAGER_API_BASE``) or on an embedded fake."""
    board = TeamBoard()
    if os.environ.get("CODEX_MANAGER_API_BASE"):
        with CodexManager.from_env() as cm:
            run_team(cm, board)
    else:
        from codex_manager.testing import FakeCodexManager

        with FakeCodexManager() as server, CodexManager(server.base_url) as cm:

            def give_scripts(session_ids: dict[Member, str]) -> None:
                for member, session_id in session_ids.items():
                    server.set_script(session_id, scripted_member(member))

            run_team(cm, board, on_sessions=give_scripts)
    for entry in board.entries:
        log(f"[board] {entry.seq}. {entry.member} {entry.kind}: {entry.text}")


if __name__ == "__main__":
    main()
