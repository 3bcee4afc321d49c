"""The MSP console's spend column comes from the public month rollup, never from client schemas."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.finops.models import BillingSource
from tests.finops.conftest import openai_day_row
from tests.finops.test_allocation import book


def test_console_shows_each_clients_spend_this_month(
    in_alpha, alpha, msp_admin, login_as, django_assert_max_num_queries
):
    today = timezone.now().date()
    source = BillingSource.objects.create(name="OpenAI", kind="openai")
    book(
        source,
        [openai_day_row(today, "1234.56", billing_currency="EUR")],
        start=today.isoformat(),
        end=(today + dt.timedelta(days=1)).isoformat(),
    )
    connection.set_schema_to_public()
    with schema_context("public"):
        client = login_as(msp_admin)
        with django_assert_max_num_queries(20):
            page = client.get("/")
    assert page.status_code == 200
    assert "1,235 EUR" in page.content.decode()
    assert "AI 100 %" in page.content.decode()
