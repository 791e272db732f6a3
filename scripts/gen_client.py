"""Generate the typed method layer of CodexManager / AsyncCodexManager from the OpenAPI spec.

Usage::

    python scripts/gen_client.py           # rewrite the files below
    python scripts/gen_client.py --check   # fail if they differ from a fresh run

One method per operation, placed where ``codex_manager.client._operations`` says
(``sessions.create``), plus the session-scoped handle ``cm.session(id)`` (``SESSION_HANDLE``
below). Keyword names are the spec's camelCase names in snake_case; argument and return types
come from the spec's schemas (the TypedDicts of ``codex_manager_models.payloads``). The async
and sync modules come from the same emitter, so they cannot drift apart. Also written: the
spec's enums and operation ids (``_literals.py``, ``types.py``) and the app-server methods the
stream decorators know (``stream/_methods.py``, from ``openapi/app-server/``).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import keyword
import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "codex-manager.openapi.yaml"
PAYLOADS = ROOT / "generated" / "codex_manager_models" / "payloads.py"
OUT_DIR = ROOT / "src" / "codex_manager" / "client"
RUFF = Path(sys.executable).parent / "ruff"


def _load(relative: str) -> ModuleType:
    """A module of ``src/codex_manager`` loaded by itself, without its package: regenerating
    must work while a generated file of the package is broken (a merge conflict, say)."""
    path = ROOT / "src" / "codex_manager" / relative
    spec = importlib.util.spec_from_file_location(f"_gen_client_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def _frozen_names(relative: str, name: str) -> frozenset[str]:
    """The strings of ``name = frozenset({...})`` in a module, read without importing it."""
    tree = ast.parse((ROOT / "src" / "codex_manager" / relative).read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and isinstance(node.value, ast.Call)
            and node.value.args
        ):
            return frozenset(ast.literal_eval(node.value.args[0]))
    raise LookupError(f"no {name} in {relative}")


OPERATIONS = _load("client/_operations.py").OPERATIONS
normalize_method = _load("stream/normalize.py").normalize_method
DIRECT_OPERATIONS = _frozen_names("client/_direct.py", "DIRECT_OPERATIONS")

# Body fields (or "body" for a body that is not an object with properties) taken positionally.
POSITIONAL = {
    "sendSessionMessage": ["text"],
    "steerTurn": ["input"],
    "renameSession": ["title"],
    "createProject": ["name"],
    "renameProject": ["name"],
    "setSessionApprovalPolicy": ["approval_policy"],
    "setSessionProject": ["project_id"],
    "executeCommand": ["command"],
    "decideApproval": ["decision"],
    "decideToolInput": ["decision"],
    "cancelAccountLogin": ["login_id"],
    "startAccountLogin": ["body"],
    "upsertSuggestedSessionRequest": ["request_key"],
    "writeConfigValue": ["key_path", "value"],
    "writeConfigBatch": ["edits"],
}

# Operations whose statuses other than 2xx are outcomes, converted by a hand-written helper.
OUTCOMES: dict[str, tuple[tuple[int, ...], str, str]] = {
    "respondToolCall": ((200, 404, 409, 500), "ToolCallResponseOutcome", "tool_call_outcome"),
}

# cm.session(id): dotted name inside the handle for each session-scoped operation.
SESSION_HANDLE = {
    "readSession": "read",
    "deleteSession": "delete",
    "resumeSession": "resume",
    "interruptSessionTurn": "interrupt",
    "forkSession": "fork",
    "compactSession": "compact",
    "rollbackSession": "rollback",
    "cleanBackgroundTerminals": "clean_background_terminals",
    "startReview": "review",
    "steerTurn": "steer",
    "renameSession": "rename",
    "archiveSession": "archive",
    "unarchiveSession": "unarchive",
    "setSessionApprovalPolicy": "set_approval_policy",
    "setSessionProject": "set_project",
    "upsertSessionTranscriptEntry": "upsert_transcript_entry",
    "suggestSessionRequest": "suggest_request",
    "enqueueSuggestedSessionRequest": "enqueue_suggested_request",
    "upsertSuggestedSessionRequest": "upsert_suggested_request",
    "sendSessionMessage": "messages.send",
    "listSessionToolCalls": "tool_calls.list",
    "listSessionApprovals": "approvals.list",
    "listSessionToolInput": "tool_input.list",
    "getSessionSettings": "settings.get",
    "setSessionSettings": "settings.set",
    "deleteSessionSetting": "settings.delete",
    "getSessionControls": "controls.get",
    "applySessionControls": "controls.apply",
}

GROUP_DOCS = {
    "system": "Server health, info, capabilities, models, features, collaboration modes, apps.",
    "extensions": "Agent extensions (RBAC-protected).",
    "skills": "Codex skills: list, configure, remote skills.",
    "mcp": "MCP servers: reload, list, OAuth login.",
    "account": "The Codex account: read, log in/out, rate limits.",
    # ``cm.config`` is this group; the client's own settings are ``cm.client_config``.
    "config": "Codex configuration (``config.toml``): read and write.",
    "commands": "Run commands through codex app-server.",
    "feedback": "Upload feedback.",
    "orchestrator": "Orchestrator jobs.",
    "projects": "Projects that group sessions.",
    "sessions": "Sessions (Codex threads): lifecycle, messages, settings, pending requests.",
    "tool_calls": "Answers to dynamic tool calls.",
    "approvals": "Decisions on pending approvals.",
    "tool_input": "Decisions on pending tool user-input requests.",
}

STATUS_ERRORS = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    410: "GoneError",
    423: "LockedError",
    429: "RateLimitError",
}


def snake(name: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    return text + "_" if keyword.iskeyword(text) else text


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


_JSON_ALIASES = {"JsonObject": "Mapping[str, JSONInput]", "JsonValue": "JSONInput"}
"""The payloads' JSON aliases, and the covariant types arguments take for them."""


