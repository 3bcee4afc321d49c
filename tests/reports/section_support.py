"""Helpers every section test uses: a report period in alpha (Europe/Paris), the JSON round trip the snapshot
makes, both renderings of a section template, and the highlight contract (each sentence states one figure of
its section, found at its dotted path)."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

from django.template.loader import render_to_string

from apps.reports.period import ReportPeriod
from apps.reports.snapshot import figure_at

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def alpha_period(month: dt.date, *, retainer: str, currency: str = "EUR") -> ReportPeriod:
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
    back = json.loads(json.dumps(data))
    assert back == data
    return back


def render_both(key: str, data: dict, period: ReportPeriod) -> tuple[str, str]:
    """The section template for the PDF (web=False) and the portal (web=True)."""
    context = {"s": roundtrip(data), "period": period}
    pdf = render_to_string(f"reports/sections/{key}.html", {**context, "web": False})
    web = render_to_string(f"reports/sections/{key}.html", {**context, "web": True})
    return pdf, web


def assert_highlights(key: str, data: dict, items: list[dict], *, at_most: int = 3) -> list[dict]:
    """Every highlight names a figure of this section that resolves, and states that very number and only it
    (the sign is in the words: "fell 4.0 %" for -4.0)."""
    assert len(items) <= at_most, items
    for item in items:
        assert set(item) >= {"text", "figure", "tone"}, item
        assert item["tone"] in ("good", "bad", "neutral")
        assert item["figure"].startswith(f"{key}."), item
        value = figure_at({"sections": {key: data}}, item["figure"])
        assert value is not None, f"{item['figure']} does not resolve"
        numbers = [Decimal(n.replace(",", "")) for n in _NUMBER.findall(item["text"])]
        assert len(numbers) == 1, f"one figure per sentence: {item['text']}"
        assert abs(Decimal(str(value))) == numbers[0], (item, value)
    return items
