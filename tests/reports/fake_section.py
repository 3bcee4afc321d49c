"""A stand-in report section for the workflow tests: its figures come from a counter the test controls, so a
recompute visibly changes them while a frozen version does not."""

from decimal import Decimal

from apps.reports.period import money

KEY = "fake"
TITLE = "Fake figures"
STATE = {"total": Decimal("1234.565"), "fail": False}


def build(period):
    if STATE["fail"]:
        raise RuntimeError("the ledger is unreachable")
    return {
        "total": money(STATE["total"]),
        "month": period.month.isoformat(),
        "charts": [
            {
                "id": "fake-trend",
                "title": "Fake trend",
                "description": "Spend per month, rising.",
                "kind": "bar",
                "monthly": True,
                "unit": period.currency,
                "x": [m.strftime("%Y-%m") for m in period.months_back(3)],
                "series": [{"name": "Spend", "values": ["10.00", "20.00", money(STATE["total"])]}],
            }
        ],
    }


def highlights(data, period):
    return [{"text": f"Fake spend was {data['total']} {period.currency}.", "figure": "fake.total", "tone": "bad"}]