class Spec:
    def __init__(self) -> None:
        self.doc = yaml.safe_load(SPEC.read_text())
        # The spec is untyped YAML; this build script reads it as such.
        self.schemas: dict[str, dict[str, Any]] = self.doc["components"]["schemas"]
        tree = ast.parse(PAYLOADS.read_text())
        self.typed_names: set[str] = set()
        self.loose_names: set[str] = set()  # aliases of dict[str, Any]: exposed as JSONObject
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                self.typed_names.add(node.name)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                source = ast.unparse(node.value) if node.value else ""
                if "Any" in source and "|" not in source:
                    self.loose_names.add(node.target.id)
                else:
                    self.typed_names.add(node.target.id)
            elif (  # if TYPE_CHECKING: X: TypeAlias = "..." (the recursive JSON alias)
                isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
            ):
                self.typed_names.update(
                    inner.target.id
                    for inner in node.body
                    if isinstance(inner, ast.AnnAssign) and isinstance(inner.target, ast.Name)
                )
        self.enums: dict[str, list[str]] = {
            name: schema["enum"]
            for name, schema in self.schemas.items()
            if "enum" in schema and schema.get("type") == "string"
        }
        self.used_payloads: set[str] = set()
        self.used_enums: set[str] = set()

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if isinstance(ref, str):
            kind, _, name = ref.rpartition("/")
            section = kind.split("/")[-1]
            return self.resolve(self.doc["components"][section][name])
        return node

    def py_type(self, schema: dict[str, object], *, output: bool) -> str:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref.rpartition("/")[2]
            if not output and name in _JSON_ALIASES:
                # An argument takes any JSON the caller has: a dict[str, str] is a JSON
                # object, but not a dict[str, JsonValue] (dict is invariant).
                return _JSON_ALIASES[name]
            if name in self.typed_names:
                self.used_payloads.add(name)
                return name
            if name in self.enums:
                self.used_enums.add(name)
                return name
            return self.py_type(self.schemas[name], output=output)
        types = schema.get("type")
        nullable = False
        if isinstance(types, list):
            nullable = "null" in types
            rest = [t for t in types if t != "null"]
            types = rest[0] if len(rest) == 1 else None
        if "oneOf" in schema or "anyOf" in schema:
            variants = schema.get("oneOf") or schema.get("anyOf")
            assert isinstance(variants, list)
            result = " | ".join(self.py_type(v, output=output) for v in variants)
        elif "enum" in schema:
            values = schema["enum"]
            assert isinstance(values, list)
            result = "Literal[" + ", ".join(repr(v) for v in values) + "]"
        elif "const" in schema:
            result = f"Literal[{schema['const']!r}]"
        elif types == "string":
            result = "str"
        elif types == "integer":
            result = "int"
        elif types == "number":
            result = "float"
        elif types == "boolean":
            result = "bool"
        elif types == "array":
            items = schema.get("items", {})
            assert isinstance(items, dict)
            inner = self.py_type(items, output=output)
            result = f"list[{inner}]" if output else f"Sequence[{inner}]"
        elif types == "object":
            result = "JSONObject" if output else "Mapping[str, JSONInput]"
        else:
            result = "JSONValue" if output else "JSONInput"
        if nullable and result not in ("JSONValue", "JSONInput"):
            result += " | None"
        return result

    def return_type(self, schemas: list[dict[str, object]]) -> str:
        names: list[str] = []
        for schema in schemas:
            ref = schema.get("$ref")
            name = ref.rpartition("/")[2] if isinstance(ref, str) else ""
            if name in self.typed_names:
                self.used_payloads.add(name)
                names.append(name)
            else:
                names.append("JSONObject")
        return " | ".join(dict.fromkeys(names))


