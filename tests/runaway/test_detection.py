"""The runaway scan on usage events stored through the real ingest path: the seed's $22.60/minute loop raises
one critical alert within 5 minutes with exact figures, normal traffic raises nothing, and each signal fires
on its own (ceilings, tokens per request, prompt repetition, request rate)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.alerts.models import Alert
from apps.runaway.detection import baseline_slices
from apps.runaway.models import RunawayIncident
from apps.runaway.services import runaway_scan, runaway_settings, runaway_settings_save
from tests.runaway.conftest import DAY, LOOP_START, at, ingest, minutes

LOOP_HASH = "4f1c0d9e" * 8


@pytest.fixture
def seed_loop(in_alpha, agent, events):
    """underwriter-7: 2 calls a minute at $0.08 every day at 13:00–14:00 for a week and on the day; then the
    loop at 13:12 — 20 calls a minute at $1.13, the same prompt each time: $22.60 a minute, for 8 minutes."""
    normal = events.history(hour=13) + events.per_minute(at(DAY, 13, 0), 60, 2)
    loop = events.per_minute(LOOP_START, 8, 20, cost="1.13", prompt_hash=LOOP_HASH, input_tokens=84_400)
    ingest(normal + loop)
    return {"normal": normal, "loop": loop}


def scan_minutes(start: dt.datetime, count: int, **kwargs):
    return [runaway_scan(now=moment, **kwargs) for moment in minutes(start, count)]


def test_seed_loop_raises_one_critical_alert_within_five_minutes_with_exact_figures(seed_loop):
    quiet = scan_minutes(at(DAY, 13, 5), 8)  # 13:05 … 13:12: normal traffic, and the loop has not begun
    assert not any(r.opened for r in quiet)
    assert not RunawayIncident.objects.exists()

    first = runaway_scan(now=at(DAY, 13, 13))
    assert len(first.opened) == 1
    incident = RunawayIncident.objects.get()
    assert (incident.scope_kind, incident.scope_key, incident.agent.name) == ("agent", "underwriter-7", "underwriter-7")
    assert incident.started_at == LOOP_START
    assert incident.detected_at == at(DAY, 13, 13)
    assert incident.detection_delay_seconds <= 300
    # [13:12, 13:13): 20 × $1.13 of loop + 2 × $0.08 of normal work
    assert incident.burned == Decimal("22.76")
    assert incident.rate_per_minute == Decimal("22.76")
    assert incident.projected_24h == Decimal("32774.40")
    assert incident.severity == "critical"
    assert {"spend_vs_baseline", "spend_ceiling"} <= set(incident.signals)
    assert incident.baseline_10m == Decimal("1.60")  # median of the 42 ten-minute slices at 13:00–14:00
    assert incident.threshold_10m == Decimal("16.00")  # 10 × $1.60 (above the $10 floor)

    alert = Alert.objects.get(kind="runaway_spend")
    assert incident.alert == alert
    assert alert.severity == "critical"
    assert "agent underwriter-7" in alert.subject and "$22.76/min" in alert.subject
    assert "Burned so far: $22.76" in alert.body
    assert "$32,774.40 in 24 hours" in alert.body
    assert "more than 10.00 × its usual $1.60" in alert.body
    assert "$22.76 in one minute, above the $10.00/minute ceiling" in alert.body
    assert f"/c/alpha/finops/runaway/{incident.pk}/" in alert.body
    assert alert.link == f"/finops/runaway/{incident.pk}/"
    assert alert.data["burned"] == "22.76" and alert.data["projected_24h"] == "32774.40"

    # Two scans later: the same incident and alert, updated; the prompt repeated 60 times is now a signal too.
    scan_minutes(at(DAY, 13, 14), 2)
    incident.refresh_from_db()
    alert.refresh_from_db()
    assert RunawayIncident.objects.count() == 1
    assert Alert.objects.filter(kind="runaway_spend").count() == 1
    assert incident.burned == Decimal("68.28")  # 3 × $22.76
    assert incident.rate_per_minute == Decimal("22.76")
    assert incident.scans == 3
    assert incident.signals["prompt_repetition"]["value"] == 60
    assert "Burned so far: $68.28" in alert.body
    assert alert.occurrences == 3


def test_incident_ends_after_quiet_minutes_and_the_alert_stays_for_people(seed_loop):
    scan_minutes(at(DAY, 13, 13), 16)  # through 13:28; the loop stopped at 13:20
    incident = RunawayIncident.objects.get()
    assert incident.status == RunawayIncident.Status.OPEN
    assert incident.last_seen_at == at(DAY, 13, 20)
    assert incident.burned == Decimal("180.80") + Decimal("2.56")  # 8 loop minutes + 16 minutes of normal calls
    runaway_scan(now=at(DAY, 13, 29))
    runaway_scan(now=at(DAY, 13, 30))  # ten minutes below the threshold
    incident.refresh_from_db()
    assert incident.status == RunawayIncident.Status.ENDED
    assert incident.ended_at == at(DAY, 13, 30)
    alert = incident.alert
    alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN
    assert alert.subject.startswith("Runaway spend ended: agent underwriter-7 burned $")
    assert "Ended: below the threshold since" in alert.body

    runaway_scan(now=at(DAY, 13, 31))  # ended incidents are no longer scanned or re-raised
    assert RunawayIncident.objects.count() == 1
    assert Alert.objects.filter(kind="runaway_spend").count() == 1


def test_the_loop_is_one_incident_not_one_per_scope(seed_loop):
    scan_minutes(at(DAY, 13, 13), 4)
    assert list(RunawayIncident.objects.values_list("scope_kind", flat=True)) == ["agent"]


def test_normal_traffic_of_several_agents_raises_nothing(in_alpha, events):
    """A week of ordinary work (business-hours peaks, a busy agent, a nightly batch agent), scanned every minute
    for the busiest hour of the next day: no incident, no alert."""
    history, today = [], []
    profiles = {"claims-triage": (6, "0.02"), "kyc-checker": (3, "0.05"), "support-bot": (12, "0.004")}
    for name, (rate, cost) in profiles.items():
        history += events.history(hour=10, per_minute=rate, agent=name, cost=cost)
        today += events.per_minute(at(DAY, 10, 0), 60, rate + 1, agent=name, cost=cost)  # a busier day
    # A 3× burst of claims-triage: far above its baseline, but $1.80 in 10 minutes is below the floor.
    today += events.per_minute(at(DAY, 10, 30), 10, 12, agent="claims-triage", cost="0.02")
    ingest(history + today)
    results = scan_minutes(at(DAY, 10, 1), 60)
    assert not any(r.opened for r in results)
    assert not RunawayIncident.objects.exists()
    assert not Alert.objects.filter(kind="runaway_spend").exists()


def test_absolute_dollar_per_minute_ceiling_fires_without_any_history(in_alpha, events):
    runaway_settings_save(max_spend_per_minute=Decimal("5"), min_spend_10m=Decimal("500"))
    ingest(events.per_minute(at(DAY, 9, 0), 1, 6, agent="new-agent", cost="1.00"))  # $6 in one minute
    runaway_scan(now=at(DAY, 9, 1))
    incident = RunawayIncident.objects.get()
    assert incident.scope_key == "new-agent"
    assert set(incident.signals) == {"spend_ceiling"}  # the baseline signal waits for $500 (the floor)
    assert incident.signals["spend_ceiling"]["value"] == "6.000000"
    assert incident.severity == "critical"
    assert incident.threshold_per_minute == Decimal("5")  # min($500 / 10, $5 ceiling)
    assert incident.agent is None  # not in the inventory: no kill-switch to call


def test_tokens_per_request_ceiling(in_alpha, events):
    ingest(
        [events.make(at(DAY, 9, 0, 5), agent="doc-reader", cost="0.10")]
        + [events.make(at(DAY, 9, 0, 30), agent="doc-reader", cost="0.90", input_tokens=250_000)]
    )
    runaway_scan(now=at(DAY, 9, 1))
    incident = RunawayIncident.objects.get()
    assert set(incident.signals) == {"tokens_per_request"}
    assert incident.signals["tokens_per_request"]["value"] == 252_000
    assert incident.signals["tokens_per_request"]["requests"] == 1
    assert incident.severity == "high"
    assert incident.started_at == at(DAY, 9, 0)
    alert = Alert.objects.get(kind="runaway_spend")
    assert alert.severity == "high"
    assert "1 request(s) of up to 252,000 tokens, above the 200,000-token ceiling" in alert.body


def test_prompt_hash_repetition_is_a_loop_signal_even_when_cheap(in_alpha, events):
    ingest(events.per_minute(at(DAY, 9, 0), 5, 12, agent="faq-bot", cost="0.001", prompt_hash="ab" * 32))
    assert not runaway_scan(now=at(DAY, 9, 4)).opened  # 48 repeats: below 50
    runaway_scan(now=at(DAY, 9, 5))  # 60 repeats
    incident = RunawayIncident.objects.get()
    assert set(incident.signals) == {"prompt_repetition"}
    assert incident.signals["prompt_repetition"]["prompt_hash"] == "ab" * 32
    assert incident.severity == "high"
    assert incident.started_at == at(DAY, 9, 0)


def test_request_rate_far_above_the_agents_baseline(in_alpha, events):
    ingest(
        events.history(hour=9, per_minute=3, agent="poller", cost="0.0001")
        + events.per_minute(at(DAY, 9, 0), 10, 40, agent="poller", cost="0.0001")
    )
    runaway_scan(now=at(DAY, 9, 10))
    incident = RunawayIncident.objects.get()
    assert set(incident.signals) == {"request_rate"}
    assert (
        incident.signals["request_rate"] | {"value": 400, "threshold": 300, "baseline": 30}
        == incident.signals["request_rate"]
    )


def test_api_key_scope_catches_a_loop_without_an_agent_name(in_alpha, events):
    ingest(events.per_minute(at(DAY, 9, 0), 2, 30, agent="", api_key_id="key_batch", cost="0.50"))
    runaway_scan(now=at(DAY, 9, 2))
    incident = RunawayIncident.objects.get()
    assert (incident.scope_kind, incident.scope_key) == ("api_key", "key_batch")
    assert incident.burned == Decimal("30.00")


def test_disabled_settings_skip_the_scan(seed_loop):
    runaway_settings_save(enabled=False)
    assert runaway_scan(now=at(DAY, 13, 15)).skipped
    assert not RunawayIncident.objects.exists()


def test_baseline_slices_are_the_same_utc_hour_of_the_last_seven_days():
    slices = baseline_slices(dt.datetime(2026, 11, 20, 13, 17, 30, tzinfo=dt.UTC))
    assert len(slices) == 42
    assert slices[0] == dt.datetime(2026, 11, 19, 13, 0, tzinfo=dt.UTC)
    assert slices[-1] == dt.datetime(2026, 11, 13, 13, 50, tzinfo=dt.UTC)


def test_settings_are_a_singleton_whose_signing_secret_is_made_on_first_need(in_alpha):
    from apps.runaway.services import kill_switch_secret

    first = runaway_settings()
    assert first.pk == 1 and first.kill_switch_secret == ""  # a scan never needs the encryption keys
    secret = kill_switch_secret()
    assert len(secret) >= 32 and kill_switch_secret() == secret
    assert runaway_settings().kill_switch_secret == secret and runaway_settings().pk == 1
