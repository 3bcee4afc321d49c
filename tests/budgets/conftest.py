"""Budget fixtures: a clock frozen on 20 Nov 2026 (10:00 UTC), and eight weeks of alpha's ledger booked through
the real path (load, allocate, roll up, listeners) with known daily amounts per scope:

    claims department  60 EUR/day, OpenAI "OpenAI API", tag team=claims
    claims-triage      10 EUR/day, OpenAI "OpenAI API", tag agent=claims-triage (an asset of claims)
    risk department    30 EUR/day, Anthropic "Claude API", tag team=risk
    unallocated         5 USD/day, OpenAI "OpenAI API" (another currency: never in an EUR budget)
    a credit          -15 EUR on 10 Nov for claims

so 1–19 November holds 1,885 EUR for the whole client and 95 USD left out.
"""

from __future__ import annotations

import datetime as dt

import pytest
from freezegun import freeze_time

from tests.finops.conftest import openai_day_row

TODAY = dt.date(2026, 11, 20)
NOV = dt.date(2026, 11, 1)
FIRST_BOOKED = dt.date(2026, 9, 20)


@pytest.fixture
def clock():
    with freeze_time("2026-11-20 10:00:00", tick=True) as frozen:
        yield frozen


@pytest.fixture
def org(in_alpha, clock):
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


def day_rows(day: dt.date) -> list[dict]:
    claude = {"provider_name": "Anthropic", "service_name": "Claude API", "billing_account_id": "anthropic-org"}
    rows = [
        openai_day_row(day, "60.00", tags={"team": "claims"}),
        openai_day_row(day, "10.00", tags={"agent": "claims-triage"}),
        openai_day_row(day, "30.00", tags={"team": "risk"}, **claude),
        openai_day_row(day, "5.00", billing_currency="USD"),
    ]
    for row in rows[:3]:
        row["billing_currency"] = "EUR"
    if day == dt.date(2026, 11, 10):
        rows.append(
            openai_day_row(day, "-15.00", tags={"team": "claims"}, charge_category="Credit", billing_currency="EUR")
        )
    return rows


@pytest.fixture
def source(in_alpha):
    from apps.finops.models import BillingSource

    return BillingSource.objects.create(name="OpenAI and Anthropic", kind="openai")


def book_days(source, first: dt.date, last: dt.date, rows_for=day_rows):
    """Book [first, last] (inclusive) the way a connector run does, everything after the booking included."""
    from tests.finops.test_allocation import book

    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    rows = [row for day in days for row in rows_for(day)]
    return book(source, rows, start=first.isoformat(), end=(last + dt.timedelta(days=1)).isoformat())


@pytest.fixture
def ledger(org, source):
    book_days(source, FIRST_BOOKED, TODAY - dt.timedelta(days=1))
    return {**org, "source": source}


def make_budget(**fields):
    from apps.budgets.services import budget_save

    values = {"name": "Whole client", "amount": "3000", "scope": "client"} | fields
    return budget_save(**values)
