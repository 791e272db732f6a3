"""Compare the project's OpenAPI document with the server's published one.

Every check is a pure function over two loaded documents and returns a list of
human-readable problems (empty when all is well), so a failing test can list every
difference at once instead of stopping at the first.

The rule is "ours may add, never drop or rename": each operation, parameter, status
code, request-body property and success-response property the reference declares must
be present in ours with a compatible schema. ``$ref``s are resolved in each document.

Recorded exchanges with the real server are checked too: each recorded body must be
valid against the schema our document gives for its operation and status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import jsonschema_rs
import yaml

Node = Mapping[str, object]
"""A JSON object of an OpenAPI document (operation, schema, ...)."""

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
JSON_MEDIA_TYPE = "application/json"
# Nested schemas are compared this deep; enough for every body of the server while
# keeping pathological recursive schemas cheap.
MAX_DEPTH = 8
FORBIDDEN_FORMATS = frozenset({"date-time", "date", "uuid"})
EMPTY: Node = {}


def load_document(path: Path) -> dict[str, object]:
    """Load an OpenAPI document written in JSON (``.json``) or YAML (anything else)."""
    text = path.read_text(encoding="utf-8")
    data: object = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def _as_node(value: object) -> Node:
    return value if isinstance(value, Mapping) else EMPTY


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def iter_operations(spec: Node) -> Iterator[tuple[str, str, Node]]:
    """Yield ``(METHOD, path, operation)`` for every operation of ``spec``."""
    for path, item in _as_node(spec.get("paths")).items():
        for method, operation in _as_node(item).items():
            if method in HTTP_METHODS and isinstance(operation, Mapping):
                yield method.upper(), path, operation


def operation_index(spec: Node) -> dict[tuple[str, str], Node]:
    """Operations of ``spec`` keyed by ``(METHOD, path)``."""
    return {(method, path): op for method, path, op in iter_operations(spec)}


def _label(method: str, path: str, operation: Node) -> str:
    return f"{operation.get('operationId', '?')} ({method} {path})"


def resolve(node: object, spec: Node) -> Node:
    """Follow local ``$ref``s (``#/...``) until a node without one; ``{}`` if unresolvable."""
    current = _as_node(node)
    seen: set[str] = set()
    while "$ref" in current:
        ref = current["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
            return EMPTY
        seen.add(ref)
        target: Node = spec
        for part in ref[2:].split("/"):
            target = _as_node(target.get(part.replace("~1", "/").replace("~0", "~")))
        current = target
    return current


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _variants(schema: Node) -> list[object]:
    return _as_list(schema.get("oneOf")) + _as_list(schema.get("anyOf"))


def type_names(node: object, spec: Node) -> frozenset[str] | None:
    """The JSON types a schema admits, or None when it admits any value."""
    schema = resolve(node, spec)
    variants = _variants(schema)
    if variants:
        names: set[str] = set()
        for variant in variants:
            variant_names = type_names(variant, spec)
            if variant_names is None:
                return None
            names |= variant_names
        return frozenset(names)
    declared = schema.get("type")
    if isinstance(declared, str):
        names = {declared}
    elif isinstance(declared, list):
        names = {str(name) for name in declared}
    elif "const" in schema:
        names = {_json_type(schema["const"])}
    elif "enum" in schema:
        names = {_json_type(value) for value in _as_list(schema["enum"])}
    elif "properties" in schema or "additionalProperties" in schema:
        names = {"object"}
    elif "items" in schema:
        names = {"array"}
    else:
        parts = [type_names(part, spec) for part in _as_list(schema.get("allOf"))]
        known = [part for part in parts if part is not None]
        if not known:
            return None
        names = set(frozenset.intersection(*known))
    if schema.get("nullable") is True:
        names.add("null")
    return frozenset(names)


def enum_values(node: object, spec: Node) -> list[object] | None:
    """Values a schema is restricted to by ``enum``/``const``, or None when unrestricted."""
    schema = resolve(node, spec)
    variants = _variants(schema)
    if variants:
        values: list[object] = []
        for variant in variants:
            if type_names(variant, spec) == frozenset({"null"}):
                values.append(None)
                continue
            variant_values = enum_values(variant, spec)
            if variant_values is None:
                return None
            values.extend(variant_values)
        return values
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return _as_list(schema["enum"])
    return None


def properties(node: object, spec: Node) -> dict[str, list[object]]:
    """Property schemas by name, merged over ``allOf``/``oneOf``/``anyOf`` variants."""
    schema = resolve(node, spec)
    merged: dict[str, list[object]] = {}
    for name, prop in _as_node(schema.get("properties")).items():
        merged.setdefault(name, []).append(prop)
    for part in _as_list(schema.get("allOf")) + _variants(schema):
        for name, props in properties(part, spec).items():
            merged.setdefault(name, []).extend(props)
    return merged


def required_names(node: object, spec: Node) -> set[str]:
    """Properties every valid instance has (own and ``allOf``; common to all variants)."""
    schema = resolve(node, spec)
    names = {str(name) for name in _as_list(schema.get("required"))}
    for part in _as_list(schema.get("allOf")):
        names |= required_names(part, spec)
    variants = _variants(schema)
    if variants:
        names |= set.intersection(*(required_names(variant, spec) for variant in variants))
    return names


def _items(node: object, spec: Node) -> object | None:
    schema = resolve(node, spec)
    if "items" in schema:
        return schema["items"]
    for variant in _variants(schema):
        found = _items(variant, spec)
        if found is not None:
            return found
    return None


def _map_values(node: object, spec: Node) -> object | None:
    extra = resolve(node, spec).get("additionalProperties")
    return extra if isinstance(extra, Mapping) and extra else None


def _fmt(names: object) -> str:
    if isinstance(names, frozenset | set):
        return "|".join(sorted(str(name) for name in names))
    return json.dumps(names)


class SchemaComparison:
    """Checks that schemas of ours accept everything the reference's schemas describe."""

    def __init__(self, ours: Node, theirs: Node) -> None:
        self.ours = ours
        self.theirs = theirs

    def compare(self, our_node: object, their_node: object, where: str) -> list[str]:
        """Problems that make ``our_node`` incompatible with ``their_node``."""
        return self._compare(our_node, their_node, where, 0, frozenset())

    def _compare(
        self,
        our_node: object,
        their_node: object,
        where: str,
        depth: int,
        seen: frozenset[tuple[int, int]],
    ) -> list[str]:
        ours = resolve(our_node, self.ours)
        theirs = resolve(their_node, self.theirs)
        key = (id(ours), id(theirs))
        if key in seen:
            return []
        seen = seen | {key}
        problems = self._compare_types(ours, theirs, where)
        problems += self._compare_enums(ours, theirs, where)
        if depth >= MAX_DEPTH:
            return problems
        problems += self._compare_properties(ours, theirs, where, depth, seen)
        their_items = _items(theirs, self.theirs)
        our_items = _items(ours, self.ours)
        if their_items is not None and our_items is not None:
            problems += self._compare(our_items, their_items, f"{where}[]", depth + 1, seen)
        their_values = _map_values(theirs, self.theirs)
        our_values = _map_values(ours, self.ours)
        if their_values is not None and our_values is not None:
            problems += self._compare(our_values, their_values, f"{where}{{*}}", depth + 1, seen)
        return problems

    def _compare_types(self, ours: Node, theirs: Node, where: str) -> list[str]:
        their_types = type_names(theirs, self.theirs)
        our_types = type_names(ours, self.ours)
        if their_types is None or our_types is None:
            return []
        # An integer is a number; the reverse narrowing is a real incompatibility.
        missing = {
            name
            for name in their_types
            if name not in our_types and not (name == "integer" and "number" in our_types)
        }
        if not missing:
            return []
        return [
            f"{where}: type {_fmt(our_types)} does not admit {_fmt(missing)}"
            f" (reference: {_fmt(their_types)})"
        ]

    def _compare_enums(self, ours: Node, theirs: Node, where: str) -> list[str]:
        our_values = enum_values(ours, self.ours)
        if our_values is None:
            return []
        their_values = enum_values(theirs, self.theirs)
        if their_values is None:
            their_types = type_names(theirs, self.theirs)
            if their_types is not None and their_types <= {"null", "boolean"}:
                return []
            return [f"{where}: restricted to {_fmt(our_values)} but the reference allows any value"]
        missing = [value for value in their_values if value not in our_values]
        if not missing:
            return []
        return [f"{where}: values {_fmt(missing)} of the reference are not allowed"]

    def _compare_properties(
        self,
        ours: Node,
        theirs: Node,
        where: str,
        depth: int,
        seen: frozenset[tuple[int, int]],
    ) -> list[str]:
        their_props = properties(theirs, self.theirs)
        # A schema with no constraint at all (``{}``) admits every object.
        if not their_props or (not ours and type_names(ours, self.ours) is None):
            return []
        our_props = properties(ours, self.ours)
        problems: list[str] = []
        for name, their_schemas in their_props.items():
            if name not in our_props:
                problems.append(f"{where}.{name}: property missing (declared by the reference)")
                continue
            for their_schema in their_schemas:
                attempts = [
                    self._compare(our_schema, their_schema, f"{where}.{name}", depth + 1, seen)
                    for our_schema in our_props[name]
                ]
                if all(attempts):
                    problems += attempts[0]
        overly_required = (required_names(ours, self.ours) & set(their_props)) - required_names(
            theirs, self.theirs
        )
        problems += [
            f"{where}.{name}: required here but optional in the reference"
            for name in sorted(overly_required)
        ]
        return problems


def _json_schema(holder: object) -> object | None:
    content = _as_node(_as_node(holder).get("content"))
    media = content.get(JSON_MEDIA_TYPE)
    if not isinstance(media, Mapping) or "schema" not in media:
        return None
    schema: object = media["schema"]
    return schema


def _responses(operation: Node, spec: Node) -> dict[str, Node]:
    return {
        str(status): resolve(response, spec)
        for status, response in _as_node(operation.get("responses")).items()
    }


def _parameters(operation: Node, path_item: Node, spec: Node) -> dict[tuple[str, str], Node]:
    found: dict[tuple[str, str], Node] = {}
    for raw in _as_list(path_item.get("parameters")) + _as_list(operation.get("parameters")):
        parameter = resolve(raw, spec)
        found[(str(parameter.get("in")), str(parameter.get("name")))] = parameter
    return found


def _path_item(spec: Node, path: str) -> Node:
    return _as_node(_as_node(spec.get("paths")).get(path))


def check_operations(ours: Node, theirs: Node) -> list[str]:
    """Every (method, path) of the reference exists in ours with the same operationId."""
    our_ops = operation_index(ours)
    problems: list[str] = []
    for (method, path), their_op in operation_index(theirs).items():
        our_op = our_ops.get((method, path))
        if our_op is None:
            problems.append(f"{_label(method, path, their_op)}: operation missing")
        elif our_op.get("operationId") != their_op.get("operationId"):
            problems.append(
                f"{_label(method, path, their_op)}: operationId is"
                f" {our_op.get('operationId')!r} in ours"
            )
    return problems


def check_statuses(ours: Node, theirs: Node) -> list[str]:
    """Every status code the reference documents for an operation is documented in ours."""
    our_ops = operation_index(ours)
    problems: list[str] = []
    for (method, path), their_op in operation_index(theirs).items():
        our_op = our_ops.get((method, path))
        if our_op is None:
            continue
        missing = set(_responses(their_op, theirs)) - set(_responses(our_op, ours))
        problems += [
            f"{_label(method, path, their_op)}: status {status} not documented"
            for status in sorted(missing)
        ]
    return problems


def check_parameters(ours: Node, theirs: Node) -> list[str]:
    """Every parameter of the reference exists in ours with a compatible schema."""
    comparison = SchemaComparison(ours, theirs)
    our_ops = operation_index(ours)
    problems: list[str] = []
    for (method, path), their_op in operation_index(theirs).items():
        our_op = our_ops.get((method, path))
        if our_op is None:
            continue
        label = _label(method, path, their_op)
        their_params = _parameters(their_op, _path_item(theirs, path), theirs)
        our_params = _parameters(our_op, _path_item(ours, path), ours)
        for (location, name), their_param in their_params.items():
            our_param = our_params.get((location, name))
            if our_param is None:
                problems.append(f"{label}: {location} parameter {name!r} missing")
                continue
            if our_param.get("required") is True and their_param.get("required") is not True:
                problems.append(f"{label}: {location} parameter {name!r} required only in ours")
            problems += comparison.compare(
                our_param.get("schema"),
                their_param.get("schema"),
                f"{label} {location} parameter {name}",
            )
    return problems


def check_request_bodies(ours: Node, theirs: Node) -> list[str]:
    """Request-body properties of the reference are present in ours with compatible types."""
    comparison = SchemaComparison(ours, theirs)
    our_ops = operation_index(ours)
    problems: list[str] = []
    for (method, path), their_op in operation_index(theirs).items():
        our_op = our_ops.get((method, path))
        their_body = resolve(their_op.get("requestBody"), theirs)
        their_schema = _json_schema(their_body)
        if our_op is None or their_schema is None:
            continue
        label = _label(method, path, their_op)
        our_body = resolve(our_op.get("requestBody"), ours)
        our_schema = _json_schema(our_body)
        if our_schema is None:
            problems.append(f"{label}: JSON request body missing")
            continue
        if our_body.get("required") is True and their_body.get("required") is not True:
            problems.append(f"{label}: request body required only in ours")
        problems += comparison.compare(our_schema, their_schema, f"{label} request body")
    return problems


def check_success_responses(ours: Node, theirs: Node) -> list[str]:
    """2xx response properties of the reference are present in ours with compatible types."""
    comparison = SchemaComparison(ours, theirs)
    our_ops = operation_index(ours)
    problems: list[str] = []
    for (method, path), their_op in operation_index(theirs).items():
        our_op = our_ops.get((method, path))
        if our_op is None:
            continue
        label = _label(method, path, their_op)
        our_responses = _responses(our_op, ours)
        for status, their_response in _responses(their_op, theirs).items():
            their_schema = _json_schema(their_response)
            if not status.startswith("2") or their_schema is None:
                continue
            our_schema = _json_schema(our_responses.get(status))
            if our_schema is None:
                problems.append(f"{label}: no JSON schema for response {status}")
                continue
            problems += comparison.compare(our_schema, their_schema, f"{label} response {status}")
    return problems


def check_conformance(ours: Node, theirs: Node) -> list[str]:
    """All differences that make ours drop or rename something the reference declares."""
    return (
        check_operations(ours, theirs)
        + check_statuses(ours, theirs)
        + check_parameters(ours, theirs)
        + check_request_bodies(ours, theirs)
        + check_success_responses(ours, theirs)
    )


def _walk(node: object, where: str) -> Iterator[tuple[str, Node]]:
    if isinstance(node, Mapping):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}/{index}")


def _is_named(schema: object) -> bool:
    """True for a ``$ref``, or a union of ``$ref``s (absent schemas count as named)."""
    node = _as_node(schema)
    if not node or "$ref" in node:
        return True
    variants = _variants(node)
    return bool(variants) and all(_is_named(variant) for variant in variants)


def check_own_rules(ours: Node, expected_operations: int) -> list[str]:
    """House rules of our document that the generators and the SDK rely on."""
    problems: list[str] = []
    operations = list(iter_operations(ours))
    if len(operations) != expected_operations:
        problems.append(f"{len(operations)} operations, expected {expected_operations}")
    declared_tags = {str(_as_node(tag).get("name")) for tag in _as_list(ours.get("tags"))}
    seen_ids: dict[str, str] = {}
    for method, path, operation in operations:
        label = _label(method, path, operation)
        operation_id = operation.get("operationId")
        if not isinstance(operation_id, str) or not operation_id:
            problems.append(f"{method} {path}: operationId missing")
        elif operation_id in seen_ids:
            problems.append(f"{label}: operationId also used by {seen_ids[operation_id]}")
        else:
            seen_ids[operation_id] = f"{method} {path}"
        tags = _as_list(operation.get("tags"))
        if len(tags) != 1:
            problems.append(f"{label}: expected exactly one tag, found {len(tags)}")
        problems += [
            f"{label}: tag {tag!r} not declared in the top-level tags"
            for tag in tags
            if tag not in declared_tags
        ]
        if operation.get("x-codegen-skip") is True:
            continue
        responses = _responses(operation, ours)
        problems += [
            f"{label}: generic status {status} not documented"
            for status in ("400", "500")
            if status not in responses
        ]
        problems += [
            f"{label}: response {status} has no JSON schema"
            for status, response in responses.items()
            if status != "204" and _json_schema(response) is None
        ]
        bodies = {f"response {status}": _json_schema(r) for status, r in responses.items()}
        bodies["request body"] = _json_schema(resolve(operation.get("requestBody"), ours))
        problems += [
            f"{label}: {where} schema is inline; name it in components/schemas"
            for where, body in bodies.items()
            if not _is_named(body)
        ]
    for where, node in _walk(ours, "#"):
        ref = node.get("$ref")
        if isinstance(ref, str) and not resolve(node, ours):
            problems.append(f"{where}: $ref {ref} does not resolve")
        if node.get("format") in FORBIDDEN_FORMATS and isinstance(node.get("type"), str | list):
            problems.append(f"{where}: format {node.get('format')!r} is not allowed")
    return problems


# ----- recorded exchanges --------------------------------------------------------------------


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^/{}]+\})", template)
    return re.compile(
        "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    )


def find_operation(spec: Node, method: str, path: str) -> tuple[str, Node] | None:
    """The ``(path template, operation)`` serving a concrete request, or None."""
    concrete = path.split("?", 1)[0]
    candidates = [
        (template.count("{"), template, operation)
        for op_method, template, operation in iter_operations(spec)
        if op_method == method.upper() and _template_pattern(template).fullmatch(concrete)
    ]
    if not candidates:
        return None
    _, template, operation = min(candidates, key=lambda candidate: candidate[0])
    return template, operation


def instance_problems(spec: Node, schema: object, instance: object, where: str) -> list[str]:
    """Every reason ``instance`` is invalid against ``schema`` (a schema of ``spec``)."""
    root = {**_as_node(schema), "components": _as_node(spec.get("components"))}
    validator = jsonschema_rs.Draft202012Validator(root)
    return [
        f"{where} at /{'/'.join(str(step) for step in error.instance_path)}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def check_recorded_exchange(
    spec: Node, method: str, path: str, status: int, request_body: object, response_body: object
) -> list[str]:
    """Problems with one recorded HTTP exchange against our document.

    The response body must match the schema documented for its status; when the server
    accepted the request (status below 400) its body must match the request schema too.
    """
    found = find_operation(spec, method, path)
    if found is None:
        return [f"{method} {path}: no operation matches"]
    template, operation = found
    label = _label(method.upper(), template, operation)
    problems: list[str] = []
    response = _responses(operation, spec).get(str(status))
    schema = _json_schema(response)
    if schema is None:
        problems.append(f"{label}: no JSON schema documented for status {status}")
    else:
        problems += instance_problems(spec, schema, response_body, f"{label} response {status}")
    if request_body is not None and status < 400:
        problems += request_body_problems(spec, method, path, request_body)
    return problems


def request_body_problems(spec: Node, method: str, path: str, body: object) -> list[str]:
    """Every reason ``body`` is not a valid request body for the operation at ``path``."""
    found = find_operation(spec, method, path)
    if found is None:
        return [f"{method} {path}: no operation matches"]
    template, operation = found
    label = _label(method.upper(), template, operation)
    schema = _json_schema(resolve(operation.get("requestBody"), spec))
    if schema is None:
        return [f"{label}: no JSON request body documented"]
    return instance_problems(spec, schema, body, f"{label} request body")
