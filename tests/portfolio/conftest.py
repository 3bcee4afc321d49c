"""Portfolio fixtures: client rows in the public schema only (no schemas: the console and the summary never open
a client's schema), with rollups written as the clients' own refresh would leave them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.portfolio.models import ClientHealthDay, ClientMaturity, ClientRollup, ClientSpendMonth
from apps.tenancy.models import Client


@pytest.fixture
def clock():
    """20 Nov 2026, 10:00 UTC (the budgets fixtures' clock, which tests/budgets/conftest.py's fixtures use)."""
    from freezegun import freeze_time

    with freeze_time("2026-11-20 10:00:00", tick=True) as frozen:
        yield frozen


def schemaless_client(slug: str, name: str, **fields) -> Client:
    """A Client row without a schema (django-tenants saves tenants from the public schema only)."""
    client = Client(slug=slug, name=name, schema_name=slug.replace("-", "_"), **fields)
    client.auto_create_schema = False
    with schema_context("public"):
        client.save()
    return client


def rollup_for(client: Client, **fields) -> ClientRollup:
    now = timezone.now()
    values = {"refreshed_at": now, "components_refreshed_at": now} | fields
    return ClientRollup.objects.create(client=client, **values)


def spend_for(client: Client, month: dt.date, amount: str, currency: str = "EUR", ai: str | None = None):
    return ClientSpendMonth.objects.create(
        client=client, month=month, currency=currency, effective_cost=Decimal(amount), ai_cost=Decimal(ai or amount)
    )


def maturity_for(client: Client, score: str) -> ClientMaturity:
    return ClientMaturity.objects.create(
        client=client,
        template_key="ai-era-msp",
        template_name="AI-era MSP",
        assessment_id=1,
        assessed_on=dt.date(2026, 10, 15),
        score=Decimal(score),
    )


def health_day(client: Client, day: dt.date, score: str | None) -> ClientHealthDay:
    return ClientHealthDay.objects.create(client=client, day=day, score=None if score is None else Decimal(score))


def portfolio_of(n: int, *, prefix: str = "pf") -> list[Client]:
    """n schemaless clients, each with a full rollup, a year of spend, a maturity row and 30 days of health."""
    now = timezone.now()
    this_month = now.date().replace(day=1)
    clients = []
    for i in range(n):
        client = schemaless_client(f"{prefix}-{i:03d}", f"Portfolio Client {i:03d}", lifecycle="active")
        rollup_for(
            client,
            open_critical=i % 3,
            budget_month=this_month,
            budget_currency="USD",
            budget_amount=Decimal(1000 + i),
            budget_actual=Decimal(500 + i),
            budget_forecast=Decimal(900 + 20 * i),
            sla_attainment=Decimal("0.995"),
            sla_objective=Decimal("0.99"),
            sla_slos_measured=2,
            sla_slos_met=2,
            readiness=Decimal(40 + i),
            readiness_frameworks=1,
            billing_sources=1,
            ingestion_succeeded_at=now - dt.timedelta(hours=i),
            report_month=this_month,
            report_status="issued",
            report_version=1,
            report_issued_at=now,
        )
        month = this_month
        for _ in range(12):
            spend_for(client, month, str(400 + i), currency="USD")
            month = (month - dt.timedelta(days=1)).replace(day=1)
        maturity_for(client, str(50 + i % 40))
        for d in range(1, 31):
            health_day(client, now.date() - dt.timedelta(days=d), str(60 + i % 30))
        clients.append(client)
    return clients
