"""Our OpenAPI contract against the server's published spec, and the checker itself.

The comparison against ``../shared/reference/codex-manager-openapi.json`` skips when that
folder is absent; the house rules and the checker's own tests (mutations of our spec
compared with the unmutated spec) always run.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import cast

import pytest
from pydantic import TypeAdapter

from codex_manager.types import (
    CreateSessionResponse,
    HealthResponse,
    ListSessionToolCallsResponse,
    SendSessionMessageAcceptedResponse,
)
from tests.conftest import PROJECT_ROOT
from tests.contract.openapi_conformance import (
    Node,
    SchemaComparison,
    check_conformance,
    check_operations,
    check_own_rules,
    check_parameters,
    check_recorded_exchange,
    check_request_bodies,
    check_statuses,
    check_success_responses,
    enum_values,
    instance_problems,
    load_document,
    operation_index,
    request_body_problems,
    required_names,
    type_names,
)

OUR_SPEC = PROJECT_ROOT / "openapi" / "codex-manager.openapi.yaml"
EXPECTED_OPERATIONS = 71

Check = Callable[[Node, Node], list[str]]


@cache
def _our_spec() -> dict[str, object]:
    return load_document(OUR_SPEC)


def our_spec_copy() -> dict[str, object]:
    """A fresh copy of our document that a test may mutate."""
    return copy.deepcopy(_our_spec())


def child(node: object, *keys: str) -> dict[str, object]:
    """The nested JSON object at ``keys`` (fails the test if it is not one)."""
    for key in keys:
        assert isinstance(node, dict), f"not an object before {key!r}"
        node = node[key]
    assert isinstance(node, dict), f"{'/'.join(keys)} is not an object"
    return node


def schema(spec: dict[str, object], name: str) -> dict[str, object]:
    """A component schema of ``spec``."""
    return child(spec, "components", "schemas", name)


def listing(problems: list[str]) -> str:
    """Every problem on its own line, for assertion messages."""
    return "\n".join(["", *problems])


@pytest.fixture
def reference(reference_spec_path: Path) -> dict[str, object]:
    """The server's published OpenAPI document (skips when ../shared is absent)."""
    return load_document(reference_spec_path)


# ----- against the server's published spec ---------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize(
    "check",
    [
        check_operations,
        check_statuses,
        check_parameters,
        check_request_bodies,
        check_success_responses,
    ],
    ids=lambda check: check.__name__,
)
def test_our_spec_conforms_to_reference(check: Check, reference: dict[str, object]) -> None:
    problems = check(_our_spec(), reference)
    assert not problems, listing(problems)


@pytest.mark.shared
def test_reference_has_the_operations_we_document(reference: dict[str, object]) -> None:
    ours = {(m, p): op.get("operationId") for (m, p), op in operation_index(_our_spec()).items()}
    theirs = {(m, p): op.get("operationId") for (m, p), op in operation_index(reference).items()}
    assert ours == theirs


@pytest.mark.shared
def test_removing_an_operation_fails_against_reference(reference: dict[str, object]) -> None:
    ours = our_spec_copy()
    del child(ours, "paths", "/api/tool-calls/{requestId}/response")["post"]
    problems = check_conformance(ours, reference)
    assert problems == [
        "respondToolCall (POST /api/tool-calls/{requestId}/response): operation missing"
    ]


@pytest.mark.shared
def test_renaming_a_property_fails_against_reference(reference: dict[str, object]) -> None:
    ours = our_spec_copy()
    props = child(schema(ours, "PendingToolCall"), "properties")
    props["call_id"] = props.pop("callId")
    problems = check_conformance(ours, reference)
    assert any("data[].callId: property missing" in problem for problem in problems), listing(
        problems
    )


# ----- against real-server recordings --------------------------------------------------------


def recorded_exchanges(recordings: Path) -> dict[str, dict[str, object]]:
    """Every recorded REST exchange (``request``/``status``/``response``) by a readable name."""
    found: dict[str, dict[str, object]] = {}
    for file in sorted(recordings.glob("*.json")):
        data: object = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            continue
        candidates = {file.stem: data, **{f"{file.stem}:{k}": v for k, v in data.items()}}
        for name, candidate in candidates.items():
            if isinstance(candidate, dict) and {"request", "status", "response"} <= set(candidate):
                found[name] = candidate
    return found


