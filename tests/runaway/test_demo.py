"""The runaway demo on the finops demo's own underwriter-7 events: the replayed scan catches the loop within a
minute with a critical alert dated as it happened, auto-stop calls the kill-switch through the local stand-in,
and a second run changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.alerts.models import Alert
from apps.catalog.services import catalog_load_bundled
from apps.demo import fixtures_finops as fx
from apps.demo.runaway_demo import acme_runaway, loop_window
from apps.inventory.models import Agent, AssetKind
from apps.runaway.models import KillSwitchCall, RunawayIncident
from apps.runaway.services import runaway_settings
from tests.runaway.conftest import ingest

TODAY = dt.date(2026, 11, 18)


@pytest.fixture
def acme_like(alpha):
    with schema_context("public"):
        catalog_load_bundled(loaded_by="test")
    with schema_context(alpha.schema_name):
        Agent.objects.create(
            kind=AssetKind.AGENT,
            name="underwriter-7",
            lifecycle="production",
            kill_switch_url="https://agents.acme.example/underwriter-7/kill",
        )
        events = [e for e in fx.acme_openai(TODAY).events]
        ingest(events)
        yield alpha


def test_the_demo_catches_and_stops_the_loop(acme_like):
    incident = acme_runaway(acme_like, today=TODAY + dt.timedelta(days=1))  # a load that crossed midnight
    with schema_context(acme_like.schema_name):
        start, end = loop_window(TODAY)
        assert (start, end - start) == (
            fx.utc(TODAY - dt.timedelta(days=3), 13 * 3600 + 12 * 60),
            dt.timedelta(minutes=40),
        )
        incident = RunawayIncident.objects.get()
        assert incident.started_at == start
        assert incident.detected_at - start <= dt.timedelta(minutes=5)
        assert incident.severity == "critical"
        assert runaway_settings().auto_stop is True
        call = KillSwitchCall.objects.get()
        # Auto-stop was off during the loop: the engineer's Stop when its last minute was booked, then switched on.
        assert (call.outcome, call.trigger, call.called_at) == ("stopped", "manual", end)
        assert call.requested_by == "am@northwind.example" and call.signed
        assert '"status": "stopped"' in call.response_excerpt
        assert incident.status == RunawayIncident.Status.ENDED  # after 10 quiet minutes
        assert incident.last_seen_at == end
        assert "burning_after_stop" not in incident.signals
        assert incident.burned >= Decimal("904.00")  # 40 minutes × $22.60 (+ the agent's normal calls)
        alert = Alert.objects.get(kind="runaway_spend")
        assert alert.severity == "critical" and alert.first_seen_at == incident.detected_at
        assert set(alert.events.values_list("at", flat=True)) == {incident.detected_at}

        assert acme_runaway(acme_like, today=TODAY).pk == incident.pk  # idempotent
        assert RunawayIncident.objects.count() == 1 and KillSwitchCall.objects.count() == 1
        assert Alert.objects.filter(kind="runaway_spend").count() == 1
