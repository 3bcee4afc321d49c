"""Reads of the shadow AI review: the queue and its totals, decided items, one item with its evidence, and the
existing assets an item most likely is. Each is a fixed number of queries whatever the queue's length."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.db.models import Count, Q, Sum

from apps.finops.models import AllocationRule
from apps.inventory.models import AIModel, Asset

from .models import DECIDED, IdentityKind, Origin, ShadowItem, ShadowScan, Status

QUEUE_STATUSES = (Status.OPEN,)
HISTORY_STATUSES = (*DECIDED, Status.GONE)
STATUS_FILTERS = {
    "open": QUEUE_STATUSES,
    "decided": DECIDED,
    "registered": (Status.REGISTERED,),
    "mapped": (Status.MAPPED,),
    "dismissed": (Status.DISMISSED,),
    "gone": (Status.GONE,),
    "all": tuple(Status.values),
}


def items_list(*, status: str = "open", kind: str = "", origin: str = "", query: str = ""):
    """Items for the queue or the history, biggest monthly spend first (decided items newest decision first)."""
    statuses = STATUS_FILTERS.get(status, QUEUE_STATUSES)
    items = ShadowItem.objects.filter(status__in=statuses).select_related("department", "asset", "rule")
    if kind in IdentityKind.values:
        items = items.filter(identity_kind=kind)
    if origin in Origin.values:
        items = items.filter(origin=origin)
    if query.strip():
        text = query.strip()
        items = items.filter(
            Q(label__icontains=text)
            | Q(identity_value__icontains=text)
            | Q(service__icontains=text)
            | Q(provider__icontains=text)
        )
    if status in ("open", "all") or status not in STATUS_FILTERS:
        return items.order_by("-cost_30d", "id")
    return items.order_by("-decided_at", "-gone_at", "-cost_30d", "id")


def queue_totals() -> list[dict]:
    """Open items per currency (largest first): count, spend in the last 30 days and this month, and the 30-day
    spend per origin (bills and usage events are shown apart: an agent's events can also be on a provider bill)."""
    rows = (
        ShadowItem.objects.filter(status__in=QUEUE_STATUSES)
        .values("currency", "origin")
        .annotate(items=Count("id"), cost_30d=Sum("cost_30d"), cost_month=Sum("cost_month"))
        .order_by("currency", "origin")
    )
    totals: dict[str, dict] = {}
    for row in rows:
        total = totals.setdefault(
            row["currency"],
            {"currency": row["currency"], "items": 0, "cost_30d": Decimal(0), "cost_month": Decimal(0), "origins": {}},
        )
        total["items"] += row["items"]
        total["cost_30d"] += row["cost_30d"] or Decimal(0)
        total["cost_month"] += row["cost_month"] or Decimal(0)
        total["origins"][row["origin"]] = {"items": row["items"], "cost_30d": row["cost_30d"] or Decimal(0)}
    return sorted(totals.values(), key=lambda t: (-t["cost_30d"], t["currency"]))


def status_counts() -> dict[str, int]:
    counts = {row["status"]: row["n"] for row in ShadowItem.objects.values("status").annotate(n=Count("id"))}
    return {
        "open": sum(counts.get(s, 0) for s in QUEUE_STATUSES),
        "decided": sum(counts.get(s, 0) for s in DECIDED),
        "gone": counts.get(Status.GONE, 0),
    }


def last_scan() -> ShadowScan | None:
    return ShadowScan.objects.order_by("-started_at", "-id").first()


def item_get(*, pk: int) -> ShadowItem:
    return ShadowItem.objects.select_related("department", "asset", "rule").get(pk=pk)


def current_rules(item: ShadowItem) -> list[AllocationRule]:
    """The rules that allocate the item's rows today (to a department only, or they would not be shadow)."""
    ids = (item.details or {}).get("current_rules") or []
    return list(AllocationRule.objects.filter(pk__in=ids).select_related("department").order_by("position", "id"))


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", (text or "").lower())


def similar_assets(item: ShadowItem, *, limit: int = 5) -> list[Asset]:
    """Registered assets this spend most likely belongs to: the same name once punctuation and case are set aside
    ("patient-intake-assistant" is "Patient intake assistant"), or a model whose model id the spend names."""
    names = {_normal(item.identity_value), _normal(item.label), _normal((item.prefill or {}).get("name", ""))}
    names.discard("")
    seen_models = [_normal(m) for m in item.models_seen] + [_normal(item.identity_value)]
    picked: list[Asset] = []
    for asset in Asset.objects.order_by("kind", "name"):
        if _normal(asset.name) in names:
            picked.append(asset)
    model_ids = AIModel.objects.exclude(model_id="").values_list("pk", "model_id")
    by_pk = {}
    for pk, model_id in model_ids:
        normal = _normal(model_id)
        if len(normal) >= 4 and any(normal in seen for seen in seen_models):
            by_pk[pk] = True
    if by_pk:
        picked += [a for a in Asset.objects.filter(pk__in=by_pk).order_by("name") if a not in picked]
    return picked[:limit]


def assets_for_mapping():
    return Asset.objects.select_related("department").order_by("kind", "name")


def decision_history(item: ShadowItem) -> list:
    from apps.audit.models import AuditEvent

    return list(
        AuditEvent.objects.filter(object_type=ShadowItem._meta.label_lower, object_id=str(item.pk))
        .filter(action__startswith="shadow_ai.")
        .order_by("-seq")[:20]
    )


def window_days(item: ShadowItem) -> tuple[dt.date, dt.date]:
    window = (item.details or {}).get("window") or []
    if len(window) == 2:
        return dt.date.fromisoformat(window[0]), dt.date.fromisoformat(window[1])
    last = item.seen_at.astimezone(dt.UTC).date()
    return last - dt.timedelta(days=34), last
