"""Allocation: which department and AI asset each ledger row belongs to.

Set-based: one UPDATE per rule over the rows in scope (a run's rows after booking, or a month when the rules
change). Order matters: the first enabled rule that matches a row wins, then the implicit steps run for what
is left — an asset's own cost tags (inventory "cost-allocation tags") and the agent/department fields that
usage events carry. Shared-cost rules only mark the row; apps.finops.rollups spreads it over the rule's
shares (AllocationShare), each share rounded so the parts add up to the row's cost exactly.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection, transaction

from apps.inventory.models import Asset, Department

from .models import AllocationRule, AllocationShare, AllocationStatus, AllocationTarget, CostDaily, CostRecord

LEDGER = CostRecord._meta.db_table
ROLLUP = CostDaily._meta.db_table
ASSETS = Asset._meta.db_table
DEPARTMENTS = Department._meta.db_table

Match = AllocationRule.Match
Split = AllocationRule.Split

# match field → the ledger text expressions a pattern is tried against (any of them may match)
MATCH_COLUMNS: dict[str, tuple[str, ...]] = {
    Match.BILLING_ACCOUNT: ("billing_account_id", "billing_account_name"),
    Match.SUB_ACCOUNT: ("sub_account_id", "sub_account_name"),
    Match.RESOURCE: ("resource_id", "resource_name"),
    Match.SERVICE: ("service_name",),
    Match.PROVIDER: ("provider_name",),
    Match.MODEL: ("x_model",),
    Match.API_KEY: ("tags->>'api_key'",),
    Match.AGENT: ("tags->>'agent'",),
    Match.USAGE_DEPARTMENT: ("tags->>'department'",),
}

ALLOCATED_BY_RULE = "rule"
ALLOCATED_BY_ASSET_TAGS = "asset_tags"
ALLOCATED_BY_USAGE = "usage_tags"
ALLOCATED_BY_LABELS = {
    ALLOCATED_BY_RULE: "Allocation rule",
    ALLOCATED_BY_ASSET_TAGS: "The asset's cost-allocation tags",
    ALLOCATED_BY_USAGE: "The row's agent or department tag",
    "": "Unallocated",
}


def glob_to_like(pattern: str) -> str:
    """A glob (* any text, ? one character) as an ILIKE pattern, with LIKE's own wildcards escaped."""
    out = []
    for char in pattern:
        if char in "\\%_":
            out.append("\\" + char)
        elif char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        else:
            out.append(char)
    return "".join(out)


class Scope:
    """Which ledger rows an allocation pass touches: one run's rows, or rows charged in [start, end)."""

    def __init__(self, *, run_id: int | None = None, start: dt.datetime | None = None, end: dt.datetime | None = None):
        self.run_id, self.start, self.end = run_id, start, end

    def sql(self) -> tuple[str, list]:
        if self.run_id is not None:
            return "c.run_id = %s", [self.run_id]
        return "c.charge_period_start >= %s AND c.charge_period_start < %s", [self.start, self.end]


def _match_sql(rule: AllocationRule) -> tuple[str, list]:
    like = glob_to_like(rule.match_value.strip())
    if rule.match_field == Match.TAG:
        return "(c.tags ->> %s) ILIKE %s", [rule.match_key, like]
    columns = MATCH_COLUMNS[rule.match_field]
    return "(" + " OR ".join(f"c.{col} ILIKE %s" for col in columns) + ")", [like] * len(columns)


def _apply_rule(cur, rule: AllocationRule, scope: Scope) -> int:
    where, params = scope.sql()
    match, match_params = _match_sql(rule)
    if rule.split == Split.NONE:
        department = rule.department_id
        if department is None and rule.asset_id is not None:
            department = rule.asset.department_id  # an asset's cost is its department's cost too
        assignment, assign_params = "department_id = %s, asset_id = %s", [department, rule.asset_id]
    else:
        assignment, assign_params = "department_id = NULL, asset_id = NULL", []
    cur.execute(
        f"UPDATE {LEDGER} c SET {assignment}, allocation_rule_id = %s, allocated_by = %s "  # noqa: S608
        f"WHERE {where} AND c.allocated_by = '' AND {match}",
        [*assign_params, rule.pk, ALLOCATED_BY_RULE, *params, *match_params],
    )
    return cur.rowcount