@dataclass
class Param:
    name: str  # python name
    wire: str  # camelCase name (body key) or generated-binding keyword
    kind: str  # path | query | body | whole-body
    type: str
    required: bool
    doc: str
    positional: bool = False

    def signature(self) -> str:
        annotation = self.type if self.required else f"{self.type} | Omit"
        default = "" if self.required else " = OMIT"
        return f"{self.name}: {annotation}{default}"


@dataclass
class Method:
    operation_id: str
    name: str
    summary: str
    description: str
    params: list[Param]
    ok: tuple[int, ...]
    returns: str
    converter: str | None
    raises: list[tuple[str, str]]
    returns_doc: str
    has_body: bool
    bound: set[str] = field(default_factory=set)  # params taken from the session handle


def one_line(text: object) -> str:
    return " ".join(str(text or "").split())


def build_method(spec: Spec, operation_id: str, name: str) -> Method:
    op_info = OPERATIONS[operation_id]
    op = spec.doc["paths"]["/api" + op_info.path][op_info.method.lower()]
    params: list[Param] = []
    positional = POSITIONAL.get(operation_id, [])
    for raw in op.get("parameters", []):
        p = spec.resolve(raw)
        schema = p.get("schema", {})
        params.append(
            Param(
                name=snake(p["name"]),
                wire=snake(p["name"]),
                kind=p["in"],
                type=spec.py_type(schema, output=False),
                required=bool(p.get("required")),
                doc=one_line(p.get("description") or schema.get("description")),
                positional=p["in"] == "path",
            )
        )
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    body_schema = body_schema.get("schema")
    has_body = body_schema is not None
    if body_schema is not None:
        resolved = spec.resolve(body_schema)
        props = resolved.get("properties")
        if isinstance(props, dict) and props:
            required = set(resolved.get("required", []))
            for wire, prop in props.items():
                python = snake(wire)
                params.append(
                    Param(
                        name=python,
                        wire=wire,
                        kind="body",
                        type=spec.py_type(prop, output=False),
                        required=wire in required,
                        doc=one_line(
                            prop.get("description") or spec.resolve(prop).get("description")
                        ),
                        positional=python in positional,
                    )
                )
        else:
            body_required = bool(op.get("requestBody", {}).get("required"))
            is_free = "oneOf" not in resolved and not props
            params.append(
                Param(
                    name="body",
                    wire="body",
                    kind="whole-body",
                    type=spec.py_type(body_schema, output=False)
                    if not is_free
                    else "Mapping[str, JSONInput]",
                    required=body_required and not is_free,
                    doc=one_line(resolved.get("description"))
                    or "Extra JSON fields for the request body.",
                    positional="body" in positional,
                )
            )
    names = [p.name for p in params]
    assert len(names) == len(set(names)), (operation_id, names)
    assert "retry" not in names, operation_id
    responses = op.get("responses", {})
    ok_codes = tuple(sorted(int(code) for code in responses if str(code).startswith("2")))
    schemas = [responses[str(code)]["content"]["application/json"]["schema"] for code in ok_codes]
    if operation_id in OUTCOMES:
        ok, returns, converter = OUTCOMES[operation_id]
    else:
        ok, returns, converter = ok_codes, spec.return_type(schemas), None
    raises: list[tuple[str, str]] = []
    for code_text, response in responses.items():
        code = int(code_text)
        if code in ok:
            continue
        response = spec.resolve(response)
        cls = STATUS_ERRORS.get(code, "ServerError" if code >= 500 else "APIStatusError")
        raises.append((cls, f"{code}: {one_line(response.get('description'))}"))
    if converter is not None and 500 in ok:
        raises.append(("ServerError", "500 without the documented error body (a proxy's page)."))
    returns_doc = "; ".join(
        f"{code}: {one_line(spec.resolve(responses[str(code)]).get('description'))}"
        for code in ok_codes
    )
    return Method(
        operation_id=operation_id,
        name=name,
        summary=one_line(op.get("summary")) or operation_id,
        description=str(op.get("description") or "").strip(),
        params=params,
        ok=tuple(ok),
        returns=returns,
        converter=converter,
        raises=raises,
        returns_doc=returns_doc,
        has_body=has_body,
    )


