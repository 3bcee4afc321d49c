"""Evidence Keel produces itself, daily (task compliance.generate_evidence) and on demand.

Each generator reads facts Keel already holds and writes a JSON file: the AI inventory as a CycloneDX AI-BOM,
cost monitoring (billing sources and their last successful run, anomaly and runaway detection settings),
budgets, MFA of the MSP staff who can reach this client, the verification of this client's audit chain, and the
attainment of its service levels (SLOs, error budgets, breaches and service credits of the last 12 months).
The file carries no generation time, so unchanged facts produce identical bytes: a new revision is stored only
when the SHA-256 changes, and each run records that it re-checked the facts (`last_generated_at`) and extends
the evidence's validity by GENERATED_VALID_DAYS, so evidence whose generator stopped running lapses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.services import audit_record, to_jsonable

from .files import CheckedFile
from .models import Evidence, EvidenceRevision
from .selectors import client_today
from .services import KEEL_APPROVER, _new_revision, _resolve_expiry_alerts, readiness_snapshots_take

GENERATED_VALID_DAYS = 7
CENT = Decimal("0.01")
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Generator:
    key: str
    title: str
    description: str
    file_name: str
    build: Callable[[], tuple[dict, str]]  # -> (document, one-line summary)


@dataclass(frozen=True)
class GenerationResult:
    generator: str
    evidence: Evidence
    revision: EvidenceRevision
    changed: bool
    summary: str


def _client():
    from apps.tenancy.selectors import current_client

    return current_client()


def _envelope(key: str, data: dict) -> dict:
    client = _client()
    return {
        "keel_evidence": key,
        "format": 1,
        "generated_by": f"Keel ({settings.KEEL_MSP_NAME})",
        "client": getattr(client, "slug", connection.schema_name),
        "data": data,
    }


def build_ai_bom() -> tuple[dict, str]:
    """The inventory's CycloneDX 1.6 AI-BOM (the same export as the inventory page), without its serial number
    and timestamp, which would change every run."""
    from apps.inventory.aibom import ai_bom_document

    document = ai_bom_document()
    document.pop("serialNumber", None)
    document.get("metadata", {}).pop("timestamp", None)
    components = len(document.get("components", [])) + len(document.get("services", []))
    return document, f"{components} components and services in the AI inventory."


def build_cost_monitoring() -> tuple[dict, str]:
    from apps.anomalies.models import AnomalySettings
    from apps.finops.models import BillingSource
    from apps.runaway.models import RunawaySettings

    sources = [
        {
            "name": s.name,
            "kind": s.kind,
            "enabled": s.enabled,
            "status": s.status,
            "interval_minutes": s.interval_minutes,
            "last_successful_run": s.last_success_at.date().isoformat() if s.last_success_at else None,
        }
        for s in BillingSource.objects.order_by("name", "pk")
    ]
    anomalies = AnomalySettings.objects.filter(pk=1).first() or AnomalySettings()  # defaults until changed
    runaway = RunawaySettings.objects.filter(pk=1).first() or RunawaySettings()
    data = {
        "billing_sources": sources,
        "billing_sources_healthy": sum(1 for s in sources if s["enabled"] and s["status"] == "ok"),
        "anomaly_detection": {
            "schedule": "daily",
            "sensitivity_k": str(anomalies.sensitivity),
            "min_impact_per_day": str(anomalies.min_impact),
            "min_impact_percent": str(anomalies.min_impact_percent),
            "detect_drops": anomalies.detect_drops,
            "last_scan": anomalies.last_scan_at.date().isoformat() if anomalies.last_scan_at else None,
        },
        "runaway_detection": {
            "enabled": runaway.enabled,
            "schedule": "every minute",
            "baseline_multiplier": str(runaway.baseline_multiplier),
            "max_spend_per_minute": str(runaway.max_spend_per_minute),
            "max_tokens_per_request": runaway.max_tokens_per_request,
            "auto_stop": runaway.auto_stop,
        },
    }
    healthy = data["billing_sources_healthy"]
    return data, (
        f"{healthy} of {len(sources)} billing sources healthy; anomaly detection daily; runaway detection "
        f"{'on' if runaway.enabled else 'OFF'}."
    )


def build_budgets() -> tuple[dict, str]:
    from apps.budgets.selectors import budgets_list

    budgets = [
        {
            "name": b.name,
            "scope": b.scope_label,
            "amount": str(b.amount),
            "currency": b.currency,
            "thresholds_percent": list(b.thresholds),
            "alert_on": b.alert_on,
            "owner": b.owner_email,
            "active": b.active,
        }
        for b in budgets_list().order_by("name", "pk")
    ]
    active = sum(1 for b in budgets if b["active"])
    return {"budgets": budgets, "active": active}, f"{active} active budgets with threshold alerts."


def build_staff_mfa() -> tuple[dict, str]:
    """Every MSP staff member who can reach this client (MSP admins, and assigned account managers and
    engineers whose assignment has not expired) and whether they have an authenticator."""
    from allauth.mfa.models import Authenticator
    from django.db.models import Q

    from apps.accounts.models import User
    from apps.accounts.roles import Role

    client = _client()
    now = timezone.now()
    assigned = Q(
        memberships__client=client,
        memberships__role__in=[Role.ACCOUNT_MANAGER, Role.ENGINEER],
    ) & (Q(memberships__expires_at__isnull=True) | Q(memberships__expires_at__gt=now))
    staff = (
        User.objects.filter(is_active=True)
        .exclude(msp_role="")
        .filter(Q(msp_role=Role.MSP_ADMIN) | assigned)
        .distinct()
        .order_by("email")
    )
    with_mfa = set(
        Authenticator.objects.filter(user__in=staff, type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN])
        .values_list("user_id", flat=True)
        .distinct()
    )
    people = [{"email": u.email, "role": u.msp_role, "has_authenticator": u.pk in with_mfa} for u in staff]
    lacking = [p["email"] for p in people if not p["has_authenticator"]]
    enforced = bool(getattr(settings, "KEEL_REQUIRE_STAFF_MFA", True))
    data = {"staff_mfa_required": enforced, "staff_with_access": people, "lacking_authenticator": lacking}
    summary = (
        f"MFA {'enforced' if enforced else 'NOT enforced'} for staff; "
        f"{len(people) - len(lacking)} of {len(people)} have an authenticator."
    )
    return data, summary


def build_audit_chain() -> tuple[dict, str]:
    from apps.audit.selectors import audit_chain_verify

    result = audit_chain_verify()
    data = {
        "intact": result.ok,
        "events_checked": result.checked,
        "head_seq": result.head_seq,
        "head_hash": result.head_hash,
        "first_broken_seq": result.first_broken_seq,
        "reason": result.reason,
        "method": "SHA-256 over RFC 8785 canonical JSON of each event, chained to the previous event's hash",
    }
    return data, result.describe()


SLA_MONTHS = 12  # breaches and credits: this contract month and the 11 before it


def _ratio_text(value) -> str | None:
    """An exact ratio without trailing zeros (0.99500000 → "0.995")."""
    return None if value is None else format(Decimal(value).normalize(), "f")


def _percent_text(value, places: int = 3) -> str | None:
    """A ratio as percent, rounded down as the SLO pages show it (a window just under target never reads as met)."""
    if value is None:
        return None
    return f"{(Decimal(value) * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_FLOOR):f}"


def _money_text(amount) -> str:
    return f"{Decimal(amount).quantize(CENT, rounding=ROUND_HALF_EVEN):f}"


def _first_of_month_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def build_sla_attainment() -> tuple[dict, str]:
    """Every SLO (retired ones too) with its target and window; attainment and error budget left in the current
    window, as the evaluator last recorded it (SloStatus), and in the last closed window, as settled (SloPeriod);
    and the breaches with their service credits of the last 12 contract months, this one included.

    No generation time and no moving bounds: a rolling window is named by its length, the breach range starts on
    the first day of a month, so the file changes when measurements, periods, breaches or credits do (and when
    the range moves on to a new month), never because time passed."""
    from apps.service_levels import windows
    from apps.service_levels.evaluation import client_tz
    from apps.service_levels.models import SLO, ServiceCredit, SliKind, SloPeriod
    from apps.service_levels.selectors import breaches_list, slo_status, slos_list

    tz = client_tz()
    client = _client()
    slos = list(slos_list(include_retired=True).order_by("name", "pk"))
    last_closed = {
        p.slo_id: p for p in SloPeriod.objects.filter(slo__in=slos).order_by("slo_id", "-end", "-pk").distinct("slo_id")
    }
    kinds = dict(SliKind.choices)

    def window_of(slo: SLO) -> dict:
        rolling = slo.window_kind == SLO.WindowKind.ROLLING
        timeslices = slo.budgeting == SLO.Budgeting.TIMESLICES
        return {
            "kind": slo.window_kind,
            "days": slo.window_days if rolling else None,
            "budgeting": slo.budgeting,
            "timeslice_minutes": slo.timeslice_minutes if timeslices else None,
            "timeslice_target": _ratio_text(slo.timeslice_target) if timeslices else None,
        }

    def current_of(slo: SLO) -> tuple[dict | None, str]:
        status = slo_status(slo)  # select_related by slos_list
        if not slo.active:
            return None, "retired: no longer evaluated"
        if status is None:
            return None, "not evaluated yet"
        # the label only: a rolling window's bounds move with every evaluation
        period = windows.live_window(slo.window_kind, slo.window_days, status.window_start, tz)
        calendar = slo.window_kind == SLO.WindowKind.CALENDAR_MONTH
        return {
            "period": period.label,
            "start": status.window_start.isoformat() if calendar else None,
            "end": status.window_end.isoformat() if calendar else None,
            "counted": "slices" if slo.budgeting == SLO.Budgeting.TIMESLICES else "events",
            "good": status.good,
            "total": status.total,
            "attainment": _ratio_text(status.attainment),
            "attainment_percent": _percent_text(status.attainment),
            "meeting_target": None if status.attainment is None else status.attainment >= slo.objective,
            "budget_remaining": _ratio_text(status.budget_remaining),
            "budget_remaining_percent": _percent_text(status.budget_remaining, 1),
        }, ""

    def closed_of(slo: SLO) -> dict | None:
        period = last_closed.get(slo.pk)
        if period is None:
            return None
        consumed = period.budget_consumed
        return {
            "period": period.label,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "good": period.good,
            "total": period.total,
            "attainment": _ratio_text(period.attainment),
            "attainment_percent": _percent_text(period.attainment),
            "met": period.met,
            "budget_consumed": _ratio_text(consumed),
            "budget_remaining": None if consumed is None else _ratio_text(1 - consumed),
            "budget_remaining_percent": None if consumed is None else _percent_text(1 - consumed, 1),
            "revision": period.revision,
        }

    rows = []
    for slo in slos:
        current, note = current_of(slo)
        rows.append(
            {
                "name": slo.name,
                "display_name": slo.display_name,
                "active": slo.active,
                "sli_kind": slo.sli_kind,
                "sli_label": kinds.get(slo.sli_kind, slo.sli_kind),
                "objective": _ratio_text(slo.objective),
                "target_percent": _ratio_text(slo.objective * 100),
                "threshold": _ratio_text(slo.threshold),
                "window": window_of(slo),
                "asset": {"id": slo.asset_id, "name": slo.asset.name, "kind": slo.asset.kind} if slo.asset_id else None,
                "source": slo.source,
                "keel_source": slo.keel_source or None,
                "credit_tiers": slo.credit_tiers or [],
                "current_window": current,
                "current_window_note": note or None,
                "last_closed_window": closed_of(slo),
            }
        )

    since = _first_of_month_back(client_today(), SLA_MONTHS - 1)
    since_start = dt.datetime.combine(since, dt.time(), tzinfo=tz)
    breaches, credits = [], {}
    for breach in breaches_list().filter(period_end__gt=since_start).order_by("period_start", "slo__name", "pk"):
        try:
            credit = breach.credit
        except ServiceCredit.DoesNotExist:
            credit = None
        if credit is not None:
            zero = dict.fromkeys(["total", *ServiceCredit.Status.values], Decimal(0))
            totals = credits.setdefault(credit.currency, zero)
            totals["total"] += credit.amount
            totals[credit.status] += credit.amount
        breaches.append(
            {
                "slo": breach.slo_snapshot.get("name") or breach.slo.name,
                "display_name": breach.slo_snapshot.get("display_name") or breach.slo.display_name,
                "period": breach.period_label,
                "start": breach.period_start.isoformat(),
                "end": breach.period_end.isoformat(),
                "objective": _ratio_text(breach.objective),
                "attainment": _ratio_text(breach.attainment),
                "attainment_percent": _percent_text(breach.attainment),
                "good": breach.good,
                "total": breach.total,
                "budget_consumed": _ratio_text(breach.budget_consumed),
                "linked_incidents": list(breach.incident_ids or []),
                "recorded_at": breach.recorded_at.isoformat(),
                "credit": None
                if credit is None
                else {
                    "contract_month": credit.month.isoformat()[:7],
                    "percent": _ratio_text(credit.percent),
                    "amount": _money_text(credit.amount),
                    "currency": credit.currency,
                    "capped": credit.capped,
                    "status": credit.status,
                },
            }
        )

    active = [r for r in rows if r["active"]]
    measured = [r for r in active if r["current_window"] and r["current_window"]["meeting_target"] is not None]
    meeting = sum(1 for r in measured if r["current_window"]["meeting_target"])
    data = {
        "time_zone": str(tz),
        "currency": getattr(client, "reporting_currency", None),
        "slos_defined": len(rows),
        "slos_active": len(active),
        "slos_meeting_target": meeting,
        "slos_without_data": len(active) - len(measured),
        "slos": rows,
        "breaches": {
            "since": since.isoformat(),
            "months": SLA_MONTHS,
            "count": len(breaches),
            "items": breaches,
            "credits": {
                currency: {name: _money_text(amount) for name, amount in totals.items()}
                for currency, totals in sorted(credits.items())
            },
        },
        "method": (
            "Keel's service-level evaluation: attainment = good / total events (time-slice SLOs: good / total "
            "slices); error budget remaining = 1 − (1 − attainment) / (1 − objective) (time-slice SLOs, current "
            "window: 1 − bad slices / ((1 − objective) × slices in the whole window)). The current window is as last "
            "evaluated; closed windows (remaining = 1 − budget consumed), breaches and credits are as recorded; "
            "breaches are append-only."
        ),
    }
    if not rows:
        data["note"] = "No SLOs are defined for this client."

    if not rows:
        head = "No SLOs defined"
    else:
        head = f"{len(active)} SLO{'s' if len(active) != 1 else ''}, {meeting} meeting target"
        if data["slos_without_data"]:
            head += f" ({data['slos_without_data']} without data)"
        if len(rows) > len(active):
            head += f", {len(rows) - len(active)} retired"
    if breaches:
        owed = ", ".join(f"{currency} {totals['total']:,.2f}" for currency, totals in sorted(credits.items()))
        tail = f"{len(breaches)} breach{'es' if len(breaches) != 1 else ''} in the last {SLA_MONTHS} months"
        tail += f", credits {owed}" if owed else ""
    else:
        tail = f"no breaches in the last {SLA_MONTHS} months"
    return data, f"{head}; {tail}."


GENERATORS: dict[str, Generator] = {
    g.key: g
    for g in (
        Generator(
            "ai_bom",
            "AI inventory snapshot (CycloneDX AI-BOM)",
            "Every AI asset Keel tracks for this client, with model cards and dependencies, as CycloneDX 1.6.",
            "ai-bom.cdx.json",
            build_ai_bom,
        ),
        Generator(
            "cost_monitoring",
            "Cost monitoring active",
            "Billing sources and their last successful run; anomaly and runaway-spend detection settings.",
            "cost-monitoring.json",
            build_cost_monitoring,
        ),
        Generator(
            "budgets",
            "Budgets configured",
            "The client's budgets with their thresholds and alerting.",
            "budgets.json",
            build_budgets,
        ),
        Generator(
            "staff_mfa",
            "MFA enforced for MSP staff",
            "Whether Keel requires MFA of MSP staff, and which staff who can reach this client lack an authenticator.",
            "staff-mfa.json",
            build_staff_mfa,
        ),
        Generator(
            "audit_chain",
            "Audit trail chain verification",
            "Verification of this client's hash-chained audit trail (manage.py verify_audit_chain).",
            "audit-chain.json",
            build_audit_chain,
        ),
        Generator(
            "sla_attainment",
            "SLA attainment report",
            "Every SLO with its target and window, its attainment and error budget left in the current and the last "
            "closed window, and the breaches with their service credits of the last 12 months.",
            "sla-attainment.json",
            build_sla_attainment,
        ),
    )
}


def _bytes(key: str, document: dict) -> bytes:
    body = document if key == "ai_bom" else _envelope(key, to_jsonable(document))
    return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def evidence_generate(*, generators=None, today: dt.date | None = None) -> list[GenerationResult]:
    """Run the generators (all by default); a new revision only where the content's SHA-256 changed."""
    today = today or client_today()
    keys = list(generators or GENERATORS)
    unknown = [k for k in keys if k not in GENERATORS]
    if unknown:
        from django.core.exceptions import ValidationError

        raise ValidationError({"generators": f"Unknown: {', '.join(unknown)}. Known: {', '.join(GENERATORS)}."})
    results = [_generate(GENERATORS[key], today) for key in keys]
    readiness_snapshots_take(today=today)
    return results