def _apply_asset_tags(cur, scope: Scope) -> int:
    where, params = scope.sql()
    count = 0
    for asset_id, department_id, cost_tags in (
        Asset.objects.exclude(cost_tags={}).order_by("id").values_list("id", "department_id", "cost_tags")
    ):
        if not isinstance(cost_tags, dict) or not cost_tags:
            continue
        cur.execute(
            f"UPDATE {LEDGER} c SET asset_id = %s, department_id = %s, allocated_by = %s "  # noqa: S608
            f"WHERE {where} AND c.allocated_by = '' AND c.tags @> %s::jsonb",
            [asset_id, department_id, ALLOCATED_BY_ASSET_TAGS, *params, _json(cost_tags)],
        )
        count += cur.rowcount
    return count


def _apply_usage_tags(cur, scope: Scope) -> int:
    """Rows that name an agent or a department in their tags (usage events always do, cloud resources often):
    match registered agents (by name, or the agent in their cost tags) and departments (by code or name)."""
    where, params = scope.sql()
    cur.execute(
        f"""UPDATE {LEDGER} c SET asset_id = a.id, department_id = a.department_id, allocated_by = %s
            FROM {ASSETS} a
            WHERE {where} AND c.allocated_by = '' AND a.kind = 'agent' AND c.tags ? 'agent'
              AND lower(c.tags ->> 'agent') IN (lower(a.name), lower(a.cost_tags ->> 'agent'))""",  # noqa: S608
        [ALLOCATED_BY_USAGE, *params],
    )
    count = cur.rowcount
    cur.execute(
        f"""UPDATE {LEDGER} c SET department_id = d.id, allocated_by = %s
            FROM {DEPARTMENTS} d
            WHERE {where} AND c.allocated_by IN ('', %s) AND c.department_id IS NULL AND c.tags ? 'department'
              AND (lower(d.code) = lower(c.tags ->> 'department') OR lower(d.name) = lower(c.tags ->> 'department'))""",  # noqa: S608
        [ALLOCATED_BY_USAGE, *params, ALLOCATED_BY_USAGE],
    )
    return count + cur.rowcount


def _json(value) -> str:
    import json

    return json.dumps(value, sort_keys=True)


def rules_in_order() -> list[AllocationRule]:
    return list(AllocationRule.objects.filter(enabled=True).select_related("asset").order_by("position", "id"))


def allocation_apply(scope: Scope, *, reset: bool = False) -> dict[str, int]:
    """Allocate the rows in scope (only rows not yet allocated, unless reset). Returns rows per step."""
    counts: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cur:
        if reset:
            where, params = scope.sql()
            cur.execute(
                f"UPDATE {LEDGER} c SET department_id = NULL, asset_id = NULL, allocation_rule_id = NULL, "  # noqa: S608
                f"allocated_by = '' WHERE {where} AND (c.allocated_by <> '' OR c.allocation_rule_id IS NOT NULL)",
                params,
            )
        for rule in rules_in_order():
            counts[f"rule:{rule.pk}"] = _apply_rule(cur, rule, scope)
        counts[ALLOCATED_BY_ASSET_TAGS] = _apply_asset_tags(cur, scope)
        counts[ALLOCATED_BY_USAGE] = _apply_usage_tags(cur, scope)
    return counts


# --- shares of shared-cost rules -----------------------------------------------------------------------------


def _target_weights(rule: AllocationRule, targets: list[AllocationTarget], month: dt.date) -> list[Decimal]:
    if rule.split == Split.FIXED:
        return [t.percent or Decimal(0) for t in targets]
    if rule.split == Split.PROPORTIONAL:
        weights = _direct_cost(targets, month)
        if sum(weights) > 0:
            return weights
    return [Decimal(1)] * len(targets)  # even, and proportional with nothing to be proportional to


