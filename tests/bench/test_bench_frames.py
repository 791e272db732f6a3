"""The bench server's frames are the recorded shapes: they validate against our stream schema
and decode through the SDK exactly like the recordings."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest

from bench.frames import TOOL_CALL_TYPE, FrameFactory, thread_id_for
from bench.stats import paired_ratios, percentile, spread, steady_rate
from codex_manager.stream.decode import decode_frame
from codex_manager.stream.frames import AppServerSignal

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "openapi" / "stream.schema.json"


def _validator(definition: str) -> jsonschema_rs.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema_rs.validator_for({**schema, "$ref": f"#/$defs/{definition}"})


@pytest.fixture(scope="module")
def factory() -> FrameFactory:
    """One factory: it caches per-thread templates."""
    return FrameFactory()


def test_tool_call_frames_match_the_stream_schema(factory: FrameFactory) -> None:
    """The call pair, the resolution and the pending record validate against their schemas."""
    frames = factory.for_thread(thread_id_for(3, 1))
    call, requested = frames.call_frames(41, 7)
    _validator("ToolCallSignalFrame").validate(json.loads(call))
    _validator("ToolCallRequestedFrame").validate(json.loads(requested))
    _validator("ToolCallResolvedFrame").validate(json.loads(frames.resolved_frame("41")))
    _validator("PendingToolCall").validate(json.loads(frames.pending_json(41, 7)))


def test_noise_frames_are_event_frames_of_the_thread(factory: FrameFactory) -> None:
    """Every noise frame is a well-formed event frame; thread-scoped ones carry the thread."""
    thread = thread_id_for(5, 2)
    validator = _validator("StreamEventFrame")
    for text in factory.for_thread(thread).noise:
        frame = json.loads(text)
        validator.validate(frame)
        assert frame["threadId"] in (thread, None)
        assert frame["type"] != TOOL_CALL_TYPE


def test_call_frames_decode_to_unique_tool_calls(factory: FrameFactory) -> None:
    """Request ids and call ids vary per call; the SDK decodes them as tool calls."""
    frames = factory.for_thread(thread_id_for(0, 9))
    seen: set[tuple[object, str]] = set()
    for request_id in range(5):
        signal = decode_frame(frames.call_frames(request_id, request_id + 100)[0])
        assert isinstance(signal, AppServerSignal)
        assert signal.tool_call is not None
        assert signal.thread_id == frames.thread_id
        assert signal.request_id == request_id
        assert signal.tool_call.arguments == {"ticket_id": f"T-{request_id + 100}"}
        seen.add((signal.request_id, signal.tool_call.call_id))
    assert len(seen) == 5


def test_decode_corpus_mix(factory: FrameFactory) -> None:
    """5 % tool calls, 60 % deltas, the rest other notifications."""
    corpus = factory.decode_corpus(1000, thread_ids=[thread_id_for(i) for i in range(4)])
    types = [json.loads(text)["type"] for text in corpus]
    assert len(types) == 1000
    assert types.count(TOOL_CALL_TYPE) == 50
    assert types.count("app_server.item.agent_message.delta") == 600


def test_stats_helpers() -> None:
    """Nearest-rank percentiles, spreads and ABAB ratios."""
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    assert spread([]) is None
    summary = spread([3.0, 1.0, 2.0])
    assert summary is not None
    assert (summary.median, summary.min, summary.max, summary.n) == (2.0, 1.0, 3.0, 3)
    assert paired_ratios([2.0, 6.0], [1.0, 3.0]) == [2.0, 2.0]


def test_the_steady_rate_leaves_out_the_ramp() -> None:
    """No answer in the first 20 ms, two while the first window fills, then one every ms."""
    ms = 1_000_000
    ramp = [20 * ms, 25 * ms]
    steady = [30 * ms + i * ms for i in range(11)]  # 10 intervals of 1 ms
    arrivals = [*steady, *ramp]  # any order
    assert steady_rate(arrivals, 2) == pytest.approx(1000.0)
    # Skipping nothing counts the ramp in: 12 intervals over 20 ms.
    assert steady_rate(arrivals, 0) == pytest.approx(600.0)
    # Three answers left (two intervals, 38 -> 40 ms) still give a rate; two do not.
    assert steady_rate(arrivals, 10) == pytest.approx(1000.0)
    assert steady_rate(arrivals, 11) is None
    assert steady_rate(arrivals, -1) is None
    assert steady_rate([5, 5, 5, 5], 0) is None  # no time passed
    assert steady_rate([], 0) is None
