"""Unit economics fixtures: a small organisation in alpha's schema, ledger rows booked through the real path
(load, allocation, rollup), and business units."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.finops.models import IngestionRun
from tests.finops.conftest import openai_day_row


def book(source, rows, *, start: str, end: str) -> IngestionRun:
    """Book rows for [start, end) as a connector run does, with everything after the booking (allocation by
    the rows' agent and department tags, the daily rollup)."""
    from apps.finops.ledger import ChargeWindow, load_rows
    from apps.finops.services import _after_booking

    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    run = IngestionRun.objects.create(source=source, window_start=first, window_end=last)
    window = ChargeWindow(dt.datetime.combine(first, dt.time(), dt.UTC), dt.datetime.combine(last, dt.time(), dt.UTC))
    result = load_rows(source_id=source.pk, run_id=run.pk, rows=rows, scope=window)
    run.rows_loaded, run.rows_replaced = result.rows_loaded, result.rows_replaced
    run.status = IngestionRun.Status.SUCCEEDED
    run.save()
    _after_booking(source, run)
    return run


def row(day: str, amount: str, **overrides) -> dict:
    """One day of spend as a ledger row; `agent`/`department` go into the tags the allocation reads."""
    tags = dict(overrides.pop("tags", {}))
    for key in ("agent", "department"):
        if key in overrides:
            tags[key] = overrides.pop(key)
    return openai_day_row(day, amount, tags=tags, **overrides)


@pytest.fixture
def org(in_alpha):
    from apps.inventory.models import Agent, Department

    claims = Department.objects.create(name="Claims", code="claims-ops")
    risk = Department.objects.create(name="Risk", code="risk")
    bot = Agent.objects.create(name="claims-bot", kind="agent", department=claims)
    return {"claims": claims, "risk": risk, "bot": bot}


@pytest.fixture
def source(in_alpha):
    from apps.finops.models import BillingSource

    return BillingSource.objects.create(name="OpenAI", kind="openai")


@pytest.fixture
def make_unit(in_alpha):
    from apps.unit_economics.services import business_unit_save

    def make(code="claims", **fields):
        values = dict(name=f"{code} processed", code=code, unit_label=code.rstrip("s"), scope_kind="client")
        values.update(fields)
        return business_unit_save(**values)

    return make


@pytest.fixture
def engineer(alpha):
    from apps.accounts.roles import Role
    from tests.conftest import make_user

    return make_user("eng@msp.test", role=Role.ENGINEER, client=alpha)


@pytest.fixture
def executive(alpha):
    from apps.accounts.roles import Role
    from tests.conftest import make_user

    return make_user("cfo@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)


def queries_run(captured) -> list[str]:
    """The SQL of a CaptureQueriesContext, without django-tenants' search_path switches."""
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET search_path")]
