"""The daily cost rollup (CostDaily) and the client's month figures in the public schema.

Every dashboard reads the rollup, never the raw ledger. It is rebuilt set-based for a source and a day range
after each booking (DELETE + INSERT … SELECT … GROUP BY in one transaction), for the rows of shared-cost rules
whose shares changed, and as a whole after the allocation rules change.

Shared cost: a row marked by a split rule is spread over the rule's shares for its month. Share i of n gets
round(cost × W_i / W, 12) − round(cost × W_(i−1) / W, 12), with W_i the running sum of weights: the parts
telescope to round(cost × W / W, 12) = cost, so no fraction of a cent is lost or created.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from .focus import AI_CATEGORY
from .models import AllocationShare, CostDaily, CostRecord

LEDGER = CostRecord._meta.db_table
ROLLUP = CostDaily._meta.db_table
SHARES = AllocationShare._meta.db_table

DIMENSIONS = (
    "source_id",
    "provider_name",
    "service_name",
    "service_category",
    "charge_category",
    "billing_account_id",
    "sub_account_id",
    "region_id",
    "x_model",
    "billing_currency",
)
MONEY = ("effective_cost", "billed_cost", "list_cost", "contracted_cost")
COUNTS = {
    "input_tokens": "x_input_tokens",
    "output_tokens": "x_output_tokens",
    "cached_tokens": "x_cached_tokens",
    "requests": "x_requests",
}


def _share(expression: str, digits: int) -> str:
    whole = f"COALESCE({expression}, 0)"
    return (
        f"CASE WHEN s.rule_id IS NULL THEN {whole} ELSE "
        f"round({whole} * s.upto / s.total, {digits}) - round({whole} * s.before / s.total, {digits}) END"
    )


_SELECT = f"""
WITH s AS (
    SELECT rule_id, month, department_id, asset_id,
           COALESCE(sum(weight) OVER w_before, 0) AS before,
           sum(weight) OVER w_upto AS upto,
           sum(weight) OVER (PARTITION BY rule_id, month) AS total
    FROM {SHARES}
    WINDOW w_before AS (PARTITION BY rule_id, month ORDER BY ordinal ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
           w_upto AS (PARTITION BY rule_id, month ORDER BY ordinal ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT (c.charge_period_start AT TIME ZONE 'UTC')::date AS day,
       {", ".join(f"COALESCE(c.{d}, '')" if d != "source_id" else "c.source_id" for d in DIMENSIONS)},
       CASE WHEN s.rule_id IS NULL THEN c.department_id ELSE s.department_id END,
       CASE WHEN s.rule_id IS NULL THEN c.asset_id ELSE s.asset_id END,
       c.allocation_rule_id,
       {", ".join(f"sum({_share('c.' + m, 12)})" for m in MONEY)},
       {", ".join(f"sum({_share('c.' + col, 0)})::bigint" for col in COUNTS.values())},
       count(*)
FROM {LEDGER} c
LEFT JOIN s ON s.rule_id = c.allocation_rule_id
           AND s.month = date_trunc('month', c.charge_period_start AT TIME ZONE 'UTC')::date
WHERE {{where}}
GROUP BY {", ".join(str(i) for i in range(1, len(DIMENSIONS) + 5))}
"""  # noqa: S608 — table and column names are constants

_COLUMNS = (
    "day",
    *DIMENSIONS,
    "department_id",
    "asset_id",
    "allocation_rule_id",
    *MONEY,
    *COUNTS,
    "row_count",
)
_INSERT = f"INSERT INTO {ROLLUP} ({', '.join(_COLUMNS)}) "  # noqa: S608


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def months_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months that [start, end) touches."""
    months, month = [], _month_start(start)
    while month < end:
        months.append(month)
        month = _next_month(month)
    return months


def _rebuild(cur, *, where: str, params: list, delete_where: str, delete_params: list) -> None:
    cur.execute(f"DELETE FROM {ROLLUP} WHERE {delete_where}", delete_params)  # noqa: S608
    cur.execute(_INSERT + _SELECT.replace("{where}", where), params)


def rollup_refresh(*, source_id: int | None, start: dt.date, end: dt.date, portfolio: bool = True) -> None:
    """Rebuild the rollup of one source (or every source) for the days [start, end), then the shares of
    shared-cost rules for those months and the rows of the rules whose shares moved."""
    from .allocation import shares_refresh

    lower, upper = _day_start(start), _day_start(end)
    with transaction.atomic(), connection.cursor() as cur:
        if source_id is None:
            _rebuild(
                cur,
                where="c.charge_period_start >= %s AND c.charge_period_start < %s",
                params=[lower, upper],
                delete_where="day >= %s AND day < %s",
                delete_params=[start, end],
            )
        else:
            _rebuild(
                cur,
                where="c.source_id = %s AND c.charge_period_start >= %s AND c.charge_period_start < %s",
                params=[source_id, lower, upper],
                delete_where="source_id = %s AND day >= %s AND day < %s",
                delete_params=[source_id, start, end],
            )
        months = months_between(start, end)
        for rule_id, month in sorted(shares_refresh(months)):
            m_start, m_end = month, _next_month(month)
            _rebuild(
                cur,
                where="c.allocation_rule_id = %s AND c.charge_period_start >= %s AND c.charge_period_start < %s",
                params=[rule_id, _day_start(m_start), _day_start(m_end)],
                delete_where="allocation_rule_id = %s AND day >= %s AND day < %s",
                delete_params=[rule_id, m_start, m_end],
            )
    if portfolio:
        portfolio_spend_refresh(months=months_between(start, end))


def ledger_day_range() -> tuple[dt.date, dt.date] | None:
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT min(charge_period_start AT TIME ZONE 'UTC')::date, "  # noqa: S608
            f"max(charge_period_start AT TIME ZONE 'UTC')::date FROM {LEDGER}"
        )
        first, last = cur.fetchone()
    return (first, last + dt.timedelta(days=1)) if first else None


def rollup_rebuild_all() -> None:
    """The whole rollup again, a month at a time (after the allocation rules changed, or to repair)."""
    span = ledger_day_range()
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {ROLLUP} WHERE day < %s OR day >= %s", [*(span or (dt.date.max, dt.date.min))])  # noqa: S608
    if span is None:
        portfolio_spend_refresh(months=None)
        return
    for month in months_between(*span):
        rollup_refresh(source_id=None, start=month, end=_next_month(month), portfolio=False)
    portfolio_spend_refresh(months=None)


def booked_day_range(run) -> tuple[dt.date, dt.date] | None:
    """The UTC days a booking may have changed: its window, the billing periods it replaced and the charge
    days of what it loaded."""
    details = run.details or {}
    starts, ends = [], []
    if run.window_start and run.window_end:
        starts.append(run.window_start)
        ends.append(run.window_end)
    for period in details.get("periods") or []:
        try:
            month = dt.date(int(period[:4]), int(period[5:7]), 1)
        except (TypeError, ValueError):
            continue
        starts.append(month)
        ends.append(_next_month(month))
    for key, bucket, shift in (("charge_start", starts, 0), ("charge_end", ends, 1)):
        value = details.get(key)
        if value:
            moment = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
            bucket.append(moment.date() + dt.timedelta(days=shift))
    if not starts or not ends:
        return None
    return min(starts), max(ends)


# --- the public-schema month figures for the MSP console --------------------------------------------------


def portfolio_spend_refresh(*, months: list[dt.date] | None) -> None:
    """Copy this client's month totals (all months when None) into portfolio.ClientSpendMonth."""
    from apps.portfolio.models import ClientSpendMonth
    from apps.tenancy.models import Client

    client = Client.objects.filter(schema_name=connection.schema_name, kind=Client.Kind.CLIENT).first()
    if client is None:
        return
    month_filter, params = "", [AI_CATEGORY]
    if months is not None:
        if not months:
            return
        month_filter = "WHERE date_trunc('month', day)::date = ANY(%s)"
        params.append(months)
    with connection.cursor() as cur:
        cur.execute(
            f"""SELECT date_trunc('month', day)::date, billing_currency, sum(effective_cost),
                       COALESCE(sum(effective_cost) FILTER (WHERE service_category = %s), 0),
                       COALESCE(sum(effective_cost) FILTER (WHERE department_id IS NULL AND asset_id IS NULL), 0)
                FROM {ROLLUP} {month_filter} GROUP BY 1, 2""",  # noqa: S608
            params,
        )
        rows = cur.fetchall()
    with transaction.atomic():
        stale = ClientSpendMonth.objects.filter(client=client)
        if months is not None:
            stale = stale.filter(month__in=months)
        stale.delete()
        ClientSpendMonth.objects.bulk_create(
            ClientSpendMonth(
                client=client, month=month, currency=currency, effective_cost=cost, ai_cost=ai, unallocated_cost=un
            )
            for month, currency, cost, ai, un in rows
        )
