"""A throw-away virtualenv holding the SDK as a user's ``pip install`` leaves it.

The project's own virtualenv also holds the dev tools, and some of them change what a plain
import costs: httpx imports its command-line interface when ``click`` and ``rich`` are
installed (about 40 ms of ``import httpx`` here). The import-time target is about what a user
runs, so it is measured in a fresh virtualenv with ``pip install <project>`` (no extras);
the project virtualenv's figure is reported next to it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.control import PROJECT_ROOT

INSTALLED_SUFFIX = "-installed"
"""Suffix of the labels of measurements taken with the installed interpreter."""
INSTALL_TIMEOUT_S = 300.0
"""Budget for creating the virtualenv and installing into it (downloads included)."""


@dataclass(frozen=True, slots=True)
class InstallFailed:
    """Why there is no installed interpreter (offline, a build error, a timeout)."""

    reason: str


def _interpreter(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


@contextmanager
def installed_python(
    project: Path = PROJECT_ROOT, timeout_s: float = INSTALL_TIMEOUT_S
) -> Iterator[Path | InstallFailed]:
    """Yield the interpreter of a new virtualenv with ``project`` installed, or why not.

    The virtualenv lives in a temporary directory removed on exit.
    """
    with tempfile.TemporaryDirectory(prefix="codex-manager-bench-") as root:
        venv = Path(root) / "venv"
        steps = (
            [sys.executable, "-m", "venv", str(venv)],
            [
                str(_interpreter(venv)),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                str(project),
            ],
        )
        for command in steps:
            try:
                subprocess.run(
                    command, capture_output=True, text=True, timeout=timeout_s, cwd=root, check=True
                )
            except subprocess.CalledProcessError as exc:
                yield InstallFailed(f"{command[2]} failed: {_last_line(exc.stderr)}")
                return
            except subprocess.TimeoutExpired:
                yield InstallFailed(f"{command[2]} took more than {timeout_s:.0f} s")
                return
        yield _interpreter(venv)


__all__ = ["INSTALLED_SUFFIX", "INSTALL_TIMEOUT_S", "InstallFailed", "installed_python"]