def _direct_cost(targets: list[AllocationTarget], month: dt.date) -> list[Decimal]:
    """Each target's own (not shared) cost in the month, from the rollup: the measure proportional splits use."""
    end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    with connection.cursor() as cur:
        cur.execute(
            f"""SELECT r.department_id, r.asset_id, COALESCE(sum(r.effective_cost), 0) FROM {ROLLUP} r
                LEFT JOIN {AllocationRule._meta.db_table} ar ON ar.id = r.allocation_rule_id
                WHERE r.day >= %s AND r.day < %s AND (ar.id IS NULL OR ar.split = 'none')
                GROUP BY 1, 2""",  # noqa: S608
            [month, end],
        )
        rows = cur.fetchall()
    by_department: dict[int, Decimal] = {}
    by_asset: dict[int, Decimal] = {}
    for department_id, asset_id, cost in rows:
        if department_id is not None:
            by_department[department_id] = by_department.get(department_id, Decimal(0)) + cost
        if asset_id is not None:
            by_asset[asset_id] = by_asset.get(asset_id, Decimal(0)) + cost
    weights = []
    for target in targets:
        cost = by_asset.get(target.asset_id) if target.asset_id else by_department.get(target.department_id)
        weights.append(max(cost or Decimal(0), Decimal(0)))
    return weights


def shares_refresh(months: list[dt.date]) -> set[tuple[int, dt.date]]:
    """Recompute the shares of every shared-cost rule for the months; returns the (rule, month) that changed."""
    changed: set[tuple[int, dt.date]] = set()
    rules = list(
        AllocationRule.objects.exclude(split=Split.NONE).prefetch_related("targets__department", "targets__asset")
    )
    existing: dict[tuple[int, dt.date], list[tuple]] = {}
    for share in AllocationShare.objects.filter(month__in=months):
        existing.setdefault((share.rule_id, share.month), []).append(
            (share.ordinal, share.department_id, share.asset_id, share.weight)
        )
    fresh: list[AllocationShare] = []
    for rule in rules:
        targets = list(rule.targets.all())
        for month in months:
            if not targets or not rule.enabled:
                computed = []
            else:
                weights = _target_weights(rule, targets, month)
                computed = [
                    (i, t.asset.department_id if t.asset_id and not t.department_id else t.department_id, t.asset_id, w)
                    for i, (t, w) in enumerate(zip(targets, weights, strict=True))
                    if w > 0
                ]
            if sorted(existing.get((rule.pk, month), [])) != sorted(computed):
                changed.add((rule.pk, month))
            fresh.extend(
                AllocationShare(rule=rule, month=month, ordinal=o, department_id=d, asset_id=a, weight=w)
                for o, d, a, w in computed
            )
    with transaction.atomic():
        AllocationShare.objects.filter(month__in=months).delete()
        AllocationShare.objects.bulk_create(fresh)
    stale = {key for key in existing if key[0] not in {r.pk for r in rules}}
    return changed | stale


# --- rules as people change them -------------------------------------------------------------------------


def _rule_snapshot(rule: AllocationRule) -> dict:
    return {
        "name": rule.name,
        "position": rule.position,
        "enabled": rule.enabled,
        "match_field": rule.match_field,
        "match_key": rule.match_key,
        "match_value": rule.match_value,
        "split": rule.split,
        "department": rule.department_id,
        "asset": rule.asset_id,
        "targets": [
            {"department": t.department_id, "asset": t.asset_id, "percent": str(t.percent) if t.percent else None}
            for t in rule.targets.all()
        ]
        if rule.pk
        else [],
    }


def _clean_rule(rule: AllocationRule, targets: list[dict]) -> None:
    from django.core.exceptions import ValidationError

    errors: dict[str, list[str]] = {}
    if not rule.match_value.strip():
        errors.setdefault("match_value", []).append("Give the value or pattern to match (* matches anything).")
    if rule.match_field == Match.TAG and not rule.match_key.strip():
        errors.setdefault("match_key", []).append("Tag rules need the tag key, e.g. team.")
    if rule.match_field != Match.TAG and rule.match_key.strip():
        rule.match_key = ""
    if rule.split == Split.NONE:
        if rule.department_id is None and rule.asset_id is None:
            errors.setdefault("department", []).append("Choose the department and/or asset that receives the cost.")
        if targets:
            errors.setdefault("targets", []).append("Only shared-cost rules have targets.")
    else:
        if rule.department_id or rule.asset_id:
            errors.setdefault("department", []).append(
                "A shared-cost rule spreads over its targets; leave department and asset empty."
            )
        if len(targets) < 2:
            errors.setdefault("targets", []).append("A shared cost needs at least two targets.")
        for target in targets:
            if not target.get("department") and not target.get("asset"):
                errors.setdefault("targets", []).append("Each target needs a department or an asset.")
                break
        if rule.split == Split.FIXED:
            percents = [target.get("percent") for target in targets]
            if any(p is None or Decimal(p) <= 0 for p in percents):
                errors.setdefault("targets", []).append("Fixed splits need a positive percentage per target.")
            elif sum(Decimal(p) for p in percents) != Decimal(100):
                total = sum(Decimal(p) for p in percents)
                errors.setdefault("targets", []).append(f"The percentages add up to {total}, not 100.")
        seen = set()
        for target in targets:
            key = (target.get("department"), target.get("asset"))
            if key in seen:
                errors.setdefault("targets", []).append("A target is listed twice.")
                break
            seen.add(key)
    if errors:
        raise ValidationError(errors)


