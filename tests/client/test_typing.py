"""Static typing as users see it: concrete reveal_type results and key errors, via mypy.

The typed user programs in ``typed_usage/`` are also executed here against the fake server.
"""

from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

from codex_manager.testing import FakeCodexManager
from tests.client.typed_usage import async_usage, sync_usage

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
from codex_manager import AsyncCodexManager, CodexManager
from codex_manager.hooks import RequestInfo
from codex_manager.stream import AppServerSignal, PendingToolCall, StreamEvent
from codex_manager.testing import FakeCodexManager

info_of_a_request: RequestInfo

async def main(cm: CodexManager, acm: AsyncCodexManager) -> None:
    created = cm.sessions.create(cwd=".")
    reveal_type(created)
    reveal_type(created["session"]["sessionId"])
    reveal_type(cm.session("s").tool_calls.list()["data"][0])
    reveal_type(cm.tool_calls.respond("1", text="x"))
    reveal_type(await acm.sessions.get("s"))
    reveal_type(cm.wait.turn("s", "t").reply)


async def hooks(acm: AsyncCodexManager) -> None:
    @acm.hooks.before("*")
    async def add_token(info: RequestInfo) -> None: ...

    await add_token(info_of_a_request)  # the decorated coroutine function, still awaitable
    reveal_type(add_token)


def from_the_stream(event: StreamEvent, signal: AppServerSignal) -> None:
    reveal_type(event.decode_payload(PendingToolCall).arguments)
    tool_call = signal.tool_call
    if tool_call is not None:
        reveal_type(tool_call.arguments)


def from_the_fake(server: FakeCodexManager) -> None:
    reveal_type(server.wait_for_tool_call("s")["requestId"])


def in_a_hook(info: RequestInfo) -> None:
    reveal_type(info.operation_id)
"""

BAD = """
from codex_manager import CodexManager, CodexManagr
from codex_manager.stream import AppServerSignl

def main(cm: CodexManager) -> None:
    created = cm.sessions.create(cwd=".")
    print(created["sesion"])
    cm.sessions.create(cwd=3)
    cm.session("s").messages.send("hi", approval_policy="sometimes")
"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("typed")
    (folder / "good_usage.py").write_text(textwrap.dedent(GOOD))
    (folder / "bad_usage.py").write_text(textwrap.dedent(BAD))
    stdout, stderr, _ = mypy_api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            str(folder / "good_usage.py"),
            str(folder / "bad_usage.py"),
        ]
    )
    return stdout + stderr


def _revealed(output: str) -> list[str]:
    return re.findall(r'good_usage\.py:\d+: note: Revealed type is "([^"]+)"', output)


def test_reveal_type_shows_concrete_types(mypy_output: str) -> None:
    revealed = _revealed(mypy_output)
    assert len(revealed) == 11, mypy_output
    typed_dict = "TypedDict(codex_manager_models.payloads."
    assert revealed[0].startswith(typed_dict + "CreateSessionResponse,"), revealed[0]
    assert revealed[1] in ("str", "builtins.str")
    assert revealed[2].startswith(typed_dict + "PendingToolCall,"), revealed[2]
    outcome_classes = ("Accepted", "NotFound", "InFlight", "SubmitFailed")
    assert all(f"codex_manager.outcomes.ToolCall{c}" in revealed[3] for c in outcome_classes)
    assert revealed[4].startswith(typed_dict + "ReadSessionResponse,"), revealed[4]
    assert revealed[5] in ("str | None", "builtins.str | None")
    # A hook decorator hands the function back as it was (it widened it to the hook alias,
    # whose result "Awaitable[None] | None" cannot be awaited).
    assert "Coroutine" in revealed[6], revealed[6]
    assert "RequestInfo" in revealed[6], revealed[6]
    # The stream models' free-form fields: JSON, not Any (which would switch checking off).
    for free_form in revealed[7:9]:
        assert "Any" not in free_form, free_form
        assert re.match(r"(builtins\.)?str \| (builtins\.)?int \| ", free_form), free_form
    # The fake's pending rows are the REST list's TypedDict (they were untyped JSON objects).
    assert revealed[9] in ("str", "builtins.str"), revealed[9]
    # A hook is told its operation as the spec's id, not any str (hooks are registered so).
    assert "Literal[" in revealed[10], revealed[10]
    assert "'createSession'" in revealed[10], revealed[10]
    assert not re.search(r"good_usage\.py:\d+: error", mypy_output), mypy_output


def test_wrong_key_and_wrong_arguments_are_mypy_errors(mypy_output: str) -> None:
    errors = [
        line for line in mypy_output.splitlines() if "bad_usage.py" in line and "error" in line
    ]
    assert any('has no key "sesion"' in line for line in errors), mypy_output
    assert any('"cwd"' in line and '"int"' in line for line in errors), mypy_output
    assert any('"approval_policy"' in line for line in errors), mypy_output
    # A misspelled import: the lazy exports' module __getattr__ made it a valid "object".
    assert any('"CodexManagr"' in line for line in errors), mypy_output
    assert any('"AppServerSignl"' in line for line in errors), mypy_output


def test_typed_sync_program_runs(fake_server: FakeCodexManager) -> None:
    log = sync_usage.run(fake_server.base_url)
    assert log[0] == "ok"
    assert log[1] == "ECHO: hello"
    assert "not found 999999" in log
    assert "k=1" in log
    assert "keys=['k']" in log
    assert log[-1] == "gone 410"


def test_typed_async_program_runs(fake_server: FakeCodexManager) -> None:
    log = asyncio.run(async_usage.run(fake_server.base_url))
    assert log[0] == "health answered 200"
    assert "ECHO: ping" in log
    assert log[-1] == "not_found"
