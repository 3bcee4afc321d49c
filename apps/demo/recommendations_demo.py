"""Demo recommendations: the real generators run on each demo client's data, plus Harbor's implemented routing
change with its realised saving measured from the ledger.

Harbor's story (apps.demo.fixtures_finops): until the routing change three months ago every claim was assessed
by Claude Opus; since then a Haiku router sends about 4 in 5 claims to Sonnet, and the cost per claim fell from
≈ $0.61 to ≈ $0.42. The demo records what the MSP did: on the day of the change an engineer proposed routing 80 %
of the claims agent's Opus calls to Sonnet (priced by Keel on the 30 days before), accepted it and marked it
implemented that day. Keel's baseline is those 30 days; the realised saving of every month since is computed
from the ledger on each refresh. One finding per client gets a decision, so every state shows.

Idempotent: the proposal exists once (found by its fingerprint), refreshing updates figures and keeps decisions,
and a decision is only taken on a recommendation still open.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core.context import acting_as

from .fixtures_finops import HARBOR_CLAIMS_WORKSPACE, OPUS, SONNET, routing_change_day

logger = logging.getLogger(__name__)

CLAIMS_AGENT = "Claims processing agent"
ROUTED_SHARE = Decimal(80)
# A decision per client on a finding the generators make from the demo data: (kind, words of the title, action,
# text). Looked up by kind and title so nothing depends on ids.
DECISIONS = {
    "acme": [
        ("commitment", "acme-underwriting-prod", "accept", "Finance approved a 1-year Compute Savings Plan in Q1."),
    ],
    "maple": [
        (
            "commitment",
            "Azure App Service",
            "dismiss",
            "The intake portal moves to Azure Container Apps in January; no commitment on the old plan.",
        ),
    ],
    "harbor": [
        (
            "idle_endpoint",
            "fraud-score-endpoint",
            "dismiss",
            "Serves fraud scores to ClaimCenter; its requests are not reported to Keel yet (ticket DS-412).",
        ),
    ],
}


def _today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def harbor_routing(today: dt.date):
    """Harbor's implemented routing recommendation (created, accepted and implemented once)."""
    from apps.inventory.models import Asset
    from apps.recommendations.models import Origin, Recommendation, Status
    from apps.recommendations.services import (
        recommendation_accept,
        recommendation_implement,
        recommendation_propose_routing,
    )

    change = routing_change_day(today)
    existing = Recommendation.objects.filter(
        origin=Origin.PROPOSED, kind="model_routing", model=OPUS, account=HARBOR_CLAIMS_WORKSPACE
    ).first()
    if existing is not None and existing.status == Status.IMPLEMENTED:
        return existing
    agent = Asset.objects.filter(kind="agent", name=CLAIMS_AGENT).first()
    rec = existing or recommendation_propose_routing(
        provider_name="Anthropic",
        model=OPUS,
        target=SONNET,
        sub_account_id=HARBOR_CLAIMS_WORKSPACE,
        asset_id=agent.pk if agent else None,
        share_percent=ROUTED_SHARE,
        as_of=change,
    )
    if rec.status == Status.OPEN:
        rec = recommendation_accept(
            recommendation=rec, note="A Haiku router sends the simple claims to Sonnet; complex ones stay on Opus."
        )
    return recommendation_implement(
        recommendation=rec,
        implemented_on=change,
        note="Router live for every new claim.",
        today=today,
    )


def _decide(slug: str) -> None:
    from apps.recommendations.models import Recommendation, Status
    from apps.recommendations.services import recommendation_accept, recommendation_dismiss

    for kind, words, action, text in DECISIONS.get(slug, []):
        rec = Recommendation.objects.filter(kind=kind, title__icontains=words).order_by("pk").first()
        if rec is None or rec.status != Status.OPEN:
            continue
        if action == "accept":
            recommendation_accept(recommendation=rec, note=text)
        else:
            recommendation_dismiss(recommendation=rec, reason=text)


def demo_recommendations(clients) -> None:
    """Run the generators for each demo client (after the FinOps, allocation and inventory demos)."""
    from apps.recommendations.models import RefreshRun
    from apps.recommendations.services import recommendations_refresh

    today = _today()
    for slug, client in clients.items():
        with schema_context(client.schema_name), acting_as(source="command", user_email="demo-loader"):
            if slug == "harbor":
                harbor_routing(today)
            result = recommendations_refresh(as_of=today, trigger=RefreshRun.Trigger.DEMO, started_by="demo-loader")
            if result.errors:
                logger.warning("recommendations demo %s: %s", slug, "; ".join(result.errors))
            _decide(slug)