def _target_id(value):
    return getattr(value, "pk", value) or None


def allocation_rule_save(
    *,
    rule: AllocationRule | None = None,
    name: str,
    match_field: str,
    match_value: str,
    match_key: str = "",
    department=None,
    asset=None,
    split: str = Split.NONE,
    targets=(),
    enabled: bool = True,
    position: int | None = None,
    description: str = "",
    recompute: bool = True,
) -> AllocationRule:
    """Create or change a rule (targets: dicts with department, asset, percent), audit it, and recompute the
    allocation of the whole ledger in the background (a loader saving many rules passes recompute=False and
    recomputes once). New rules go last unless a position is given."""
    from django.core.exceptions import ValidationError

    from apps.audit.services import audit_record

    creating = rule is None
    rule = rule or AllocationRule()
    before = None if creating else _rule_snapshot(AllocationRule.objects.prefetch_related("targets").get(pk=rule.pk))
    if match_field not in Match.values:
        raise ValidationError({"match_field": f"Unknown match {match_field!r}; one of {', '.join(Match.values)}."})
    if split not in Split.values:
        raise ValidationError({"split": f"Unknown split {split!r}; one of {', '.join(Split.values)}."})
    rule.name, rule.match_field, rule.match_value = name.strip(), match_field, match_value.strip()
    rule.match_key, rule.split, rule.enabled, rule.description = match_key.strip(), split, enabled, description
    rule.department_id, rule.asset_id = _target_id(department), _target_id(asset)
    cleaned = [
        {
            "department": _target_id(t.get("department")),
            "asset": _target_id(t.get("asset")),
            "percent": Decimal(str(t["percent"])) if t.get("percent") not in (None, "") else None,
        }
        for t in targets
    ]
    _clean_rule(rule, cleaned)
    if position is not None:
        rule.position = position
    elif creating:
        last = AllocationRule.objects.order_by("-position").values_list("position", flat=True).first()
        rule.position = (last or 0) + 10
    if AllocationRule.objects.filter(name__iexact=rule.name).exclude(pk=rule.pk).exists():
        raise ValidationError({"name": "Another rule already has this name."})
    with transaction.atomic():
        rule.save()
        rule.targets.all().delete()
        AllocationTarget.objects.bulk_create(
            AllocationTarget(
                rule=rule,
                department_id=t["department"],
                asset_id=t["asset"],
                percent=t["percent"] if split == Split.FIXED else None,
            )
            for t in cleaned
        )
        rule = AllocationRule.objects.prefetch_related("targets").get(pk=rule.pk)
        audit_record(
            action="allocation_rule.create" if creating else "allocation_rule.update",
            target=rule,
            before=before,
            after=_rule_snapshot(rule),
        )
        if recompute:
            allocation_recompute_request()
    return rule


def allocation_rule_delete(*, rule: AllocationRule) -> None:
    from apps.audit.services import audit_record

    with transaction.atomic():
        before = _rule_snapshot(rule)
        audit_record(action="allocation_rule.delete", target=rule, before=before)
        rule.delete()
        allocation_recompute_request()


def allocation_rules_reorder(*, ordered_ids: list[int]) -> None:
    """Positions 10, 20, … in the given order (ids not listed keep their relative order after them)."""
    from apps.audit.services import audit_record

    with transaction.atomic():
        rules = {r.pk: r for r in AllocationRule.objects.select_for_update()}
        order = [pk for pk in ordered_ids if pk in rules] + sorted(
            (pk for pk in rules if pk not in ordered_ids), key=lambda pk: (rules[pk].position, pk)
        )
        before = {pk: rules[pk].position for pk in rules}
        for index, pk in enumerate(order, start=1):
            rules[pk].position = index * 10
        AllocationRule.objects.bulk_update(rules.values(), ["position"])
        audit_record(
            action="allocation_rule.reorder",
            object_type="finops.allocationrule",
            object_repr="Allocation rule order",
            before={"order": sorted(before, key=lambda pk: (before[pk], pk))},
            after={"order": order},
        )
        allocation_recompute_request()


