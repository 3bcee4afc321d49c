"""Evidence Keel produces itself, daily (task compliance.generate_evidence) and on demand.

Each generator reads facts Keel already holds and writes a JSON file: the AI inventory as a CycloneDX AI-BOM,
cost monitoring (billing sources and their last successful run, anomaly and runaway detection settings),
budgets, MFA of the MSP staff who can reach this client, and the verification of this client's audit chain.
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

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.services import audit_record, to_jsonable

from .files import CheckedFile
from .models import Evidence, EvidenceRevision
from .selectors import client_today
from .services import KEEL_APPROVER, _new_revision, _resolve_expiry_alerts, readiness_snapshots_take

GENERATED_VALID_DAYS = 7
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
