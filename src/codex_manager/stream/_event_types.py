"""The event types codex-manager publishes on its stream, besides ``app_server.*`` signals.

Kept by hand from the server's event families (its stream publishes them from code, not from
a schema; the SDK's stream schema describes only the frames it decodes specially). A test
checks every type in the real server's recordings against it. Used only to warn about a
handler registered for a type nothing sends (``on_event("tool_call_request")``): the handler
is registered all the same, for a newer server may send more.
"""

from __future__ import annotations

from typing import Final

KNOWN_EVENT_TYPES: Final = frozenset(
    {
        "notification",
        "server_request",
        "approval",
        "approval_resolved",
        "tool_user_input_requested",
        "tool_user_input_resolved",
        "tool_call_requested",
        "tool_call_resolved",
        "transcript_updated",
        "turn_plan_updated",
        "turn_diff_updated",
        "thread_token_usage_updated",
        "app_list_updated",
        "mcp_oauth_completed",
        "account_updated",
        "account_login_completed",
        "account_rate_limits_updated",
        "session_deleted",
        "session_project_updated",
        "project_upserted",
        "project_deleted",
        "suggested_request_updated",
        "orchestrator_job_queued",
        "orchestrator_job_started",
        "orchestrator_job_progress",
        "orchestrator_job_completed",
        "orchestrator_job_failed",
        "orchestrator_job_canceled",
    }
)
"""Every event type but the ``app_server.<method>`` and ``app_server.request.<method>`` ones."""

NOTIFICATION_PREFIX: Final = "app_server."
REQUEST_PREFIX: Final = "app_server.request."
