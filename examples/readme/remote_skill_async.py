import asyncio
import contextlib

from codex_manager import AsyncCodexManager
from codex_manager.remote_skills import AsyncSessionSkills
from codex_manager.stream import AppServerSignal, HandlerContext


async def main() -> None:
    async with AsyncCodexManager.from_env() as cm:

        def register(skills: AsyncSessionSkills) -> None:
            @skills.skill
            async def lookup_ticket(ticket_id: str) -> dict[str, str]:
                """Lookup ticket status by id."""
                return {"ticketId": ticket_id, "status": "open"}

        created, skills = await cm.remote_skills.create_session(register=register, cwd=".")

        @cm.on_app_server_request("item.tool.call")
        async def on_tool_call(
            signal: AppServerSignal, ctx: HandlerContext[AsyncCodexManager]
        ) -> None:
            await skills.respond_to_signal(signal)

        await cm.stream.run_forever(thread_id=created["session"]["sessionId"])


# Ctrl-C: asyncio.run cancels main(), the stream stops, then KeyboardInterrupt is raised.
with contextlib.suppress(KeyboardInterrupt):
    asyncio.run(main())
