"""A small validator that mimics the server's zod (v4) schemas and issue objects.

The real server validates bodies with zod objects (unknown keys dropped) and answers
``400 {"status":"error","code":"invalid_request","message":"request validation failed",
"issues":[...]}``. Issues here follow zod v4's shape (see the recording
``B03_tool_call_response_invalid_body.json``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from codex_manager.json_types import JSONObject, JSONValue


class Missing:
    """Marker for an absent value (JavaScript ``undefined``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()
"""The value of an absent key."""

Value = JSONValue | Missing
Path = list[str | int]


def _received(value: Value) -> str:
    if isinstance(value, Missing):
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _path_json(path: Path) -> list[JSONValue]:
    return list(path)


def _invalid_type(expected: str, value: Value, path: Path) -> JSONObject:
    return {
        "expected": expected,
        "code": "invalid_type",
        "path": _path_json(path),
        "message": f"Invalid input: expected {expected}, received {_received(value)}",
    }


@dataclass
class Issues:
    """Collected validation issues."""

    items: list[JSONObject] = field(default_factory=list)

    def add(self, issue: JSONObject) -> None:
        """Record one issue."""
        self.items.append(issue)


class Schema:
    """Base class: ``parse`` returns the cleaned value or records issues."""

    optional = False

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        """Validate ``value`` found at ``path``."""
        raise NotImplementedError


class Str(Schema):
    """A string, optionally trimmed and length-bounded."""

    def __init__(
        self, *, min_len: int | None = None, max_len: int | None = None, trim: bool = False
    ):
        self.min_len = min_len
        self.max_len = max_len
        self.trim = trim

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        if not isinstance(value, str):
            issues.add(_invalid_type("string", value, path))
            return MISSING
        text = value.strip() if self.trim else value
        if self.min_len is not None and len(text) < self.min_len:
            issues.add(
                {
                    "origin": "string",
                    "code": "too_small",
                    "minimum": self.min_len,
                    "inclusive": True,
                    "path": _path_json(path),
                    "message": f"Too small: expected string to have >={self.min_len} characters",
                }
            )
        if self.max_len is not None and len(text) > self.max_len:
            issues.add(
                {
                    "origin": "string",
                    "code": "too_big",
                    "maximum": self.max_len,
                    "inclusive": True,
                    "path": _path_json(path),
                    "message": f"Too big: expected string to have <={self.max_len} characters",
                }
            )
        return text


class Bool(Schema):
    """A boolean."""

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        if not isinstance(value, bool):
            issues.add(_invalid_type("boolean", value, path))
            return MISSING
        return value


class Int(Schema):
    """An integer with optional bounds."""

    def __init__(self, *, minimum: int | None = None, maximum: int | None = None):
        self.minimum = minimum
        self.maximum = maximum

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        if isinstance(value, bool) or not isinstance(value, int | float):
            issues.add(_invalid_type("number", value, path))
            return MISSING
        if isinstance(value, float) and not math.isfinite(value):
            # zod's number check names these (a coerced query value: Number("abc") is NaN)
            received = "NaN" if math.isnan(value) else "Infinity"
            issue = _invalid_type("number", value, path)
            issue["received"] = received
            issue["message"] = f"Invalid input: expected number, received {received}"
            issues.add(issue)
            return MISSING
        if isinstance(value, float) and not value.is_integer():
            issues.add(
                {
                    "expected": "int",
                    "format": "safeint",
                    "code": "invalid_type",
                    "path": _path_json(path),
                    "message": "Invalid input: expected int, received number",
                }
            )
            return MISSING
        number = int(value)
        if self.minimum is not None and number < self.minimum:
            issues.add(
                {
                    "origin": "number",
                    "code": "too_small",
                    "minimum": self.minimum,
                    "inclusive": True,
                    "path": _path_json(path),
                    "message": f"Too small: expected number to be >={self.minimum}",
                }
            )
        if self.maximum is not None and number > self.maximum:
            issues.add(
                {
                    "origin": "number",
                    "code": "too_big",
                    "maximum": self.maximum,
                    "inclusive": True,
                    "path": _path_json(path),
                    "message": f"Too big: expected number to be <={self.maximum}",
                }
            )
        return number


class Enum(Schema):
    """One of a fixed set of strings."""

    def __init__(self, *values: str):
        self.values = values

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        if not isinstance(value, str) or value not in self.values:
            options = "|".join(json.dumps(v) for v in self.values)
            issues.add(
                {
                    "code": "invalid_value",
                    "values": list(self.values),
                    "path": _path_json(path),
                    "message": f"Invalid option: expected one of {options}",
                }
            )
            return MISSING
        return value


class AnyValue(Schema):
    """Any JSON value, passed through unvalidated (zod ``unknown``)."""

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        return value


class Nullable(Schema):
    """``inner`` or JSON null."""

    def __init__(self, inner: Schema):
        self.inner = inner

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        if value is None:
            return None
        return self.inner.parse(value, path, issues)


class Opt(Schema):
    """An optional key: absent is fine, present must match ``inner``."""

    optional = True

    def __init__(self, inner: Schema):
        self.inner = inner

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        if isinstance(value, Missing):
            return MISSING
        return self.inner.parse(value, path, issues)


class Arr(Schema):
    """An array of ``item`` with optional size bounds."""

    def __init__(self, item: Schema, *, min_items: int | None = None, max_items: int | None = None):
        self.item = item
        self.min_items = min_items
        self.max_items = max_items

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        if not isinstance(value, list):
            issues.add(_invalid_type("array", value, path))
            return MISSING
        if self.min_items is not None and len(value) < self.min_items:
            issues.add(
                {
                    "origin": "array",
                    "code": "too_small",
                    "minimum": self.min_items,
                    "inclusive": True,
                    "path": _path_json(path),
                    "message": f"Too small: expected array to have >={self.min_items} items",
                }
            )
        if self.max_items is not None and len(value) > self.max_items:
            issues.add(
                {
                    "origin": "array",
                    "code": "too_big",
                    "maximum": self.max_items,
                    "inclusive": True,
                    "path": _path_json(path),
                    "message": f"Too big: expected array to have <={self.max_items} items",
                }
            )
        out: list[JSONValue] = []
        for index, element in enumerate(value):
            parsed = self.item.parse(element, [*path, index], issues)
            if not isinstance(parsed, Missing):
                out.append(parsed)
        return out


class Obj(Schema):
    """A JSON object with known keys; unknown keys are dropped like zod's default."""

    def __init__(self, fields: Mapping[str, Schema], *, passthrough: bool = False):
        self.fields = dict(fields)
        self.passthrough = passthrough

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        if not isinstance(value, dict):
            issues.add(_invalid_type("object", value, path))
            return MISSING
        out: JSONObject = dict(value) if self.passthrough else {}
        for key, schema in self.fields.items():
            raw: Value = value.get(key, MISSING)
            parsed = schema.parse(raw, [*path, key], issues)
            if not isinstance(parsed, Missing):
                out[key] = parsed
        return out


class Record(Schema):
    """An object whose values all match ``value``."""

    def __init__(self, value: Schema):
        self.value = value

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        if not isinstance(value, dict):
            issues.add(_invalid_type("record", value, path))
            return MISSING
        out: JSONObject = {}
        for key, element in value.items():
            parsed = self.value.parse(element, [*path, key], issues)
            if not isinstance(parsed, Missing):
                out[key] = parsed
        return out


class Tagged(Schema):
    """A discriminated union of objects keyed by ``discriminator``."""

    def __init__(self, discriminator: str, options: Mapping[str, Obj]):
        self.discriminator = discriminator
        self.options = dict(options)

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        if not isinstance(value, dict):
            issues.add(_invalid_type("object", value, path))
            return MISSING
        tag = value.get(self.discriminator)
        option = self.options.get(tag) if isinstance(tag, str) else None
        if option is None:
            issues.add(
                {
                    "code": "invalid_union",
                    "errors": [],
                    "note": "No matching discriminator",
                    "discriminator": self.discriminator,
                    "path": [*_path_json(path), self.discriminator],
                    "message": "Invalid input",
                }
            )
            return MISSING
        return option.parse(value, path, issues)


class Body(Schema):
    """A whole request body; ``required=False`` lets an absent body through."""

    def __init__(self, inner: Schema, *, required: bool = True):
        self.inner = inner
        self.required = required

    def parse(self, value: Value, path: Path, issues: Issues) -> Value:
        if isinstance(value, Missing) and not self.required:
            return {}
        return self.inner.parse(value, path, issues)


def validate(schema: Schema, value: Value) -> tuple[JSONObject, list[JSONObject]]:
    """Validate a request body; returns the cleaned object and the zod-style issues."""
    issues = Issues()
    parsed = schema.parse(value, [], issues)
    if issues.items or not isinstance(parsed, dict):
        return {}, issues.items
    return parsed, []


def issue_custom(message: str, path: Sequence[str | int] = ()) -> JSONObject:
    """A zod ``custom`` issue (used by refinements)."""
    return {"code": "custom", "path": list(path), "message": message}
