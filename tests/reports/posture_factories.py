"""Helpers of the posture sections' tests (service levels, compliance, maturity, inventory, incidents).

Data is made through each app's own services or models, as that app's tests make it. The report month is
October 2026 in alpha (Europe/Paris, EUR): it starts on 30 Sep 2026 22:00 UTC and ends on 31 Oct 2026 23:00 UTC
(summer time ends on 25 October), so "just before / just after" the month are those two instants ± a little.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from apps.reports.period import ReportPeriod

from .section_support import alpha_period, assert_highlights, render_both, roundtrip  # noqa: F401  re-exported

UTC = dt.UTC
MONTH = dt.date(2026, 10, 1)
MONTH_STARTS = dt.datetime(2026, 9, 30, 22, 0, tzinfo=UTC)  # 1 Oct 00:00 in Paris (CEST)
MONTH_ENDS = dt.datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 1 Nov 00:00 in Paris (CET)
SECOND = dt.timedelta(seconds=1)
CENT = Decimal("0.01")


def make_period(month: dt.date = MONTH, *, retainer: str = "12000.00", currency: str = "EUR") -> ReportPeriod:
    return alpha_period(month, retainer=retainer, currency=currency)


def figures(items: list[dict]) -> list[str]:
    return [item["figure"] for item in items]


def data_queries(build, *args) -> tuple[dict, list[str]]:
    """Run build(*args) and return its data with the SQL it ran (django-tenants' SET search_path left out)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        data = build(*args)
    return data, [q["sql"] for q in context.captured_queries if not q["sql"].startswith("SET search_path")]
