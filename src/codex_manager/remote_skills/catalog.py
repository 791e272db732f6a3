"""Results of pushing the skill catalog after a session was created.

Codex fixes a session's tool list when the session starts: with codex 0.169 ``dynamicTools``
sent later (``POST /api/sessions/{id}/resume`` or with a message) is accepted by the server and
has no effect on what the model sees (``server-contract.md`` 11.4). So these results never claim
that a change reached the model; they say what the model was given at creation, which tools
exist only locally, and which were removed (calls to those get a "no longer available" answer).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

from codex_manager._warnings import caller_stacklevel
from codex_manager.remote_skills.registry import CatalogView

__all__ = [
    "CatalogSync",
    "CatalogWarning",
    "catalog_warning_text",
    "late_registration_text",
    "warn_catalog",
]


class CatalogWarning(UserWarning):
    """The local catalog differs from what the model was given (or that is unknown)."""


@dataclass(frozen=True, slots=True)
class CatalogSync:
    """What ``sync_runtime()`` / ``prepare_catalog()`` did, stated honestly."""

    method: Literal["resume", "deferred_to_send", "failed"]
    """``resume``: the server accepted the catalog via ``POST /sessions/{id}/resume``;
    ``deferred_to_send``: the session is not materialized yet and the catalog travels with the
    next ``send()``; ``failed``: the push did not happen (see :attr:`error`)."""
    tools_sent: tuple[str, ...]
    """Tools in the pushed catalog (the local registry at the time of the call)."""
    model_tools: tuple[str, ...] | None
    """Tools the model was given when the session was created; ``None`` when this process did
    not create the session and cannot know."""
    local_only: tuple[str, ...]
    """Registered locally but not given at creation: the model may not be able to call them."""
    removed: tuple[str, ...]
    """Given at creation but unregistered since: calls to them get a "no longer available"
    answer."""
    warning: str | None
    """Plain statement of the mismatch (also emitted as a :class:`CatalogWarning`)."""
    error: str | None = None
    """Why the push failed, for ``method == "failed"``."""

    @property
    def pushed(self) -> bool:
        """Whether the server accepted the catalog (not whether the model sees it)."""
        return self.method == "resume"


def catalog_warning_text(view: CatalogView) -> str | None:
    """The warning for a catalog view, or ``None`` when local and creation catalogs agree."""
    if view.model_tools is None:
        return (
            "This registry did not create the session, so the tools the model was given are "
            "unknown; Codex fixes the tool list when a session starts and ignores later "
            "dynamicTools (codex 0.169), so tools registered now may never be called."
        )
    parts: list[str] = []
    if view.local_only:
        parts.append(
            "registered after the session was created, the model may never call them "
            "(Codex fixes the tool list at session start): " + ", ".join(view.local_only)
        )
    if view.removed:
        parts.append(
            "unregistered after creation, calls get a 'no longer available' answer: "
            + ", ".join(view.removed)
        )
    if not parts:
        return None
    return "Catalog differs from the one given to the model; " + "; ".join(parts) + "."


def warn_catalog(text: str | None) -> None:
    """Emit ``text`` as a :class:`CatalogWarning` (at the user's line) when there is one."""
    if text is not None:
        warnings.warn(text, CatalogWarning, stacklevel=caller_stacklevel())


def late_registration_text(name: str, model_tools: tuple[str, ...] | None) -> str | None:
    """The warning for registering ``name`` on a session whose tools were fixed at creation."""
    if model_tools is None or name in model_tools:
        return None  # not created here (unknown: said by sync_runtime()), or offered then
    return (
        f"remote skill {name!r} was registered after its session was created: Codex fixes the "
        "tool list when a session starts, so the model may never call it (register skills in "
        "create_session(register=...), or create a new session)"
    )
