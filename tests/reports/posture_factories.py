"""Helpers of the posture sections' tests (service levels, compliance, maturity, inventory, incidents).

Data is made through each app's own services or models, as that app's tests make it. The report month is
October 2026 in alpha (Europe/Paris, EUR): it starts on 30 Sep 2026 22:00 UTC and ends on 31 Oct 2026 23:00 UTC
(summer time ends on 25 October), so "just before / just after" the month are those two instants ± a little.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

from django.template.loader import render_to_string

from apps.reports.period import ReportPeriod

UTC = dt.UTC
MONTH = dt.date(2026, 10, 1)
MONTH_STARTS = dt.datetime(2026, 9, 30, 22, 0, tzinfo=UTC)  # 1 Oct 00:00 in Paris (CEST)
MONTH_ENDS = dt.datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 1 Nov 00:00 in Paris (CET)
SECOND = dt.timedelta(seconds=1)
CENT = Decimal("0.01")


def make_period(month: dt.date = MONTH, *, retainer: str = "12000.00", currency: str = "EUR") -> ReportPeriod:
    return ReportPeriod(
        month=month,
        client_name="Alpha Corp",
        client_slug="alpha",
        time_zone="Europe/Paris",
        currency=currency,
        retainer=Decimal(retainer),
    )


def roundtrip(data: dict) -> dict:
    """What the snapshot stores: json.dumps must work without a custom encoder and read back the same."""
    text = json.dumps(data)
    back = json.loads(text)
    assert back == data
    return back


def render_both(key: str, data: dict, period: ReportPeriod) -> tuple[str, str]:
    """The section template for the PDF (web=False) and the portal (web=True)."""
    data = roundtrip(data)
    context = {"s": data, "period": period}
    pdf = render_to_string(f"reports/sections/{key}.html", {**context, "web": False})
    web = render_to_string(f"reports/sections/{key}.html", {**context, "web": True})
    return pdf, web


def figure_at(data: dict, path: str):
    node = data
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def assert_highlights(key: str, data: dict, items: list[dict]) -> list[dict]:
    """Every highlight names a figure of this section that resolves, and states that very number (and only it;
    the sign is in the words: "fell 4.0 points" for -4.0)."""
    assert len(items) <= 3, items
    for item in items:
        assert set(item) >= {"text", "figure", "tone"}, item
        assert item["tone"] in ("good", "bad", "neutral")
        assert item["figure"].startswith(f"{key}."), item
        value = figure_at({key: data}, item["figure"])
        assert value is not None, f"{item['figure']} does not resolve"
        numbers = [Decimal(n.replace(",", "")) for n in _NUMBER.findall(item["text"])]
        assert len(numbers) == 1, f"one figure per sentence: {item['text']}"
        assert abs(Decimal(str(value))) == numbers[0], (item, value)
    return items


def figures(items: list[dict]) -> list[str]:
    return [item["figure"] for item in items]


def data_queries(build, *args) -> tuple[dict, list[str]]:
    """Run build(*args) and return its data with the SQL it ran (django-tenants' SET search_path left out)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        data = build(*args)
    return data, [q["sql"] for q in context.captured_queries if not q["sql"].startswith("SET search_path")]
