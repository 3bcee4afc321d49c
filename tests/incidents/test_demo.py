"""The incident demo: Acme's runaway opened from its runaway incident under DORA (initial notification sent,
intermediate pending with its clock live), Maple's misdirected summary with the PIPEDA breach record, Harbor's
hallucination under the AI Act with the 15-day clock running; a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.demo.incidents_demo import demo_incidents, easter, german_bank_holidays
from apps.incidents.models import AIIncident, IncidentEvent, IncidentSettings, Obligation
from apps.incidents.selectors import clock_for
from tests.incidents.conftest import NOW

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def acme_runaway(alpha):
    from apps.inventory.models import Agent, AssetKind
    from apps.runaway.models import RunawayIncident

    with schema_context(alpha.schema_name):
        agent = Agent.objects.create(kind=AssetKind.AGENT, name="underwriter-7", lifecycle="production")
        started = dt.datetime(2026, 11, 29, 13, 12, tzinfo=dt.UTC)  # three days ago
        return RunawayIncident.objects.create(
            scope_kind="agent",
            scope_key="underwriter-7",
            agent=agent,
            currency="USD",
            status="ended",
            started_at=started,
            detected_at=started + dt.timedelta(seconds=40),
            last_seen_at=started + dt.timedelta(minutes=40),
            last_scan_at=started + dt.timedelta(minutes=54),
            burned=Decimal("904"),
            peak_per_minute=Decimal("22.6"),
        )


def snapshot(*clients):
    rows = []
    for client in clients:
        with schema_context(client.schema_name):
            rows.append(
                (
                    AIIncident.objects.count(),
                    IncidentEvent.objects.count(),
                    sorted(Obligation.objects.values_list("report", "status", "due_at")),
                )
            )
    return rows


def test_the_demo_tells_three_stories_with_live_clocks(alpha, beta, acme_runaway):
    clients = {"acme": alpha, "maple": beta, "harbor": alpha}
    demo_incidents(clients, now=NOW)
    with schema_context(alpha.schema_name):
        acme = AIIncident.objects.get(source_kind="runaway", source_id=acme_runaway.pk)
        assert (acme.kind, acme.status, acme.regimes) == ("cost_runaway", "contained", ["dora-art19"])
        assert acme.classified_major_at == NOW - dt.timedelta(hours=30)
        assert [a.name for a in acme.assets.all()] == ["underwriter-7"]
        reports = {o.report: o for o in acme.obligations.all()}
        assert reports["initial_notification"].status == "submitted"
        assert reports["initial_notification"].submitted_at <= reports["initial_notification"].due_at  # on time
        intermediate = reports["intermediate_report"]
        assert intermediate.status == "pending" and intermediate.due_at == NOW + dt.timedelta(hours=45)
        assert clock_for(intermediate, now=NOW).label == "due in 1 day 21 h"
        settings = IncidentSettings.objects.get()
        assert settings.dora_financial_entity and dt.date(2026, 12, 25) in settings.bank_holidays

        harbor = AIIncident.objects.get(kind="hallucination_harm")
        report = harbor.obligations.get()
        assert (harbor.status, report.report, report.status) == ("investigating", "serious_incident_report", "pending")
        assert clock_for(report, now=NOW).label == "due in 10 days 21 h"
    with schema_context(beta.schema_name):
        maple = AIIncident.objects.get()
        assert maple.regimes == ["pipeda-s10-1"] and maple.status == "resolved"
        record = maple.obligations.get()  # no real risk of significant harm: only the breach record
        assert (record.report, record.status) == ("breach_record", "submitted")
        assert record.keep_until == maple.breach_determined_at.replace(year=2028)

    before = snapshot(alpha, beta)
    demo_incidents(clients, now=NOW)
    assert snapshot(alpha, beta) == before


def test_without_the_runaway_demo_acme_is_skipped(alpha):
    demo_incidents({"acme": alpha}, now=NOW)
    with schema_context(alpha.schema_name):
        assert not AIIncident.objects.exists()


def test_german_bank_holidays():
    assert easter(2027) == dt.date(2027, 3, 28) and easter(2026) == dt.date(2026, 4, 5)
    assert dt.date(2027, 3, 26) in german_bank_holidays(2027)  # Good Friday
    assert dt.date(2026, 5, 25) in german_bank_holidays(2026)  # Whit Monday
