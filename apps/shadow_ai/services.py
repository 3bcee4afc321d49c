"""Writes of the shadow AI review: the scan that fills the queue, and the three decisions on an item.

Scan (shadow_scan) — idempotent: one item per identity (its fingerprint), so a rescan refreshes the figures of
the items it finds and creates only the new ones.
- An open item the scan no longer finds becomes "No longer seen" (its spend now carries an asset, or it stopped);
  it keeps its last figures as history and reopens by itself if the spend comes back unregistered.
- A dismissed item keeps its decision while its spend stays near what it was when dismissed. It reopens only when
  its last-30-day spend reaches reopen_factor × the spend at dismissal AND has grown by reopen_min_increase
  (ShadowSettings; by default 2× and +100 in the item's currency).
- Registered and mapped items keep their decision; their figures still refresh while rows are unassigned (before
  the background re-allocation finishes, or when an earlier rule takes the rows).
- An open item alerts once (kind "shadow_ai", medium, dedup per item) the first scan its last-30-day spend reaches
  the alert threshold; a dismissed item that reopens alerts again. Deciding an item resolves its alert.

Decisions — each audited, in one transaction with everything it causes:
- register: create the asset through apps.inventory.services.asset_save, then an allocation rule that maps the
  item's identity to it (apps.finops.allocation.allocation_rule_save, which re-allocates history in the background);
- map: the same rule, to an asset that exists;
- dismiss: with a reason (required).
A new rule goes before any rule that allocates the identity's rows today (e.g. a department-only rule on the same
project), since the first matching rule wins.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.services import audit_record, snapshot
from apps.core.context import current_actor
from apps.finops.models import AllocationRule, CostRecord
from apps.inventory.models import Asset, Department

from .discovery import Found, Window, discover
from .known import SUGGESTABLE_KINDS
from .models import ShadowItem, ShadowScan, ShadowSettings, Status
from .suggest import (
    department_guess,
    label_for,
    ledger_filters_for,
    prefill_for,
    provider_for,
    rule_candidates,
    rule_matches_sql,
    suggested_kind,
)

AUDITED_FIELDS = [
    "status",
    "label",
    "identity_kind",
    "identity_value",
    "origin",
    "asset",
    "rule",
    "dismiss_reason",
    "cost_30d",
    "currency",
    "decided_by",
]
SETTINGS_FIELDS = ["alert_threshold", "reopen_factor", "reopen_min_increase"]
ITEM_PATH = "/finops/shadow-ai/{pk}/"
FIGURE_FIELDS = [
    "label",
    "provider",
    "service",
    "models_seen",
    "accounts",
    "regions",
    "tags",
    "first_seen_at",
    "last_seen_at",
    "currency",
    "cost_30d",
    "cost_month",
    "other_currencies",
    "row_count",
    "requests",
    "input_tokens",
    "output_tokens",
    "ledger_filters",
    "suggested_kind",
    "prefill",
    "department",
    "rule_candidates",
    "details",
    "seen_at",
]


def utc_today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def shadow_settings() -> ShadowSettings:
    found, _ = ShadowSettings.objects.get_or_create(pk=1)
    return found


def shadow_settings_save(**fields) -> ShadowSettings:
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    current = shadow_settings()
    before = snapshot(current, SETTINGS_FIELDS)
    for key, value in fields.items():
        setattr(current, key, value)
    errors = {}
    if current.alert_threshold is None or current.alert_threshold < 0:
        errors["alert_threshold"] = "The alert threshold is an amount, zero or more."
    if current.reopen_factor is None or current.reopen_factor < 1:
        errors["reopen_factor"] = "The factor is at least 1 (1 reopens on any growth)."
    if current.reopen_min_increase is None or current.reopen_min_increase < 0:
        errors["reopen_min_increase"] = "The increase is an amount, zero or more."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current.save()
        after = snapshot(current, SETTINGS_FIELDS)
        audit_record(action="shadow_ai.settings", target=current, before=before, after=after)
    return current


def dedup_key(item: ShadowItem) -> str:
    return f"shadow_ai:{item.pk}"


# --- the scan ------------------------------------------------------------------------------------------------


def _figures(found: Found, window: Window, departments: list[Department], now: dt.datetime) -> dict:
    kind = suggested_kind(found)
    department = department_guess(found, departments)
    services = found.services or ([found.service_key] if found.service_key else [])
    if not services and found.origin == "usage" and found.providers:
        from apps.finops.usage import service_for

        services = [service_for(found.providers[0])[0]]  # the service its calls are booked under
    return {
        "label": label_for(found)[:300],
        "provider": (found.providers[0] if found.providers else provider_for(found))[:120],
        "service": (services[0] if services else "")[:200],
        "models_seen": [m[:200] for m in found.models[:20]],
        "accounts": found.accounts,
        "regions": [r[:60] for r in found.regions[:20]],
        "tags": {key: values[:10] for key, values in found.tags.items()},
        "first_seen_at": found.first_seen,
        "last_seen_at": found.last_seen,
        "currency": found.currency,
        "cost_30d": found.cost_30d,
        "cost_month": found.cost_month,
        "other_currencies": found.other_currencies,
        "row_count": found.count,
        "requests": found.requests,
        "input_tokens": found.input_tokens,
        "output_tokens": found.output_tokens,
        "ledger_filters": ledger_filters_for(found),
        "suggested_kind": kind,
        "prefill": prefill_for(found, kind, department),
        "department": department,
        "rule_candidates": rule_candidates(found, window),
        "details": {
            "services": services[:10],
            "providers": found.providers[:10],
            "resource_types": found.resource_types[:10],
            "current_rules": found.current_rules[:20],
            "unpriced": found.unpriced,
            "window": [window.first_day.isoformat(), window.today.isoformat()],
        },
        "seen_at": now,
    }


def _grown(item: ShadowItem, config: ShadowSettings) -> bool:
    """The reopening rule for a dismissed item (see the module docstring)."""
    base = item.cost_at_decision or Decimal(0)
    return item.cost_30d >= base * config.reopen_factor and item.cost_30d - base >= config.reopen_min_increase


def shadow_scan(*, today: dt.date | None = None, trigger: str = "schedule") -> ShadowScan:
    """Find unregistered AI spend and bring the queue up to date (idempotent; see the module docstring)."""
    now = timezone.now()
    window = Window(today or utc_today())
    scan = ShadowScan.objects.create(
        started_at=now, trigger=trigger[:20], window_start=window.first_day, window_end=window.today
    )
    found = discover(window)
    departments = list(Department.objects.all())
    config = shadow_settings()
    existing = {i.fingerprint: i for i in ShadowItem.objects.filter(fingerprint__in=[f.fingerprint for f in found])}
    created, changed, reopened = [], [], []
    for item_found in found:
        values = _figures(item_found, window, departments, now)
        item = existing.get(item_found.fingerprint)
        if item is None:
            created.append(
                ShadowItem(
                    fingerprint=item_found.fingerprint,
                    origin=item_found.origin,
                    identity_kind=item_found.kind,
                    identity_value=item_found.value,
                    status=Status.OPEN,
                    **values,
                )
            )
            continue
        values["first_seen_at"] = min(item.first_seen_at, values["first_seen_at"])
        for key, value in values.items():
            setattr(item, key, value)
        if item.status == Status.GONE:
            item.status, item.gone_at = Status.OPEN, None
        elif item.status == Status.DISMISSED and _grown(item, config):
            reopened.append((item, snapshot(item, AUDITED_FIELDS), item.cost_at_decision))
            item.status, item.reopened_at = Status.OPEN, now
            item.reopen_note = (
                f"Reopened by the scan: {item.cost_30d:,.2f} {item.currency} in 30 days, against "
                f"{item.cost_at_decision or 0:,.2f} when it was dismissed."
            )[:300]
            item.alerted_at = None  # a dismissed item that grows this much is news again
        changed.append(item)
    with transaction.atomic():
        ShadowItem.objects.bulk_create(created)
        ShadowItem.objects.bulk_update(
            changed, [*FIGURE_FIELDS, "status", "gone_at", "reopened_at", "reopen_note", "alerted_at"]
        )
        vanished = list(
            ShadowItem.objects.filter(status=Status.OPEN)
            .exclude(fingerprint__in=[f.fingerprint for f in found])
            .values_list("pk", "alerted_at")
        )
        gone = ShadowItem.objects.filter(pk__in=[pk for pk, _ in vanished]).update(status=Status.GONE, gone_at=now)
        for pk, alerted_at in vanished:
            if alerted_at is not None:
                _resolve_alert_key(
                    f"shadow_ai:{pk}", "No unregistered spend any more: it now carries an asset, or it stopped."
                )
        for item, before, _ in reopened:
            audit_record(action="shadow_ai.reopen", target=item, before=before, after=snapshot(item, AUDITED_FIELDS))
        alerts = _raise_alerts(config, now)
        scan.found, scan.created, scan.reopened, scan.gone = len(found), len(created), len(reopened), gone
        scan.alerts, scan.finished_at = alerts, timezone.now()
        scan.save()
    return scan


def _raise_alerts(config: ShadowSettings, now: dt.datetime) -> int:
    from apps.alerts.services import alert_raise

    due = list(
        ShadowItem.objects.filter(status=Status.OPEN, alerted_at__isnull=True, cost_30d__gte=config.alert_threshold)
    )
    for item in due:
        alert_raise(
            kind="shadow_ai",
            severity="medium",
            subject=f"Shadow AI: {item.label} — {item.cost_30d:,.2f} {item.currency} in 30 days, no registered asset",
            dedup_key=dedup_key(item),
            body=(
                f"{item.get_identity_kind_display()} {item.identity_value} spent {item.cost_30d:,.2f} "
                f"{item.currency} on {item.service or item.provider or 'AI'} in the last 30 days "
                f"({item.get_origin_display().lower()}), and no asset in the inventory accounts for it. Register "
                "it, map it to an existing asset, or dismiss it with a reason."
            ),
            link=ITEM_PATH.format(pk=item.pk),
            data={"item": item.pk, "cost_30d": str(item.cost_30d), "currency": item.currency},
        )
    if due:
        ShadowItem.objects.filter(pk__in=[i.pk for i in due]).update(alerted_at=now)
    return len(due)


# --- decisions -----------------------------------------------------------------------------------------------


def _actor_label() -> str:
    actor = current_actor()
    return actor.user_email or (f"API key {actor.api_key_prefix}" if actor.api_key_prefix else "Keel")


def _check_open_for_decision(item: ShadowItem) -> None:
    if item.status in (Status.REGISTERED, Status.MAPPED):
        raise ValidationError(
            f"This item is already {item.get_status_display().lower()}: its rule “{item.rule}” routes the spend."
            if item.rule
            else f"This item is already {item.get_status_display().lower()}."
        )


def choose_candidate(item: ShadowItem, match: str | None = None) -> dict:
    """The rule to create: the candidate whose field is `match`, else the first (the one Keel recommends)."""
    candidates = item.rule_candidates or []
    if not candidates:
        raise ValidationError({"match": "Keel has no rule for this item's identity; rescan and try again."})
    if not match:
        return candidates[0]
    for candidate in candidates:
        if candidate["field"] == match:
            return candidate
    raise ValidationError({"match": f"Choose one of: {', '.join(c['field'] for c in candidates)}."})


def _rule_name(item: ShadowItem) -> str:
    base = f"Shadow AI: {item.label}"[:112]
    name, n = base, 2
    while AllocationRule.objects.filter(name__iexact=name).exists():
        name, n = f"{base} ({n})", n + 1
    return name


def _rules_taking_rows(candidate: dict, window: Window) -> list[int]:
    """Rules that allocate the candidate's rows today (in the scan window): the new rule must come before them."""
    condition, params = rule_matches_sql(candidate)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT DISTINCT c.allocation_rule_id FROM {CostRecord._meta.db_table} c "  # noqa: S608
            f"WHERE c.charge_period_start >= %s AND c.allocation_rule_id IS NOT NULL AND {condition}",
            [window.start, *params],
        )
        return [row[0] for row in cur.fetchall()]


