"""Pointing the SDK's warnings at the user's line, not at the SDK's own."""

from __future__ import annotations

import sys
from types import FrameType

_PASSED_THROUGH_PACKAGES = ("codex_manager.", "asyncio.", "concurrent.")
_PASSED_THROUGH_MODULES = frozenset({"contextlib", "threading"})
"""Code a warning looks past for the user's line: the SDK's own, and the standard library's
that calls user code (``ExitStack.enter_context(skills.using(...))``, ``Thread(target=...)``)."""


def _passed_through(frame: FrameType) -> bool:
    name: str = frame.f_globals.get("__name__", "")
    return name.startswith(_PASSED_THROUGH_PACKAGES) or name in _PASSED_THROUGH_MODULES


def caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package.

    Call it in the function that calls :func:`warnings.warn`: the warning then names the
    user's line however deep in the SDK the call was made (and through the standard library's
    context managers and threads), so that it can be found and filtered by module. With no
    such frame (an SDK call run directly as a thread's target) it names the outermost one.
    """
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_back is not None and _passed_through(frame):
        frame = frame.f_back
        level += 1
    return level


__all__ = ["caller_stacklevel"]
