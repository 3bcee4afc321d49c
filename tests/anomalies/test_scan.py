"""The scan over the rollup: a spike booked through the real path is recorded per scope (service, asset,
client; an account billing one service is not recorded twice), credits, taxes, purchases and adjustments never
trigger, rescans are idempotent, a restated day closes its anomaly and its alert, alert severity and dedup,
actions and their alerts, settings, the booking listener and the daily task."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.alerts.models import Alert
from apps.anomalies.models import Anomaly
from apps.anomalies.services import anomalies_scan, anomaly_act, anomaly_settings, anomaly_settings_save
from apps.audit.models import AuditEvent
from tests.finops.conftest import openai_day_row

from .conftest import CLAUDE, SPIKE_DAY, TODAY, book_days

pytestmark = pytest.mark.django_db


def _scopes(**filters) -> set[tuple[str, str]]:
    return set(Anomaly.objects.filter(**filters).values_list("scope_kind", "scope_label"))


def test_a_booked_spike_is_recorded_for_its_service_and_the_client(spiked):
    # The booking listener rescanned the recent days already: nothing to call.
    assert _scopes() == {("service", "OpenAI API"), ("client", "All Usage spend")}
    service = Anomaly.objects.get(scope_kind="service")
    assert service.day == SPIKE_DAY and service.currency == "USD" and service.direction == "spike"
    assert service.scope_key == "OpenAI API" and service.provider_name == "OpenAI"
    assert service.expected == pytest.approx(Decimal(800), abs=Decimal(10))
    assert service.actual == pytest.approx(service.expected + 2400, abs=Decimal(20))
    assert service.impact == service.actual - service.expected
    assert service.expected_low < service.expected < service.expected_high < service.actual
    assert service.score > 10 and service.status == Anomaly.Status.OPEN
    assert service.first_detected_at and service.details["method"] == "weekday"
    # The OpenAI account bills only the OpenAI API: the same incident is not recorded a third time.
    assert not Anomaly.objects.filter(scope_kind="account").exists()
    client = Anomaly.objects.get(scope_kind="client")
    assert client.expected == pytest.approx(Decimal(1100), abs=Decimal(15))  # 800 OpenAI + 300 Claude


def test_an_assets_spend_is_its_own_scope(org, source):
    loop = {SPIKE_DAY: [openai_day_row(SPIKE_DAY, "900.00", tags={"agent": "claims-triage"}, **CLAUDE)]}
    book_days(source, TODAY - dt.timedelta(days=100), TODAY - dt.timedelta(days=1), extra=loop)
    assert _scopes() == {("asset", "claims-triage"), ("service", "Claude API"), ("client", "All Usage spend")}
    asset = Anomaly.objects.get(scope_kind="asset")
    assert asset.scope_key == str(org["triage"].pk) and asset.provider_name == "Anthropic"
    assert asset.actual == Decimal(1100) and asset.expected == Decimal(200) and asset.impact == Decimal(900)
    service = Anomaly.objects.get(scope_kind="service")
    assert service.actual == Decimal(1200) and service.expected == Decimal(300)


@pytest.mark.parametrize(
    "category, amount",
    [("Credit", "-3000.00"), ("Tax", "950.00"), ("Purchase", "25000.00"), ("Adjustment", "-1800.00")],
)
def test_credits_taxes_purchases_and_adjustments_never_trigger(ledger, category, amount):
    day = TODAY - dt.timedelta(days=4)
    extra = {day: [openai_day_row(day, amount, charge_category=category)]}
    book_days(ledger["source"], TODAY - dt.timedelta(days=100), TODAY - dt.timedelta(days=1), extra=extra)
    result = anomalies_scan()
    assert result.days_judged > 0
    assert not Anomaly.objects.exists()


def test_a_drop_is_recorded_as_a_low_alert(ledger):
    day = TODAY - dt.timedelta(days=2)  # Wednesday
    book_days(ledger["source"], day, day, spikes={day: -700})
    drop = Anomaly.objects.get(scope_kind="service")
    assert drop.direction == "drop" and drop.impact < -600
    assert drop.alert.severity == "low" and drop.alert.kind == "cost_anomaly"


def test_rescans_are_idempotent(spiked):
    before = {a.pk: a.actual for a in Anomaly.objects.all()}
    alerts = set(Alert.objects.values_list("pk", "occurrences"))
    for _ in range(2):
        result = anomalies_scan(first_day=TODAY - dt.timedelta(days=30), last_day=TODAY - dt.timedelta(days=1))
        assert result.created == [] and result.resolved == [] and result.alerts_raised == 0
    assert {a.pk: a.actual for a in Anomaly.objects.all()} == before
    assert set(Alert.objects.values_list("pk", "occurrences")) == alerts  # the same alert, not raised again


def test_one_alert_per_anomaly_with_severity_by_impact(spiked):
    service = Anomaly.objects.get(scope_kind="service")
    client = Anomaly.objects.get(scope_kind="client")
    assert Alert.objects.filter(kind="cost_anomaly").count() == 2
    assert service.alert.dedup_key == f"cost_anomaly:{service.pk}"
    assert service.alert.severity == "high"  # 2,400 USD more than expected in a day
    assert service.alert.link == f"/finops/anomalies/{service.pk}/"
    assert "OpenAI API" in service.alert.subject and "17 Nov 2026" in service.alert.subject
    assert service.alert.data["impact"] == str(service.impact.quantize(Decimal("0.01")))
    assert client.alert_id != service.alert_id


def test_a_smaller_spike_is_medium_and_a_restatement_updates_the_same_alert(ledger):
    day = SPIKE_DAY
    book_days(ledger["source"], day, day, spikes={day: 600})
    service = Anomaly.objects.get(scope_kind="service")
    assert service.alert.severity == "medium"
    first_alert = service.alert_id
    # The provider restates the day upward: the anomaly's figures move, the one alert escalates.
    book_days(ledger["source"], day, day, spikes={day: 1600})
    service.refresh_from_db()
    assert service.alert_id == first_alert and service.impact > 1500
    alert = Alert.objects.get(pk=first_alert)
    assert alert.severity == "high" and alert.occurrences == 2
    assert Alert.objects.filter(dedup_key=service.dedup_key).count() == 1


def test_a_restated_day_back_in_range_closes_the_anomaly_and_its_alert(spiked):
    service = Anomaly.objects.get(scope_kind="service")
    # The next pull re-reads the day and the provider's bill is normal after all.
    book_days(spiked["source"], SPIKE_DAY, SPIKE_DAY)
    service.refresh_from_db()
    assert service.status == Anomaly.Status.RESOLVED and service.resolved_automatically
    assert "now within the expected range" in service.status_note
    assert service.actual < service.expected_high
    assert Alert.objects.get(pk=service.alert_id).state == Alert.State.RESOLVED
    assert AuditEvent.objects.filter(action="anomaly.auto_resolve", object_id=str(service.pk)).exists()
    # Restated once more, out of range again: it reopens with a new alert.
    book_days(spiked["source"], SPIKE_DAY, SPIKE_DAY, spikes={SPIKE_DAY: 2400})
    service.refresh_from_db()
    assert service.status == Anomaly.Status.OPEN and not service.resolved_automatically
    assert service.alert.state == Alert.State.OPEN
    assert Anomaly.objects.filter(scope_kind="service").count() == 1


def test_a_lagging_source_is_not_judged_on_days_it_has_not_booked(org, source):
    from apps.finops.models import BillingSource

    book_days(source, TODAY - dt.timedelta(days=100), TODAY - dt.timedelta(days=1))
    # A second source whose bills stop two days earlier: its missing days are not drops.
    late = BillingSource.objects.create(name="Late AWS", kind="aws_cost_explorer")
    from tests.finops.test_allocation import book

    first, last = TODAY - dt.timedelta(days=100), TODAY - dt.timedelta(days=3)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    rows = [
        openai_day_row(d, "500.00", provider_name="AWS", service_name="Amazon EC2", billing_account_id="aws-1")
        for d in days
    ]
    book(late, rows, start=first.isoformat(), end=(last + dt.timedelta(days=1)).isoformat())
    result = anomalies_scan()
    assert not Anomaly.objects.exists()
    assert result.days_judged > 0


def test_old_days_are_judged_but_raise_no_alert(ledger):
    old = TODAY - dt.timedelta(days=40)
    book_days(ledger["source"], old, old, spikes={old: 2500})  # a late restatement of an old day
    found = Anomaly.objects.get(scope_kind="service")
    assert found.day == old and found.status == Anomaly.Status.OPEN and found.alert is None
    assert not Alert.objects.exists()


def test_a_large_backfill_rescans_only_its_recent_part_on_booking(org, source):
    old = TODAY - dt.timedelta(days=60)
    book_days(source, TODAY - dt.timedelta(days=100), TODAY - dt.timedelta(days=1), spikes={old: 2500})
    assert not Anomaly.objects.exists()
    result = anomalies_scan(first_day=TODAY - dt.timedelta(days=70), last_day=TODAY - dt.timedelta(days=1))
    assert result.alerts_raised == 0
    assert Anomaly.objects.get(scope_kind="service").day == old


def test_too_little_history_is_never_flagged(org, source):
    first = TODAY - dt.timedelta(days=12)
    book_days(source, first, TODAY - dt.timedelta(days=1), spikes={TODAY - dt.timedelta(days=1): 5000})
    assert anomalies_scan().days_judged == 0
    assert not Anomaly.objects.exists()


def test_acknowledge_resolve_dismiss_and_reopen_move_the_alert(spiked):
    service = Anomaly.objects.get(scope_kind="service")
    anomaly_act(anomaly=service, action="acknowledge", note="Looking at the OpenAI project keys.")
    service.refresh_from_db()
    assert service.status_note == "Looking at the OpenAI project keys."
    alert = Alert.objects.get(pk=service.alert_id)
    assert alert.state == Alert.State.ACKNOWLEDGED
    assert alert.events.filter(kind="acknowledged", note__contains="OpenAI project keys").exists()
    with pytest.raises(ValidationError):
        anomaly_act(anomaly=service, action="acknowledge")  # only from open
    with pytest.raises(ValidationError) as no_reason:
        anomaly_act(anomaly=service, action="dismiss", note="  ")
    assert "note" in no_reason.value.message_dict
    anomaly_act(anomaly=service, action="dismiss", note="Planned load test of the new claims model.")
    service.refresh_from_db()
    assert service.status == Anomaly.Status.DISMISSED and service.status_note.startswith("Planned load test")
    assert Alert.objects.get(pk=service.alert_id).state == Alert.State.RESOLVED
    # A dismissed anomaly stays dismissed on rescans, and raises nothing.
    anomalies_scan()
    service.refresh_from_db()
    assert service.status == Anomaly.Status.DISMISSED
    assert Alert.objects.filter(dedup_key=service.dedup_key).exclude(state="resolved").count() == 0
    anomaly_act(anomaly=service, action="reopen")
    service.refresh_from_db()
    assert service.status == Anomaly.Status.OPEN and service.alert.state == Alert.State.OPEN
    anomaly_act(anomaly=service, action="resolve", note="Loop stopped.")
    service.refresh_from_db()
    assert service.status == Anomaly.Status.RESOLVED and not service.resolved_automatically
    actions = list(AuditEvent.objects.filter(object_id=str(service.pk), object_type="anomalies.anomaly")
                   .order_by("seq").values_list("action", flat=True))  # fmt: skip
    assert actions == ["anomaly.detect", "anomaly.acknowledge", "anomaly.dismiss", "anomaly.reopen", "anomaly.resolve"]


def test_a_manually_resolved_anomaly_is_not_reopened_by_a_rescan(spiked):
    service = Anomaly.objects.get(scope_kind="service")
    anomaly_act(anomaly=service, action="resolve", note="Known: month-end batch.")
    anomalies_scan()
    service.refresh_from_db()
    assert service.status == Anomaly.Status.RESOLVED and service.status_note == "Known: month-end batch."


def test_settings_are_validated_audited_and_used(spiked):
    with pytest.raises(ValidationError) as bad:
        anomaly_settings_save(sensitivity=Decimal("1"), baseline_weeks=12)
    assert set(bad.value.message_dict) == {"sensitivity", "baseline_weeks"}
    with pytest.raises(ValidationError):
        anomaly_settings_save(last_scan={})  # not a setting
    anomaly_settings_save(min_impact=Decimal("5000"))
    event = AuditEvent.objects.filter(action="anomaly_settings.update").latest("seq")
    assert Decimal(event.before["min_impact"]) == 50 and Decimal(event.after["min_impact"]) == 5000
    # 2,400 USD more is now below the minimum impact: the rescan closes both anomalies.
    result = anomalies_scan()
    assert len(result.resolved) == 2
    assert anomaly_settings().last_scan["resolved"] == 2


def test_the_daily_task_scans_the_last_days(spiked):
    from apps.anomalies.tasks import daily_scan_task
    from apps.core.models import TaskRun

    Anomaly.objects.all().delete()
    result = daily_scan_task()
    assert result["created"] == 2 and result["first_day"] == "2026-11-13" and result["last_day"] == "2026-11-19"
    assert TaskRun.objects.filter(task_name="anomalies.daily_scan", status="succeeded").exists()


def test_the_scan_refuses_an_overlong_period(ledger):
    with pytest.raises(ValidationError):
        anomalies_scan(first_day=TODAY - dt.timedelta(days=500), last_day=TODAY - dt.timedelta(days=1))


def test_currencies_are_separate_series(org, source):
    eur = {SPIKE_DAY: [openai_day_row(SPIKE_DAY, "1.00", billing_currency="EUR")]}
    book_days(source, TODAY - dt.timedelta(days=100), TODAY - dt.timedelta(days=1), extra=eur)
    # One euro on one day of an otherwise USD service: too little EUR history to judge, USD unaffected.
    assert not Anomaly.objects.exists()
