"""Service-level fixtures: SLOs built in alpha's schema with small, hand-checkable numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.core.context import acting_as
from apps.service_levels.models import SLO

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # alpha's clock is UTC unless a test changes it


@pytest.fixture
def engineer(in_alpha):
    with acting_as(user_email="eng@msp.test"):
        yield


@pytest.fixture
def make_slo(in_alpha):
    def build(name="api-availability", **fields) -> SLO:
        values = {
            "display_name": name.replace("-", " ").capitalize(),
            "sli_kind": "availability",
            "objective": Decimal("0.99"),
            "starts_at": dt.datetime(2026, 1, 1, tzinfo=UTC),
            **fields,
        }
        return SLO.objects.create(name=name, **values)

    return build


def minutes(start: dt.datetime, count: int, *, good: int, total: int, slo: str, step: int = 1) -> list[dict]:
    """Per-minute counts items from `start`, one every `step` minutes."""
    return [
        {"slo": slo, "at": (start + dt.timedelta(minutes=i * step)).isoformat(), "good": good, "total": total}
        for i in range(count)
    ]
