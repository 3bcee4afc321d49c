"""The evaluation cycle on synthetic streams: live budgets, burn-rate alerts firing and clearing, time slices,
closed periods, breaches (immutable) and their credits, late data, pending incidents."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError

from apps.alerts.models import Alert
from apps.service_levels.evaluation import burn_alert_key, slos_evaluate
from apps.service_levels.ingest import measurements_ingest
from apps.service_levels.models import Breach, ServiceCredit, SliMinute, SloPeriod, SloStatus
from apps.tenancy.models import Client
from tests.service_levels.conftest import NOW, minutes

UTC = dt.UTC
pytestmark = pytest.mark.django_db(transaction=False)


def status_of(slo) -> SloStatus:
    return SloStatus.objects.get(slo=slo)


def burn_alert(slo) -> Alert | None:
    return Alert.objects.filter(dedup_key=burn_alert_key(slo.pk)).exclude(state="resolved").first()


def test_live_budget_from_the_month_so_far(make_slo, engineer, in_alpha):
    # 99 % objective; this month: 100 minutes × 100 events with 1 bad each = 1 % errors → the budget is spent.
    slo = make_slo(objective=Decimal("0.99"))
    start = dt.datetime(2026, 11, 1, tzinfo=UTC)
    measurements_ingest(minutes(start, 100, good=99, total=100, slo=slo.name), now=NOW)
    measurements_ingest(minutes(start + dt.timedelta(days=2), 100, good=100, total=100, slo=slo.name), now=NOW)
    slos_evaluate(now=NOW)
    status = status_of(slo)
    # 200 × 100 events, 100 bad: error ratio 0.005 = half the 1 % budget.
    assert (status.good, status.total) == (19_900, 20_000)
    assert status.attainment == Decimal("0.995")
    assert status.budget_remaining == Decimal("0.5")
    assert status.state == "ok"
    assert status.window_start == dt.datetime(2026, 11, 1, tzinfo=in_alpha.tz)  # the client's month
    assert status.alert_level == ""


def test_total_outage_pages_and_clears_when_it_stops(make_slo, engineer):
    slo = make_slo(objective=Decimal("0.999"))
    healthy_start = NOW - dt.timedelta(hours=3)
    measurements_ingest(minutes(healthy_start, 170, good=60, total=60, slo=slo.name), now=NOW)
    # The last 10 minutes: every request fails. 1 h: 600 bad of 3,600 → 16.7 % = 166.7× the 0.1 % budget.
    outage = minutes(NOW - dt.timedelta(minutes=10), 10, good=0, total=60, slo=slo.name)
    measurements_ingest(outage, now=NOW)
    slos_evaluate(now=NOW)
    status = status_of(slo)
    assert status.alert_level == "page"
    assert status.state == "at_risk" or status.state == "exhausted"
    fired = {(entry["long"], entry["short"]) for entry in status.burn_rates["fired"]}
    assert ("1h", "5m") in fired
    alert = burn_alert(slo)
    assert alert is not None and alert.severity == "critical" and alert.kind == "slo_burn"
    assert "burning" in alert.subject

    # Fixed: 35 clean minutes later the 5- and 30-minute windows are clean, so neither page pair fires even
    # though the 1 h and 6 h windows still hold the outage; the 1 d / 2 h pair keeps a ticket open.
    later = NOW + dt.timedelta(minutes=35)
    measurements_ingest(minutes(NOW, 35, good=60, total=60, slo=slo.name), now=later)
    slos_evaluate(now=later)
    status = status_of(slo)
    assert status.alert_level == "ticket"
    assert {(e["long"], e["short"]) for e in status.burn_rates["fired"]} == {("1d", "2h"), ("3d", "6h")}
    assert burn_alert(slo) is not None  # still open (it does not de-escalate on its own)

    # A day and a half of clean traffic: every short window is clean, nothing fires, the alert is resolved.
    much_later = NOW + dt.timedelta(hours=36)
    measurements_ingest(
        minutes(NOW + dt.timedelta(minutes=15), 36 * 60 - 15, good=60, total=60, slo=slo.name), now=much_later
    )
    slos_evaluate(now=much_later)
    status = status_of(slo)
    assert status.alert_level == "" and status.burn_rates["fired"] == []
    assert burn_alert(slo) is None
    assert Alert.objects.get(dedup_key=burn_alert_key(slo.pk)).state == "resolved"


def test_a_slow_burn_opens_a_ticket_not_a_page(make_slo, engineer):
    # 2× the budget for three days: 0.2 % errors against 99.9 %. Only the 3 d / 6 h pair (factor 1) fires.
    slo = make_slo(objective=Decimal("0.999"))
    measurements_ingest(
        minutes(NOW - dt.timedelta(days=3), 3 * 24 * 6, good=998, total=1000, slo=slo.name, step=10), now=NOW
    )
    slos_evaluate(now=NOW)
    status = status_of(slo)
    assert status.alert_level == "ticket"
    assert {(e["long"], e["short"]) for e in status.burn_rates["fired"]} == {("3d", "6h")}
    assert Decimal(status.burn_rates["1h"]) == Decimal("2.0000")
    assert burn_alert(slo).severity == "medium"


def test_low_traffic_guard(make_slo, engineer):
    # One failed request in the last 5 minutes is 100 % errors, but min_events = 10 keeps the pager quiet.
    slo = make_slo(objective=Decimal("0.99"), min_events=10)
    measurements_ingest([{"slo": slo.name, "at": (NOW - dt.timedelta(minutes=2)).isoformat(), "ok": False}], now=NOW)
    slos_evaluate(now=NOW)
    assert status_of(slo).alert_level == ""


def test_alerting_off_computes_but_stays_silent(make_slo, engineer):
    slo = make_slo(objective=Decimal("0.99"), alerting=False)
    measurements_ingest(minutes(NOW - dt.timedelta(minutes=30), 30, good=0, total=10, slo=slo.name), now=NOW)
    slos_evaluate(now=NOW)
    status = status_of(slo)
    assert status.alert_level == "" and status.burn_rates["fired"]  # the pairs fired; no alert was raised
    assert burn_alert(slo) is None


def test_time_slices_count_bad_minutes_against_the_time_budget(make_slo, engineer):
    # 5-minute slices, good when ≥ 90 % of a slice's events are good; 99 % of a 30-day window's 8,640 slices
    # may be bad → 86.4 bad slices allowed. 2 bad slices of 12 (one hour) → remaining 1 − 2 / 86.4.
    slo = make_slo(
        objective=Decimal("0.99"),
        budgeting="timeslices",
        timeslice_minutes=5,
        timeslice_target=Decimal("0.9"),
        window_kind="rolling",
        window_days=30,
    )
    start = NOW - dt.timedelta(hours=1)
    items = minutes(start, 60, good=10, total=10, slo=slo.name)
    for item in items[10:20]:  # minutes 10..19: slices 2 and 3 are bad (50 % good)
        item["good"] = 5
    measurements_ingest(items, now=NOW)
    slos_evaluate(now=NOW)
    status = status_of(slo)
    assert (status.good, status.total) == (10, 12)
    assert status.budget_remaining == (1 - Decimal(2) / Decimal("86.4")).quantize(Decimal("0.00000001"))


def test_closed_month_below_target_records_one_breach_and_its_credit(make_slo, engineer):
    Client.objects.filter(schema_name=connection.schema_name).update(monthly_retainer=Decimal("12000.00"))
    tiers = [{"below": "99", "credit_percent": "10"}, {"below": "95", "credit_percent": "25"}]
    slo = make_slo(objective=Decimal("0.99"), credit_tiers=tiers, starts_at=dt.datetime(2026, 10, 1, tzinfo=UTC))
    # October: 96 % good → under 99 → 10 % of 12,000 = 1,200.00.
    measurements_ingest(minutes(dt.datetime(2026, 10, 3, tzinfo=UTC), 100, good=96, total=100, slo=slo.name), now=NOW)
    slos_evaluate(now=NOW)
    period = SloPeriod.objects.get(slo=slo, label="2026-10")
    assert period.met is False and period.attainment == Decimal("0.96")
    assert period.budget_consumed == Decimal("4")  # 4 % errors against a 1 % budget
    breach = Breach.objects.get(slo=slo)
    assert breach.credit_percent == Decimal("10") and breach.credit_amount == Decimal("1200.00")
    assert breach.slo_snapshot["objective"] == "0.99000000"
    credit = ServiceCredit.objects.get(breach=breach)
    assert credit.month == dt.date(2026, 10, 1) and credit.amount == Decimal("1200.00") and credit.status == "due"
    assert Alert.objects.filter(kind="slo_breach", data__breach_id=breach.pk).exists()
    # The next cycle records nothing new.
    slos_evaluate(now=NOW + dt.timedelta(minutes=1))
    assert Breach.objects.filter(slo=slo).count() == 1


def test_breaches_cannot_be_changed_or_deleted(make_slo, engineer):
    slo = make_slo(starts_at=dt.datetime(2026, 10, 1, tzinfo=UTC))
    measurements_ingest(minutes(dt.datetime(2026, 10, 3, tzinfo=UTC), 10, good=5, total=10, slo=slo.name), now=NOW)
    slos_evaluate(now=NOW)
    breach = Breach.objects.get(slo=slo)
    for sql in (
        "UPDATE service_levels_breach SET attainment = 0.999 WHERE id = %s",
        "DELETE FROM service_levels_breach WHERE id = %s",
    ):
        with (
            pytest.raises((InternalError, ProgrammingError), match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql, [breach.pk])
    assert Breach.objects.get(pk=breach.pk).attainment == Decimal("0.5")


def test_the_month_s_credits_stay_within_the_retainer(make_slo, engineer):
    Client.objects.filter(schema_name=connection.schema_name).update(monthly_retainer=Decimal("1000.00"))
    tiers = [{"below": "99", "credit_percent": "60"}]
    start = dt.datetime(2026, 10, 1, tzinfo=UTC)
    first = make_slo("first", credit_tiers=tiers, starts_at=start)
    second = make_slo("second", credit_tiers=tiers, starts_at=start)
    for slo in (first, second):
        measurements_ingest(minutes(dt.datetime(2026, 10, 3, tzinfo=UTC), 5, good=1, total=2, slo=slo.name), now=NOW)
    slos_evaluate(now=NOW)
    credits = list(ServiceCredit.objects.order_by("id"))
    assert [c.percent for c in credits] == [Decimal("60"), Decimal("40")]
    assert [c.amount for c in credits] == [Decimal("600.00"), Decimal("400.00")]
    assert [c.capped for c in credits] == [False, True]


def test_late_data_recomputes_the_closed_period_and_a_breach_stays(make_slo, engineer):
    slo = make_slo(objective=Decimal("0.9"), starts_at=dt.datetime(2026, 10, 1, tzinfo=UTC))
    measurements_ingest(minutes(dt.datetime(2026, 10, 3, tzinfo=UTC), 10, good=10, total=10, slo=slo.name), now=NOW)
    slos_evaluate(now=NOW)
    period = SloPeriod.objects.get(slo=slo, label="2026-10")
    assert period.met is True and period.revision == 1

    late = minutes(dt.datetime(2026, 10, 20, tzinfo=UTC), 10, good=0, total=10, slo=slo.name)
    for number, item in enumerate(late):
        item["id"] = f"late-{number}"  # so the correction below replaces them
    result = measurements_ingest(late, now=NOW)
    assert result.periods_recomputed == 1
    period.refresh_from_db()
    assert (period.good, period.total, period.met, period.revision) == (100, 200, False, 2)
    assert Breach.objects.filter(slo=slo, period=period).count() == 1

    # A correction that lifts the month again recomputes it, but the breach on record stays.
    fixed = [{**item, "good": 10} for item in late]
    measurements_ingest(fixed, now=NOW)
    period.refresh_from_db()
    assert period.met is True and period.revision == 3
    assert Breach.objects.filter(slo=slo).count() == 1


def test_resending_a_batch_changes_nothing(make_slo, engineer):
    slo = make_slo()
    batch = minutes(NOW - dt.timedelta(minutes=30), 30, good=9, total=10, slo=slo.name)
    first = measurements_ingest(batch, now=NOW)
    second = measurements_ingest(batch, now=NOW)
    assert (first.accepted, second.accepted, second.duplicates) == (30, 0, 30)
    rollup = SliMinute.objects.filter(slo=slo)
    assert rollup.count() == 30 and sum(r.good for r in rollup) == 270


def test_a_corrected_timestamp_moves_the_sample(make_slo, engineer):
    slo = make_slo()
    at = NOW - dt.timedelta(minutes=10)
    measurements_ingest([{"slo": slo.name, "id": "p1", "at": at.isoformat(), "ok": False}], now=NOW)
    moved = at - dt.timedelta(minutes=3)
    result = measurements_ingest([{"slo": slo.name, "id": "p1", "at": moved.isoformat(), "ok": True}], now=NOW)
    assert result.replaced == 1
    assert list(SliMinute.objects.filter(slo=slo).values_list("minute", "good", "total")) == [(moved, 1, 1)]


def test_an_open_incident_turns_late_once_its_allowance_runs_out(make_slo, engineer):
    slo = make_slo("p1-response", sli_kind="incident_response", threshold=Decimal("30"), objective=Decimal("0.9"))
    opened = NOW - dt.timedelta(minutes=10)
    result = measurements_ingest([{"slo": slo.name, "id": "INC-1", "opened_at": opened.isoformat()}], now=NOW)
    assert result.accepted == 1
    slos_evaluate(now=NOW)
    assert status_of(slo).total == 0  # still within its 30 minutes: not counted yet
    slos_evaluate(now=NOW + dt.timedelta(minutes=25))
    status = status_of(slo)
    assert (status.good, status.total) == (0, 1)  # 35 minutes without an answer: late, for good
    answered = {
        "slo": slo.name,
        "id": "INC-1",
        "opened_at": opened.isoformat(),
        "responded_at": (NOW + dt.timedelta(minutes=24)).isoformat(),
    }
    measurements_ingest([answered], now=NOW + dt.timedelta(minutes=26))
    slos_evaluate(now=NOW + dt.timedelta(minutes=26))
    assert (status_of(slo).good, status_of(slo).total) == (0, 1)  # answered after 34 minutes: still late
