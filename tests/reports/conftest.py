"""Report tests: a fake section set for the workflow (tests/reports/fake_section.py), the month reported on,
and a client whose month has ended."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from . import fake_section

TEMPLATES_DIR = Path(__file__).parent / "templates"


@pytest.fixture
def fake_sections(settings, monkeypatch):
    """Reports made of the fake section only (its template from tests/reports/templates)."""
    templates = [dict(engine) for engine in settings.TEMPLATES]
    templates[0]["DIRS"] = [*templates[0].get("DIRS", []), str(TEMPLATES_DIR)]
    settings.TEMPLATES = templates
    monkeypatch.setattr("apps.reports.snapshot.sections", lambda: [fake_section])
    fake_section.STATE.update(total=Decimal("1234.565"), fail=False)
    return fake_section.STATE


@pytest.fixture
def november() -> dt.date:
    return dt.date(2026, 11, 1)


@pytest.fixture
def alpha_for_reports(in_alpha):
    """alpha, existing since before November, with a retainer and an executive to email."""
    from apps.tenancy.models import Client

    Client.objects.filter(pk=in_alpha.pk).update(
        created_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC), monthly_retainer=Decimal("12000")
    )
    in_alpha.refresh_from_db()
    return in_alpha