def _create_rule(item: ShadowItem, candidate: dict, asset: Asset, decision: str) -> AllocationRule:
    from apps.finops.allocation import allocation_rule_save, allocation_rules_reorder

    rule = allocation_rule_save(
        name=_rule_name(item),
        match_field=candidate["field"],
        match_key=candidate.get("key", ""),
        match_value=candidate["value"],
        asset=asset,
        description=f"Created by the shadow AI review ({decision} “{asset.name}”) for "
        f"{item.get_identity_kind_display().lower()} {item.identity_value}.",
    )
    blocking = set(_rules_taking_rows(candidate, Window(utc_today()))) - {rule.pk}
    if blocking:
        order = [pk for pk in AllocationRule.objects.order_by("position", "id").values_list("pk", flat=True)]
        order.remove(rule.pk)
        first = min(order.index(pk) for pk in blocking if pk in order)
        order.insert(first, rule.pk)
        allocation_rules_reorder(ordered_ids=order)
        rule.refresh_from_db()
    return rule


def _decide(item: ShadowItem, *, status: str, asset: Asset | None, rule, reason: str = "") -> None:
    item.status, item.asset, item.rule, item.dismiss_reason = status, asset, rule, reason
    item.decided_at, item.decided_by = timezone.now(), _actor_label()[:254]
    item.cost_at_decision = item.cost_30d
    item.reopen_note = ""
    item.save()


