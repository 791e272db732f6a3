"""Options given to the client reach ``cm.stream`` and ``cm.remote_skills``."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_manager import (
    AsyncCodexManager,
    CodexManager,
    RemoteSkillOptions,
    StreamOptions,
)


def test_sync_client_passes_component_options() -> None:
    stream_options = StreamOptions(ping_interval=3.0, max_concurrency=4)
    skill_options = RemoteSkillOptions(max_submit_attempts=5, mask_errors=True)
    with CodexManager(
        "http://127.0.0.1:9", stream_options=stream_options, skill_options=skill_options
    ) as cm:
        assert cm.stream.options is stream_options
        assert cm.remote_skills.options is skill_options


def test_sync_client_defaults_without_options() -> None:
    with CodexManager("http://127.0.0.1:9") as cm:
        assert cm.stream.options == StreamOptions()
        assert cm.remote_skills.options == RemoteSkillOptions()


async def test_async_client_passes_component_options() -> None:
    stream_options = StreamOptions(pong_timeout=2.0)
    skill_options = RemoteSkillOptions(max_concurrent_calls=3)
    async with AsyncCodexManager(
        "http://127.0.0.1:9", stream_options=stream_options, skill_options=skill_options
    ) as cm:
        assert cm.stream.options is stream_options
        assert cm.remote_skills.options is skill_options


@pytest.mark.parametrize("factory", ["from_env", "from_profile"])
def test_constructors_accept_component_options(
    factory: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    skill_options = RemoteSkillOptions(max_submit_attempts=2)
    if factory == "from_env":
        cm = CodexManager.from_env({}, skill_options=skill_options)
    else:
        cm = CodexManager.from_profile(skill_options=skill_options)
    with cm:
        assert cm.remote_skills.options is skill_options
