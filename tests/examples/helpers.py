"""Running an example script the way the README says: ``python examples/<path>``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The project root."""
EXAMPLES = ROOT / "examples"
"""The examples folder."""


def run_example(
    relative_path: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<relative_path>`` with this interpreter; fail the test on a non-zero exit.

    ``CODEX_MANAGER_*`` variables of the test process are removed (so the example uses its
    embedded fake server) unless ``env`` sets them.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_MANAGER_")}
    environment.update(env or {})
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / relative_path), *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, (
        f"{relative_path} exited {completed.returncode}\n"
        f"--- stdout\n{completed.stdout}\n--- stderr\n{completed.stderr}"
    )
    return completed
