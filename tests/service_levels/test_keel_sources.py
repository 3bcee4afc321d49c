"""SLOs Keel computes from its own data (source = keel): AI incidents (first response and resolution, on the
wall clock and on business hours), alerts, billing ingestion runs, drift checks and budgets. Each test builds
the source rows in alpha's schema, runs one evaluation cycle at a fixed NOW and reads the SLO's live status.

NOW is Friday 2026-11-20 12:00 UTC; alpha's calendar month (Europe/Paris) started 2026-10-31 23:00 UTC, so every
row dated "hours before NOW" falls in the live window."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache

from apps.alerts.models import Alert
from apps.budgets.models import Budget
from apps.finops.models import BillingSource, CostDaily, IngestionRun
from apps.incidents.models import AIIncident, IncidentEvent
from apps.inventory.models import AIModel
from apps.service_levels.evaluation import slos_evaluate
from apps.service_levels.keel_sources import _budget_rows
from apps.service_levels.models import (
    SLO,
    BusinessCalendar,
    DriftCheck,
    DriftMonitor,
    Measurement,
    SloPeriod,
    SloStatus,
)
from tests.conftest import auth_header
from tests.service_levels.conftest import NOW

pytestmark = pytest.mark.django_db

UTC = dt.UTC
HOUR, MINUTE = dt.timedelta(hours=1), dt.timedelta(minutes=1)
MEASUREMENTS = "/c/alpha/api/v1/slo-measurements/"


def keel_slo(name: str, sli_kind: str, keel_source: str, **fields) -> SLO:
    values = {
        "display_name": name.replace("-", " ").capitalize(),
        "objective": Decimal("0.9"),
        "starts_at": dt.datetime(2026, 1, 1, tzinfo=UTC),
        **fields,
    }
    return SLO.objects.create(name=name, sli_kind=sli_kind, source="keel", keel_source=keel_source, **values)


def counts(slo: SLO) -> tuple[int, int]:
    status = SloStatus.objects.get(slo=slo)
    return status.good, status.total


def measurement(slo: SLO, key: str) -> Measurement:
    return Measurement.objects.get(slo=slo, key=key)


# --- AI incidents -----------------------------------------------------------------------------------------------


def incident(detected: dt.datetime, *, severity: str = "high", closed: dt.datetime | None = None, assets=()):
    row = AIIncident.objects.create(
        title=f"Incident at {detected:%H:%M}",
        kind="outage",
        severity=severity,
        detected_at=detected,
        aware_at=detected,
        closed_at=closed,
        status="closed" if closed else "open",
    )
    row.assets.set(assets)
    return row


def event(row: AIIncident, after: dt.timedelta, *, actor: str = "eng@msp.test", kind: str = "note") -> IncidentEvent:
    return IncidentEvent.objects.create(incident=row, at=row.detected_at + after, kind=kind, text="…", actor=actor)


@pytest.fixture
def model(in_alpha) -> AIModel:
    return AIModel.objects.create(kind="model", name="Claims triage", provider="self-hosted", model_id="triage-v2")


def test_incident_first_response_is_the_first_note_a_person_wrote(in_alpha, model):
    slo = keel_slo("p1-response", "incident_response", "incidents", threshold=Decimal("60"))
    on_model = keel_slo("triage-response", "incident_response", "incidents", threshold=Decimal("60"), asset=model)
    critical = keel_slo(
        "critical-response", "incident_response", "incidents", threshold=Decimal("60"), incident_severities=["critical"]
    )

    answered = incident(NOW - 5 * HOUR, severity="critical")
    event(answered, dt.timedelta(0), kind="created")  # opening it is not answering it
    event(answered, 5 * MINUTE, actor="Keel")  # nor is Keel's own bookkeeping
    event(answered, 30 * MINUTE)  # a person, after 30 minutes: in time
    event(answered, 45 * MINUTE)
    late = incident(NOW - 4 * HOUR, assets=[model])
    event(late, 90 * MINUTE)  # 90 minutes: late
    unanswered = incident(NOW - 3 * HOUR)  # open for 3 h without a word: late already
    only_machines = incident(NOW - 2 * HOUR)
    event(only_machines, 5 * MINUTE, actor="Keel scheduler")
    event(only_machines, 6 * MINUTE, actor="")
    fresh = incident(NOW - 20 * MINUTE)  # 20 of its 60 minutes gone: not counted yet
    incident(dt.datetime(2026, 9, 1, tzinfo=UTC))  # before the previous period: not read at all

    slos_evaluate(now=NOW)
    assert counts(slo) == (1, 4)
    assert measurement(slo, f"incident:{answered.pk}").value == Decimal("30.00")
    assert measurement(slo, f"incident:{late.pk}").value == Decimal("90.00")
    assert (
        measurement(slo, f"incident:{unanswered.pk}").good,
        measurement(slo, f"incident:{unanswered.pk}").total,
    ) == (
        0,
        1,
    )
    pending = measurement(slo, f"incident:{fresh.pk}")
    assert pending.pending is True and (pending.good, pending.total) == (0, 0)
    assert Measurement.objects.filter(slo=slo).count() == 5
    assert all(m.origin == "keel" for m in Measurement.objects.filter(slo=slo))
    assert counts(on_model) == (0, 1)  # only the incident linked to the model
    assert counts(critical) == (1, 1)  # only the critical one

    # 45 minutes later the fresh incident has waited 65 minutes: late, for good.
    slos_evaluate(now=NOW + 45 * MINUTE)
    assert counts(slo) == (1, 5)
    assert measurement(slo, f"incident:{fresh.pk}").pending is False
    # An answer after all does not turn a late response into a good one.
    event(fresh, 70 * MINUTE)
    slos_evaluate(now=NOW + 75 * MINUTE)
    assert counts(slo) == (1, 5)


def test_incident_resolution_counts_the_time_to_close(in_alpha):
    slo = keel_slo("p1-resolution", "incident_resolution", "incidents", threshold=Decimal("240"))
    in_time = incident(NOW - 10 * HOUR, closed=NOW - 7 * HOUR)  # 3 h
    too_slow = incident(NOW - 10 * HOUR, closed=NOW - 4 * HOUR)  # 6 h
    event(too_slow, 5 * MINUTE)  # a quick first answer does not matter for resolution
    still_open_late = incident(NOW - 6 * HOUR)  # 6 h and counting
    still_open = incident(NOW - 2 * HOUR)  # 2 of 4 h
    slos_evaluate(now=NOW)
    assert counts(slo) == (1, 3)
    assert measurement(slo, f"incident:{in_time.pk}").value == Decimal("180.00")
    assert measurement(slo, f"incident:{too_slow.pk}").value == Decimal("360.00")
    assert measurement(slo, f"incident:{still_open_late.pk}").total == 1
    assert measurement(slo, f"incident:{still_open.pk}").pending is True


def test_incident_clocks_run_on_the_slos_business_hours(in_alpha):
    office = BusinessCalendar.objects.create(
        name="UTC office", time_zone="UTC", hours={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    slo = keel_slo("office-response", "incident_response", "incidents", threshold=Decimal("60"), calendar=office)
    # Opened Friday 16:30, answered Monday 09:20: 30 + 20 = 50 working minutes, though 64 h 50 min went by.
    weekend = incident(dt.datetime(2026, 11, 13, 16, 30, tzinfo=UTC))
    event(weekend, dt.timedelta(hours=64, minutes=50))
    # Opened Thursday 16:00, answered Friday 10:30: 60 + 90 = 150 working minutes: late.
    overnight = incident(dt.datetime(2026, 11, 19, 16, 0, tzinfo=UTC))
    event(overnight, dt.timedelta(hours=18, minutes=30))
    slos_evaluate(now=NOW)
    assert measurement(slo, f"incident:{weekend.pk}").value == Decimal("50.00")
    assert measurement(slo, f"incident:{overnight.pk}").value == Decimal("150.00")
    assert counts(slo) == (1, 2)


# --- alerts ------------------------------------------------------------------------------------------------------


def alert(opened: dt.datetime, *, kind: str = "budget", acknowledged=None, resolved=None) -> Alert:
    state = "resolved" if resolved else "acknowledged" if acknowledged else "open"
    return Alert.objects.create(
        kind=kind,
        severity="high",
        subject=f"Alert at {opened:%H:%M}",
        dedup_key=f"test:{kind}:{opened.isoformat()}",
        first_seen_at=opened,
        last_seen_at=opened,
        acknowledged_at=acknowledged,
        resolved_at=resolved,
        state=state,
    )


def test_alerts_are_answered_when_acknowledged_or_resolved(in_alpha):
    response = keel_slo("alert-response", "incident_response", "alerts", threshold=Decimal("30"))
    resolution = keel_slo("alert-resolution", "incident_resolution", "alerts", threshold=Decimal("90"))
    exactly = alert(NOW - 3 * HOUR, acknowledged=NOW - 3 * HOUR + 30 * MINUTE, resolved=NOW - 3 * HOUR + 80 * MINUTE)
    slow = alert(NOW - 2 * HOUR, acknowledged=NOW - 2 * HOUR + 45 * MINUTE)
    closed_at_once = alert(NOW - 150 * MINUTE, resolved=NOW - 130 * MINUTE)  # resolving is also answering
    ignored = alert(NOW - HOUR)  # an hour without anyone looking
    fresh = alert(NOW - 10 * MINUTE)
    alert(NOW - 2 * HOUR, kind="slo_burn")  # Keel's own burn alerts are not events of an alert SLO

    slos_evaluate(now=NOW)
    # Response within 30 min: exactly 30 (good), 45 (late), resolved after 20 (good), unanswered 60 (late).
    assert counts(response) == (2, 4)
    assert measurement(response, f"alert:{exactly.pk}").value == Decimal("30.00")
    assert measurement(response, f"alert:{closed_at_once.pk}").good == 1
    assert measurement(response, f"alert:{fresh.pk}").pending is True
    # Resolution within 90 min: 80 (good), 20 (good); open 120 min (late); open 60 and 10 min (pending).
    assert counts(resolution) == (2, 3)
    assert measurement(resolution, f"alert:{slow.pk}").total == 1
    assert measurement(resolution, f"alert:{ignored.pk}").pending is True
    assert Measurement.objects.filter(slo__in=[response, resolution]).count() == 10


# --- billing ingestion runs ---------------------------------------------------------------------------------


def test_billing_runs_are_good_when_they_succeeded(in_alpha):
    slo = keel_slo("billing-freshness", "integration", "billing_runs", objective=Decimal("0.99"))
    source = BillingSource.objects.create(name="OpenAI organisation", kind="openai")
    other = BillingSource.objects.create(name="AWS", kind="aws_cost_explorer")
    started = {
        "succeeded": [NOW - 1 * HOUR, NOW - 7 * HOUR, dt.datetime(2026, 10, 15, tzinfo=UTC)],
        "failed": [NOW - 13 * HOUR],
        "running": [NOW - 10 * MINUTE],  # not finished: no verdict yet
        "retrying": [NOW - 19 * HOUR],  # will be retried: the retry is the event
        "skipped": [NOW - 20 * HOUR],
    }
    for status, moments in started.items():
        for moment in moments:
            run = IngestionRun.objects.create(source=source, status=status)
            IngestionRun.objects.filter(pk=run.pk).update(started_at=moment)  # started_at is auto_now_add
    old = IngestionRun.objects.create(source=other, status="failed")
    IngestionRun.objects.filter(pk=old.pk).update(started_at=dt.datetime(2026, 8, 1, tzinfo=UTC))
    later = IngestionRun.objects.create(source=other, status="failed")
    IngestionRun.objects.filter(pk=later.pk).update(started_at=NOW + HOUR)  # after NOW

    slos_evaluate(now=NOW)
    assert counts(slo) == (2, 3)  # November: two succeeded, one failed
    assert Measurement.objects.filter(slo=slo).count() == 4  # and October's success
    october = SloPeriod.objects.get(slo=slo, label="2026-10")
    assert (october.good, october.total, october.met) == (1, 1, True)
    failed = Measurement.objects.get(slo=slo, good=0)
    assert failed.data == {"source_id": source.pk, "status": "failed"}

    # A later run that succeeds flows in on the next cycle.
    run = IngestionRun.objects.create(source=source, status="succeeded")
    IngestionRun.objects.filter(pk=run.pk).update(started_at=NOW + 5 * MINUTE)
    slos_evaluate(now=NOW + 10 * MINUTE)
    assert counts(slo) == (3, 4)


# --- drift checks -----------------------------------------------------------------------------------------------


def drift_check(monitor: DriftMonitor, psi: str, days_ago: int) -> DriftCheck:
    end = NOW - dt.timedelta(days=days_ago)
    return DriftCheck.objects.create(
        monitor=monitor,
        key=f"{monitor.feature}:{days_ago}",
        window_start=end - dt.timedelta(days=1),
        window_end=end,
        n=500,
        psi=Decimal(psi),
        js=Decimal("0.01"),
        status="stable",
    )


def test_drift_checks_are_good_while_psi_stays_under_the_threshold(in_alpha, model):
    other_model = AIModel.objects.create(kind="model", name="Other", provider="self-hosted", model_id="other")
    score = DriftMonitor.objects.create(asset=model, feature="score", reference={})
    length = DriftMonitor.objects.create(asset=model, feature="prompt_length", reference={})
    elsewhere = DriftMonitor.objects.create(asset=other_model, feature="score", reference={})
    drift_check(score, "0.05", 1)
    drift_check(score, "0.19", 2)
    drift_check(length, "0.2", 3)  # at the limit: not under it
    drift_check(length, "0.35", 4)
    drift_check(elsewhere, "0.5", 1)  # another model's

    explicit = keel_slo("triage-drift", "drift", "drift_checks", asset=model, threshold=Decimal("0.2"))
    default = keel_slo("triage-drift-default", "drift", "drift_checks", asset=model)  # PSI 0.2 by default
    strict = keel_slo("triage-drift-strict", "drift", "drift_checks", asset=model, threshold=Decimal("0.1"))
    slos_evaluate(now=NOW)
    assert counts(explicit) == (2, 4)
    assert counts(default) == (2, 4)
    assert counts(strict) == (1, 4)
    assert sorted(Measurement.objects.filter(slo=explicit).values_list("value", flat=True)) == [
        Decimal("0.05"),
        Decimal("0.19"),
        Decimal("0.2"),
        Decimal("0.35"),
    ]


# --- budgets --------------------------------------------------------------------------------------------------------


def spend(source: BillingSource, day: dt.date, amount: str, currency: str = "EUR") -> CostDaily:
    return CostDaily.objects.create(
        day=day,
        source=source,
        provider_name="OpenAI",
        service_name="gpt-4o",
        service_category="AI and Machine Learning",
        charge_category="Usage",
        billing_account_id="org-1",
        sub_account_id="",
        region_id="",
        x_model="gpt-4o",
        billing_currency=currency,
        effective_cost=Decimal(amount),
        billed_cost=Decimal(amount),
        row_count=1,
    )


def test_budgets_each_day_is_good_while_the_month_stays_within_the_budget(in_alpha):
    cache.clear()  # the budget source runs at most every 15 minutes per SLO
    slo = keel_slo("ai-spend-within-budget", "budget_adherence", "budgets")
    since = dt.datetime(2026, 9, 30, 22, tzinfo=UTC)
    assert _budget_rows(slo, since, NOW) == []  # no budget: nothing to measure
    slos_evaluate(now=NOW)
    assert counts(slo) == (0, 0) and SloStatus.objects.get(slo=slo).state == "no_data"

    budget = Budget.objects.create(name="AI spend", scope="client", amount=Decimal("1000"), currency="EUR")
    rows = _budget_rows(slo, since, NOW)
    # One event per UTC day from 1 October to today, 20 November: all good without spend.
    assert len(rows) == 31 + 20 and all((row.good, row.total) == (1, 1) for row in rows)
    cache.clear()
    slos_evaluate(now=NOW)
    assert counts(slo) == (20, 20)  # 1 … 20 November (alpha's month starts 31 Oct 23:00 UTC)

    # 600 on the 5th and 500 on the 12th: from the 12th the month is over its 1,000 (spend in USD is not counted).
    source = BillingSource.objects.create(name="OpenAI organisation", kind="openai")
    spend(source, dt.date(2026, 11, 5), "600")
    spend(source, dt.date(2026, 11, 12), "500")
    spend(source, dt.date(2026, 11, 3), "5000", currency="USD")
    cache.clear()
    slos_evaluate(now=NOW)
    assert counts(slo) == (11, 20)
    day_11 = measurement(slo, f"budget:{budget.pk}:2026-11-11")
    day_12 = measurement(slo, f"budget:{budget.pk}:2026-11-12")
    assert (day_11.good, day_11.value, day_11.data["amount"]) == (1, Decimal("600"), "1000.00")
    assert (day_12.good, day_12.value) == (0, Decimal("1100"))


# --- pushing to a Keel-computed SLO ------------------------------------------------------------------------------


def test_pushing_measurements_for_a_keel_slo_is_refused_per_item(in_alpha, client, api_key_for):
    headers = auth_header(api_key_for(in_alpha, ["ingest"])[1])
    keel = keel_slo("p1-response", "incident_response", "incidents", threshold=Decimal("60"))
    pushed = SLO.objects.create(
        name="api-availability",
        display_name="API availability",
        sli_kind="availability",
        objective=Decimal("0.99"),
        starts_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
    )
    retired = SLO.objects.create(
        name="old-availability",
        display_name="Old",
        sli_kind="availability",
        objective=Decimal("0.99"),
        starts_at=dt.datetime(2026, 1, 1, tzinfo=UTC),
        active=False,
    )
    now = dt.datetime.now(UTC) - 5 * MINUTE
    batch = [
        {"slo": keel.name, "id": "INC-1", "opened_at": now.isoformat(), "responded_at": now.isoformat()},
        {"slo": pushed.name, "at": now.isoformat(), "ok": True},
        {"slo": retired.name, "at": now.isoformat(), "ok": True},
    ]
    response = client.post(MEASUREMENTS, batch, content_type="application/json", **headers)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    errors = {e["index"]: e for e in body["errors"]}
    assert errors[0]["field"] == "slo" and "computed by Keel" in errors[0]["message"]
    assert errors[2]["field"] == "slo" and "retired" in errors[2]["message"]
    assert not Measurement.objects.filter(slo=keel).exists()

    only_keel = client.post(MEASUREMENTS, batch[:1], content_type="application/json", **headers)
    assert only_keel.status_code == 400 and only_keel["Content-Type"] == "application/problem+json"
    assert only_keel.json()["errors"][0]["field"] == "slo"
    assert not Measurement.objects.filter(slo=keel).exists()
