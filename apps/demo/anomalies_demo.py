"""Demo anomalies: the real detector run over each demo client's whole ledger (from its third week, when a scope
first has enough history, to yesterday), exactly as the scheduled scan would judge it.

What it finds in the finops demo's ledger:
- Acme: underwriter-7's runaway loop 3 days ago, a spike of about 900 USD on the OpenAI API service, the agent
  and the client total (open, with their alerts).
- Harbor: the claims pipeline's routing change 3 months ago, drops in the Claude API, the claims agent and the
  client total for its first days; the demo dismisses them with the reason the account manager would give. And
  five days ago an ad-hoc full scan of the claims warehouse, a spike of about 450 USD on BigQuery (open).
- Maple: four days ago debug logging left on after a release, a spike of about 560 CAD on Log Analytics (open).
(The one-day incidents are fixtures_finops.ONE_DAY_INCIDENTS.)

Idempotent: a scan updates the anomalies it already recorded (one per scope, day and currency), and the
dismissal is only applied to anomalies still open.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Max, Min
from django_tenants.utils import tenant_context

from apps.core.context import acting_as

logger = logging.getLogger(__name__)

DEMO_SLUGS = ("acme", "maple", "harbor")
FIRST_JUDGED_AFTER = dt.timedelta(days=14)  # the detector needs two weeks of a scope's history
HARBOR_ROUTING_NOTE = (
    "Planned: on {day:%-d %b} the claims pipeline started routing most claims from Claude Opus to Claude Sonnet "
    "(the implemented routing recommendation). The lower spend is the saving, not a fault."
)
HARBOR_ROUTING_DAYS = 10  # the drops that follow the routing change while the baseline adapts to the new level


def _today() -> dt.date:
    from django.utils import timezone

    return timezone.now().astimezone(dt.UTC).date()


def _scan_whole_ledger(today: dt.date):
    from apps.anomalies.services import MAX_SCAN_DAYS, anomalies_scan
    from apps.finops.models import CostDaily

    span = CostDaily.objects.filter(charge_category="Usage").aggregate(first=Min("day"), last=Max("day"))
    if span["first"] is None:
        return None
    last = min(span["last"], today - dt.timedelta(days=1))
    first = max(span["first"] + FIRST_JUDGED_AFTER, last - dt.timedelta(days=MAX_SCAN_DAYS - 1))
    return anomalies_scan(first_day=first, last_day=last, today=today)


def _dismiss_harbor_routing_change(today: dt.date) -> int:
    """The drops after Harbor's routing change were planned: dismissed with the reason (as demo-loader)."""
    from apps.anomalies.models import Anomaly, Direction
    from apps.anomalies.services import anomaly_act
    from apps.demo.fixtures_finops import routing_change_day

    change = routing_change_day(today)
    drops = Anomaly.objects.filter(
        direction=Direction.DROP,
        day__gte=change,
        day__lt=change + dt.timedelta(days=HARBOR_ROUTING_DAYS),
        status__in=[Anomaly.Status.OPEN, Anomaly.Status.ACKNOWLEDGED],
    )
    count = 0
    for anomaly in drops:
        anomaly_act(anomaly=anomaly, action="dismiss", note=HARBOR_ROUTING_NOTE.format(day=change))
        count += 1
    return count


def demo_anomalies(clients) -> None:
    """Load this capability's demo data for the demo clients (a dict slug → Client); idempotent."""
    from apps.anomalies.models import Anomaly

    today = _today()
    for slug in DEMO_SLUGS:
        client = clients.get(slug)
        if client is None:
            continue
        with tenant_context(client), acting_as(source="command", user_email="demo-loader"):
            result = _scan_whole_ledger(today)
            dismissed = _dismiss_harbor_routing_change(today) if slug == "harbor" else 0
            still_open = Anomaly.objects.filter(status=Anomaly.Status.OPEN).count()
        logger.info(
            "anomalies demo %s: %s, %s dismissed, %s open",
            slug,
            result.as_dict() if result else "no ledger",
            dismissed,
            still_open,
        )
        if not still_open:
            logger.warning("anomalies demo %s: the demo ledger has no open anomaly for this client", slug)
