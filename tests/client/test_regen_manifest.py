"""``scripts/regen.py`` keeps the inputs' digest in ``generated/MANIFEST.txt``, not in headers.

With the digest in every file's header, any edit of the spec (a description, one new field)
rewrote all ~300 generated files, and the diff of ``make regen`` hid the change among them.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest
from typing_extensions import TypeAliasType

from tests.project_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def regen() -> ModuleType:
    return load_script("regen")


def test_a_header_names_its_sources_and_stays_when_their_bytes_change(
    regen: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(regen, "ROOT", tmp_path)
    source = tmp_path / "openapi" / "spec.yaml"
    source.parent.mkdir()
    source.write_text("openapi: 3.1.0\n")
    before = regen.header("datamodel-code-generator", [source])
    line_before = regen.manifest_line("models/x.py", "datamodel-code-generator", [source])
    source.write_text("openapi: 3.1.0\ninfo: {description: edited}\n")
    assert regen.header("datamodel-code-generator", [source]) == before
    assert "openapi/spec.yaml" in before
    line_after = regen.manifest_line("models/x.py", "datamodel-code-generator", [source])
    assert line_after != line_before  # the manifest alone records the new inputs
    assert line_after.startswith("models/x.py: datamodel-code-generator ")


def test_the_checked_in_manifest_covers_every_generated_output(regen: ModuleType) -> None:
    manifest = (ROOT / "generated" / regen.MANIFEST).read_text().splitlines()
    outputs = {line.split(":", 1)[0] for line in manifest if not line.startswith("#")}
    assert outputs == {
        f"{regen.REST_PACKAGE}/",
        f"{regen.MODELS_PACKAGE}/payloads.py",
        f"{regen.MODELS_PACKAGE}/stream.py",
        f"{regen.MODELS_PACKAGE}/app_server.py",
    }
    generated = sorted((ROOT / "generated").rglob("*.py"))
    assert generated
    assert not [p for p in generated if "sha256" in p.read_text().split("\n", 2)[0]]


@pytest.mark.parametrize("module", ["payloads", "stream", "app_server"])
def test_the_json_alias_is_one_every_type_checker_reads(regen: ModuleType, module: str) -> None:
    # Assigned without an annotation, the TypeAliasType read as partly unknown to pyright:
    # every free-form field (a tool call's arguments) failed its strict mode.
    path = ROOT / "generated" / regen.MODELS_PACKAGE / f"{module}.py"
    tree = ast.parse(path.read_text())
    declared = [
        inner
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for inner in node.body
        if isinstance(inner, ast.AnnAssign) and ast.unparse(inner.target) == "JsonValue"
    ]
    assert [ast.unparse(alias.annotation) for alias in declared] == ["TypeAlias"]
    at_run_time = importlib.import_module(f"{regen.MODELS_PACKAGE}.{module}").JsonValue
    assert type(at_run_time) is TypeAliasType  # what pydantic resolves
