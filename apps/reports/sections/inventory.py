"""AI inventory and shadow AI: the assets in use at the month end by type, those registered and retired in the
month, the guardrail findings open at the month end, and the shadow AI found and resolved in the month.

Dates are the client's calendar month (period.starts_at/ends_at):
- registered in the month: Asset.created_at in the month;
- retired in the month: the inventory's audit history (an asset keeps no retirement date; every save and the
  retire action record its lifecycle): an event in the month whose `after` lifecycle is retired and whose
  `before` was not (a deleted asset still counts, under the name it had);
- in use at the month end: registered before the month ended and not retired then (the lifecycle of its latest
  audited change before the month end, else its lifecycle now; assets deleted since are not counted);
- guardrail findings open at the month end: first seen before the month ended and not resolved by then;
- shadow AI found in the month: ShadowItem.created_at (the scan that found it) in the month, by identity kind
  and origin; resolved in the month: registered / mapped / dismissed with decided_at in the month; open at the
  month end: found before it ended and not decided (or gone) by then. The spend of the open items is the queue's
  own figure (apps.shadow_ai.selectors.queue_totals: the last 30 UTC days, as at `shadow_spend_as_of`), per
  currency, never converted.

Data:
    url, findings_url, shadow_url
    by_kind                 [{kind, label, in_use, created, retired}]   (every asset kind, in a fixed order)
    assets_in_use, assets_created_count, assets_retired_count
    assets_created          [{name, kind_label, created_on, url}]   (first 20)
    assets_retired          [{name, kind_label, retired_on}]        (first 20)
    findings_open_count, findings_open_by_severity {critical, high, medium, low}, findings_open_critical,
    findings_new_count, findings_resolved_count
    findings_open_top       [{title, asset, severity, severity_label, since}]   (5 worst, oldest first)
    shadow_found_count, shadow_found_by_kind [{kind, label, count}], shadow_found_by_origin [{origin, label, count}]
    shadow_found            [{label, kind_label, origin_label, found_on, cost_30d, currency}]   (first 10)
    shadow_resolved_count, shadow_resolved_by_outcome {registered, mapped, dismissed}
    shadow_open_count       open at the month end
    shadow_open_spend       [{currency, items, cost_30d, cost_month}]  the open queue now
    shadow_open_spend_30d   the queue's last-30-day spend in the reporting currency ("0.00" when none)
    shadow_spend_as_of      the UTC day those spend figures run to
    currency
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.inventory import selectors as inventory
from apps.inventory.models import AssetKind, GuardrailFinding, Lifecycle, Severity
from apps.inventory.services import AUDIT_OBJECT_TYPE
from apps.reports.period import ReportPeriod, money
from apps.shadow_ai import selectors as shadow
from apps.shadow_ai.models import DECIDED, IdentityKind, Origin, Status

from .spend import say_money

KEY = "inventory"
TITLE = "AI inventory and shadow AI"

LISTED = 20
SHADOW_LISTED = 10
TOP_FINDINGS = 5
KIND_LABELS = dict(AssetKind.choices)
SEVERITIES = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW]
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}
SEVERITY_LABELS = dict(Severity.choices)
IDENTITY_LABELS = dict(IdentityKind.choices)
ORIGIN_LABELS = dict(Origin.choices)
OUTCOMES = (Status.REGISTERED, Status.MAPPED, Status.DISMISSED)


def _day(moment, period: ReportPeriod) -> str:
    return moment.astimezone(period.tz).date().isoformat()


def build(period: ReportPeriod) -> dict:
    base = f"/c/{period.client_slug}/inventory/"
    data = {"url": base, "findings_url": f"{base}findings/", "currency": period.currency}
    data.update(_assets(period, base))
    data.update(_findings(period))
    data.update(_shadow(period))
    return data


def _assets(period: ReportPeriod, base: str) -> dict:
    starts, ends = period.starts_at, period.ends_at
    assets = list(inventory.assets_list().filter(created_at__lt=ends))
    # The lifecycle each asset had at the month end: its latest audited change before then.
    lifecycle_then = dict(
        AuditEvent.objects.filter(object_type=AUDIT_OBJECT_TYPE, occurred_at__lt=ends, after__has_key="lifecycle")
        .order_by("object_id", "-seq")
        .distinct("object_id")
        .values_list("object_id", "after__lifecycle")
    )
    retirements = []
    for event in AuditEvent.objects.filter(
        object_type=AUDIT_OBJECT_TYPE, occurred_at__gte=starts, occurred_at__lt=ends, after__lifecycle=Lifecycle.RETIRED
    ).order_by("seq"):
        if (event.before or {}).get("lifecycle") == Lifecycle.RETIRED:
            continue
        kind = event.action.split(".", 1)[0]
        retirements.append(
            {"name": event.object_repr, "kind": kind, "kind_label": KIND_LABELS.get(kind, kind),
             "retired_on": _day(event.occurred_at, period)}
        )  # fmt: skip
    in_use = Counter(
        asset.kind for asset in assets if lifecycle_then.get(str(asset.pk), asset.lifecycle) != Lifecycle.RETIRED
    )
    created = sorted((a for a in assets if a.created_at >= starts), key=lambda a: (a.created_at, a.pk))
    created_by_kind = Counter(asset.kind for asset in created)
    retired_by_kind = Counter(row["kind"] for row in retirements)
    return {
        "by_kind": [
            {
                "kind": kind,
                "label": label,
                "in_use": in_use[kind],
                "created": created_by_kind[kind],
                "retired": retired_by_kind[kind],
            }
            for kind, label in AssetKind.choices
        ],
        "assets_in_use": sum(in_use.values()),
        "assets_created_count": len(created),
        "assets_created": [
            {
                "name": a.name,
                "kind_label": KIND_LABELS.get(a.kind, a.kind),
                "created_on": _day(a.created_at, period),
                "url": f"{base}assets/{a.pk}/",
            }
            for a in created[:LISTED]
        ],  # fmt: skip
        "assets_retired_count": len(retirements),
        "assets_retired": [{k: row[k] for k in ("name", "kind_label", "retired_on")} for row in retirements[:LISTED]],
    }


def _findings(period: ReportPeriod) -> dict:
    starts, ends = period.starts_at, period.ends_at
    open_then = Q(first_seen_at__lt=ends) & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=ends))
    in_month = Q(first_seen_at__gte=starts, first_seen_at__lt=ends) | Q(resolved_at__gte=starts, resolved_at__lt=ends)
    findings = list(inventory.findings_list(status="").filter(open_then | in_month))

    def was_open(f: GuardrailFinding) -> bool:
        return f.first_seen_at < ends and (f.resolved_at is None or f.resolved_at >= ends)

    still_open = sorted(
        (f for f in findings if was_open(f)), key=lambda f: (SEVERITY_RANK.get(f.severity, 9), f.first_seen_at, f.pk)
    )
    by_severity = Counter(f.severity for f in still_open)
    return {
        "findings_open_count": len(still_open),
        "findings_open_by_severity": {severity.value: by_severity[severity] for severity in SEVERITIES},
        "findings_open_critical": by_severity[Severity.CRITICAL],
        "findings_new_count": sum(1 for f in findings if starts <= f.first_seen_at < ends),
        "findings_resolved_count": sum(1 for f in findings if f.resolved_at and starts <= f.resolved_at < ends),
        "findings_open_top": [
            {
                "title": f.title,
                "asset": f.asset.name,
                "severity": f.severity,
                "severity_label": SEVERITY_LABELS.get(f.severity, f.severity),
                "since": _day(f.first_seen_at, period),
            }
            for f in still_open[:TOP_FINDINGS]
        ],
    }


def _shadow(period: ReportPeriod) -> dict:
    starts, ends = period.starts_at, period.ends_at
    items = list(shadow.items_list(status="all").filter(created_at__lt=ends).order_by("created_at", "id"))
    found = [item for item in items if item.created_at >= starts]
    resolved = [
        item for item in items if item.status in DECIDED and item.decided_at and starts <= item.decided_at < ends
    ]

    def open_then(item) -> bool:
        if item.status == Status.OPEN:  # unless it was decided before the month end and reopened after it
            return not (item.reopened_at and item.reopened_at >= ends and item.decided_at and item.decided_at < ends)
        if item.status in DECIDED:
            return bool(item.decided_at and item.decided_at >= ends)
        return bool(item.gone_at and item.gone_at >= ends)  # gone since

    kinds, origins = Counter(i.identity_kind for i in found), Counter(i.origin for i in found)
    outcomes = Counter(i.status for i in resolved)
    totals = shadow.queue_totals()
    in_currency = next((t for t in totals if t["currency"] == period.currency), None)
    return {
        "shadow_url": f"/c/{period.client_slug}/finops/shadow-ai/",
        "shadow_found_count": len(found),
        "shadow_found_by_kind": [
            {"kind": kind, "label": IDENTITY_LABELS[kind], "count": kinds[kind]}
            for kind in IdentityKind.values
            if kinds[kind]
        ],
        "shadow_found_by_origin": [
            {"origin": origin, "label": ORIGIN_LABELS[origin], "count": origins[origin]}
            for origin in Origin.values
            if origins[origin]
        ],
        "shadow_found": [
            {
                "label": item.label,
                "kind_label": IDENTITY_LABELS.get(item.identity_kind, item.identity_kind),
                "origin_label": ORIGIN_LABELS.get(item.origin, item.origin),
                "found_on": _day(item.created_at, period),
                "cost_30d": money(item.cost_30d),
                "currency": item.currency,
            }
            for item in sorted(found, key=lambda i: (-i.cost_30d, i.pk))[:SHADOW_LISTED]
        ],
        "shadow_resolved_count": len(resolved),
        "shadow_resolved_by_outcome": {status.value: outcomes[status] for status in OUTCOMES},
        "shadow_open_count": sum(1 for item in items if open_then(item)),
        "shadow_open_spend": [
            {
                "currency": t["currency"],
                "items": t["items"],
                "cost_30d": money(t["cost_30d"]),
                "cost_month": money(t["cost_month"]),
            }
            for t in totals
        ],
        "shadow_open_spend_30d": money(in_currency["cost_30d"] if in_currency else Decimal(0)),
        "shadow_spend_as_of": timezone.now().astimezone(dt.UTC).date().isoformat(),
    }


def highlights(data: dict, period: ReportPeriod) -> list[dict]:
    """Open guardrail findings (critical first); shadow AI found; the open queue's spend; else new assets."""
    out: list[dict] = []
    critical, open_count = data.get("findings_open_critical") or 0, data.get("findings_open_count") or 0
    if critical:
        what = "critical guardrail findings were" if critical != 1 else "critical guardrail finding was"
        out.append(
            {
                "text": f"{critical} {what} open at the month end: "
                "an AI agent or model can act without the checks it needs.",
                "figure": f"{KEY}.findings_open_critical",
                "tone": "bad",
            }
        )
    elif open_count:
        what = "guardrail findings were" if open_count != 1 else "guardrail finding was"
        out.append(
            {
                "text": f"{open_count} {what} open at the month end.",
                "figure": f"{KEY}.findings_open_count",
                "tone": "bad",
            }
        )
    found = data.get("shadow_found_count") or 0
    if found:
        what = (
            "sources of unregistered AI spend (shadow AI) were"
            if found != 1
            else "source of unregistered AI spend (shadow AI) was"
        )
        out.append(
            {
                "text": f"{found} new {what} found this month and put up for review.",
                "figure": f"{KEY}.shadow_found_count",
                "tone": "neutral",
            }
        )
    spend = data.get("shadow_open_spend_30d")
    if spend and Decimal(spend) > 0:
        out.append(
            {
                "text": f"Shadow AI still waiting for review cost {say_money(spend, data['currency'])} "
                "over the last thirty days.",
                "figure": f"{KEY}.shadow_open_spend_30d",
                "tone": "bad",
            }
        )
    created = data.get("assets_created_count") or 0
    if created and len(out) < 3:
        what = "AI assets were" if created != 1 else "AI asset was"
        out.append(
            {
                "text": f"{created} new {what} registered in the inventory this month.",
                "figure": f"{KEY}.assets_created_count",
                "tone": "neutral",
            }
        )
    return out[:3]
