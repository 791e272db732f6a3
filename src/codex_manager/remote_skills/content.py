"""Turning a handler's return value into the content items Codex reads.

Rules, in order:

- :class:`TextContent` / :class:`ImageContent` objects, wire-shaped dicts
  (``{"type": "inputText", "text": ...}`` / ``{"type": "inputImage", "imageUrl": ...}``) and
  lists made only of those pass through as content items;
- ``str`` becomes one text item, unchanged;
- ``bytes`` (and ``bytearray``, ``memoryview``) are refused: image or text, the skill says
  (``ImageContent.from_bytes`` or a ``str``);
- anything else (dicts, lists, numbers, ``None``, dataclasses, pydantic models, enums, dates)
  becomes one text item holding its JSON text (NaN and infinities, which JSON lacks, as the
  strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; a pydantic model's own
  ``ser_json_inf_nan`` decides for its fields, ``null`` by default).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import pydantic_core

from codex_manager.types import (
    DynamicToolCallImageContentItem,
    DynamicToolCallTextContentItem,
)

__all__ = [
    "ContentItem",
    "ImageContent",
    "InputImageItem",
    "InputTextItem",
    "ResultConversionError",
    "TextContent",
    "to_content_items",
]


InputTextItem: TypeAlias = DynamicToolCallTextContentItem
"""Wire form of a text content item: ``{"type": "inputText", "text": ...}``."""

InputImageItem: TypeAlias = DynamicToolCallImageContentItem
"""Wire form of an image content item: ``{"type": "inputImage", "imageUrl": ...}``
(an ``http(s)`` URL or a ``data:`` URL)."""

ContentItem: TypeAlias = InputTextItem | InputImageItem
"""One content item of a tool answer, as sent to codex-manager."""


@dataclass(frozen=True, slots=True)
class TextContent:
    """Explicit text content returned by a handler."""

    text: str
    """The text the model reads."""

    def to_item(self) -> InputTextItem:
        """The wire form."""
        return {"type": "inputText", "text": self.text}


@dataclass(frozen=True, slots=True)
class ImageContent:
    """Explicit image content returned by a handler: a URL or a ``data:`` URL."""

    image_url: str
    """Where the image is, or the image itself as a ``data:`` URL."""

    def __post_init__(self) -> None:
        if not self.image_url.strip():
            raise ValueError("image_url must be a non-empty string")

    @classmethod
    def from_bytes(cls, data: bytes, mime_type: str = "image/png") -> ImageContent:
        """An image given as raw bytes, sent as a base64 ``data:`` URL."""
        encoded = base64.b64encode(data).decode("ascii")
        return cls(f"data:{mime_type};base64,{encoded}")

    def to_item(self) -> InputImageItem:
        """The wire form."""
        return {"type": "inputImage", "imageUrl": self.image_url}


class ResultConversionError(TypeError):
    """A handler's return value cannot be turned into content items (not JSON-serialisable)."""


def _encodable(text: object) -> str:
    """``text``, if it is a string that can be sent as UTF-8 (the answer's JSON would fail later).

    Content objects are plain dataclasses, so a ``TextContent(3)`` is only found out here.
    """
    if not isinstance(text, str):
        raise ResultConversionError(
            f"a content item holds {type(text).__name__} where text or a URL (str) belongs"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ResultConversionError(
            f"the return value holds text that is not valid Unicode ({exc.reason} at "
            f"position {exc.start})"
        ) from exc
    return text


def _all_encodable(items: list[ContentItem]) -> list[ContentItem]:
    for item in items:
        _encodable(item["text"] if item["type"] == "inputText" else item["imageUrl"])
    return items


def _as_item(value: object) -> ContentItem | None:
    if isinstance(value, TextContent | ImageContent):
        return value.to_item()
    if isinstance(value, Mapping):
        kind = value.get("type")
        keys = set(value.keys())
        if kind == "inputText" and keys == {"type", "text"} and isinstance(value["text"], str):
            return {"type": "inputText", "text": value["text"]}
        if (
            kind == "inputImage"
            and keys == {"type", "imageUrl"}
            and isinstance(value["imageUrl"], str)
            and value["imageUrl"].strip()
        ):
            return {"type": "inputImage", "imageUrl": value["imageUrl"]}
    return None


def to_content_items(value: object) -> list[ContentItem]:
    """Convert a handler's return value into content items (see the module rules).

    Raises:
        ResultConversionError: the value is not JSON-serialisable, or holds text that is not
            valid Unicode (a lone surrogate, as ``os.fsdecode`` makes of a non-UTF-8 name).
    """
    if isinstance(value, str):
        return [{"type": "inputText", "text": _encodable(value)}]
    if isinstance(value, bytes | bytearray | memoryview):
        # As JSON, bytes would go as a quoted string when they are UTF-8 and fail otherwise:
        # whether they are an image or text is the skill's to say.
        raise ResultConversionError(
            f"the return value is {type(value).__name__}: return "
            "ImageContent.from_bytes(data, mime_type) for an image, or the text as a str"
        )
    single = _as_item(value)
    if single is not None:
        return _all_encodable([single])
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray) and value:
        items = [_as_item(element) for element in value]
        if all(item is not None for item in items):
            return _all_encodable([item for item in items if item is not None])
    try:
        # NaN and infinities are not JSON: they go as the strings "NaN", "Infinity".
        text = pydantic_core.to_json(value, inf_nan_mode="strings").decode("utf-8")
    except pydantic_core.PydanticSerializationError as exc:
        raise ResultConversionError(
            f"the return value ({type(value).__name__}) is not JSON-serialisable: {exc}"
        ) from exc
    return [{"type": "inputText", "text": text}]


def answer_items(items: Sequence[object]) -> list[ContentItem]:
    """The content items of a ``SkillAnswer`` a handler returned, checked one by one.

    Raises:
        ResultConversionError: one is not a content item, or holds text that is not valid
            Unicode.
    """
    checked: list[ContentItem] = []
    for position, item in enumerate(items):
        converted = _as_item(item)
        if converted is None:
            raise ResultConversionError(
                f"content item {position} of the SkillAnswer returned is not a content item "
                f"(an inputText or inputImage item): {item!r:.200}"
            )
        checked.append(converted)
    return _all_encodable(checked)
