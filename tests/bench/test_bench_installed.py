"""The import-time measurement in a freshly installed virtualenv, and what happens without one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bench import scenarios
from bench.installed import INSTALLED_SUFFIX, InstallFailed, installed_python
from bench.report import micro_figures
from bench.results import MicroResult


def _unmeasured(name: str) -> MicroResult:
    return MicroResult(name=name, unit="-", samples={}, unavailable={})


@pytest.mark.timeout(120)
def test_a_project_that_cannot_be_installed_gives_a_reason(tmp_path: Path) -> None:
    """The virtualenv is made (offline: ensurepip), the install fails, the reason says why."""
    with installed_python(project=tmp_path / "missing") as outcome:
        assert isinstance(outcome, InstallFailed)
        assert "pip failed" in outcome.reason
        assert "missing" in outcome.reason


@pytest.mark.timeout(120)
def test_the_figure_reports_a_failed_install_instead_of_a_value() -> None:
    sizes = dataclasses.replace(scenarios.QUICK, import_reps=1)
    imports = scenarios.import_time(sizes, lambda _line: None, InstallFailed("offline"))
    assert imports.unavailable == {
        label + INSTALLED_SUFFIX: "offline" for label in scenarios.IMPORT_COMMANDS
    }
    assert len(imports.samples["sdk"]) == 1  # the project virtualenv was measured all the same
    figures = {f.key: f for f in micro_figures(_unmeasured("decode"), imports, _unmeasured("mem"))}
    installed = figures["import_installed_ms"]
    assert installed.sdk is None
    assert installed.note == "unavailable: offline"
    assert figures["import_ms"].sdk is not None


def test_a_quick_run_has_no_installed_figure() -> None:
    sizes = dataclasses.replace(scenarios.QUICK, import_reps=1)
    imports = scenarios.import_time(sizes, lambda _line: None)
    assert not any(label.endswith(INSTALLED_SUFFIX) for label in imports.samples)
    keys = {f.key for f in micro_figures(_unmeasured("decode"), imports, _unmeasured("mem"))}
    assert "import_installed_ms" not in keys
    assert "import_ms" in keys
