"""``scripts/regen.py`` keeps the inputs' digest in ``generated/MANIFEST.txt``, not in headers.

With the digest in every file's header, any edit of the spec (a description, one new field)
rewrote all ~300 generated files, and the diff of ``make regen`` hid the change among them.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

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