def _resolve_alert(item: ShadowItem, note: str) -> None:
    _resolve_alert_key(dedup_key(item), note)


def _resolve_alert_key(key: str, note: str) -> None:
    from apps.alerts.services import alert_resolve_condition

    alert_resolve_condition(dedup_key=key, note=note)


def item_register(*, item: ShadowItem, kind: str, fields: dict, match: str | None = None) -> ShadowItem:
    """Register the item as a new asset of `kind` (fields as apps.inventory.services.asset_save takes them) and
    route its spend to the asset with an allocation rule."""
    _check_open_for_decision(item)
    if kind not in SUGGESTABLE_KINDS:
        raise ValidationError({"kind": f"Register it as one of: {', '.join(SUGGESTABLE_KINDS)}."})
    candidate = choose_candidate(item, match)
    from apps.inventory.services import asset_save

    with transaction.atomic():
        before = snapshot(item, AUDITED_FIELDS)
        asset = asset_save(kind=kind, **fields)
        rule = _create_rule(item, candidate, asset, "registered as")
        _decide(item, status=Status.REGISTERED, asset=asset, rule=rule)
        audit_record(action="shadow_ai.register", target=item, before=before, after=snapshot(item, AUDITED_FIELDS))
        _resolve_alert(item, f"Registered as {asset.name}; rule “{rule.name}” routes its spend.")
    return item


