"""What the sync stream's socket and the sync answer road's connections share."""

from __future__ import annotations

import socket
import struct


def set_timeout(sock: socket.socket, seconds: float | None) -> None:
    """Give ``sock`` the timeout ``seconds`` unless it has it already.

    ``settimeout`` is a system call that gives up the GIL, and the callers ask for the same
    value on almost every read or request.
    """
    if sock.gettimeout() != seconds:
        sock.settimeout(seconds)


def timeval(seconds: float | None) -> bytes:
    """``struct timeval`` for ``seconds`` (``SO_SNDTIMEO``, ``SO_RCVTIMEO``); ``None``: no limit."""
    if seconds is None:
        return struct.pack("@ll", 0, 0)  # all zero: no limit
    whole = int(seconds)
    micros = int((seconds - whole) * 1_000_000)
    if whole == 0 and micros == 0:
        micros = 1  # zero would mean "wait forever", the opposite of a zero limit
    return struct.pack("@ll", whole, micros)


__all__ = ["set_timeout", "timeval"]
