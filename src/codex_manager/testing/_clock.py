"""Identifiers and timestamps in the formats the real server uses."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime


def uuid7() -> str:
    """A time-ordered UUID (version 7), the format of codex thread, turn and item ids."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def iso_now() -> str:
    """Current UTC time as ISO-8601 with milliseconds and ``Z`` (JavaScript ``toISOString``)."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def epoch_seconds() -> int:
    """Current time in whole seconds (codex thread and turn timestamps)."""
    return int(time.time())


def epoch_millis() -> int:
    """Current time in milliseconds (transcript and item timestamps)."""
    return time.time_ns() // 1_000_000
