"""The code in docs/*.md runs as written.

The ```python blocks of a page run in order in one namespace (like a notebook) against the
``FakeCodexManager`` the page starts itself. ```py blocks are excerpts and are not run.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from codex_manager import CodexManager
from codex_manager.testing import FakeCodexManager

from .helpers import ROOT

DOCS = ROOT / "docs"


def python_blocks(page: Path) -> list[str]:
    """The runnable blocks of a page."""
    return re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)


PAGES = sorted(page for page in DOCS.glob("*.md") if python_blocks(page))


def test_the_guides_have_runnable_code() -> None:
    names = {page.name for page in PAGES}
    assert {"getting-started.md", "remote-skills.md", "stream-and-handlers.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_runs(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODEX_MANAGER_API_BASE", raising=False)
    # A real module, so dataclasses and pydantic can resolve the page's classes.
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    try:
        for number, block in enumerate(python_blocks(page), start=1):
            code = compile(block, f"{page.name} block {number}", "exec")
            exec(code, namespace)
    finally:
        # A failing page must not leak its server or client into the next test.
        for value in namespace.values():
            if isinstance(value, CodexManager):
                value.close()
            elif isinstance(value, FakeCodexManager):
                value.stop()


def test_the_pages_code_passes_mypy_strict(tmp_path: Path) -> None:
    # The guides are written for strictly typed code bases: what they show must type-check as
    # the users' own code would (mypy's project cache, warm after `make typecheck`).
    mypy_api = pytest.importorskip("mypy.api")
    for page in PAGES:
        module = tmp_path / f"docs_{page.stem.replace('-', '_')}.py"
        module.write_text("\n\n".join(python_blocks(page)), encoding="utf-8")
    stdout, stderr, status = mypy_api.run(
        [
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            str(tmp_path),
        ]
    )
    assert status == 0, stdout + stderr
