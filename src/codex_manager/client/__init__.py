"""The REST client: :class:`CodexManager` (sync) and :class:`AsyncCodexManager` (async)."""

from __future__ import annotations

from codex_manager.client._client import AsyncCodexManager, CodexManager
from codex_manager.client._http import HttpTransportChoice

__all__ = ["AsyncCodexManager", "CodexManager", "HttpTransportChoice"]
