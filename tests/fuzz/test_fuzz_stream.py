"""Fuzz: frame decoding and method normalization never raise outside their documented errors."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codex_manager.stream.decode import decode_frame
from codex_manager.stream.errors import StreamFrameError
from codex_manager.stream.frames import AppServerSignal, StreamEvent
from codex_manager.stream.normalize import normalize_method
from tests.fuzz.strategies import frame_texts, method_names

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NORMALIZED = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*(?:\.[a-z0-9]+(?:_[a-z0-9]+)*)*")


def _touch(frame: object) -> None:
    """Read every lazily decoded part, as handlers do."""
    if isinstance(frame, StreamEvent):
        assert isinstance(frame.type, str)
        _ = (frame.thread_id, frame.payload, frame.raw_payload, repr(frame))
    if isinstance(frame, AppServerSignal):
        _ = (frame.params, frame.raw_params, frame.normalized_method, frame.request_id)
        if frame.tool_call is not None:
            assert frame.is_request
            assert isinstance(frame.tool_call.tool, str)


@FUZZ
@given(frame_texts)
def test_decode_frame_raises_only_stream_frame_error(text: str) -> None:
    """Any text decodes to a frame or raises StreamFrameError; lazy fields never raise."""
    try:
        frame = decode_frame(text)
    except StreamFrameError:
        return
    _touch(frame)


@FUZZ
@given(st.binary(max_size=200))
def test_decode_frame_rejects_binary_with_stream_frame_error(data: bytes) -> None:
    """Binary frames are refused with the documented error, never another one."""
    try:
        frame = decode_frame(data)
    except StreamFrameError:
        return
    _touch(frame)


@FUZZ
@given(method_names)
def test_normalize_method_total_and_well_formed(method: str) -> None:
    """Every string normalizes to dot-joined lower-case segments, stable when re-normalized."""
    normalized = normalize_method(method)
    assert NORMALIZED.fullmatch(normalized), (method, normalized)
    assert normalize_method(normalized.replace(".", "/")) == normalized
