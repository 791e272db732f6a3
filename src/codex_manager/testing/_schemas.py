"""Request-body schemas of the routes, as the server's zod schemas describe them."""

from __future__ import annotations

from ._validation import (
    AnyValue,
    Arr,
    Body,
    Bool,
    Enum,
    Int,
    Nullable,
    Obj,
    Opt,
    Record,
    Str,
    Tagged,
)

APPROVAL_POLICY = Enum("untrusted", "on-failure", "on-request", "never")
NETWORK_ACCESS = Enum("restricted", "enabled")
FILESYSTEM_SANDBOX = Enum("read-only", "workspace-write", "danger-full-access")
EFFORT = Enum("none", "minimal", "low", "medium", "high", "xhigh")
SCOPE = Enum("session", "default")
ANY_OBJECT = Body(Obj({}, passthrough=True), required=False)

DYNAMIC_TOOL = Obj(
    {
        "name": Str(trim=True, min_len=1),
        "description": Str(trim=True, min_len=1),
        "inputSchema": Record(AnyValue()),
    }
)
DYNAMIC_TOOLS = Opt(Arr(DYNAMIC_TOOL, max_items=128))

CREATE_SESSION = Body(
    Obj(
        {
            "cwd": Opt(Str(min_len=1)),
            "model": Opt(Str(min_len=1)),
            "approvalPolicy": Opt(APPROVAL_POLICY),
            "networkAccess": Opt(NETWORK_ACCESS),
            "filesystemSandbox": Opt(FILESYSTEM_SANDBOX),
            "dynamicTools": DYNAMIC_TOOLS,
        }
    ),
    required=False,
)

RESUME_SESSION = Body(Obj({"dynamicTools": DYNAMIC_TOOLS}), required=False)

SEND_MESSAGE = Body(
    Obj(
        {
            "text": Str(trim=True, min_len=1),
            "model": Opt(Str(min_len=1)),
            "effort": Opt(EFFORT),
            "approvalPolicy": Opt(APPROVAL_POLICY),
            "networkAccess": Opt(NETWORK_ACCESS),
            "filesystemSandbox": Opt(FILESYSTEM_SANDBOX),
            "dynamicTools": DYNAMIC_TOOLS,
        }
    )
)

INTERRUPT = Body(Obj({"turnId": Opt(Str(min_len=1))}), required=False)

CONTENT_ITEM = Tagged(
    "type",
    {
        "inputText": Obj({"type": Enum("inputText"), "text": Str()}),
        "inputImage": Obj({"type": Enum("inputImage"), "imageUrl": Str(min_len=1)}),
    },
)

TOOL_CALL_RESPONSE = Body(
    Obj(
        {
            "success": Opt(Bool()),
            "contentItems": Opt(Arr(CONTENT_ITEM)),
            "text": Opt(Str()),
            "response": Opt(AnyValue()),
        }
    )
)

APPROVAL_DECISION = Body(
    Obj(
        {
            "decision": Enum("accept", "decline", "cancel"),
            "scope": Opt(Enum("turn", "session")),
        }
    )
)

TOOL_INPUT_DECISION = Body(
    Obj(
        {
            "decision": Enum("accept", "decline", "cancel"),
            "answers": Opt(Record(Obj({"answers": Arr(Str())}))),
            "response": Opt(AnyValue()),
        }
    )
)

CONTROLS_TUPLE = Obj(
    {
        "model": Nullable(Str(min_len=1)),
        "approvalPolicy": APPROVAL_POLICY,
        "networkAccess": NETWORK_ACCESS,
        "filesystemSandbox": FILESYSTEM_SANDBOX,
        "settings": Opt(Record(AnyValue())),
    }
)

APPLY_CONTROLS = Body(
    Obj(
        {
            "scope": SCOPE,
            "controls": CONTROLS_TUPLE,
            "actor": Opt(Str(min_len=1, max_len=120)),
            "source": Opt(Str(min_len=1, max_len=64)),
        }
    )
)

SET_SETTINGS = Body(
    Obj(
        {
            "scope": SCOPE,
            "key": Opt(Str(trim=True, min_len=1, max_len=240)),
            "value": Opt(AnyValue()),
            "settings": Opt(Record(AnyValue())),
            "mode": Opt(Enum("merge", "replace")),
            "actor": Opt(Str(min_len=1, max_len=120)),
            "source": Opt(Str(min_len=1, max_len=64)),
        }
    )
)

SETTINGS_QUERY = Obj(
    {
        "scope": Opt(SCOPE),
        "key": Opt(Str(trim=True, min_len=1, max_len=240)),
    }
)

DELETE_SETTING_QUERY = Obj(
    {
        "scope": Opt(SCOPE),
        "actor": Opt(Str(min_len=1, max_len=120)),
        "source": Opt(Str(min_len=1, max_len=64)),
    }
)

