"""FinOps fixtures: the shared sample files, and sources inside alpha's schema."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FOCUS_DATA = SHARED_DATA / "focus"


def shared_file(name: str) -> Path:
    path = FOCUS_DATA / name
    if not path.exists():
        pytest.fail(f"shared sample file missing: {path}")
    return path


@pytest.fixture
def upload_source(in_alpha):
    from apps.finops.services import focus_upload_source

    return focus_upload_source()