def exchange_problems(spec: Node, exchange: dict[str, object]) -> list[str]:
    """Problems of one recorded exchange against ``spec``."""
    request = child(exchange, "request")
    method, path, status = request["method"], request["path"], exchange["status"]
    assert isinstance(method, str)
    assert isinstance(path, str)
    assert isinstance(status, int)
    return check_recorded_exchange(
        spec, method, path, status, request.get("body"), exchange["response"]
    )


def recorded_payloads(recordings: Path, frame_type: str) -> list[object]:
    """Payloads of websocket frames of one type, from single-event and session recordings."""
    frames: list[object] = []
    for file in sorted(recordings.glob("*.json")):
        data: object = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            frames.append(data)
            received = data.get("received")
            if isinstance(received, list):
                frames.extend(received)
    return [
        frame["payload"]
        for frame in frames
        if isinstance(frame, dict) and frame.get("type") == frame_type and "payload" in frame
    ]


@pytest.mark.shared
def test_recorded_rest_exchanges_fit_our_spec(recordings_dir: Path) -> None:
    exchanges = recorded_exchanges(recordings_dir)
    assert len(exchanges) >= 10, sorted(exchanges)
    problems = [
        p for exchange in exchanges.values() for p in exchange_problems(_our_spec(), exchange)
    ]
    assert not problems, listing(problems)


@pytest.mark.shared
def test_recorded_invalid_request_is_invalid_for_our_schema(recordings_dir: Path) -> None:
    exchange = recorded_exchanges(recordings_dir)["B03_tool_call_response_invalid_body"]
    assert exchange["status"] == 400
    body = child(exchange, "request")["body"]
    problems = request_body_problems(_our_spec(), "POST", "/api/tool-calls/0/response", body)
    assert any("/success" in problem for problem in problems), listing(problems)
    assert any("/contentItems/0" in problem for problem in problems), listing(problems)


@pytest.mark.shared
def test_recorded_transcripts_fit_transcript_entry(recordings_dir: Path) -> None:
    entries: list[object] = []
    for name in ("F1_success_false_text", "F2_raw_response_passthrough"):
        transcript = json.loads((recordings_dir / f"{name}.json").read_text())["transcript"]
        assert isinstance(transcript, list)
        entries.extend(transcript)
    entry_schema = {"$ref": "#/components/schemas/TranscriptEntry"}
    problems = [
        p
        for index, entry in enumerate(entries)
        for p in instance_problems(_our_spec(), entry_schema, entry, f"transcript[{index}]")
    ]
    assert entries
    assert not problems, listing(problems)


@pytest.mark.shared
def test_recorded_tool_call_events_fit_pending_tool_call(recordings_dir: Path) -> None:
    payloads = recorded_payloads(recordings_dir, "tool_call_requested")
    assert len(payloads) >= 2
    call_schema = {"$ref": "#/components/schemas/PendingToolCall"}
    problems = [
        p
        for payload in payloads
        for p in instance_problems(_our_spec(), call_schema, payload, "tool_call_requested")
    ]
    assert not problems, listing(problems)


@pytest.mark.shared
def test_recordings_catch_a_wrong_schema(recordings_dir: Path) -> None:
    mutated = our_spec_copy()
    child(schema(mutated, "PendingToolCall"), "properties")["callId"] = {"type": "integer"}
    exchange = recorded_exchanges(recordings_dir)["A05_list_tool_calls_pending"]
    assert exchange_problems(mutated, exchange) == [
        "listSessionToolCalls (GET /api/sessions/{sessionId}/tool-calls) response 200 at"
        ' /data/0/callId: "call_000003" is not of type "integer"'
    ]


@pytest.mark.shared
def test_recordings_catch_an_undocumented_status(recordings_dir: Path) -> None:
    mutated = our_spec_copy()
    del child(mutated, "paths", "/api/tool-calls/{requestId}/response", "post", "responses")["404"]
    exchange = recorded_exchanges(recordings_dir)["B01_tool_call_response_twice"]
    assert exchange_problems(mutated, exchange) == [
        "respondToolCall (POST /api/tool-calls/{requestId}/response):"
        " no JSON schema documented for status 404"
    ]


# ----- house rules ---------------------------------------------------------------------------


