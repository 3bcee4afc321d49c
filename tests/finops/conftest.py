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


def openai_day_row(day, amount: str, **overrides) -> dict:
    """One day of OpenAI spend as a ledger row (what a connector would produce), for service-level tests."""
    import datetime as dt
    from decimal import Decimal

    from apps.finops.focus import day_bounds, ledger_row, month_bounds

    start, end = day_bounds(dt.date.fromisoformat(day) if isinstance(day, str) else day)
    period_start, period_end = month_bounds(start)
    values = dict(
        billing_account_id="org-1",
        billing_currency="USD",
        billing_period_start=period_start,
        billing_period_end=period_end,
        charge_period_start=start,
        charge_period_end=end,
        charge_category="Usage",
        billed_cost=Decimal(amount),
        effective_cost=Decimal(amount),
        provider_name="OpenAI",
        service_name="OpenAI API",
        service_category="AI and Machine Learning",
    )
    return ledger_row(**{**values, **overrides})
