"""Running example scripts the way the README says: ``python examples/<path>``."""

from __future__ import annotations

import contextlib
import io
import os
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The project root."""
EXAMPLES = ROOT / "examples"
"""The examples folder."""


def example_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``CODEX_MANAGER_*`` (so examples embed their fake
    server), plus ``env``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CODEX_MANAGER_")}
    environment.update(env or {})
    return environment


class ExampleRun:
    """One example started in a subprocess; :meth:`output` waits for it and checks its exit."""

    def __init__(self, relative_path: str, *args: str, env: dict[str, str] | None = None):
        self.relative_path = relative_path
        self._process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / relative_path), *args],
            cwd=ROOT,
            env=example_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._result: tuple[int, str, str] | None = None

    def output(self, timeout: float = 60.0) -> str:
        """The example's stdout; fails the test when it exits non-zero or hangs."""
        if self._result is None:
            try:
                stdout, stderr = self._process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                stdout, stderr = self._process.communicate()
                raise AssertionError(
                    f"{self.relative_path} did not finish within {timeout} s\n"
                    f"--- stdout\n{stdout}\n--- stderr\n{stderr}"
                ) from None
            self._result = (self._process.returncode, stdout, stderr)
        returncode, stdout, stderr = self._result
        assert returncode == 0, (
            f"{self.relative_path} exited {returncode}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        )
        return stdout

    def kill(self) -> None:
        """Stop the process if it is still running."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()


def run_example(relative_path: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run an example to the end; its stdout."""
    return ExampleRun(relative_path, *args, env=env).output()


def run_script_in_process(relative_path: str, *args: str) -> str:
    """Run ``examples/<relative_path>`` as ``__main__`` in this process; its stdout.

    The same as ``python examples/<relative_path> ARGS`` (``sys.argv`` is set, ``sys.path[0]``
    is the script's folder) without paying the interpreter start and imports again, so the
    whole set stays fast. The caller removes ``CODEX_MANAGER_*`` from the environment.
    """
    script = EXAMPLES / relative_path
    output = io.StringIO()
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.parent))
    try:
        with contextlib.redirect_stdout(output):
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise AssertionError(
                f"{relative_path} exited {exit_.code}\n{output.getvalue()}"
            ) from exit_
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
    return output.getvalue()
