"""Pointing the SDK's warnings at the user's line, not at the SDK's own."""

from __future__ import annotations

import sys
from types import FrameType

_PASSED_THROUGH = ("codex_manager.", "contextlib", "threading", "asyncio.", "concurrent.")
"""Modules a warning looks past for the user's line: the SDK's own, and the standard library's
that call user code (``ExitStack.enter_context(skills.using(...))``, ``Thread(target=...)``)."""


def caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package.

    Call it in the function that calls :func:`warnings.warn`: the warning then names the
    user's line however deep in the SDK the call was made (and through the standard library's
    context managers and threads), so that it can be found and filtered by module.
    """
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith(_PASSED_THROUGH):
        frame = frame.f_back
        level += 1
    return level


__all__ = ["caller_stacklevel"]
