"""Shadow AI fixtures: a clock frozen on 20 Nov 2026 (10:00 UTC), alpha's departments and assets, and helpers that
book ledger rows and usage events through the real paths (load, allocate, roll up; the usage-events ingest).

The scan window is then 17 Oct – 20 Nov 2026, "the last 30 days" 22 Oct – 20 Nov and "this month" 1–20 Nov.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from tests.finops.conftest import openai_day_row

TODAY = dt.date(2026, 11, 20)


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


@pytest.fixture
def org(in_alpha, clock):
    from apps.inventory.models import Agent, AIModel, Department

    claims = Department.objects.create(name="Claims", code="claims")
    risk = Department.objects.create(name="Risk", code="risk")
    triage = Agent.objects.create(name="Claims-Triage", kind="agent", department=claims)
    tagged = AIModel.objects.create(
        name="GPT-4o (claims)", kind="model", provider="openai", model_id="gpt-4o", cost_tags={"app": "claims"}
    )
    helper = AIModel.objects.create(
        name="Sonnet helper", kind="model", provider="anthropic", model_id="claude-sonnet-4-5", cost_tags={}
    )
    return {"claims": claims, "risk": risk, "triage": triage, "tagged": tagged, "helper": helper}


@pytest.fixture
def cloud(in_alpha):
    from apps.finops.models import BillingSource

    return BillingSource.objects.create(name="AWS", kind="aws_data_export")


@pytest.fixture
def openai(in_alpha):
    from apps.finops.models import BillingSource

    return BillingSource.objects.create(name="OpenAI", kind="openai")


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def book(source, rows_for, first: dt.date, last: dt.date):
    """Book [first, last] the way a connector run does (everything after the booking included)."""
    from tests.finops.test_allocation import book as book_run

    rows = [row for day in days(first, last) for row in rows_for(day)]
    return book_run(source, rows, start=first.isoformat(), end=(last + dt.timedelta(days=1)).isoformat())


def bedrock(day, amount="10.00", **overrides) -> dict:
    values = dict(
        provider_name="AWS",
        service_name="Amazon Bedrock",
        billing_account_id="111111111111",
        sub_account_id="222222222222",
        region_id="eu-central-1",
        resource_id="arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-5-v1:0",
        tags={"department": "claims"},
    )
    return openai_day_row(day, amount, **{**values, **overrides})


def project(day, amount="4.00", project_id="proj_shadow", **overrides) -> dict:
    return openai_day_row(day, amount, sub_account_id=project_id, x_model="gpt-4o-mini", **overrides)


def events(agent="", api_key="", *, day: dt.date, count: int = 3, cost="0.50", model="gpt-4o", prefix="") -> list:
    return [
        {
            "timestamp": f"{day.isoformat()}T08:{i:02d}:00Z",
            "request_id": f"{prefix or agent or api_key}-{day.isoformat()}-{i}",
            "provider": "openai",
            "model": model,
            "input_tokens": 100,
            "output_tokens": 20,
            "cost": cost,
            **({"agent": agent} if agent else {}),
            **({"api_key_id": api_key} if api_key else {}),
        }
        for i in range(count)
    ]


def ingest(batch: list) -> None:
    from apps.finops.usage import usage_events_ingest

    result = usage_events_ingest(events=batch)
    assert not result.rejected, result.errors


def item_for(value: str):
    from apps.shadow_ai.models import ShadowItem

    return ShadowItem.objects.get(identity_value=value)


D = Decimal