def docstring(method: Method, indent: str, skip: set[str]) -> str:
    lines = [method.summary.rstrip(".") + "."]
    if method.description:
        lines += ["", *textwrap.wrap(one_line(method.description), 88)]
    lines += ["", f"Operation ``{method.operation_id}``.", "", "Args:"]
    for p in method.params:
        if p.name in skip:
            continue
        doc = p.doc or f"The ``{p.wire}`` {p.kind} parameter."
        if not p.required:
            doc += " Omitted when not given."
        wrapped = textwrap.wrap(f"{p.name}: {doc}", 84)
        lines += ["    " + wrapped[0], *("        " + w for w in wrapped[1:])]
    lines += ["    retry: Retry policy for this call (``None``: the client's policy)."]
    lines += ["", "Returns:"]
    if method.converter:
        lines += [
            "    The typed outcome of each documented status (see :mod:`codex_manager.outcomes`)."
        ]
    else:
        lines += ["    " + w for w in textwrap.wrap(method.returns_doc or "The parsed body.", 84)]
    lines += ["", "Raises:"]
    for cls, text in method.raises:
        wrapped = textwrap.wrap(f"{cls}: {text}", 84)
        lines += ["    " + wrapped[0], *("        " + w for w in wrapped[1:])]
    lines += [
        "    TransportError: The server could not be reached or did not answer in time.",
        "    UnexpectedResponseError: A success answer without the documented shape.",
    ]
    body = "\n".join((indent + line) if line else "" for line in lines)
    return f'{indent}"""{body.lstrip()}\n{indent}"""\n'


NARROWED_BY: dict[str, tuple[str, str, str]] = {
    # operation: (keyword, its type when given, the return then, the return when omitted)
    "getSessionSettings": ("key", "SessionSettingValueResponse", "SessionSettingsResponse"),
}
"""Operations whose answer's shape follows one keyword argument: typed by overloads, so
``settings.get(key="model")`` is the one-value answer to a type checker, not a union."""


def _overloads(method: Method, sig: list[str], prefix: str) -> str:
    """The ``@overload``s of a method in :data:`NARROWED_BY` (empty for the others)."""
    narrowing = NARROWED_BY.get(method.operation_id)
    if narrowing is None:
        return ""
    keyword, given_returns, omitted_returns = narrowing
    found = [s for s in sig if s.startswith(f"{keyword}: ")]
    assert len(found) == 1, (method.operation_id, keyword)
    stubs = []
    for replacement, returns in (
        (f"{keyword}: str", given_returns),
        (f"{keyword}: Omit = OMIT", omitted_returns),
        (found[0], method.returns),  # a value that may be either (``str | Omit``)
    ):
        params = [replacement if s == found[0] else s for s in sig]
        stubs.append(
            "\n".join(
                [
                    "    @overload",
                    f"    {prefix} {method.name}(",
                    *(f"        {s}," for s in params),
                    f"    ) -> {returns}: ...",
                ]
            )
        )
    return "\n".join(stubs) + "\n"


