"""FinOps fixtures: the real sample billing files, and sources inside alpha's schema."""

from __future__ import annotations

from pathlib import Path

import pytest

# Unmodified copies of the public sample files (tests/finops/data/SOURCES.md), so the tests run in any clone.
SAMPLE_DATA = Path(__file__).resolve().parent / "data"
# The design folder's originals, beside the repository when it is checked out in the workspace.
SHARED_FOCUS_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "focus"


def shared_file(name: str) -> Path:
    path = SAMPLE_DATA / name
    if not path.exists():
        pytest.fail(f"sample file missing: {path}")
    return path


@pytest.fixture
def upload_source(in_alpha):
    from apps.finops.services import focus_upload_source

    return focus_upload_source()