def test_our_spec_follows_house_rules() -> None:
    problems = check_own_rules(_our_spec(), EXPECTED_OPERATIONS)
    assert not problems, listing(problems)


def test_our_spec_is_titled_and_versioned() -> None:
    spec = _our_spec()
    assert spec["openapi"] == "3.1.0"
    assert child(spec, "info")["title"] == "Codex Manager API"


def test_websocket_route_is_documented_but_skipped_by_codegen() -> None:
    operation = child(_our_spec(), "paths", "/api/stream", "get")
    assert operation["operationId"] == "connectEventStream"
    assert operation["x-codegen-skip"] is True
    assert set(child(operation, "responses")) == {"101", "400"}


# Names the hand-written layer and users import from the generated packages.
SDK_COMPONENTS = (
    "HealthResponse",
    "ApiInfoResponse",
    "SessionSummary",
    "SessionControlsTuple",
    "CodexThread",
    "CodexTurn",
    "CodexThreadItem",
    "TranscriptEntry",
    "CreateSessionRequest",
    "CreateSessionResponse",
    "ReadSessionResponse",
    "ListSessionsResponse",
    "DeleteSessionResponse",
    "ResumeSessionRequest",
    "ResumeSessionResponse",
    "SendSessionMessageRequest",
    "SendSessionMessageAcceptedResponse",
    "InterruptSessionRequest",
    "InterruptSessionResponse",
    "NoActiveTurnResponse",
    "DynamicToolDefinition",
    "PendingToolCall",
    "ListSessionToolCallsResponse",
    "ToolCallResponseRequest",
    "DynamicToolCallTextContentItem",
    "DynamicToolCallImageContentItem",
    "DynamicToolCallOutputContentItem",
    "ToolCallResponseSuccessResponse",
    "ToolCallResponseNotFoundResponse",
    "ToolCallResponseConflictResponse",
    "ToolCallResponseErrorResponse",
    "PendingApproval",
    "ListSessionApprovalsResponse",
    "ApprovalDecisionRequest",
    "ApprovalDecisionSuccessResponse",
    "ApprovalDecisionNotFoundResponse",
    "ApprovalDecisionReconciledResponse",
    "ApprovalDecisionErrorResponse",
    "PendingToolUserInput",
    "ToolUserInputQuestion",
    "ToolUserInputQuestionOption",
    "ListSessionToolInputResponse",
    "ToolInputDecisionRequest",
    "ToolInputDecisionSuccessResponse",
    "ToolInputDecisionNotFoundResponse",
    "ToolInputDecisionErrorResponse",
    "SessionSettingsResponse",
    "SessionSettingValueResponse",
    "SetSessionSettingsRequest",
    "SetSessionSettingsResponse",
    "DeleteSessionSettingResponse",
    "SessionSettingsLockedResponse",
    "SessionControlsResponse",
    "ApplySessionControlsRequest",
    "ApplySessionControlsResponse",
    "SessionControlsLockedResponse",
    "ApprovalPolicy",
    "NetworkAccess",
    "FilesystemSandbox",
    "SessionSettingsScope",
    "DeletedSessionPayload",
    "SystemSessionError",
    "SessionNotFoundPayload",
    "ApiValidationError",
    "InternalErrorResponse",
    "CodexErrorResponse",
    "RouteNotFoundResponse",
)


def test_components_the_sdk_relies_on_exist() -> None:
    schemas = child(_our_spec(), "components", "schemas")
    assert [name for name in SDK_COMPONENTS if name not in schemas] == []