def emit_method(method: Method, mode: str, *, bound: dict[str, str] | None = None) -> str:
    """One method; ``bound`` maps parameter names to expressions taken from ``self``."""
    bound = bound or {}
    is_async = mode == "async"
    free = [p for p in method.params if p.name not in bound]
    positional = [p for p in free if p.positional]
    keyword_only = [p for p in free if not p.positional]
    sig = ["self"]
    sig += [p.signature() for p in positional]
    sig.append("*")
    sig += [p.signature() for p in keyword_only if p.required]
    sig += [p.signature() for p in keyword_only if not p.required]
    sig.append("retry: RetryPolicy | None = None")
    prefix = "async def" if is_async else "def"
    await_ = "await " if is_async else ""
    out = [
        f"    {prefix} {method.name}(",
        *(f"        {s}," for s in sig),
        f"    ) -> {method.returns}:",
    ]
    text = (
        _overloads(method, sig, prefix)
        + "\n".join(out)
        + "\n"
        + docstring(method, "        ", set(bound))
    )

    def value(p: Param) -> str:
        name = bound.get(p.name, p.name)
        # A str is a Sequence[str] to the type checker: refused here, not sent as one value.
        return f'_array("{p.name}", {name})' if p.type.startswith("Sequence[") else name

    path = [p for p in method.params if p.kind == "path"]
    query = [p for p in method.params if p.kind == "query"]
    body_fields = [p for p in method.params if p.kind == "body"]
    whole = [p for p in method.params if p.kind == "whole-body"]
    call = [f'"{method.operation_id}"']
    if path:
        call.append("path={" + ", ".join(f'"{p.wire}": {value(p)}' for p in path) + "}")
    if query:
        call.append("query={" + ", ".join(f'"{p.wire}": {value(p)}' for p in query) + "}")
    if body_fields:
        call.append(
            "body=_fields({" + ", ".join(f'"{p.wire}": {value(p)}' for p in body_fields) + "})"
        )
    elif whole:
        call.append(f"body=_whole_body({value(whole[0])})")
    call.append(f"ok={method.ok!r}")
    call.append("retry=retry")
    lines = [f"        answer = {await_}self._transport.call("]
    lines += [f"            {c}," for c in call]
    lines.append("        )")
    if method.converter:
        first_path = value(path[0]) if path else '""'
        lines.append(f"        return {method.converter}(answer, {first_path})")
    else:
        lines.append(f'        return cast("{method.returns}", answer.body)')
    return text + "\n".join(lines) + "\n"


# Group classes whose plain name would read ambiguously next to the SDK's own types.
GROUP_CLASS_NAMES = {"config": "CodexConfig"}


def group_class(group: str, mode: str) -> str:
    name = GROUP_CLASS_NAMES.get(group, pascal(group))
    return ("Async" if mode == "async" else "") + name


def handle_class(path: str, mode: str) -> str:
    base = "SessionHandle" if not path else "Session" + pascal(path)
    return ("Async" if mode == "async" else "") + base


