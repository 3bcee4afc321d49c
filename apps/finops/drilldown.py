"""Links from any chart or figure to the ledger rows behind it (the portal's ledger-rows page)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.urls import reverse

# Filters the ledger-rows page understands, besides from/to (inclusive UTC days):
#   provider, service, category, account, sub_account, region, charge_category, model, source, currency
#   (exact values, as in the cost explorer), department=<id>, asset=<id>, rule=<id>,
#   allocated=yes|no, ai=yes|no, tag=key or key=value.
LEDGER_FILTERS = (
    "provider",
    "service",
    "category",
    "account",
    "sub_account",
    "region",
    "charge_category",
    "model",
    "source",
    "currency",
    "department",
    "asset",
    "rule",
    "allocated",
    "ai",
    "tag",
)


def ledger_rows_url(*, first_day: dt.date, last_day: dt.date, **filters) -> str:
    """The ledger rows charged on [first_day, last_day] (inclusive) that match the filters."""
    unknown = set(filters) - set(LEDGER_FILTERS)
    if unknown:
        raise ValueError(f"unknown ledger filters: {sorted(unknown)}")
    params = {"from": first_day.isoformat(), "to": last_day.isoformat()}
    params.update({name: str(value) for name, value in filters.items() if value not in (None, "")})
    return reverse("finops:ledger") + "?" + urlencode(params)
