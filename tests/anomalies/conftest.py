"""Anomaly fixtures: a clock frozen on 20 Nov 2026 (10:00 UTC) and 100 days of alpha's ledger booked through the
real path (load, allocate, roll up, booking listeners — so the anomaly rescan runs as it does in production):

    OpenAI API   (OpenAI, account org-1)            800 USD on weekdays, 300 at weekends, ±1 % wobble
    Claude API   (Anthropic, account anthropic-org) 300 USD a day, 200 of it tagged agent=claims-triage → the
                 agent asset (so the agent, the service and the client each have their own series)

`spikes` adds to a day's OpenAI spend ({day: amount}); `extra` adds whole rows to a day.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
import rest_framework.throttling  # noqa: F401 — imported before any clock is frozen, so its timer is the real one
from freezegun import freeze_time

from tests.finops.conftest import openai_day_row

TODAY = dt.date(2026, 11, 20)
FIRST_BOOKED = TODAY - dt.timedelta(days=100)
CLAUDE = {"provider_name": "Anthropic", "service_name": "Claude API", "billing_account_id": "anthropic-org"}


@pytest.fixture
def clock():
    with freeze_time("2026-11-20 10:00:00", tick=True) as frozen:
        yield frozen


@pytest.fixture(autouse=True)
def throttle_clock(monkeypatch):
    """DRF keeps time.time as a class attribute; under freezegun's fake it would be bound as a method."""
    import time

    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: time.time()))


def openai_amount(day: dt.date) -> Decimal:
    base = Decimal(300 if day.weekday() >= 5 else 800)
    wobble = Decimal(random.Random(day.toordinal()).randint(-10, 10)) / 1000  # ±1 %
    return (base * (1 + wobble)).quantize(Decimal("0.01"))


def day_rows(day: dt.date, *, spikes: dict | None = None, extra: dict | None = None) -> list[dict]:
    amount = openai_amount(day) + Decimal((spikes or {}).get(day, 0))
    rows = [
        openai_day_row(day, str(amount)),
        openai_day_row(day, "200.00", tags={"agent": "claims-triage"}, **CLAUDE),
        openai_day_row(day, "100.00", tags={"team": "platform"}, **CLAUDE),
    ]
    rows.extend(row for row in (extra or {}).get(day, []))
    return rows


def book_days(source, first: dt.date, last: dt.date, **options):
    """Book [first, last] (inclusive) the way a connector run does, everything after the booking included."""
    from tests.finops.test_allocation import book

    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    rows = [row for day in days for row in day_rows(day, **options)]
    return book(source, rows, start=first.isoformat(), end=(last + dt.timedelta(days=1)).isoformat())


@pytest.fixture
def org(in_alpha, clock):
    from apps.finops.allocation import allocation_rule_save
    from apps.inventory.models import Agent, Department

    claims = Department.objects.create(name="Claims", code="claims")
    triage = Agent.objects.create(name="claims-triage", kind="agent", department=claims)
    allocation_rule_save(
        name="Triage agent", match_field="tag", match_key="agent", match_value="claims-triage", asset=triage
    )
    return {"claims": claims, "triage": triage}


@pytest.fixture
def source(in_alpha):
    from apps.finops.models import BillingSource

    return BillingSource.objects.create(name="OpenAI and Anthropic", kind="openai")


@pytest.fixture
def ledger(org, source):
    """100 quiet days up to yesterday."""
    book_days(source, FIRST_BOOKED, TODAY - dt.timedelta(days=1))
    return {**org, "source": source}


SPIKE_DAY = TODAY - dt.timedelta(days=3)  # Tuesday 17 November


@pytest.fixture
def spiked(org, source):
    """The same ledger with 2,400 USD more OpenAI spend on 17 November."""
    book_days(source, FIRST_BOOKED, TODAY - dt.timedelta(days=1), spikes={SPIKE_DAY: 2400})
    return {**org, "source": source}
