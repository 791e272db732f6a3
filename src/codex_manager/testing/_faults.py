"""Fault-injection settings, read by the routes and the hub."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Faults:
    """Pending faults. Only the server loop reads and changes them."""

    failing_answers: int = 0
    holds_by_request: dict[str, float] = field(default_factory=dict)
    holds_next: list[float] = field(default_factory=list)
    response_delay: float = 0.0
    delete_on_tool_call: int = 0
    failing_decisions: int = 0

    def take_answer_failure(self) -> bool:
        """Consume one "answer 500" fault, if any is armed."""
        if self.failing_answers > 0:
            self.failing_answers -= 1
            return True
        return False

    def take_hold(self, request_id: str) -> float:
        """Seconds to keep this answer in the in-flight window (0 when no hold is armed)."""
        if request_id in self.holds_by_request:
            return self.holds_by_request.pop(request_id)
        if self.holds_next:
            return self.holds_next.pop(0)
        return 0.0

    def take_delete_on_tool_call(self) -> bool:
        """Consume one "delete the session when it makes a tool call" fault."""
        if self.delete_on_tool_call > 0:
            self.delete_on_tool_call -= 1
            return True
        return False

    def take_decision_failure(self) -> bool:
        """Consume one "decision 500" fault (approvals and tool input)."""
        if self.failing_decisions > 0:
            self.failing_decisions -= 1
            return True
        return False

    def clear(self) -> None:
        """Disarm everything."""
        self.failing_answers = 0
        self.holds_by_request.clear()
        self.holds_next.clear()
        self.response_delay = 0.0
        self.delete_on_tool_call = 0
        self.failing_decisions = 0