def test_component_names_read_as_python_classes() -> None:
    schemas = child(_our_spec(), "components", "schemas")
    odd = [name for name in schemas if not re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*", name)]
    assert odd == []


# 403 on these is documented only at the server's HEAD, though 6573e11 already answers it.
HEAD_403_OPERATIONS = (
    ("GET", "/api/sessions/{sessionId}/approvals"),
    ("GET", "/api/sessions/{sessionId}/tool-input"),
    ("GET", "/api/sessions/{sessionId}/session-controls"),
    ("POST", "/api/sessions/{sessionId}/session-controls"),
    ("POST", "/api/sessions/{sessionId}/resume"),
    ("POST", "/api/sessions/{sessionId}/interrupt"),
)


@pytest.mark.parametrize(("method", "path"), HEAD_403_OPERATIONS)
def test_system_session_status_documented_where_head_adds_it(method: str, path: str) -> None:
    operation = operation_index(_our_spec())[(method, path)]
    assert child(operation, "responses")["403"] == {"$ref": "#/components/responses/SystemSession"}


def response_schema_names(method: str, path: str) -> dict[str, list[str]]:
    """Component names of each documented response body of one operation."""
    spec = _our_spec()
    names: dict[str, list[str]] = {}
    for status, response in child(operation_index(spec)[(method, path)], "responses").items():
        node = response
        if isinstance(node, dict) and "$ref" in node:
            node = child(spec, *str(node["$ref"]).removeprefix("#/").split("/"))
        body = child(node, "content", "application/json", "schema")
        refs = [body] if "$ref" in body else body.get("anyOf") or body.get("oneOf")
        assert isinstance(refs, list)
        names[status] = [str(child(ref)["$ref"]).rsplit("/", 1)[-1] for ref in refs]
    return names


def test_tool_call_answer_outcomes_have_their_own_bodies() -> None:
    assert response_schema_names("POST", "/api/tool-calls/{requestId}/response") == {
        "200": ["ToolCallResponseSuccessResponse"],
        "400": ["ApiValidationError"],
        "404": ["ToolCallResponseNotFoundResponse"],
        "409": ["ToolCallResponseConflictResponse"],
        "500": ["ToolCallResponseErrorResponse", "InternalErrorResponse"],
    }


def test_send_message_documents_guards_and_mapped_codex_errors() -> None:
    names = response_schema_names("POST", "/api/sessions/{sessionId}/messages")
    assert names["202"] == ["SendSessionMessageAcceptedResponse"]
    assert names["403"] == ["SystemSessionError"]
    assert names["404"] == ["SessionNotFoundPayload"]
    assert names["410"] == ["DeletedSessionPayload"]
    assert names["400"] == ["CodexErrorResponse", "ApiValidationError"]
    for status in ("401", "409", "501", "504"):
        assert names[status] == ["CodexErrorResponse"], status
    assert names["500"] == ["InternalErrorResponse", "CodexErrorResponse"]


def test_our_spec_matches_itself() -> None:
    spec = _our_spec()
    assert check_conformance(spec, spec) == []


# ----- the checker detects mutations (our spec as the baseline) ------------------------------


def test_detects_missing_operation() -> None:
    mutated = our_spec_copy()
    del child(mutated, "paths", "/api/sessions/{sessionId}/messages")["post"]
    assert check_conformance(mutated, _our_spec()) == [
        "sendSessionMessage (POST /api/sessions/{sessionId}/messages): operation missing"
    ]


def test_detects_changed_operation_id() -> None:
    mutated = our_spec_copy()
    child(mutated, "paths", "/api/health", "get")["operationId"] = "health"
    assert check_operations(mutated, _our_spec()) == [
        "getHealth (GET /api/health): operationId is 'health' in ours"
    ]


def test_detects_renamed_response_property() -> None:
    mutated = our_spec_copy()
    props = child(schema(mutated, "SessionSummary"), "properties")
    props["session_id"] = props.pop("sessionId")
    problems = check_success_responses(mutated, _our_spec())
    assert any(
        p.startswith("createSession (POST /api/sessions) response 200.session.sessionId")
        for p in problems
    ), listing(problems)


def test_detects_renamed_request_property() -> None:
    mutated = our_spec_copy()
    props = child(schema(mutated, "ToolCallResponseRequest"), "properties")
    props["content_items"] = props.pop("contentItems")
    problems = check_request_bodies(mutated, _our_spec())
    assert problems == [
        "respondToolCall (POST /api/tool-calls/{requestId}/response) request body"
        ".contentItems: property missing (declared by the reference)"
    ]


def test_detects_changed_type() -> None:
    mutated = our_spec_copy()
    child(schema(mutated, "SendSessionMessageAcceptedResponse"), "properties")["turnId"] = {
        "type": "integer"
    }
    problems = check_success_responses(mutated, _our_spec())
    assert problems == [
        "sendSessionMessage (POST /api/sessions/{sessionId}/messages) response 202.turnId:"
        " type integer does not admit string (reference: string)"
    ]


def test_detects_dropped_nullability() -> None:
    mutated = our_spec_copy()
    child(schema(mutated, "PendingToolCall"), "properties")["callId"] = {"type": "string"}
    problems = check_success_responses(mutated, _our_spec())
    assert problems == [
        "listSessionToolCalls (GET /api/sessions/{sessionId}/tool-calls) response 200"
        ".data[].callId: type string does not admit null (reference: null|string)"
    ]


def test_detects_changed_array_item_type() -> None:
    mutated = our_spec_copy()
    child(schema(mutated, "ListSessionsResponse"), "properties")["data"] = {
        "type": "array",
        "items": {"type": "string"},
    }
    problems = check_success_responses(mutated, _our_spec())
    assert "listSessions (GET /api/sessions) response 200.data[]: type string does not admit" in (
        listing(problems)
    )


def test_detects_removed_enum_value() -> None:
    mutated = our_spec_copy()
    enum = schema(mutated, "ApprovalPolicy")["enum"]
    assert isinstance(enum, list)
    enum.remove("never")
    problems = check_request_bodies(mutated, _our_spec())
    assert (
        "setSessionApprovalPolicy (POST /api/sessions/{sessionId}/approval-policy) request body"
        '.approvalPolicy: values ["never"] of the reference are not allowed'
    ) in problems


def test_detects_undocumented_status() -> None:
    mutated = our_spec_copy()
    del child(mutated, "paths", "/api/tool-calls/{requestId}/response", "post", "responses")["409"]
    assert check_statuses(mutated, _our_spec()) == [
        "respondToolCall (POST /api/tool-calls/{requestId}/response): status 409 not documented"
    ]


def test_detects_missing_parameter() -> None:
    mutated = our_spec_copy()
    operation = child(mutated, "paths", "/api/sessions", "get")
    parameters = operation["parameters"]
    assert isinstance(parameters, list)
    operation["parameters"] = [
        p for p in parameters if p != {"$ref": "#/components/parameters/Limit"}
    ]
    assert check_parameters(mutated, _our_spec()) == [
        "listSessions (GET /api/sessions): query parameter 'limit' missing"
    ]


def test_detects_response_field_required_only_in_ours() -> None:
    mutated = our_spec_copy()
    required = schema(mutated, "ProjectSummary")["required"]
    assert isinstance(required, list)
    required.append("workingDirectory")
    problems = check_success_responses(mutated, _our_spec())
    assert (
        "listProjects (GET /api/projects) response 200.data[].workingDirectory:"
        " required here but optional in the reference"
    ) in problems


def test_house_rules_detect_missing_tag_and_duplicate_operation_id() -> None:
    mutated = our_spec_copy()
    del child(mutated, "paths", "/api/health", "get")["tags"]
    child(mutated, "paths", "/api", "get")["operationId"] = "getHealth"
    problems = check_own_rules(mutated, EXPECTED_OPERATIONS)
    assert "getHealth (GET /api/health): expected exactly one tag, found 0" in problems
    assert "getHealth (GET /api): operationId also used by GET /api/health" in problems


def test_house_rules_detect_missing_error_body_and_bad_format() -> None:
    mutated = our_spec_copy()
    del child(mutated, "paths", "/api/health", "get", "responses")["500"]
    child(schema(mutated, "DeletedSessionPayload"), "properties", "deletedAt")["format"] = (
        "date-time"
    )
    problems = check_own_rules(mutated, EXPECTED_OPERATIONS)
    assert "getHealth (GET /api/health): generic status 500 not documented" in problems
    assert (
        "#/components/schemas/DeletedSessionPayload/properties/deletedAt:"
        " format 'date-time' is not allowed"
    ) in problems


def test_house_rules_detect_inline_body_schema() -> None:
    mutated = our_spec_copy()
    content = child(
        mutated, "paths", "/api/sessions/{sessionId}/interrupt", "post", "requestBody", "content"
    )
    content["application/json"] = {
        "schema": {"type": "object", "properties": {"turnId": {"type": "string"}}}
    }
    assert check_own_rules(mutated, EXPECTED_OPERATIONS) == [
        "interruptSessionTurn (POST /api/sessions/{sessionId}/interrupt): request body schema"
        " is inline; name it in components/schemas"
    ]


def test_house_rules_detect_dangling_reference_and_operation_count() -> None:
    mutated = our_spec_copy()
    del child(mutated, "components", "schemas")["PendingToolCall"]
    del child(mutated, "paths", "/api")["get"]
    problems = check_own_rules(mutated, EXPECTED_OPERATIONS)
    assert "70 operations, expected 71" in problems
    assert any("$ref #/components/schemas/PendingToolCall does not resolve" in p for p in problems)


# ----- schema helpers ------------------------------------------------------------------------

SPEC: Node = {
    "components": {
        "schemas": {
            "Status": {"type": "string", "enum": ["ok", "unchanged"]},
            "Maybe": {"oneOf": [{"$ref": "#/components/schemas/Status"}, {"type": "null"}]},
            "Both": {
                "oneOf": [
                    {"type": "object", "required": ["a", "b"], "properties": {"a": {}}},
                    {"type": "object", "required": ["a"], "properties": {"c": {}}},
                ]
            },
        }
    }
}


def test_type_names_follow_refs_unions_and_markers() -> None:
    assert type_names({"$ref": "#/components/schemas/Maybe"}, SPEC) == frozenset({"string", "null"})
    assert type_names({"type": ["integer", "null"]}, SPEC) == frozenset({"integer", "null"})
    assert type_names({"const": 3}, SPEC) == frozenset({"integer"})
    assert type_names({"description": "anything"}, SPEC) is None
    assert type_names({"oneOf": [{"type": "string"}, {}]}, SPEC) is None


def test_enum_values_merge_variants() -> None:
    assert enum_values({"$ref": "#/components/schemas/Maybe"}, SPEC) == ["ok", "unchanged", None]
    assert enum_values({"const": "ok"}, SPEC) == ["ok"]
    assert enum_values({"type": "string"}, SPEC) is None


def test_required_names_are_common_to_all_variants() -> None:
    assert required_names({"$ref": "#/components/schemas/Both"}, SPEC) == {"a"}


def test_integer_fits_number_but_not_the_reverse() -> None:
    comparison = SchemaComparison(SPEC, SPEC)
    assert comparison.compare({"type": "number"}, {"type": "integer"}, "x") == []
    assert comparison.compare({"type": "integer"}, {"type": "number"}, "x") == [
        "x: type integer does not admit number (reference: number)"
    ]


def test_unconstrained_schemas_are_compatible_with_anything() -> None:
    comparison = SchemaComparison(SPEC, SPEC)
    assert comparison.compare({}, {"type": "string"}, "x") == []
    assert comparison.compare({"type": "string"}, {}, "x") == []


def test_enum_narrower_than_a_free_string_is_reported() -> None:
    comparison = SchemaComparison(SPEC, SPEC)
    assert comparison.compare({"enum": ["a"]}, {"type": "string"}, "x") == [
        'x: restricted to ["a"] but the reference allows any value'
    ]


def test_recursive_schemas_terminate() -> None:
    recursive: Node = {
        "components": {
            "schemas": {
                "Tree": {
                    "type": "object",
                    "properties": {
                        "children": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Tree"},
                        }
                    },
                }
            }
        }
    }
    tree = {"$ref": "#/components/schemas/Tree"}
    assert SchemaComparison(recursive, recursive).compare(tree, tree, "x") == []
    flat = {"type": "object", "properties": {"children": {"type": "array", "items": {}}}}
    assert SchemaComparison(recursive, recursive).compare(flat, tree, "x") == []


@pytest.mark.shared
@pytest.mark.parametrize(
    ("recording", "payload_type"),
    [
        ("A00_health", HealthResponse),
        ("A01_create_session", CreateSessionResponse),
        ("A02_send_message", SendSessionMessageAcceptedResponse),
        ("A05_list_tool_calls_pending", ListSessionToolCallsResponse),
    ],
)
def test_the_payload_types_validate_recorded_answers_with_pydantic(
    recordings_dir: Path, recording: str, payload_type: type[object]
) -> None:
    # Users check payloads with pydantic (a downstream SDK, a test): typing.TypedDict made
    # TypeAdapter refuse every payload type on Python 3.11.
    exchange = recorded_exchanges(recordings_dir)[recording]
    adapter: TypeAdapter[object] = TypeAdapter(payload_type)
    validated = adapter.validate_python(exchange["response"])  # raises when it does not fit
    assert isinstance(validated, dict)
    assert validated.keys() <= cast(dict[str, object], exchange["response"]).keys()
