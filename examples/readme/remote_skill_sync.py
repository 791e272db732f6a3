from codex_manager import CodexManager
from codex_manager.remote_skills import SessionSkills
from codex_manager.stream import AppServerSignal, HandlerContext

with CodexManager.from_env() as cm:

    def register(skills: SessionSkills) -> None:
        @skills.skill
        def lookup_ticket(ticket_id: str) -> dict[str, str]:
            """Lookup ticket status by id."""
            return {"ticketId": ticket_id, "status": "open"}

    created, skills = cm.remote_skills.create_session(register=register, cwd=".")

    @cm.on_app_server_request("item.tool.call")
    def on_tool_call(signal: AppServerSignal, ctx: HandlerContext[CodexManager]) -> None:
        skills.respond_to_signal(signal)  # runs lookup_ticket, posts its answer

    cm.stream.run_forever(thread_id=created["session"]["sessionId"])
