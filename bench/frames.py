"""Realistic websocket frames, built from the real-server recordings in ``recorded_frames.json``.

The templates are serialized once (compact JSON, like the server's ``JSON.stringify``); a frame
for a given thread and request id is then a few string replacements, so the bench server spends
its CPU on the wire, not on building payloads.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import msgspec

_RECORDINGS = Path(__file__).with_name("recorded_frames.json")

_TID = "@@TID@@"
_RID_STR = "@@RID@@"
_RID_NUM = '"@@RIDNUM@@"'
_CALL = "@@CALL@@"
_ARG = "@@ARG@@"

TOOL_NAME = "lookup_ticket"
"""The tool every benchmark call invokes (the one in the recordings)."""

TOOL_CALL_TYPE = "app_server.request.item.tool.call"
"""Event type of the frame that carries a tool call."""


class _Frame(msgspec.Struct):
    type: str
    threadId: str | None  # noqa: N815 - wire name
    payload: msgspec.Raw


class _Recordings(msgspec.Struct):
    recorded_thread_id: str
    tool_call: msgspec.Raw
    tool_call_requested: msgspec.Raw
    tool_call_resolved: msgspec.Raw
    delta: msgspec.Raw
    notifications: list[msgspec.Raw]


def _compact(raw: msgspec.Raw) -> str:
    """Re-serialize a recorded frame without whitespace, as the server sends it."""
    return json.dumps(json.loads(bytes(raw)), separators=(",", ":"), ensure_ascii=False)


def _load() -> _Recordings:
    return msgspec.json.decode(_RECORDINGS.read_bytes(), type=_Recordings)


def _templatize_call(text: str, recorded_thread: str) -> str:
    """Turn a recorded tool-call frame into a template with markers for the varying fields."""
    return (
        text.replace(recorded_thread, _TID)
        .replace('"requestId":0', f'"requestId":{_RID_NUM}')
        .replace('"requestId":"0"', f'"requestId":"{_RID_STR}"')
        .replace("call_000003", _CALL)
        .replace("ABC-1", _ARG)
    )


@dataclass(frozen=True, slots=True)
class ThreadFrames:
    """Pre-serialized frame templates for one thread id."""

    thread_id: str
    tool_call: str
    requested: str
    resolved: str
    pending_record: str
    noise: tuple[str, ...]

    def call_frames(self, request_id: int, call_index: int) -> tuple[str, str]:
        """The ``app_server.request.item.tool.call`` frame and its ``tool_call_requested``."""
        rid = str(request_id)
        call_id = f"call_{call_index:06d}"
        arg = f"T-{call_index}"
        first = self.tool_call.replace(_RID_NUM, rid).replace(_CALL, call_id).replace(_ARG, arg)
        second = self.requested.replace(_RID_STR, rid).replace(_CALL, call_id).replace(_ARG, arg)
        return first, second

    def pending_json(self, request_id: int, call_index: int) -> str:
        """The PendingToolCall record served by ``GET /api/sessions/{id}/tool-calls``."""
        return (
            self.pending_record.replace(_RID_STR, str(request_id))
            .replace(_CALL, f"call_{call_index:06d}")
            .replace(_ARG, f"T-{call_index}")
        )

    def resolved_frame(self, request_id: str) -> str:
        """The ``tool_call_resolved`` frame published after an accepted answer."""
        return self.resolved.replace(_RID_STR, request_id)


class FrameFactory:
    """Builds frames for any thread id from the recorded shapes, caching per thread."""

    def __init__(self) -> None:
        rec = _load()
        self._recorded_thread = rec.recorded_thread_id
        self._tool_call = _templatize_call(_compact(rec.tool_call), rec.recorded_thread_id)
        self._requested = _templatize_call(
            _compact(rec.tool_call_requested), rec.recorded_thread_id
        )
        self._resolved = _templatize_call(_compact(rec.tool_call_resolved), rec.recorded_thread_id)
        requested_frame = msgspec.json.decode(self._requested.encode(), type=_Frame)
        self._pending = bytes(requested_frame.payload).decode()
        self._delta = _compact(rec.delta).replace(rec.recorded_thread_id, _TID)
        self._notifications = tuple(
            _compact(n).replace(rec.recorded_thread_id, _TID) for n in rec.notifications
        )
        self._cache: dict[str, ThreadFrames] = {}

    def for_thread(self, thread_id: str) -> ThreadFrames:
        """Frame templates for ``thread_id``."""
        cached = self._cache.get(thread_id)
        if cached is not None:
            return cached
        # Noise between calls alternates deltas with the other recorded notification shapes.
        noise: list[str] = []
        for note in self._notifications:
            noise.append(self._delta.replace(_TID, thread_id))
            noise.append(note.replace(_TID, thread_id))
        frames = ThreadFrames(
            thread_id=thread_id,
            tool_call=self._tool_call.replace(_TID, thread_id),
            requested=self._requested.replace(_TID, thread_id),
            resolved=self._resolved.replace(_TID, thread_id),
            pending_record=self._pending.replace(_TID, thread_id),
            noise=tuple(noise),
        )
        self._cache[thread_id] = frames
        return frames

    def decode_corpus(
        self,
        count: int,
        *,
        thread_ids: list[str],
        tool_call_share: float = 0.05,
        delta_share: float = 0.60,
        seed: int = 7,
    ) -> list[str]:
        """A shuffled list of ``count`` recorded-shape frames for the decode+route benchmark.

        ``tool_call_share`` of them are tool-call frames (unique request ids), ``delta_share``
        agent-message deltas, and the rest the other recorded notification shapes.
        """
        rng = random.Random(seed)
        n_calls = round(count * tool_call_share)
        n_deltas = round(count * delta_share)
        n_notes = count - n_calls - n_deltas
        frames: list[str] = []
        for i in range(n_calls):
            thread = self.for_thread(thread_ids[i % len(thread_ids)])
            frames.append(thread.call_frames(i, i)[0])
        for i in range(n_deltas):
            frames.append(self._delta.replace(_TID, thread_ids[i % len(thread_ids)]))
        for i in range(n_notes):
            note = self._notifications[i % len(self._notifications)]
            frames.append(note.replace(_TID, thread_ids[i % len(thread_ids)]))
        rng.shuffle(frames)
        return frames


def thread_id_for(index: int, salt: int = 0) -> str:
    """A UUIDv7-looking thread id, unique per (index, salt)."""
    return f"01a20cd7-{salt:04x}-7cc1-8ea5-{index:012x}"
