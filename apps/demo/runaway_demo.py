"""Runaway demo: Acme's underwriter-7 loop (finops demo: $22.60 a minute from 13:12 UTC three days ago, for 40
minutes) caught within a minute by the real detection service, then stopped by the on-call engineer.

The demo replays the scan minute by minute over the loop, exactly as beat would have run it then
(runaway_scan(now=…)), so the incident, its critical alert and detected_at are what Keel computes from the usage
events. Auto-stop was still off then: the engineer pressed Stop when the loop's last minute was booked (that is
why it burned 40 minutes), and Acme switched auto-stop on afterwards, which is how the settings page shows it.
underwriter-7's kill-switch URL comes from the inventory demo; the call goes to a local stand-in transport (like
the finops demo's provider stand-ins), never to the network, and answers that the agent stopped. The alert's
timestamps are then moved to the replayed moments, so the history reads as it happened. Idempotent: a second run
finds the incident and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import requests
from django.utils import timezone
from django_tenants.utils import schema_context
from requests.adapters import BaseAdapter

from apps.core.context import acting_as

from . import fixtures_finops as fx

logger = logging.getLogger(__name__)

AGENT = "underwriter-7"
REPLAY_BEFORE = 3  # minutes scanned before the loop began (nothing to find)
REPLAY_AFTER = 14  # minutes scanned after it stopped (the incident ends after 10 quiet minutes)


class KillSwitchStandIn(BaseAdapter):
    """underwriter-7's kill-switch endpoint, answered in-process: the agent's orchestrator cancels the run."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def send(self, request, **kwargs):
        self.calls += 1
        sent = json.loads(request.body)
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(
            {
                "status": "stopped",
                "agent": sent["agent"]["name"],
                "runs_cancelled": 1,
                "incident": sent["incident"]["id"],
            }
        ).encode()
        response.headers["Content-Type"] = "application/json"
        response.request, response.url = request, request.url
        return response

    def close(self):
        pass


def stand_in_session() -> requests.Session:
    session = requests.Session()
    adapter = KillSwitchStandIn()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


LOOP_REQUEST_PREFIX = "chatcmpl-uw7-loop-"  # fixtures_finops.runaway_events' request ids


def loop_window(today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[first, last call + 1 minute) of the loop the finops demo stored; taken from the events themselves, so
    a demo load that crosses midnight (finops on one day, this step on the next) still finds it."""
    from django.db.models import Max, Min

    from apps.finops.models import UsageEvent

    found = UsageEvent.objects.filter(agent=AGENT, request_id__startswith=LOOP_REQUEST_PREFIX).aggregate(
        first=Min("occurred_at"), last=Max("occurred_at")
    )
    if found["first"] is not None:
        return found["first"], found["last"].replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    day = today - dt.timedelta(days=fx.RUNAWAY_DAYS_AGO)
    start = fx.utc(day, fx.RUNAWAY_START[0] * 3600 + fx.RUNAWAY_START[1] * 60)
    return start, start + dt.timedelta(minutes=fx.RUNAWAY_MINUTES)


def _backdate_alert(incident) -> None:
    """The replayed alert was written now; give it the moments it stands for."""
    from apps.alerts.models import Alert, AlertEvent

    if incident.alert_id is None:
        return
    Alert.objects.filter(pk=incident.alert_id).update(
        first_seen_at=incident.detected_at, last_seen_at=incident.last_scan_at
    )
    AlertEvent.objects.filter(alert_id=incident.alert_id).update(at=incident.detected_at)


def _engineer_stops(start: dt.datetime, moment: dt.datetime, session) -> None:
    """The on-call engineer's Stop on the open incident, recorded at the replayed moment."""
    from apps.runaway.killswitch import kill_switch_call
    from apps.runaway.models import KillSwitchCall, RunawayIncident

    incident = RunawayIncident.objects.filter(
        scope_kind="agent", scope_key=AGENT, started_at__gte=start, status=RunawayIncident.Status.OPEN
    ).first()
    if incident is None or incident.agent is None or not incident.agent.kill_switch_url:
        return
    with acting_as(source="web", user_email="am@northwind.example"):
        kill_switch_call(incident=incident, trigger=KillSwitchCall.Trigger.MANUAL, now=moment, session=session)


def acme_runaway(client, *, today: dt.date | None = None):
    from apps.finops.models import UsageEvent
    from apps.inventory.models import Agent
    from apps.runaway.models import RunawayIncident
    from apps.runaway.services import runaway_scan, runaway_settings, runaway_settings_save

    today = today or timezone.now().astimezone(dt.UTC).date()
    with schema_context(client.schema_name), acting_as(source="command", user_email="demo-loader"):
        start, end = loop_window(today)
        found = RunawayIncident.objects.filter(
            scope_kind="agent", scope_key=AGENT, started_at__gte=start - dt.timedelta(hours=1), started_at__lt=end
        ).first()
        if found is not None:
            return found
        if not UsageEvent.objects.filter(agent=AGENT, occurred_at__gte=start, occurred_at__lt=end).exists():
            logger.warning("runaway demo: no loop events of %s at %s (finops demo not loaded?)", AGENT, start)
            return None
        if not Agent.objects.filter(name=AGENT).exists():
            logger.warning("runaway demo: %s is not an inventory agent at Acme: no kill-switch to call", AGENT)
        if runaway_settings().auto_stop:
            runaway_settings_save(auto_stop=False)
        session = stand_in_session()
        moment = start - dt.timedelta(minutes=REPLAY_BEFORE)
        last = end + dt.timedelta(minutes=REPLAY_AFTER)
        while moment <= last:
            runaway_scan(now=moment, session=session)
            if moment == end:
                _engineer_stops(start, moment, session)
            moment += dt.timedelta(minutes=1)
        runaway_settings_save(auto_stop=True)
        incident = RunawayIncident.objects.filter(scope_kind="agent", scope_key=AGENT, started_at__gte=start).first()
        if incident is not None:
            _backdate_alert(incident)
            logger.info(
                "runaway demo: %s caught %ss after it began, $%s burned, status %s",
                AGENT,
                round(incident.detection_delay_seconds),
                incident.burned,
                incident.status,
            )
        return incident


def demo_runaway(clients) -> None:
    """Acme's loop caught (critical alert within a minute) and stopped through its kill-switch; idempotent."""
    if "acme" in clients:
        acme_runaway(clients["acme"])
