"""The budgets demo on Acme's real demo ledger (booked through the connectors into alpha, which like Acme reports
in EUR and is billed in USD): budgets sized from the demo's own spend, the runaway loop's month past a
threshold with its alert raised once, and a second load that changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, Decimal
from statistics import median

import pytest
from django.db.models import Sum
from django_tenants.utils import schema_context
from freezegun import freeze_time

from apps.alerts.models import Alert
from apps.budgets.models import Budget, ThresholdCrossing
from apps.budgets.selectors import budget_status
from apps.catalog.services import catalog_load_bundled
from apps.demo import finops_demo
from apps.demo.budgets_demo import demo_budgets
from apps.demo.inventory_demo import demo_departments
from apps.finops.models import CostDaily

TODAY = dt.date(2026, 11, 18)  # the runaway loop ran on 15 November


@pytest.fixture
def acme_in_alpha(alpha):
    with schema_context("public"):
        catalog_load_bundled(loaded_by="test")
    with freeze_time("2026-11-18 09:00:00", tick=True):
        demo_departments({"acme": alpha})
        finops_demo.acme_story(alpha, today=TODAY)
        demo_budgets({"acme": alpha})
        with schema_context(alpha.schema_name):
            yield alpha


def test_acme_budgets_are_sized_from_its_own_spend_and_the_runaway_month_alerts_once(acme_in_alpha, alpha):
    budgets = {b.name: b for b in Budget.objects.all()}
    assert set(budgets) == {"All cloud and AI spend", "OpenAI API", "Underwriting department", "Amazon Bedrock"}
    assert {b.currency for b in budgets.values()} == {"USD"}  # alpha reports in EUR, the bills are in USD
    openai = budgets["OpenAI API"]
    months = [dt.date(2026, 7, 1), dt.date(2026, 8, 1), dt.date(2026, 9, 1)]  # the three before last month
    totals = []
    for first in months:
        last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        rows = CostDaily.objects.filter(provider_name="OpenAI", day__gte=first, day__lt=last, billing_currency="USD")
        totals.append(rows.aggregate(total=Sum("effective_cost"))["total"])
    expected = (Decimal(median(totals)) * Decimal("1.08") / 250).to_integral_value(rounding=ROUND_CEILING) * 250
    assert openai.amount == expected

    november = budget_status(openai, month=dt.date(2026, 11, 1), today=TODAY)
    assert november.crossed, "the runaway loop's month crosses a threshold"
    assert november.forecast.forecast > openai.amount  # the loop's $900 pushes the month over
    alerts = Alert.objects.filter(kind="budget", data__budget_id=openai.pk, data__month="2026-11")
    assert alerts.exists()
    assert all(a.occurrences == 1 for a in alerts)
    assert {a.owner_email for a in alerts} == {"head.uw@acme.example"}

    before = (Budget.objects.count(), Alert.objects.filter(kind="budget").count(), ThresholdCrossing.objects.count())
    with freeze_time("2026-11-18 09:30:00", tick=True):
        demo_budgets({"acme": alpha})
    after = (Budget.objects.count(), Alert.objects.filter(kind="budget").count(), ThresholdCrossing.objects.count())
    assert after == before
    assert all(a.occurrences == 1 for a in Alert.objects.filter(kind="budget"))