def allocation_status() -> AllocationStatus:
    status, _ = AllocationStatus.objects.get_or_create(pk=1)
    return status


def allocation_recompute_request() -> None:
    """Recompute the whole ledger's allocation in the background once the current transaction commits."""
    from django.utils import timezone

    from .tasks import allocation_recompute_task

    AllocationStatus.objects.update_or_create(pk=1, defaults={"requested_at": timezone.now()})
    transaction.on_commit(lambda: allocation_recompute_task.delay())


def allocation_recompute_pending() -> dict[str, int]:
    """The task's body: recompute, and again while changes arrived during a pass (the task lock lets only one
    copy run, so a request made meanwhile would otherwise be lost)."""
    from django.utils import timezone

    summary: dict[str, int] = {}
    for _ in range(5):
        started = timezone.now()
        AllocationStatus.objects.update_or_create(pk=1, defaults={"started_at": started, "error": ""})
        try:
            summary = allocation_recompute_all()
        except Exception as exc:
            AllocationStatus.objects.filter(pk=1).update(error=f"{exc.__class__.__name__}: {str(exc)[:500]}")
            raise
        status = allocation_status()
        status.finished_at, status.summary = timezone.now(), summary
        status.save(update_fields=["finished_at", "summary"])
        if status.requested_at is None or status.requested_at <= started:
            break
    return summary


def allocation_recompute_all() -> dict[str, int]:
    """Apply the rules afresh to every ledger row, a month at a time, then rebuild the rollup and shares."""
    from .rollups import ledger_day_range, months_between, rollup_rebuild_all

    span = ledger_day_range()
    totals: dict[str, int] = {}
    if span is not None:
        for month in months_between(*span):
            start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
            end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            for key, count in allocation_apply(Scope(start=start, end=end), reset=True).items():
                totals[key] = totals.get(key, 0) + count
    rollup_rebuild_all()
    return totals


# --- reads for the allocation page ------------------------------------------------------------------------


def allocation_overview(*, first_day: dt.date, last_day: dt.date) -> dict:
    """Allocated vs unallocated spend per currency, and the spend each department and each rule received, for
    the UTC days [first_day, last_day], from the rollup (three grouped queries, whatever the ledger size)."""
    from django.db.models import Q, Sum

    rollup = CostDaily.objects.filter(day__gte=first_day, day__lte=last_day)
    unallocated = Q(department__isnull=True, asset__isnull=True)
    totals = []
    for row in (
        rollup.values("billing_currency")
        .annotate(
            total=Sum("effective_cost"),
            unallocated=Sum("effective_cost", filter=unallocated),
        )
        .order_by("billing_currency")
    ):
        total, left = row["total"] or Decimal(0), row["unallocated"] or Decimal(0)
        totals.append(
            {
                "currency": row["billing_currency"],
                "total": total,
                "allocated": total - left,
                "unallocated": left,
                "allocated_percent": (total - left) / total * 100 if total else None,
            }
        )
    by_department = list(
        rollup.values("department_id", "department__name", "billing_currency")
        .annotate(amount=Sum("effective_cost"))
        .order_by("billing_currency", "-amount")
    )
    by_rule = {
        (row["allocation_rule_id"], row["billing_currency"]): row["amount"]
        for row in rollup.values("allocation_rule_id", "billing_currency").annotate(amount=Sum("effective_cost"))
    }
    implicit = {
        row["billing_currency"]: row["amount"]
        for row in rollup.filter(allocation_rule__isnull=True)
        .exclude(unallocated)
        .values("billing_currency")
        .annotate(amount=Sum("effective_cost"))
    }
    return {"totals": totals, "by_department": by_department, "by_rule": by_rule, "implicit": implicit}


def rules_with_targets():
    return (
        AllocationRule.objects.select_related("department", "asset")
        .prefetch_related("targets__department", "targets__asset")
        .order_by("position", "id")
    )
