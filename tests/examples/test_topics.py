"""Every ``examples/<topic>/sync.py`` and ``async_.py`` runs on its embedded fake server.

They run in this process as ``__main__`` (``run_script_in_process``): the same code path as
``python examples/<topic>/sync.py``, without a new interpreter and its imports per example.
"""

from __future__ import annotations

import pytest

from .helpers import run_script_in_process

pytestmark = pytest.mark.usefixtures("no_server_env")

VARIANTS = ("sync", "async_")
EXPECTED_TICKET_ANSWER = '{"ticketId":"ABC-123","status":"open"}'


@pytest.mark.parametrize("variant", VARIANTS)
def test_remote_skill_basics(variant: str) -> None:
    out = run_script_in_process(f"remote_skill_basics/{variant}.py")
    assert '"description": "The first addend."' in out  # from the docstring
    assert '"description": "The temperature to convert"' in out  # from Annotated[..., Field]
    assert '"enum": ["C", "F"]' in out  # from Literal
    assert "answer: 42" in out
    assert "answer: 100 C = 212 F" in out
    assert f"answer: {EXPECTED_TICKET_ANSWER}" in out
    assert "failed (invalid_arguments)" in out
    assert "The tool was not run" in out
    assert out.count("[tool-call]") == 4
    assert f"TOOL RESULT: {EXPECTED_TICKET_ANSWER}" in out.split("[assistant]")[1]


@pytest.mark.parametrize("variant", VARIANTS)
def test_stream_handlers(variant: str) -> None:
    """As a script, the stream may subscribe after the call was published (the SDK has no
    "connected" hook to wait for): the polling fallback then answers it. Either way exactly
    one answer goes out; ``test_stream_handlers_in_process`` pins the stream path itself."""
    lines = run_script_in_process(f"stream_handlers/{variant}.py").splitlines()
    answers = [line for line in lines if line.startswith("[answer]")]
    assert len(answers) == 1
    assert answers[0].endswith(f"accepted: {EXPECTED_TICKET_ANSWER}")
    assert f"[assistant] TOOL RESULT: {EXPECTED_TICKET_ANSWER}" in lines
    assert not [line for line in lines if line.startswith("[error]")]


@pytest.mark.parametrize("variant", VARIANTS)
def test_polling_fallback(variant: str) -> None:
    lines = run_script_in_process(f"polling_fallback/{variant}.py").splitlines()
    drained = sorted(line for line in lines if line.startswith("[drained]"))
    assert drained == [
        f"[drained] lookup_ticket request 0: accepted -> {EXPECTED_TICKET_ANSWER}",
        '[drained] lookup_ticket request 1: accepted -> {"ticketId":"XYZ-9","status":"open"}',
    ]
    assert "[turn] completed" in lines
    assert "[pending] 0" in lines


@pytest.mark.parametrize("variant", VARIANTS)
def test_typed_rest(variant: str) -> None:
    lines = run_script_in_process(f"typed_rest/{variant}.py").splitlines()
    assert "[health] status=ok codex running=True" in lines
    assert "[renamed] 'typed REST tour' (not materialized yet, approval policy never)" in lines
    assert "[turn] completed: ECHO: Say hello" in lines
    assert "[respond] request 999999: not found (unknown, answered or expired)" in lines
    assert "[deleted] reading it again: 410 deleted" in lines
    assert "[hooks] respondToolCall 404 x1" in lines
    assert "[hooks] sendSessionMessage 202 x1" in lines


def test_testing_with_fake_sync() -> None:
    lines = run_script_in_process("testing_with_fake/sync.py").splitlines()
    assert "[catalog] ('lookup_ticket',)" in lines
    assert f"[default script] TOOL RESULT: {EXPECTED_TICKET_ANSWER}" in lines
    assert "[custom script] Ticket XYZ-9 is open." in lines
    assert "[fault] accepted after 2 attempts" in lines
    assert "[answers] HTTP statuses [200, 200, 500, 200]" in lines


def test_testing_with_fake_async() -> None:
    lines = run_script_in_process("testing_with_fake/async_.py").splitlines()
    drained = [line for line in lines if line.startswith("[drained]")]
    assert len(drained) == 2
    assert any(line.endswith("accepted after 2 attempt(s)") for line in drained)
    assert "[turn] completed: Both tickets checked: open, open." in lines
    assert "[answers] HTTP statuses [500, 200, 200]" in lines
