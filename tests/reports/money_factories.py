"""Fixtures and helpers of the money sections' tests (spend, unit economics, value, anomalies, recommendations).

Data is made through the apps' own paths: ledger rows are booked as a connector run books them (load,
allocation, rollup — tests.finops.test_allocation.book), budgets, units, recommendations and incidents through
their services or models, as their own tests do. The report month is March 2026 in alpha (Europe/Paris, EUR),
with the clock frozen on 2 April 2026.

Import the fixtures into a test module with `from tests.reports.money_factories import *  # noqa: F403`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from apps.reports.period import ReportPeriod
from tests.finops.conftest import openai_day_row

from .section_support import alpha_period, assert_highlights, render_both

MONTH = dt.date(2026, 3, 1)
NOW = "2026-04-02 10:00:00"
CENT = Decimal("0.01")

__all__ = [
    "CENT",
    "MONTH",
    "assert_highlights",
    "book_rows",
    "clock",
    "day_row",
    "ledger_sum",
    "make_period",
    "org",
    "render_both",
    "source",
]


@pytest.fixture
def clock():
    with freeze_time(NOW, tick=True) as frozen:
        yield frozen


@pytest.fixture
def org(in_alpha, clock):
    """Two departments, an agent of Claims, and the allocation rules that route tagged rows to them."""
    from apps.finops.allocation import allocation_rule_save
    from apps.inventory.models import Agent, Department

    claims = Department.objects.create(name="Claims", code="claims")
    risk = Department.objects.create(name="Risk", code="risk")
    triage = Agent.objects.create(name="claims-triage", kind="agent", department=claims)
    allocation_rule_save(name="Claims", match_field="tag", match_key="team", match_value="claims", department=claims)
    allocation_rule_save(name="Risk", match_field="tag", match_key="team", match_value="risk", department=risk)
    allocation_rule_save(
        name="Triage agent", match_field="tag", match_key="agent", match_value="claims-triage", asset=triage
    )
    return {"claims": claims, "risk": risk, "triage": triage}


@pytest.fixture
def source(in_alpha):
    from apps.finops.models import BillingSource

    return BillingSource.objects.create(name="Cloud and AI", kind="openai")


def day_row(day: dt.date | str, amount: str, *, currency: str = "EUR", **overrides) -> dict:
    """One UTC day of spend: OpenAI API (AI and Machine Learning) unless the overrides say otherwise."""
    return openai_day_row(day, amount, billing_currency=currency, **overrides)


def book_rows(source, rows: list[dict], *, first: dt.date, last: dt.date):
    """Book rows for the UTC days [first, last] (inclusive), with allocation and the rollup after it."""
    from tests.finops.test_allocation import book

    return book(source, rows, start=first.isoformat(), end=(last + dt.timedelta(days=1)).isoformat())


def ledger_sum(*, first: dt.date, end: dt.date, currency: str = "EUR", **filters) -> Decimal:
    """Σ effective_cost of the raw ledger rows charged on [first, end) UTC: what a report figure reconciles to."""
    from django.db.models import Sum

    from apps.finops.models import CostRecord

    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    stop = dt.datetime.combine(end, dt.time(), dt.UTC)
    total = CostRecord.objects.filter(
        charge_period_start__gte=start, charge_period_start__lt=stop, billing_currency=currency, **filters
    ).aggregate(total=Sum("effective_cost"))["total"]
    return (total or Decimal(0)).quantize(CENT)


def make_period(month: dt.date = MONTH, *, retainer: str = "1500.00", currency: str = "EUR") -> ReportPeriod:
    return alpha_period(month, retainer=retainer, currency=currency)