def module(spec: Spec, mode: str) -> str:
    is_async = mode == "async"
    transport = "AsyncTransport" if is_async else "SyncTransport"
    groups: dict[str, list[Method]] = {}
    methods: dict[str, Method] = {}
    for operation_id, op in OPERATIONS.items():
        if "." not in op.facade:
            continue  # the websocket: cm.stream
        group, name = op.facade.split(".", 1)
        method = build_method(spec, operation_id, name)
        methods[operation_id] = method
        groups.setdefault(group, []).append(method)

    parts: list[str] = []
    resource_base = "_AsyncResource" if is_async else "_SyncResource"
    parts.append(
        f"class {resource_base}:\n"
        f'    """Base of the method groups: holds the shared transport."""\n\n'
        f"    def __init__(self, transport: {transport}) -> None:\n"
        f"        self._transport = transport\n"
    )
    for group, group_methods in groups.items():
        cls = group_class(group, mode)
        doc = GROUP_DOCS.get(group, group)
        body = "\n".join(emit_method(m, mode) for m in group_methods)
        parts.append(f'class {cls}({resource_base}):\n    """{doc}"""\n\n{body}')

    # The session handle: a tree of small classes bound to one session id.
    tree: dict[str, list[tuple[str, Method]]] = {}
    for operation_id, dotted in SESSION_HANDLE.items():
        sub, _, name = dotted.rpartition(".")
        tree.setdefault(sub, []).append((name, methods[operation_id]))
    handle_base = "_AsyncHandlePart" if is_async else "_SyncHandlePart"
    parts.append(
        f"class {handle_base}:\n"
        f'    """Base of the session handle parts: the transport and the bound session id."""\n\n'
        f"    def __init__(self, transport: {transport}, session_id: str) -> None:\n"
        f"        self._transport = transport\n"
        f"        self.session_id = session_id\n"
    )
    for sub in sorted(s for s in tree if s):
        cls = handle_class(sub, mode)
        body = "\n".join(
            emit_method(_renamed(m, name), mode, bound={"session_id": "self.session_id"})
            for name, m in tree[sub]
        )
        parts.append(
            f"class {cls}({handle_base}):\n"
            f'    """``{sub}`` of one session (see :meth:`session`)."""\n\n{body}'
        )
    root = handle_class("", mode)
    init_lines = [
        f"    def __init__(self, transport: {transport}, session_id: str) -> None:",
        "        super().__init__(transport, session_id)",
    ]
    for sub in sorted(s for s in tree if s):
        cls = handle_class(sub, mode)
        init_lines.append(f"        self.{sub}: {cls} = {cls}(transport, session_id)")
        init_lines.append(f'        """``{sub}`` of this session."""')
    body = "\n".join(
        emit_method(_renamed(m, name), mode, bound={"session_id": "self.session_id"})
        for name, m in tree[""]
    )
    parts.append(
        f"class {root}({handle_base}):\n"
        '    """One session: ``cm.session(session_id)``; every call targets that session."""\n\n'
        + "\n".join(init_lines)
        + "\n\n"
        + f'    def __repr__(self) -> str:\n        return f"{root}({{self.session_id!r}})"\n\n'
        + body
    )

    # The groups, as attributes of the client.
    groups_cls = "AsyncResourceGroups" if is_async else "ResourceGroups"
    lines = [
        f"class {groups_cls}:",
        '    """The method groups of the client, sharing one transport."""',
        "",
        f"    def __init__(self, transport: {transport}) -> None:",
    ]
    for group in groups:
        cls = group_class(group, mode)
        lines.append(f"        self.{group}: {cls} = {cls}(transport)")
        lines.append(f'        """{GROUP_DOCS.get(group, group)}"""')
    lines += [
        "",
        f"    def session(self, session_id: str) -> {root}:",
        '        """A handle whose methods all target ``session_id``."""',
        f"        return {root}(self.sessions._transport, session_id)",
    ]
    parts.append("\n".join(lines) + "\n")

    for _keyword, given_returns, omitted_returns in NARROWED_BY.values():
        spec.used_payloads.update((given_returns, omitted_returns))
    payloads = sorted(spec.used_payloads)
    enums = sorted(spec.used_enums)
    header = [
        f"# Generated by scripts/gen_client.py from {SPEC.relative_to(ROOT)}. Do not edit by hand:",
        "# run `python scripts/gen_client.py` (checked by make regen-check).",
        f'"""{"Async" if is_async else "Sync"} method groups of the client, one method per '
        'operation."""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping, Sequence",
        "from typing import TYPE_CHECKING, Literal, cast, overload",
        "",
        "from codex_manager._omit import OMIT, Omit",
        "from codex_manager.client._parsing import _array, _fields, _whole_body, tool_call_outcome",
        "",
        "if TYPE_CHECKING:",
        f"    from codex_manager.client._transport import {transport}",
        "    from codex_manager.client._literals import " + ", ".join(enums) if enums else "",
        "    from codex_manager.json_types import JSONInput, JSONObject, JSONValue",
        "    from codex_manager.outcomes import ToolCallResponseOutcome",
        "    from codex_manager.retry import RetryPolicy",
        "    from codex_manager_models.payloads import " + ", ".join(payloads),
        "",
        "_ = (Literal, Mapping, Sequence, OMIT)  # used in annotations only",
        "",
    ]
    return "\n".join(header) + "\n\n" + "\n\n".join(parts)


def _renamed(method: Method, name: str) -> Method:
    copy = Method(**{**method.__dict__})
    copy.name = name
    return copy


def literals_module(spec: Spec) -> str:
    lines = [
        f"# Generated by scripts/gen_client.py from {SPEC.relative_to(ROOT)}. Do not edit by hand.",
        '"""Literal types of the spec\'s string enums (re-exported by codex_manager.types)."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Literal, TypeAlias",
        "",
    ]
    local = {n: v for n, v in spec.enums.items() if n not in spec.typed_names}
    for name, values in sorted(local.items()):
        lines.append(f"{name}: TypeAlias = Literal[{', '.join(repr(v) for v in values)}]")
        description = one_line(spec.schemas[name].get("description")) or name
        wrapped = textwrap.wrap(description, 92)
        if len(wrapped) == 1:
            lines.append(f'"""{wrapped[0]}"""')
        else:
            lines += ['"""' + wrapped[0], *wrapped[1:], '"""']
        lines.append("")
    operations = ", ".join(repr(op) for op in sorted(OPERATIONS))
    lines.append(f"OperationId: TypeAlias = Literal[{operations}]")
    doc = "An ``operationId`` of the spec: what a hook names (``cm.hooks.before(op)``)."
    lines += [f'"""{doc}"""', ""]
    lines.append(f"__all__: list[str] = {sorted([*local, 'OperationId'])!r}")
    return "\n".join(lines) + "\n"


