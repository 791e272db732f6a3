"""The server's operations and the client method that serves each one.

This table is the single place that ties an OpenAPI ``operationId`` to its HTTP method, its
route (without the API prefix) and the public method of :class:`~codex_manager.CodexManager`
that calls it. A test walks the OpenAPI spec and fails when an operation is missing here or
when a listed method does not exist on both clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Operation:
    """One server operation.

    Attributes:
        operation_id: The OpenAPI ``operationId``.
        method: HTTP method (upper case).
        path: Route template without the API prefix, e.g. ``/sessions/{sessionId}``.
        facade: Dotted path of the client method serving it, e.g. ``sessions.create``.
    """

    operation_id: str
    method: str
    path: str
    facade: str


_TABLE: tuple[tuple[str, str, str, str], ...] = (
    # system
    ("getHealth", "GET", "/health", "system.health"),
    ("getApiInfo", "GET", "", "system.info"),
    ("getCapabilities", "GET", "/capabilities", "system.capabilities"),
    ("listModels", "GET", "/models", "system.models"),
    ("listExperimentalFeatures", "GET", "/features/experimental", "system.experimental_features"),
    ("listCollaborationModes", "GET", "/collaboration/modes", "system.collaboration_modes"),
    ("listApps", "GET", "/apps", "system.apps"),
    ("connectEventStream", "GET", "/stream", "stream"),
    # agent extensions
    ("listAgentExtensions", "GET", "/agents/extensions", "extensions.list"),
    ("reloadAgentExtensions", "POST", "/agents/extensions/reload", "extensions.reload"),
    # skills
    ("listSkills", "GET", "/skills", "skills.list"),
    ("writeSkillConfig", "POST", "/skills/config", "skills.write_config"),
    ("readRemoteSkills", "GET", "/skills/remote", "skills.read_remote"),
    ("writeRemoteSkills", "POST", "/skills/remote", "skills.write_remote"),
    # mcp
    ("reloadMcpConfig", "POST", "/mcp/reload", "mcp.reload"),
    ("listMcpServers", "GET", "/mcp/servers", "mcp.list_servers"),
    ("startMcpOauthLogin", "POST", "/mcp/servers/{serverName}/oauth/login", "mcp.oauth_login"),
    # account
    ("readAccount", "GET", "/account", "account.read"),
    ("startAccountLogin", "POST", "/account/login/start", "account.start_login"),
    ("cancelAccountLogin", "POST", "/account/login/cancel", "account.cancel_login"),
    ("logoutAccount", "POST", "/account/logout", "account.logout"),
    ("readAccountRateLimits", "GET", "/account/rate-limits", "account.rate_limits"),
    # config
    ("readConfig", "GET", "/config", "config.read"),
    ("readConfigRequirements", "GET", "/config/requirements", "config.requirements"),
    ("writeConfigValue", "POST", "/config/value", "config.write_value"),
    ("writeConfigBatch", "POST", "/config/batch", "config.write_batch"),
    # commands, feedback
    ("executeCommand", "POST", "/commands/exec", "commands.execute"),
    ("uploadFeedback", "POST", "/feedback", "feedback.upload"),
    # orchestrator
    ("getOrchestratorJob", "GET", "/orchestrator/jobs/{jobId}", "orchestrator.get_job"),
    (
        "listProjectOrchestratorJobs",
        "GET",
        "/projects/{projectId}/orchestrator/jobs",
        "orchestrator.list_jobs",
    ),
    (
        "cancelOrchestratorJob",
        "POST",
        "/orchestrator/jobs/{jobId}/cancel",
        "orchestrator.cancel_job",
    ),
    # projects
    ("listProjects", "GET", "/projects", "projects.list"),
    ("createProject", "POST", "/projects", "projects.create"),
    ("renameProject", "POST", "/projects/{projectId}/rename", "projects.rename"),
    ("deleteProject", "DELETE", "/projects/{projectId}", "projects.delete"),
    (
        "listProjectAgentSessions",
        "GET",
        "/projects/{projectId}/agent-sessions",
        "projects.agent_sessions",
    ),
    ("moveProjectChats", "POST", "/projects/{projectId}/chats/move-all", "projects.move_chats"),
    (
        "deleteProjectChats",
        "POST",
        "/projects/{projectId}/chats/delete-all",
        "projects.delete_chats",
    ),
    # sessions
    ("listSessions", "GET", "/sessions", "sessions.list"),
    ("createSession", "POST", "/sessions", "sessions.create"),
    ("readSession", "GET", "/sessions/{sessionId}", "sessions.get"),
    ("deleteSession", "DELETE", "/sessions/{sessionId}", "sessions.delete"),
    (
        "upsertSessionTranscriptEntry",
        "POST",
        "/sessions/{sessionId}/transcript/upsert",
        "sessions.upsert_transcript_entry",
    ),
    ("forkSession", "POST", "/sessions/{sessionId}/fork", "sessions.fork"),
    ("compactSession", "POST", "/sessions/{sessionId}/compact", "sessions.compact"),
    ("rollbackSession", "POST", "/sessions/{sessionId}/rollback", "sessions.rollback"),
    (
        "cleanBackgroundTerminals",
        "POST",
        "/sessions/{sessionId}/background-terminals/clean",
        "sessions.clean_background_terminals",
    ),
    ("startReview", "POST", "/sessions/{sessionId}/review", "sessions.review"),
    ("steerTurn", "POST", "/sessions/{sessionId}/turns/{turnId}/steer", "sessions.steer"),
    ("renameSession", "POST", "/sessions/{sessionId}/rename", "sessions.rename"),
    ("archiveSession", "POST", "/sessions/{sessionId}/archive", "sessions.archive"),
    ("unarchiveSession", "POST", "/sessions/{sessionId}/unarchive", "sessions.unarchive"),
    ("listSessionApprovals", "GET", "/sessions/{sessionId}/approvals", "sessions.list_approvals"),
    (
        "listSessionToolInput",
        "GET",
        "/sessions/{sessionId}/tool-input",
        "sessions.list_tool_input",
    ),
    (
        "listSessionToolCalls",
        "GET",
        "/sessions/{sessionId}/tool-calls",
        "sessions.list_tool_calls",
    ),
    (
        "getSessionControls",
        "GET",
        "/sessions/{sessionId}/session-controls",
        "sessions.get_controls",
    ),
    (
        "applySessionControls",
        "POST",
        "/sessions/{sessionId}/session-controls",
        "sessions.apply_controls",
    ),
    ("getSessionSettings", "GET", "/sessions/{sessionId}/settings", "sessions.get_settings"),
    ("setSessionSettings", "POST", "/sessions/{sessionId}/settings", "sessions.set_settings"),
    (
        "deleteSessionSetting",
        "DELETE",
        "/sessions/{sessionId}/settings/{key}",
        "sessions.delete_setting",
    ),
    ("resumeSession", "POST", "/sessions/{sessionId}/resume", "sessions.resume"),
    (
        "setSessionApprovalPolicy",
        "POST",
        "/sessions/{sessionId}/approval-policy",
        "sessions.set_approval_policy",
    ),
    (
        "enqueueSuggestedSessionRequest",
        "POST",
        "/sessions/{sessionId}/suggested-request/jobs",
        "sessions.enqueue_suggested_request",
    ),
    (
        "suggestSessionRequest",
        "POST",
        "/sessions/{sessionId}/suggested-request",
        "sessions.suggest_request",
    ),
    (
        "upsertSuggestedSessionRequest",
        "POST",
        "/sessions/{sessionId}/suggested-request/upsert",
        "sessions.upsert_suggested_request",
    ),
    ("setSessionProject", "POST", "/sessions/{sessionId}/project", "sessions.set_project"),
    ("sendSessionMessage", "POST", "/sessions/{sessionId}/messages", "sessions.send_message"),
    ("interruptSessionTurn", "POST", "/sessions/{sessionId}/interrupt", "sessions.interrupt"),
    # answers and decisions
    ("respondToolCall", "POST", "/tool-calls/{requestId}/response", "tool_calls.respond"),
    ("decideApproval", "POST", "/approvals/{approvalId}/decision", "approvals.decide"),
    ("decideToolInput", "POST", "/tool-input/{requestId}/decision", "tool_input.decide"),
)

OPERATIONS: MappingProxyType[str, Operation] = MappingProxyType(
    {row[0]: Operation(*row) for row in _TABLE}
)
"""Every server operation by ``operationId``."""

REST_OPERATIONS: frozenset[str] = frozenset(OPERATIONS) - {"connectEventStream"}
"""Operations served through the generated REST bindings (all but the websocket upgrade)."""

__all__ = ["OPERATIONS", "REST_OPERATIONS", "Operation"]
