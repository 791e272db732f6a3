"""``scripts/gen_client.py`` refuses a spec its hand-kept tables contradict, saying what to fix.

A new route got no client method, a renamed operationId broke the client at run time (or
quietly changed its signature), and a removed one made the script die on a KeyError, while
``make regen`` and ``make regen-check`` both passed or printed a bare traceback.
"""

from __future__ import annotations

import copy
from types import ModuleType

import pytest

from tests.project_scripts import load_script


@pytest.fixture(scope="module")
def gen_client() -> ModuleType:
    return load_script("gen_client")


def _problems(gen_client: ModuleType, edit: str) -> list[str]:
    spec = gen_client.Spec()
    paths = spec.doc["paths"]
    if edit == "add_route":
        paths["/api/widgets/{widgetId}"] = {
            "get": {"operationId": "getWidget", "responses": {}},
            "post": {"operationId": "updateWidget", "responses": {}},
        }
    elif edit == "rename":
        paths["/api/sessions/{sessionId}/messages"]["post"]["operationId"] = "postSessionMessage"
    elif edit == "remove":
        del paths["/api/feedback"]
    elif edit == "move":
        paths["/api/models/all"] = copy.deepcopy(paths.pop("/api/models"))
    elif edit == "no_id":
        del paths["/api/health"]["get"]["operationId"]
    elif edit == "duplicate_id":
        paths["/api/health"]["post"] = {"operationId": "getHealth", "responses": {}}
    elif edit == "trace":
        paths["/api/health"]["trace"] = {"operationId": "traceHealth", "responses": {}}
    problems: list[str] = gen_client.table_problems(spec)
    return problems


def test_the_checked_in_tables_match_the_spec(gen_client: ModuleType) -> None:
    assert gen_client.table_problems(gen_client.Spec()) == []


def test_a_new_route_is_named_with_the_file_to_edit(gen_client: ModuleType) -> None:
    problems = _problems(gen_client, "add_route")
    assert any(
        "getWidget (GET /api/widgets/{widgetId}) is in the spec but not in "
        "src/codex_manager/client/_operations.py" in problem
        for problem in problems
    ), problems
    assert any("updateWidget (POST" in problem for problem in problems), problems


def test_a_renamed_operation_names_every_table_still_using_the_old_id(
    gen_client: ModuleType,
) -> None:
    problems = "\n".join(_problems(gen_client, "rename"))
    assert "postSessionMessage (POST /api/sessions/{sessionId}/messages) is in the spec" in problems
    assert "sendSessionMessage is in src/codex_manager/client/_operations.py but not" in problems
    assert "sendSessionMessage in scripts/gen_client.py POSITIONAL" in problems
    assert "sendSessionMessage in scripts/gen_client.py SESSION_HANDLE" in problems


def test_a_removed_route_and_a_moved_one_are_named(gen_client: ModuleType) -> None:
    removed = "\n".join(_problems(gen_client, "remove"))
    assert "is in src/codex_manager/client/_operations.py but not in the spec" in removed
    moved = "\n".join(_problems(gen_client, "move"))
    assert "listModels: src/codex_manager/client/_operations.py says GET /api/models" in moved


def test_operation_ids_missing_doubled_or_on_a_trace_route_are_named(
    gen_client: ModuleType,
) -> None:
    assert "GET /api/health has no operationId" in "\n".join(_problems(gen_client, "no_id"))
    doubled = "\n".join(_problems(gen_client, "duplicate_id"))
    assert "getHealth names two operations of the spec" in doubled
    assert "traceHealth (TRACE /api/health) is in the spec" in "\n".join(
        _problems(gen_client, "trace")
    )


@pytest.mark.parametrize("group", ["hooks", "retry", "http_client", "session", "wait"])
def test_a_group_named_like_a_client_attribute_is_refused(
    gen_client: ModuleType, monkeypatch: pytest.MonkeyPatch, group: str
) -> None:
    operations = dict(gen_client.OPERATIONS)
    operation = operations["listModels"]
    operations["listModels"] = type(operation)(
        operation.operation_id, operation.method, operation.path, f"{group}.models"
    )
    monkeypatch.setattr(gen_client, "OPERATIONS", operations)
    monkeypatch.setitem(gen_client.GROUP_DOCS, group, "A group.")
    problems = "\n".join(gen_client.table_problems(gen_client.Spec()))
    assert f"would hide the client's own {group!r}" in problems
