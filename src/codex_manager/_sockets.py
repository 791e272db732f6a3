"""What the sync stream's socket and the sync answer road's connections share."""

from __future__ import annotations

import socket


def set_timeout(sock: socket.socket, seconds: float | None) -> None:
    """Give ``sock`` the timeout ``seconds`` unless it has it already.

    ``settimeout`` is a system call that gives up the GIL, and the callers ask for the same
    value on almost every read or request.
    """
    if sock.gettimeout() != seconds:
        sock.settimeout(seconds)


__all__ = ["set_timeout"]
