"""The rollup refresh measures every health component from the client's own data, inside its schema, and writes
only public-schema rows: budget (forecast vs the whole-client budget), SLA attainment, compliance readiness,
ingestion freshness, the daily health row; and report_status_refresh records the latest monthly report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.finops.models import BillingSource, IngestionRun
from apps.portfolio import health
from apps.portfolio.models import ClientHealthDay, ClientRollup
from apps.portfolio.services import client_rollup_refresh, report_status_refresh
from tests.alerts.support import raise_alert
from tests.budgets.conftest import ledger, make_budget, org, source  # noqa: F401  (fixtures)
from tests.compliance.conftest import approved_evidence, enable, library, make_control, media, urn  # noqa: F401
from tests.service_levels.conftest import minutes

from .conftest import maturity_for

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # the clock fixture's


def slos_with_data():
    """Two SLOs: one met (99.5 % vs 99 %), one half an error budget short (98.5 % vs 99 %)."""
    from apps.service_levels.evaluation import slos_evaluate
    from apps.service_levels.ingest import measurements_ingest
    from apps.service_levels.models import SLO

    start = dt.datetime(2026, 11, 1, tzinfo=UTC)
    common = {
        "sli_kind": "availability",
        "objective": Decimal("0.99"),
        "starts_at": dt.datetime(2026, 1, 1, tzinfo=UTC),
    }
    met = SLO.objects.create(name="api-availability", display_name="API availability", **common)
    short = SLO.objects.create(name="agent-availability", display_name="Agent availability", **common)
    SLO.objects.create(name="paused-one", display_name="Paused", active=False, **common)  # inactive: ignored
    measurements_ingest(minutes(start, 100, good=199, total=200, slo=met.name), now=NOW)
    measurements_ingest(minutes(start, 100, good=197, total=200, slo=short.name), now=NOW)
    slos_evaluate(now=NOW)


def frameworks_half_and_nothing_ready(library):  # noqa: F811
    """ISO (tf-iso): A.2.2 met with approved evidence, A.6.2.8 without a control → 50 %; NIST (tf-nist): 0 %."""
    from apps.compliance.services import mapping_add

    enable(library["iso"])
    enable(library["nist"])
    policy = make_control("AI-POL-01", "AI policy", status="active")
    mapping_add(control=policy, urn=urn("tf-iso", "A.2.2"), coverage="full")
    approved_evidence(policy, title="AI policy v3")


def test_refresh_measures_every_component_from_the_clients_data(
    ledger,  # noqa: F811  alpha's ledger: 1,885 EUR booked 1-19 Nov, forecast 2,985 EUR for the month
    library,  # noqa: F811
    media,  # noqa: F811
    in_alpha,
    clock,
):
    make_budget(name="Tight", amount="2500")  # the tightest whole-client budget in EUR: the one measured
    make_budget(name="Loose", amount="4000")
    make_budget(name="Claims", amount="100", scope="department", department=ledger["claims"])  # not whole-client
    make_budget(name="USD", amount="10", currency="USD")  # another currency than the reporting one
    slos_with_data()
    frameworks_half_and_nothing_ready(library)
    billing = ledger["source"]
    IngestionRun.objects.filter(source=billing).update(finished_at=NOW - dt.timedelta(hours=40))
    IngestionRun.objects.create(
        source=billing, status=IngestionRun.Status.SUCCEEDED, finished_at=NOW - dt.timedelta(hours=30)
    )
    IngestionRun.objects.create(source=billing, status=IngestionRun.Status.FAILED, finished_at=NOW)  # not a success
    BillingSource.objects.create(name="Paused one", kind="openai", enabled=False)
    raise_alert(severity="critical", subject="Loop on uw-7", dedup_key="loop")
    maturity_for(in_alpha, "62.50")

    rollup = client_rollup_refresh(components=True)

    rollup.refresh_from_db()
    assert rollup.client == in_alpha and rollup.open_critical == 1
    assert (rollup.budget_month, rollup.budget_currency) == (dt.date(2026, 11, 1), "EUR")
    assert rollup.budget_amount == Decimal("2500.00")
    assert rollup.budget_actual == Decimal("1885")
    assert rollup.budget_forecast == Decimal("2985.00")
    assert (rollup.sla_attainment, rollup.sla_objective) == (Decimal("0.985"), Decimal("0.99"))
    assert rollup.sla_worst_slo == "Agent availability"
    assert (rollup.sla_slos_measured, rollup.sla_slos_met) == (2, 1)
    assert (rollup.readiness, rollup.readiness_frameworks) == (Decimal("25.0"), 2)
    assert rollup.billing_sources == 1  # enabled ones
    assert rollup.ingestion_succeeded_at == NOW - dt.timedelta(hours=30)
    assert rollup.components_refreshed_at is not None

    # Today's health row: budget 61.2 (19.4 % over), alerts 75, SLA 50, readiness 25, maturity 62.5,
    # freshness ~95.8 (30 h and the few seconds the test took), default weights.
    day = ClientHealthDay.objects.get(client=in_alpha, day=dt.date(2026, 11, 20))
    assert day.scores["budget"] == "61.2" and day.scores["alerts"] == "75.0" and day.scores["sla"] == "50.0"
    assert day.scores["readiness"] == "25.0" and day.scores["maturity"] == "62.5"
    assert day.scores["freshness"] == "95.8"
    assert day.score == Decimal("60.6")


def test_a_client_with_nothing_to_measure(in_alpha):
    """No budget, SLO, framework or billing source: those components are not measured (left out)."""
    rollup = client_rollup_refresh(components=True)
    assert rollup.budget_amount is None and rollup.budget_currency == ""
    assert rollup.sla_attainment is None and rollup.sla_slos_measured == 0
    assert rollup.readiness is None and rollup.billing_sources == 0 and rollup.ingestion_succeeded_at is None
    inputs = health.inputs_from(rollup, None, now=timezone.now())
    result = health.health(inputs)
    assert [p.key for p in result.parts if p.counted] == ["alerts"]
    assert result.score == Decimal("100.0")


def test_sources_without_a_success_score_zero_freshness(in_alpha):
    BillingSource.objects.create(name="New source", kind="openai")
    rollup = client_rollup_refresh(components=True)
    assert rollup.billing_sources == 1 and rollup.ingestion_succeeded_at is None
    result = health.health(health.inputs_from(rollup, None, now=timezone.now()))
    assert result.part("freshness").score == Decimal("0.0")


def test_alert_changes_refresh_the_counts_and_keep_recent_components(in_alpha, clock):
    """The task (components=None) recomputes the components only when older than COMPONENTS_MAX_AGE."""
    client_rollup_refresh(components=True)
    BillingSource.objects.create(name="Added since", kind="openai")
    raise_alert(severity="critical", subject="Down", dedup_key="down")
    rollup = client_rollup_refresh()
    assert rollup.open_critical == 1 and rollup.billing_sources == 0  # components kept
    clock.tick(dt.timedelta(minutes=11))
    rollup = client_rollup_refresh()
    assert rollup.billing_sources == 1  # recomputed


def test_the_hourly_task_refreshes_the_components(in_alpha):
    from apps.portfolio.tasks import refresh_client_rollup_task

    BillingSource.objects.create(name="OpenAI", kind="openai")
    refresh_client_rollup_task.delay()  # eager in tests, inside alpha's schema
    assert ClientRollup.objects.get(client=in_alpha).billing_sources == 1


def test_the_public_schema_is_never_a_client(db):
    with schema_context("public"):
        assert client_rollup_refresh() is None
        report_status_refresh(month=dt.date(2026, 11, 1), status="issued", version=1, issued_at=None)
    assert not ClientRollup.objects.exists()


def test_report_status_refresh_records_the_latest_report(in_alpha):
    issued = dt.datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    report_status_refresh(month=dt.date(2026, 11, 1), status="draft", version=1, issued_at=None)
    rollup = ClientRollup.objects.get(client=in_alpha)
    assert (rollup.report_month, rollup.report_status, rollup.report_version) == (dt.date(2026, 11, 1), "draft", 1)
    assert rollup.refreshed_at is None  # the row exists now, but alerts were never counted: not measured

    report_status_refresh(month=dt.date(2026, 11, 1), status="issued", version=2, issued_at=issued)
    rollup.refresh_from_db()
    assert (rollup.report_status, rollup.report_version, rollup.report_issued_at) == ("issued", 2, issued)

    # The caller passes its latest report: the last call wins (e.g. November's draft was deleted).
    report_status_refresh(month=dt.date(2026, 10, 15), status="issued", version=3, issued_at=issued)
    rollup.refresh_from_db()
    assert (rollup.report_month, rollup.report_version) == (dt.date(2026, 10, 1), 3)  # the month's first day
    report_status_refresh(month=dt.date(2026, 11, 1), status="issued", version=2, issued_at=issued)

    # The alert refresh keeps the report fields.
    client_rollup_refresh(components=False)
    rollup.refresh_from_db()
    assert rollup.report_status == "issued" and rollup.refreshed_at is not None

    with pytest.raises(ValidationError):
        report_status_refresh(month=dt.date(2026, 12, 1), status="sent", version=1, issued_at=None)