def _generate(spec: Generator, today: dt.date) -> GenerationResult:
    document, summary = spec.build()
    content = _bytes(spec.key, document)
    digest = hashlib.sha256(content).hexdigest()
    now = timezone.now()
    with transaction.atomic():
        evidence = (
            Evidence.objects.select_for_update(of=("self",))
            .filter(generator=spec.key)
            .select_related("current_revision")
            .first()
        )
        if evidence is None:
            evidence = Evidence.objects.create(
                title=spec.title,
                description=spec.description,
                kind=Evidence.Kind.GENERATED,
                generator=spec.key,
                created_by=KEEL_APPROVER,
            )
        current = evidence.current_revision
        changed = current is None or current.sha256 != digest or current.integrity == EvidenceRevision.Integrity.FAILED
        if changed:
            checked = CheckedFile(
                display_name=spec.file_name, file_type="json", content_type=JSON_TYPE, size=len(content)
            )
            current = _new_revision(
                evidence, file=io.BytesIO(content), checked=checked, effective_date=today, note=summary, generated=True
            )
        old_expiry, was_expired = evidence.expires_on, evidence.status == Evidence.Status.EXPIRED
        if changed or evidence.status != Evidence.Status.APPROVED:
            evidence.status, evidence.approved_by, evidence.approved_at = Evidence.Status.APPROVED, KEEL_APPROVER, now
            evidence.approved_revision, evidence.self_approved = current.number, False
        evidence.expires_on = today + dt.timedelta(days=GENERATED_VALID_DAYS)
        evidence.last_generated_at = now
        evidence.save()
        audit_record(
            action="compliance.evidence_generate",
            target=evidence,
            after={
                "generator": spec.key,
                "revision": current.number,
                "sha256": current.sha256,
                "changed": changed,
                "expires_on": evidence.expires_on,
                "summary": summary,
            },
        )
        if was_expired:
            _resolve_expiry_alerts(evidence, old_expiry, "Keel generated it again.")
    return GenerationResult(spec.key, evidence, current, changed, summary)
