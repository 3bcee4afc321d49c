"""AI incident demo, one incident per client with live clocks (times relative to now):

- Acme: the underwriter-7 runaway, opened from the runaway demo's incident (run after demo_runaway) as a
  cost-runaway incident, contained, under DORA (Acme is an EU lender: a financial entity). It was classified as
  major 30 hours ago when the client-impact review came in; the initial notification went 3 hours later, so the
  intermediate report is pending with about 45 hours left.
- Maple: an intake summary emailed to the wrong clinic (a small data leak) under PIPEDA: no real risk of
  significant harm (the clinic confirmed deletion), so no report, but the breach record, made and kept 24 months.
- Harbor: the claims agent cited a policy exclusion that does not exist; open under the AI Act Art 73, its
  15-day clock running (aware 4 days ago).

Idempotent: each client's incident is found by its source or title and only the missing steps run.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core.context import acting_as

logger = logging.getLogger(__name__)

ENGINEER = "engineer@northwind.example"
MANAGER = "am@northwind.example"
MAPLE_TITLE = "Intake summary emailed to the wrong clinic"
HARBOR_TITLE = "Claims agent cited a policy exclusion that does not exist"


def easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def german_bank_holidays(year: int) -> list[dt.date]:
    """Nationwide public holidays in Germany (Acme is in Berlin; regional ones left out)."""
    sunday = easter(year)
    return sorted(
        [
            dt.date(year, 1, 1),
            sunday - dt.timedelta(days=2),  # Good Friday
            sunday + dt.timedelta(days=1),  # Easter Monday
            dt.date(year, 5, 1),
            sunday + dt.timedelta(days=39),  # Ascension
            sunday + dt.timedelta(days=50),  # Whit Monday
            dt.date(year, 10, 3),
            dt.date(year, 12, 25),
            dt.date(year, 12, 26),
        ]
    )


def _acme(client, now: dt.datetime):
    from apps.incidents.models import IncidentSettings, IncidentStatus, Obligation
    from apps.incidents.services import (
        incident_add_note,
        incident_change,
        incident_open_from_runaway,
        incident_settings_save,
        obligation_submit,
    )
    from apps.runaway.models import RunawayIncident

    with schema_context(client.schema_name), acting_as(source="command", user_email=ENGINEER):
        if not IncidentSettings.objects.filter(pk=1).exists():
            incident_settings_save(
                dora_financial_entity=True,
                dora_weekend_rule=IncidentSettings.DoraWeekendRule.FINAL_ONLY,
                nis2_entity=False,
                bank_holidays=german_bank_holidays(now.year) + german_bank_holidays(now.year + 1),
            )
        runaway = (
            RunawayIncident.objects.select_related("agent")
            .filter(scope_kind="agent", scope_key="underwriter-7")
            .order_by("-detected_at")
            .first()
        )
        if runaway is None:
            logger.warning("incidents demo: no underwriter-7 runaway incident at Acme (runaway demo not loaded?)")
            return None
        incident, _created = incident_open_from_runaway(runaway)
        if "dora-art19" not in incident.regimes:
            classified = max(incident.aware_at + dt.timedelta(hours=1), now - dt.timedelta(hours=30))
            incident = incident_change(
                incident=incident,
                regimes=["dora-art19"],
                status=IncidentStatus.CONTAINED,
                classified_major_at=classified,
                owner_email=ENGINEER,
                root_cause="A retry loop in underwriter-7's decision-memo step re-sent the whole loan file to GPT-4o "
                "after every malformed tool answer, with no cap on attempts.",
                remediation="Kill-switch called by the on-call engineer; retries capped at 3 with backoff; a "
                "per-agent spend ceiling of 5 USD a minute added to the runaway settings.",
                lessons_learned="Classify cost runaways against the DORA criteria (economic impact, critical "
                "services) the same day; the client-impact review took two days.",
            )
            incident_add_note(
                incident=incident,
                text="Classified as major ICT-related incident after the client-impact review: underwriting "
                "decisions for 41 applicants were delayed beyond the service level (DORA criteria: clients "
                "affected, duration, economic impact).",
            )
        initial = Obligation.objects.filter(
            incident=incident, regime="dora-art19", report="initial_notification"
        ).first()
        if initial is not None and initial.is_pending and incident.classified_major_at:
            obligation_submit(
                obligation=initial,
                submitted_at=min(now, incident.classified_major_at + dt.timedelta(hours=3)),
                reference="BaFin-DORA-2026-0412",
                note="Initial notification through the BaFin MVP portal.",
            )
        return incident


def _maple(client, now: dt.datetime):
    from apps.incidents.models import AIIncident, IncidentKind, IncidentStatus, Obligation
    from apps.incidents.services import incident_save, obligation_submit
    from apps.inventory.models import Asset

    with schema_context(client.schema_name), acting_as(source="command", user_email=MANAGER):
        incident = AIIncident.objects.filter(title=MAPLE_TITLE).first()
        if incident is None:
            aware = now - dt.timedelta(days=6, hours=2)
            incident = incident_save(
                title=MAPLE_TITLE,
                kind=IncidentKind.DATA_LEAK,
                severity="medium",
                status=IncidentStatus.RESOLVED,
                occurred_at=aware - dt.timedelta(hours=5),
                detected_at=aware,
                aware_at=aware,
                breach_determined_at=aware + dt.timedelta(hours=20),
                personal_data=True,
                personal_data_categories=["contact details", "reason for visit"],
                people_affected=1,
                description="The patient intake assistant emailed one patient's intake summary to the booking "
                "address of another Maple clinic: a clinic id was resolved from a stale cache.",
                root_cause="The clinic directory cache was not refreshed after a clinic changed its booking address.",
                remediation="The receiving clinic confirmed deletion the same day; the cache now refreshes hourly and "
                "summaries go only to addresses confirmed in OSCAR EMR.",
                lessons_learned="Check recipients against the system of record, not a cache.",
                owner_email="intake.lead@maple.example",
                assets=list(Asset.objects.filter(name="Patient intake assistant")),
                regimes=["pipeda-s10-1"],
                flags=[],
            )
        record = Obligation.objects.filter(incident=incident, regime="pipeda-s10-1", report="breach_record").first()
        if record is not None and record.is_pending:
            obligation_submit(
                obligation=record,
                submitted_at=incident.breach_determined_at + dt.timedelta(hours=2),
                reference="Maple breach register 2026-014",
                note="No real risk of significant harm: a health custodian bound by confidentiality received it and "
                "deleted it; no report to the OPC or notification owed.",
            )
        return incident


def _harbor(client, now: dt.datetime):
    from apps.incidents.models import AIIncident, IncidentKind, IncidentStatus
    from apps.incidents.services import incident_add_note, incident_save
    from apps.inventory.models import Asset

    with schema_context(client.schema_name), acting_as(source="command", user_email=MANAGER):
        incident = AIIncident.objects.filter(title=HARBOR_TITLE).first()
        if incident is not None:
            return incident
        aware = now - dt.timedelta(days=4, hours=3)
        incident = incident_save(
            title=HARBOR_TITLE,
            kind=IncidentKind.HALLUCINATION_HARM,
            severity="high",
            status=IncidentStatus.INVESTIGATING,
            occurred_at=aware - dt.timedelta(days=1),
            detected_at=aware - dt.timedelta(hours=2),
            aware_at=aware,
            personal_data=True,
            personal_data_categories=["claim details"],
            people_affected=3,
            description="The claims processing agent told three claimants their water-damage claims were excluded "
            "under a 'gradual seepage' clause that is not in their policy wording; two claims were closed on it.",
            root_cause="Under investigation: retrieval returned a superseded 2019 wording from the claims "
            "documents RAG.",
            remediation="Closed claims reopened; the agent's 'close claim' tool now needs an adjuster's approval.",
            owner_email="claims.lead@harbor.example",
            assets=list(Asset.objects.filter(name="Claims processing agent")),
            regimes=["eu-ai-act-art73"],
            flags=[],
        )
        incident_add_note(
            incident=incident,
            text="Treated as a serious incident (infringement of consumers' rights) while the agent's risk tier is "
            "reviewed; the provider of the underlying model was informed.",
        )
        return incident


def demo_incidents(clients, *, now: dt.datetime | None = None) -> None:
    """Acme's runaway under DORA, Maple's misdirected summary under PIPEDA, Harbor's hallucination under the AI
    Act; idempotent. Runs after demo_runaway (Acme's incident is opened from the runaway incident)."""
    now = now or timezone.now()
    steps = {"acme": _acme, "maple": _maple, "harbor": _harbor}
    for slug, step in steps.items():
        if slug in clients:
            step(clients[slug], now)