APPROVAL_POLICY_BODY = Body(Obj({"approvalPolicy": APPROVAL_POLICY}))

TRANSCRIPT_UPSERT = Body(
    Obj(
        {
            "messageId": Str(min_len=1),
            "turnId": Str(min_len=1),
            "role": Enum("user", "assistant", "system"),
            "type": Str(min_len=1),
            "content": Str(),
            "status": Enum("streaming", "complete", "canceled", "error"),
            "details": Opt(Str()),
            "startedAt": Opt(Int(minimum=0)),
            "completedAt": Opt(Int(minimum=0)),
        }
    )
)

ROLLBACK = Body(Obj({"numTurns": Opt(Int(minimum=1))}), required=False)

REVIEW = Body(
    Obj(
        {
            "delivery": Opt(Enum("inline", "detached")),
            "targetType": Opt(Enum("uncommittedChanges", "baseBranch", "commit", "custom")),
            "branch": Opt(Str()),
            "sha": Opt(Str()),
            "title": Opt(Str()),
            "instructions": Opt(Str()),
        }
    ),
    required=False,
)

STEER = Body(Obj({"input": Str(trim=True, min_len=1)}))

RENAME_SESSION = Body(Obj({"title": Str(trim=True, min_len=1, max_len=200)}))

SUGGESTED_REQUEST = Body(
    Obj(
        {
            "model": Opt(Str(min_len=1)),
            "effort": Opt(EFFORT),
            "draft": Opt(Str(min_len=1, max_len=4000)),
        }
    ),
    required=False,
)

SUGGESTED_REQUEST_UPSERT = Body(
    Obj(
        {
            "requestKey": Str(min_len=1),
            "status": Enum("streaming", "complete", "error", "canceled"),
            "suggestion": Opt(Str(min_len=1, max_len=8000)),
            "error": Opt(Str(min_len=1, max_len=4000)),
        }
    )
)

SESSION_PROJECT = Body(Obj({"projectId": Nullable(Str(trim=True, min_len=1, max_len=200))}))

PROJECT_NAME = Body(
    Obj(
        {
            "name": Str(trim=True, min_len=1, max_len=120),
            "workingDirectory": Opt(Nullable(Str())),
        }
    )
)

MOVE_CHATS = Body(Obj({"destination": Enum("unassigned", "archive")}))

SKILL_CONFIG = Body(Obj({"path": Str(min_len=1), "enabled": Bool()}))

REMOTE_SKILLS = Body(Obj({"hazelnutId": Str(min_len=1), "isPreload": Bool()}))

MCP_OAUTH = Body(
    Obj({"scopes": Opt(Arr(Str())), "timeoutSecs": Opt(Int(minimum=1))}),
    required=False,
)

ACCOUNT_LOGIN = Body(
    Tagged(
        "type",
        {
            "apiKey": Obj({"type": Enum("apiKey"), "apiKey": Str(min_len=1)}),
            "chatgpt": Obj({"type": Enum("chatgpt")}),
            "chatgptAuthTokens": Obj(
                {
                    "type": Enum("chatgptAuthTokens"),
                    "accessToken": Str(min_len=1),
                    "chatgptAccountId": Str(min_len=1),
                    "chatgptPlanType": Opt(Str()),
                }
            ),
        },
    )
)

ACCOUNT_LOGIN_CANCEL = Body(Obj({"loginId": Str(min_len=1)}))

CONFIG_EDIT = Obj(
    {
        "keyPath": Arr(Str(), min_items=1),
        "mergeStrategy": Enum("replace", "upsert"),
        "value": AnyValue(),
    }
)

CONFIG_VALUE = Body(
    Obj(
        {
            "keyPath": Arr(Str(), min_items=1),
            "mergeStrategy": Enum("replace", "upsert"),
            "value": AnyValue(),
            "expectedVersion": Opt(Int(minimum=0)),
            "filePath": Opt(Str()),
        }
    )
)

CONFIG_BATCH = Body(
    Obj(
        {
            "edits": Arr(CONFIG_EDIT, min_items=1),
            "expectedVersion": Opt(Int(minimum=0)),
            "filePath": Opt(Str()),
        }
    )
)

COMMAND_EXEC = Body(
    Obj(
        {
            "command": Arr(Str(), min_items=1),
            "cwd": Opt(Str()),
            "timeoutMs": Opt(Int(minimum=1)),
        }
    )
)

FEEDBACK = Body(
    Obj(
        {
            "classification": Str(min_len=1),
            "includeLogs": Bool(),
            "reason": Opt(Str()),
            "threadId": Opt(Str()),
        }
    )
)
