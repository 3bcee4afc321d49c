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

from .models import AllocationRule, AllocationShare, AllocationTarget, CostDaily, CostRecord

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
    ALLOCATED_BY_USAGE: "Agent / department reported with the usage events",
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
    """Rows booked from usage events name their agent and department: match registered agents (by name) and
    departments (by code or name)."""
    where, params = scope.sql()
    cur.execute(
        f"""UPDATE {LEDGER} c SET asset_id = a.id, department_id = a.department_id, allocated_by = %s
            FROM {ASSETS} a
            WHERE {where} AND c.allocated_by = '' AND a.kind = 'agent' AND c.tags ? 'agent'
              AND lower(a.name) = lower(c.tags ->> 'agent')""",  # noqa: S608
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
            f"""SELECT department_id, asset_id, COALESCE(sum(r.effective_cost), 0) FROM {ROLLUP} r
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