def types_module(spec: Spec) -> str:
    payloads = sorted(spec.typed_names)
    enums = sorted(set(spec.enums) - spec.typed_names)
    lines = [
        f"# Generated by scripts/gen_client.py from {SPEC.relative_to(ROOT)}. Do not edit by hand.",
        '"""Public payload types: a TypedDict per schema of the spec, and its string enums.',
        "",
        "Use them to annotate your own code, e.g. ``def show(s: SessionSummary) -> str``.",
        "Schemas that are free-form objects are plain ``dict`` aliases; the client returns",
        '``JSONObject`` for those."""',
        "",
        "from __future__ import annotations",
        "",
        "from codex_manager.client._literals import " + ", ".join([*enums, "OperationId"]),
        "from codex_manager.json_types import JSONInput, JSONObject, JSONScalar, JSONValue",
        "from codex_manager.outcomes import (",
        "    ToolCallAccepted, ToolCallInFlight, ToolCallNotFound, ToolCallResponseOutcome,",
        "    ToolCallSubmitFailed,",
        ")",
        "from codex_manager.wait import TurnResult",
        "from codex_manager_models.payloads import " + ", ".join(payloads),
        "",
    ]
    names = [
        *payloads,
        *enums,
        "OperationId",
        "JSONInput",
        "JSONObject",
        "JSONScalar",
        "JSONValue",
        "ToolCallAccepted",
        "ToolCallInFlight",
        "ToolCallNotFound",
        "ToolCallResponseOutcome",
        "ToolCallSubmitFailed",
        "TurnResult",
    ]
    lines.append(f"__all__ = {sorted(set(names))!r}")
    return "\n".join(lines) + "\n"


APP_SERVER = ROOT / "openapi" / "app-server"
METHODS_MODULE = "stream/_methods.py"
"""Written under ``src/codex_manager`` (not the client package) by :func:`main`."""


def app_server_methods(schema: str) -> list[str]:
    """The JSON-RPC methods a ``oneOf`` message schema of codex app-server lists."""
    document = json.loads((APP_SERVER / f"{schema}.json").read_text())
    methods: list[str] = []
    for variant in document["oneOf"]:
        method = variant["properties"]["method"]
        methods += method.get("enum", [method["const"]] if "const" in method else [])
    return methods


RAW_EVENT_NOTIFICATIONS = ("rawResponse/completed", "rawResponseItem/completed")
"""Sent because codex-manager asks codex for ``experimentalRawEvents`` (server contract,
sections 2 and 7), recorded from the real server (``fixtures/real-server/``), and absent from
the stable schemas ``codex app-server generate-json-schema`` writes."""


def methods_module() -> str:
    """The app-server methods of the checked-in schemas, normalized as the stream names them."""
    sent = (*app_server_methods("ServerNotification"), *RAW_EVENT_NOTIFICATIONS)
    notifications = sorted({normalize_method(m) for m in sent})
    requests = sorted({normalize_method(m) for m in app_server_methods("ServerRequest")})
    lines = [
        "# Generated by scripts/gen_client.py from openapi/app-server/ServerNotification.json",
        "# and ServerRequest.json (and the raw-event notifications it lists). Do not edit by hand.",
        '"""The app-server methods codex\'s schemas list, normalized as the stream names them."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Final, Literal, TypeAlias, get_args",
        "",
        f"KnownNotificationMethod: TypeAlias = Literal[{', '.join(map(repr, notifications))}]",
        '"""A notification codex app-server sends (``cm.on_app_server(...)``)."""',
        "",
        f"KnownRequestMethod: TypeAlias = Literal[{', '.join(map(repr, requests))}]",
        '"""A request codex app-server sends (``cm.on_app_server_request(...)``)."""',
        "",
        "KNOWN_NOTIFICATION_METHODS: Final[frozenset[str]] = frozenset("
        "get_args(KnownNotificationMethod))",
        "",
        "KNOWN_REQUEST_METHODS: Final[frozenset[str]] = frozenset(get_args(KnownRequestMethod))",
        "",
        "__all__ = [",
        '    "KNOWN_NOTIFICATION_METHODS",',
        '    "KNOWN_REQUEST_METHODS",',
        '    "KnownNotificationMethod",',
        '    "KnownRequestMethod",',
        "]",
    ]
    return "\n".join(lines) + "\n"


HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def client_attributes() -> frozenset[str]:
    """Names the hand-written clients define (methods, properties, attributes they set), read
    from their sources: a method group of the same name would clash with one of them."""
    names: set[str] = set()
    for relative in ("client/_client.py", "client/_shortcuts.py"):
        tree = ast.parse((ROOT / "src" / "codex_manager" / relative).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    names.add("session")  # cm.session(id), the handle this script generates
    return frozenset(name for name in names if not name.startswith("_"))


def table_problems(spec: Spec) -> list[str]:
    """What the hand-kept tables say that the spec contradicts: each a message naming the
    file and the fix (see docs/regenerating.md, "When the operations change")."""
    in_spec: dict[str, tuple[str, str]] = {}
    table = "src/codex_manager/client/_operations.py"
    problems: list[str] = []
    for path, item in spec.doc["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            operation_id = operation.get("operationId")
            if not isinstance(operation_id, str) or not operation_id:
                problems.append(
                    f"{method.upper()} {path} has no operationId in the spec: give it one"
                )
            elif operation_id in in_spec:
                other = " ".join(in_spec[operation_id])
                problems.append(
                    f"{operation_id} names two operations of the spec ({other} and "
                    f"{method.upper()} {path}): operationIds must be unique"
                )
            else:
                in_spec[operation_id] = (method.upper(), path)
    for operation_id, (method, path) in sorted(in_spec.items()):
        row = OPERATIONS.get(operation_id)
        if row is None:
            problems.append(
                f"{operation_id} ({method} {path}) is in the spec but not in {table}: add a row "
                "naming the client method that serves it (group.method)"
            )
        elif (row.method, "/api" + row.path) != (method, path):
            problems.append(
                f"{operation_id}: {table} says {row.method} /api{row.path}, "
                f"the spec {method} {path}: make its row follow the spec"
            )
    for operation_id in sorted(set(OPERATIONS) - set(in_spec)):
        problems.append(
            f"{operation_id} is in {table} but not in the spec: remove its row, or rename it to "
            "the spec's new operationId"
        )
    keyed: tuple[tuple[str, Collection[str]], ...] = (
        ("scripts/gen_client.py POSITIONAL", POSITIONAL),
        ("scripts/gen_client.py OUTCOMES", OUTCOMES),
        ("scripts/gen_client.py SESSION_HANDLE", SESSION_HANDLE),
        ("scripts/gen_client.py NARROWED_BY", NARROWED_BY),
        ("src/codex_manager/client/_direct.py DIRECT_OPERATIONS", DIRECT_OPERATIONS),
    )
    for where, keys in keyed:
        for operation_id in sorted(set(keys) - set(in_spec)):
            problems.append(
                f"{operation_id} in {where} is not an operation of the spec: rename it to the "
                "spec's operationId (or remove it)"
            )
    groups = {row.facade.split(".", 1)[0] for row in OPERATIONS.values() if "." in row.facade}
    for group in sorted(groups & client_attributes()):
        problems.append(
            f"method group {group!r} ({table}) would hide the client's own {group!r}: pick "
            "another group name"
        )
    for group in sorted(groups - set(GROUP_DOCS)):
        problems.append(
            f"method group {group!r} has no description: add one to scripts/gen_client.py "
            "GROUP_DOCS"
        )
    return problems


def render() -> dict[str, str]:
    spec = Spec()
    files = {
        "_resources_async.py": module(spec, "async"),
        "_resources_sync.py": module(spec, "sync"),
        "_literals.py": literals_module(spec),
        "types.py": types_module(spec),
        METHODS_MODULE: methods_module(),
    }
    return files


def formatted(files: dict[str, str]) -> Iterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / name).write_text(text)
        config = ROOT / "pyproject.toml"
        subprocess.run(
            [str(RUFF), "check", "--fix-only", "--quiet", "--config", str(config), tmp],
            check=False,
        )
        subprocess.run([str(RUFF), "format", "--quiet", "--config", str(config), tmp], check=True)
        for name in files:
            yield name, (Path(tmp) / name).read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when the files are stale")
    args = parser.parse_args()
    problems = table_problems(Spec())
    if problems:
        print("the operation tables do not match openapi/codex-manager.openapi.yaml:")
        print("\n".join(f"  - {problem}" for problem in problems))
        print("(see docs/regenerating.md, 'When the operations change')")
        return 1
    stale = []
    for name, text in formatted(render()):
        target = (OUT_DIR.parent if name in ("types.py", METHODS_MODULE) else OUT_DIR) / name
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(name)
        else:
            target.write_text(text)
    if stale:
        print("stale client facade (run python scripts/gen_client.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