def item_map(*, item: ShadowItem, asset: Asset, match: str | None = None) -> ShadowItem:
    """Map the item to an asset the inventory already has, with an allocation rule."""
    _check_open_for_decision(item)
    if asset is None:
        raise ValidationError({"asset": "Choose the asset this spend belongs to."})
    candidate = choose_candidate(item, match)
    with transaction.atomic():
        before = snapshot(item, AUDITED_FIELDS)
        rule = _create_rule(item, candidate, asset, "mapped to")
        _decide(item, status=Status.MAPPED, asset=asset, rule=rule)
        audit_record(action="shadow_ai.map", target=item, before=before, after=snapshot(item, AUDITED_FIELDS))
        _resolve_alert(item, f"Mapped to {asset.name}; rule “{rule.name}” routes its spend.")
    return item


def item_dismiss(*, item: ShadowItem, reason: str) -> ShadowItem:
    """Not an asset to track (a test, a sandbox, a trial): leave it out of the queue, saying why."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why it is dismissed: the next person to see it will want to know."})
    _check_open_for_decision(item)
    if item.status == Status.DISMISSED:
        raise ValidationError("This item is already dismissed.")
    with transaction.atomic():
        before = snapshot(item, AUDITED_FIELDS)
        _decide(item, status=Status.DISMISSED, asset=None, rule=None, reason=reason[:2000])
        audit_record(action="shadow_ai.dismiss", target=item, before=before, after=snapshot(item, AUDITED_FIELDS))
        _resolve_alert(item, f"Dismissed: {reason[:200]}")
    return item


def item_reopen(*, item: ShadowItem) -> ShadowItem:
    """Put a dismissed item back in the queue (registered and mapped items have a rule: change that instead)."""
    if item.status != Status.DISMISSED:
        raise ValidationError("Only dismissed items can be reopened.")
    with transaction.atomic():
        before = snapshot(item, AUDITED_FIELDS)
        item.status, item.reopened_at = Status.OPEN, timezone.now()
        item.reopen_note = f"Reopened by {_actor_label()}."[:300]
        item.save()
        audit_record(action="shadow_ai.reopen", target=item, before=before, after=snapshot(item, AUDITED_FIELDS))
    return item
