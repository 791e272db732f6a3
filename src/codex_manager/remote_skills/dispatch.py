"""The record of one handled tool call, returned by every respond/dispatch method."""

from __future__ import annotations

from dataclasses import dataclass

from codex_manager.json_types import JSONValue
from codex_manager.remote_skills.calls import SkillAnswer, ToolCall
from codex_manager.remote_skills.execution import ErrorKind, LocalOutcome
from codex_manager.remote_skills.submit import SubmissionResult, SubmissionStatus

__all__ = ["RemoteSkillDispatch"]


@dataclass(frozen=True, slots=True)
class RemoteSkillDispatch:
    """What happened to one tool call: the handler's outcome and the answer's delivery."""

    handled: bool
    """True when the skill's handler ran and returned a result (a failure answer for invalid
    arguments, an unknown tool or a handler exception leaves this ``False``)."""
    tool: str
    """The tool name the model called."""
    arguments: JSONValue
    """The arguments as received."""
    request_id: str | None
    """Where the answer was posted (string form of the JSON-RPC id)."""
    call_id: str | None
    """The model's call id, when given."""
    thread_id: str
    """The thread (session) of the call."""
    turn_id: str | None
    """The turn of the call, when known."""
    answer: SkillAnswer | None
    """The answer sent (or, for local dispatch, the one that would be sent); ``None`` when the
    call was skipped as a duplicate."""
    error: str | None
    """Why the call failed, in full (even when details were masked for the model)."""
    error_kind: ErrorKind | None
    """Which failure: ``invalid_arguments``, ``handler_error``, ``timeout``,
    ``result_conversion``, ``unknown_tool``, ``unavailable`` or ``cancelled``; ``None`` on
    success."""
    submission_status: SubmissionStatus
    """``accepted`` (200), ``not_found`` (404, or no longer pending in this session),
    ``in_flight`` (409), ``misrouted`` (taken by another thread's call after a server restart),
    ``failed``, or ``not_submitted`` (local dispatch, or a duplicate another path is
    handling)."""
    submission_idempotent: bool
    """True when the server already had an answer (404/409): a completion, not an error."""
    submission_attempts: int
    """POSTs made for this answer."""
    submission_error: str | None
    """What went wrong with delivery (``failed``, ``misrouted``, or no longer pending)."""
    duration_seconds: float
    """Wall time spent on the call here (validation, handler, submission)."""
    duplicate: bool = False
    """True when the call was skipped because another path already handled or is handling it."""
    resubmitted: bool = False
    """True when a stored answer from an earlier run was delivered again (the handler did not
    run a second time)."""

    @property
    def success(self) -> bool:
        """The ``success`` flag of the answer (``False`` when no answer was produced)."""
        return self.answer is not None and self.answer.success

    @property
    def answer_text(self) -> str:
        """The answer's text items joined by newlines (``""`` when no answer)."""
        return self.answer.text if self.answer is not None else ""

    @property
    def submitted(self) -> bool:
        """Whether nothing remains to deliver: accepted, or an idempotent completion."""
        return self.submission_status in ("accepted", "not_found", "in_flight", "misrouted")

    @classmethod
    def build(
        cls,
        call: ToolCall,
        outcome: LocalOutcome | None,
        answer: SkillAnswer | None,
        submission: SubmissionResult | None,
        duration_seconds: float,
        *,
        duplicate: bool = False,
        resubmitted: bool = False,
    ) -> RemoteSkillDispatch:
        """Assemble a record from the pieces of the pipeline."""
        return cls(
            handled=outcome.handled if outcome is not None else resubmitted,
            tool=call.tool,
            arguments=call.arguments,
            request_id=call.request_id,
            call_id=call.call_id,
            thread_id=call.thread_id,
            turn_id=call.turn_id,
            answer=answer,
            error=outcome.error if outcome is not None else None,
            error_kind=outcome.error_kind if outcome is not None else None,
            submission_status=submission.status if submission is not None else "not_submitted",
            submission_idempotent=submission.idempotent if submission is not None else False,
            submission_attempts=submission.attempts if submission is not None else 0,
            submission_error=submission.error if submission is not None else None,
            duration_seconds=duration_seconds,
            duplicate=duplicate,
            resubmitted=resubmitted,
        )
