"""Shared test fixtures: access to ``../shared`` (reference spec, real-server recordings)."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = PROJECT_ROOT.parent / "shared"
REFERENCE_SPEC = SHARED_DIR / "reference" / "codex-manager-openapi.json"
RECORDINGS_DIR = SHARED_DIR / "fixtures" / "real-server"


@pytest.fixture
def shared_dir() -> Path:
    """The shared folder beside the project; skips the test cleanly when it is absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"../shared is absent ({SHARED_DIR}); reference material unavailable")
    return SHARED_DIR


@pytest.fixture
def recordings_dir(shared_dir: Path) -> Path:
    """Real-server recordings (``../shared/fixtures/real-server``); skips when absent."""
    path = shared_dir / "fixtures" / "real-server"
    if not path.is_dir():
        pytest.skip(f"real-server recordings are absent ({path})")
    return path


@pytest.fixture
def reference_spec_path(shared_dir: Path) -> Path:
    """The server's published OpenAPI document; skips when absent."""
    if not REFERENCE_SPEC.is_file():
        pytest.skip(f"reference OpenAPI document is absent ({REFERENCE_SPEC})")
    return REFERENCE_SPEC
