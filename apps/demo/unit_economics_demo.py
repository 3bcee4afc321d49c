"""Demo data for apps.unit_economics: one business unit per demo client and twelve months of daily counts.

- Harbor Insurance, "Insurance claim processed" (per claim), measured against the Claims processing agent.
  The claims pipeline's Anthropic workspace (Opus/Sonnet assessment and Haiku routing) is allocated to that
  agent by the demo's allocation rules (the workspace rule, and the gateway's old agent name claims-triage),
  so its cost divided by fx.harbor_claims — the claims the pipeline processed — comes out at ≈ $0.61 per claim
  before the routing change and ≈ $0.42 after it.
- Acme Underwriting, "Loan application underwritten", measured against the Underwriting department (every
  loan file goes through underwriter-7 and the underwriting copilot, on Bedrock, OpenAI and EKS).
- Maple Health Clinics, "Patient intake completed", measured against the Patient Intake department (the GPU VMs
  serving the assistant's self-hosted Llama, the intake portal, its share of the clinic platform), in CAD: the
  model itself has no per-token cost, so "AI spend only" would show nothing.

Counts go through the same service as POST /unit-metrics (source "demo"). They are drawn for the "today" of
the FinOps demo's own runs (so the claims match the bills the ledger holds), and only days without a count yet
are sent: running the demo again — the same day or later — never changes a stored count. Units are created
once and left as they are.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.core.context import acting_as

from . import fixtures_finops as fx

UNITS = {
    "harbor": dict(
        name="Insurance claim processed",
        code="claims",
        unit_label="claim",
        description="A new claim triaged, summarised for the adjuster and routed by the claims processing agent.",
        scope_kind="asset",
        asset="Claims processing agent",
    ),
    "acme": dict(
        name="Loan application underwritten",
        code="loans",
        unit_label="loan application",
        description="A loan file read, scored and given a decision memo by the underwriting agents.",
        scope_kind="department",
        department="underwriting",
    ),
    "maple": dict(
        name="Patient intake completed",
        code="intakes",
        unit_label="patient intake",
        description="A patient's intake conversation finished by the intake assistant and filed in the EMR.",
        scope_kind="department",
        department="intake",
    ),
}
LOANS_PER_WEEKDAY = (1150, 1190, 1160, 1120, 1010, 330, 210)  # loan files underwritten, Monday first
INTAKES_PER_WEEKDAY = (410, 400, 395, 385, 370, 180, 100)  # intakes completed, Monday first


def _today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def daily_counts(slug: str, today: dt.date) -> dict[dt.date, int]:
    """The unit's count per day for the demo's twelve months (to yesterday)."""
    if slug == "harbor":
        return fx.harbor_claims(today)
    levels = LOANS_PER_WEEKDAY if slug == "acme" else INTAKES_PER_WEEKDAY
    counts = {}
    for day in fx.demo_days(today):
        rng = fx.rng_for(slug, "unit-counts", day.isoformat())
        level = levels[day.weekday()] * fx.growth(day, today, Decimal("0.01")) * fx.jitter(rng, 70)
        counts[day] = fx.whole(level)
    return counts


def _ensure_unit(slug: str):
    from apps.inventory.models import Asset, Department
    from apps.unit_economics.models import BusinessUnit
    from apps.unit_economics.services import business_unit_save

    spec = dict(UNITS[slug])
    unit = BusinessUnit.objects.filter(code=spec["code"]).first()
    if unit is not None:
        return unit
    if "asset" in spec:
        spec["asset"] = Asset.objects.get(name=spec["asset"], kind="agent")
    if "department" in spec:
        spec["department"] = Department.objects.get(code=spec["department"])
    return business_unit_save(**spec)


def _story_today(default: dt.date) -> dt.date:
    """The day the FinOps demo's bills were generated for: its runs' window ends the day after."""
    from apps.finops.models import IngestionRun

    run = (
        IngestionRun.objects.filter(trigger=IngestionRun.Trigger.DEMO, status=IngestionRun.Status.SUCCEEDED)
        .exclude(window_end=None)
        .order_by("-started_at", "-id")
        .first()
    )
    return run.window_end - dt.timedelta(days=1) if run else default


def load_unit_economics(client, slug: str, *, today: dt.date | None = None):
    """Create the client's unit (once) and store the daily counts it does not have yet."""
    from apps.unit_economics.models import UnitCount
    from apps.unit_economics.services import MAX_ITEMS, unit_counts_ingest

    with tenant_context(client), acting_as(source="command", user_email="demo-loader"):
        today = today or _story_today(_today())
        unit = _ensure_unit(slug)
        stored = set(UnitCount.objects.filter(unit=unit, department=None, asset=None).values_list("day", flat=True))
        items = [
            {"unit": unit.code, "day": day.isoformat(), "count": count, "id": f"demo-{unit.code}-{day:%Y%m%d}"}
            for day, count in sorted(daily_counts(slug, today).items())
            if day not in stored
        ]
        for start in range(0, len(items), MAX_ITEMS):
            result = unit_counts_ingest(items[start : start + MAX_ITEMS], source=UnitCount.Source.DEMO)
            if result.rejected:
                raise RuntimeError(f"demo counts rejected for {slug}: {result.errors[:3]}")
        return unit


def demo_unit_economics(clients) -> None:
    """Load this capability's demo data for the demo clients (a dict slug → Client); idempotent."""
    for slug in UNITS:
        if slug in clients:
            load_unit_economics(clients[slug], slug)
