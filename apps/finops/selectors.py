"""Reads of the FinOps ledger: sources, runs, and the cost explorer (set-based, one query per view)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, Max, Min, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from apps.inventory.models import Asset, Department

from .models import AllocationRule, AllocationShare, BillingSource, CostDaily, CostRecord, IngestionRun, SourceKind

# Dimensions a person can filter and group the explorer by: name → (label, ledger expression).
EXPLORER_DIMENSIONS: dict[str, tuple[str, str]] = {
    "provider": ("Provider", "provider_name"),
    "service": ("Service", "service_name"),
    "category": ("Service category", "service_category"),
    "account": ("Billing account", "billing_account_id"),
    "sub_account": ("Sub-account", "sub_account_id"),
    "region": ("Region", "region_id"),
    "charge_category": ("Charge category", "charge_category"),
    "model": ("Model", "x_model"),
    "source": ("Billing source", "source__name"),
    "currency": ("Currency", "billing_currency"),
}
MEASURES = ("effective_cost", "billed_cost", "list_cost", "contracted_cost")
MEASURE_LABELS = {
    "effective_cost": "EffectiveCost (amortised)",
    "billed_cost": "BilledCost (invoiced)",
    "list_cost": "ListCost (list price)",
    "contracted_cost": "ContractedCost (negotiated price)",
}
# Names shown next to ids in the explorer's drop-downs (billing account 1234… is "SunBird").
DIMENSION_NAMES = {"account": "billing_account_name", "sub_account": "sub_account_name"}
# Allocation dimensions, explorer only (the ledger export and cost-records API filter on ledger columns): ids of
# the department, AI asset and rule. Departments and assets are per share of a shared cost, as in the rollup.
ALLOCATION_DIMENSIONS: dict[str, tuple[str, str]] = {
    "department": ("Department", "department_id"),
    "asset": ("AI asset", "asset_id"),
    "rule": ("Allocation rule", "allocation_rule_id"),
}
SPREAD_DIMENSIONS = ("department", "asset")
EXPLORER_ALL_DIMENSIONS = {**EXPLORER_DIMENSIONS, **ALLOCATION_DIMENSIONS}
TAG_SAMPLE_ROWS = 6_000  # ledger rows the tag-key list reads (at least 50 a day), spread over the period's days


def sources_list() -> QuerySet[BillingSource]:
    """Every source with its latest run (one query)."""
    latest = IngestionRun.objects.filter(source=OuterRef("pk")).order_by("-started_at", "-id")
    return BillingSource.objects.annotate(
        latest_run_id=Subquery(latest.values("id")[:1]),
        latest_run_status=Subquery(latest.values("status")[:1]),
        latest_run_error=Subquery(latest.values("error")[:1]),
        latest_run_started_at=Subquery(latest.values("started_at")[:1]),
        latest_run_finished_at=Subquery(latest.values("finished_at")[:1]),
        latest_run_rows_loaded=Subquery(latest.values("rows_loaded")[:1]),
        latest_run_trigger=Subquery(latest.values("trigger")[:1]),
    ).order_by("name")


def source_get(*, pk: int) -> BillingSource:
    return BillingSource.objects.get(pk=pk)


def runs_list(*, source: BillingSource | None = None, status: str = "") -> QuerySet[IngestionRun]:
    runs = IngestionRun.objects.select_related("source")
    if source is not None:
        runs = runs.filter(source=source)
    if status:
        runs = runs.filter(status=status)
    return runs.order_by("-started_at", "-id")


def source_choices() -> QuerySet[BillingSource]:
    """Every source's id and name, for filter drop-downs."""
    return BillingSource.objects.order_by("name").only("pk", "name")


def upload_runs(*, status: str = "", limit: int = 10) -> list[IngestionRun]:
    """The latest runs of the client's FOCUS upload source (none before the first upload)."""
    runs = runs_list(status=status).filter(source__kind=SourceKind.FOCUS_UPLOAD)
    return list(runs[:limit])


def run_rows_in_ledger(*, run: IngestionRun) -> int:
    """How many of the rows a run booked are still in the ledger (later runs replace earlier ones)."""
    return CostRecord.objects.filter(run=run).count()


def run_get(*, pk: int) -> IngestionRun:
    return IngestionRun.objects.select_related("source").get(pk=pk)


def run_breakdown(*, run: IngestionRun, by: str, limit: int = 10) -> list[dict]:
    """The biggest groups (by EffectiveCost) among the rows this run booked: services, accounts…

    Each item: {"key", "name", "currency", "effective_cost", "billed_cost", "rows"}."""
    column = EXPLORER_DIMENSIONS[by][1]
    name = DIMENSION_NAMES.get(by)
    values = [column, "billing_currency", *([name] if name else [])]
    rows = (
        CostRecord.objects.filter(run=run)
        .values(*values)
        .annotate(
            effective=Coalesce(Sum("effective_cost"), Decimal(0)),
            billed=Coalesce(Sum("billed_cost"), Decimal(0)),
            count=Count("id"),
        )
        .order_by("-effective", column)[:limit]
    )
    return [
        {
            "key": row[column],
            "name": row.get(name, "") if name else "",
            "currency": row["billing_currency"],
            "effective_cost": row["effective"],
            "billed_cost": row["billed"],
            "rows": row["count"],
        }
        for row in rows
    ]


def source_booked(*, source: BillingSource) -> list[dict]:
    """What a source has in the ledger now, per currency (rows, EffectiveCost, BilledCost, first and last day)."""
    return [{"currency": currency, **values} for currency, values in ledger_totals(source=source).items()]


@dataclass
class ExplorerQuery:
    """What the cost explorer shows: a UTC charge-period range, filters, a grouping and a measure."""

    start: dt.date
    end: dt.date  # exclusive
    filters: dict[str, str] = field(default_factory=dict)  # dimension → exact value (ids for allocation ones)
    tag_key: str = ""
    tag_value: str = ""
    group_by: str = "service"  # a dimension, or "tag:<key>"
    measure: str = "effective_cost"
    granularity: str = "day"  # day | month

    @property
    def uses_tags(self) -> bool:
        return bool(self.tag_key) or self.group_by.startswith("tag:")


@dataclass
class ExplorerResult:
    groups: list[dict]  # {"key", "currency", "amount", "rows"} sorted by amount desc
    series: list[dict]  # {"period", "key", "currency", "amount"}
    totals: dict[str, Decimal]  # currency → amount
    row_count: int
    read_from: str = "rollup"  # "rollup" (CostDaily) or "ledger" (tag queries: tags are not in the rollup)


def _records(query: ExplorerQuery) -> QuerySet[CostRecord]:
    start = dt.datetime(query.start.year, query.start.month, query.start.day, tzinfo=dt.UTC)
    end = dt.datetime(query.end.year, query.end.month, query.end.day, tzinfo=dt.UTC)
    records = CostRecord.objects.filter(charge_period_start__gte=start, charge_period_start__lt=end)
    for name, value in query.filters.items():
        if name in EXPLORER_DIMENSIONS and value != "":
            records = records.filter(**{EXPLORER_DIMENSIONS[name][1]: value})
    if query.tag_key:
        if query.tag_value:
            records = records.filter(tags__contains={query.tag_key: query.tag_value})
        else:
            records = records.filter(tags__has_key=query.tag_key)
    return records


# The explorer reads the daily rollup (CostDaily) unless the query filters or groups by a tag: tags are not in
# the rollup, so those queries read the ledger, spreading shared-cost rows over their shares exactly as the
# rollup does (apps.finops.rollups), so both give the same figures to the last digit.
ROLLUP_TABLE = CostDaily._meta.db_table
LEDGER_TABLE = CostRecord._meta.db_table
SOURCE_TABLE = BillingSource._meta.db_table
SHARE_TABLE = AllocationShare._meta.db_table
_SHARES_CTE = f"""s AS (
    SELECT rule_id, month, department_id, asset_id,
           COALESCE(sum(weight) OVER w_before, 0) AS before,
           sum(weight) OVER w_upto AS upto,
           sum(weight) OVER (PARTITION BY rule_id, month) AS total
    FROM {SHARE_TABLE}
    WINDOW w_before AS (PARTITION BY rule_id, month ORDER BY ordinal ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
           w_upto AS (PARTITION BY rule_id, month ORDER BY ordinal ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)"""  # noqa: S608 — the same weights as the rollup's
_LEDGER_DAY = "(c.charge_period_start AT TIME ZONE 'UTC')::date"


@contextlib.contextmanager
def analytics_cursor():
    """A cursor for figure queries, in a transaction with two PostgreSQL settings of its own: JIT off (the cost
    estimates of reads of some thousand rollup rows switch it on, and compiling takes longer than the query)
    and enough work_mem to aggregate by hashing (the default 4 MB makes the planner sort on disk instead)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
        yield cur


def _spreads(query: ExplorerQuery) -> bool:
    """Whether the query looks at departments or assets, which shared-cost rows reach only through shares."""
    return query.group_by in SPREAD_DIMENSIONS or any(query.filters.get(name) for name in SPREAD_DIMENSIONS)


def _dimension_sql(name: str, alias: str, *, spread: bool) -> str:
    column = EXPLORER_ALL_DIMENSIONS[name][1]
    if column == "source__name":
        return "src.name"
    if alias == "c" and spread and name in SPREAD_DIMENSIONS:
        return f"CASE WHEN s.rule_id IS NULL THEN c.{column} ELSE s.{column} END"
    return f"{alias}.{column}"


def _filter_value(name: str, value: str):
    return int(value) if name in ALLOCATION_DIMENSIONS else value


def _explorer_sql(query: ExplorerQuery, measure: str, read_from: str) -> tuple[str, list]:
    """One statement for the groups and the series: GROUPING SETS ((key, currency), (period, key, currency))."""
    alias = "d" if read_from == "rollup" else "c"
    spread = _spreads(query)
    needs_source = query.group_by == "source" or bool(query.filters.get("source"))
    where, params, ctes, joins = [], [], [], []
    if read_from == "rollup":
        where += ["d.day >= %s", "d.day < %s"]
        params += [query.start, query.end]
        period = "d.day" if query.granularity != "month" else "date_trunc('month', d.day)::date"
        amount = f"d.{measure}"
        if spread:
            rows = "d.row_count"  # a shared row counts in each department/asset its shares reach
        else:  # a shared row is in the rollup once per share: count it once
            rows = "d.row_count::float8 / COALESCE(n.shares, 1)"  # whole again once summed; rounded below
            joins.append(
                f"LEFT JOIN (SELECT rule_id, month, count(*) AS shares FROM {SHARE_TABLE} GROUP BY 1, 2) n "  # noqa: S608
                "ON n.rule_id = d.allocation_rule_id AND n.month = date_trunc('month', d.day)::date"
            )
        table = f"{ROLLUP_TABLE} d"
    else:
        from .rollups import _share  # the rollup's own rounding of a share, so both agree to the last digit

        start = dt.datetime(query.start.year, query.start.month, query.start.day, tzinfo=dt.UTC)
        end = dt.datetime(query.end.year, query.end.month, query.end.day, tzinfo=dt.UTC)
        where += ["c.charge_period_start >= %s", "c.charge_period_start < %s"]
        params += [start, end]
        period = _LEDGER_DAY if query.granularity != "month" else f"date_trunc('month', {_LEDGER_DAY})::date"
        rows = "1"
        if spread:
            ctes.append(_SHARES_CTE)
            joins.append(
                "LEFT JOIN s ON s.rule_id = c.allocation_rule_id "
                f"AND s.month = date_trunc('month', {_LEDGER_DAY})::date"
            )
            amount = _share(f"c.{measure}", 12)
        else:
            amount = f"c.{measure}"
        table = f"{LEDGER_TABLE} c"
        if query.tag_key:
            if query.tag_value:
                where.append("c.tags @> jsonb_build_object(%s::text, %s::text)")
                params += [query.tag_key, query.tag_value]
            else:
                where.append("c.tags ? %s")
                params.append(query.tag_key)
    if needs_source:
        joins.insert(0, f"JOIN {SOURCE_TABLE} src ON src.id = {alias}.source_id")
    for name, value in query.filters.items():
        if name in EXPLORER_ALL_DIMENSIONS and value != "":
            where.append(f"{_dimension_sql(name, alias, spread=spread)} = %s")
            params.append(_filter_value(name, value))
    key_params: list = []
    if query.group_by.startswith("tag:"):
        key = "COALESCE(c.tags ->> %s, '')"  # '' when untagged
        key_params.append(query.group_by[4:])
    else:
        group = query.group_by if query.group_by in EXPLORER_ALL_DIMENSIONS else "service"
        key = _dimension_sql(group, alias, spread=spread)
    with_clause = "WITH " + ", ".join(ctes) + "," if ctes else "WITH"
    sql = f"""{with_clause} r AS (
    SELECT {key} AS key, {alias}.billing_currency AS currency, {period} AS period, {amount} AS amount, {rows} AS n
    FROM {table} {" ".join(joins)}
    WHERE {" AND ".join(where)}
)
SELECT key, currency, period, COALESCE(sum(amount), 0), sum(n), GROUPING(period)
FROM r GROUP BY GROUPING SETS ((key, currency), (period, key, currency))
ORDER BY GROUPING(period) DESC, 4 DESC, key, period"""  # noqa: S608 — names are constants, values parameters
    return sql, key_params + params


def cost_explorer(query: ExplorerQuery, *, read_from: str = "") -> ExplorerResult:
    """Totals by group and by period (exact Decimal sums), from the daily rollup — or from the ledger when the
    query uses tags (read_from="ledger" forces the ledger, to check the two agree)."""

    measure = query.measure if query.measure in MEASURES else "effective_cost"
    if query.uses_tags:
        if read_from == "rollup":
            raise ValueError("tags are not in the rollup: a tag query reads the ledger")
        read_from = "ledger"
    read_from = read_from or "rollup"
    sql, params = _explorer_sql(query, measure, read_from)
    with analytics_cursor() as cur:
        cur.execute(sql, params)
        found = cur.fetchall()
    groups, series = [], []
    totals: dict[str, Decimal] = {}
    row_count = 0
    for key, currency, period, amount, rows, is_group in found:
        if is_group:
            count = round(rows)
            groups.append({"key": key, "currency": currency, "amount": amount, "rows": count})
            totals[currency] = totals.get(currency, Decimal(0)) + amount
            row_count += count
        else:
            moment = dt.datetime(period.year, period.month, period.day, tzinfo=dt.UTC)
            series.append({"period": moment, "key": key, "currency": currency, "amount": amount})
    series.sort(key=lambda p: (p["period"], p["key"] is None, str(p["key"]) if p["key"] is not None else ""))
    return ExplorerResult(groups=groups, series=series, totals=totals, row_count=row_count, read_from=read_from)


def explorer_choices(query: ExplorerQuery, dimension: str, *, limit: int = 200) -> list[str]:
    """Distinct values of a dimension within the period, read from the ledger (a cross-check of the options)."""
    column = EXPLORER_DIMENSIONS[dimension][1]
    base = ExplorerQuery(start=query.start, end=query.end)
    return list(
        _records(base).exclude(**{column: ""}).values_list(column, flat=True).distinct().order_by(column)[:limit]
    )


# (day, source) where the rollup first saw a value, packed in one bigint: days since 2000 × base + source id.
_SEEN_BASE = 10**9
# Names shown for the allocation dimensions' ids: dimension → the table holding them.
_NAME_TABLES = {
    "department": Department._meta.db_table,
    "asset": Asset._meta.db_table,
    "rule": AllocationRule._meta.db_table,
}


def explorer_filter_options(query: ExplorerQuery, *, limit: int = 200) -> dict[str, list[tuple[str, str]]]:
    """(value, label) per filterable dimension within the period, from one read of the rollup (GROUPING SETS).

    Billing accounts and sub-accounts come with their names, which the rollup does not keep: each is looked up
    in one ledger row of a day and source where the rollup saw it (an index probe, not a scan). Departments,
    assets and rules come with their names from the inventory. A value filtered on but absent from the period
    is kept, so the drop-down still shows it."""

    dimensions = list(EXPLORER_ALL_DIMENSIONS)
    columns = {d: _dimension_sql(d, "d", spread=False) for d in dimensions}
    flags = ", ".join(f"GROUPING({columns[d]})" for d in dimensions)
    sets = ", ".join(f"({columns[d]})" for d in dimensions)
    selected = ", ".join(f"{columns[d]} AS v_{d}" for d in dimensions)
    name_lookups, name_columns = [], []
    seen_day = f"(DATE '2000-01-01' + (g.first_seen / {_SEEN_BASE})::int)"
    for dimension, name_column in DIMENSION_NAMES.items():
        id_column = EXPLORER_DIMENSIONS[dimension][1]
        flag = dimensions.index(dimension)
        name_lookups.append(
            f"""LEFT JOIN LATERAL (
    SELECT c.{name_column} AS name FROM {LEDGER_TABLE} c
    WHERE g.flags[{flag + 1}] = 0 AND c.source_id = g.first_seen %% {_SEEN_BASE}
      AND c.charge_period_start >= {seen_day}::timestamp AT TIME ZONE 'UTC'
      AND c.charge_period_start < ({seen_day} + 1)::timestamp AT TIME ZONE 'UTC'
      AND c.{id_column} = g.v_{dimension} AND c.{name_column} <> ''
    LIMIT 1) n_{dimension} ON true"""  # noqa: S608
        )
        name_columns.append(f"n_{dimension}.name")
    for dimension, table in _NAME_TABLES.items():
        name_lookups.append(f"LEFT JOIN {table} t_{dimension} ON t_{dimension}.id = g.v_{dimension}")
        name_columns.append(f"t_{dimension}.name")
    sql = f"""WITH g AS (
    SELECT {selected}, ARRAY[{flags}] AS flags,
           min((d.day - DATE '2000-01-01')::bigint * {_SEEN_BASE} + d.source_id) AS first_seen
    FROM {ROLLUP_TABLE} d JOIN {SOURCE_TABLE} src ON src.id = d.source_id
    WHERE d.day >= %s AND d.day < %s
    GROUP BY GROUPING SETS ({sets})
)
SELECT {", ".join(f"g.v_{d}" for d in dimensions)}, g.flags, {", ".join(name_columns)}
FROM g {" ".join(name_lookups)}"""  # noqa: S608 — names are constants, values parameters
    with analytics_cursor() as cur:
        cur.execute(sql, [query.start, query.end])
        rows = cur.fetchall()
    named = [*DIMENSION_NAMES, *_NAME_TABLES]
    found: dict[str, dict[str, str]] = {d: {} for d in dimensions}
    for row in rows:
        flags = row[len(dimensions)]
        index = flags.index(0)  # GROUPING() is 0 for the set this row belongs to
        dimension, value = dimensions[index], row[index]
        if value in (None, ""):
            continue
        label = row[len(dimensions) + 1 + named.index(dimension)] if dimension in named else ""
        if dimension in _NAME_TABLES:
            shown = label or f"#{value} (deleted)"
        else:
            shown = f"{value} · {label}" if label and label != value else value
        found[dimension].setdefault(str(value), shown)
    options: dict[str, list[tuple[str, str]]] = {}
    for dimension in dimensions:
        by_label = dimension in _NAME_TABLES  # ids mean nothing to a person: sort by name
        ordered = sorted(found[dimension].items(), key=(lambda item: (item[1].lower(), item[0])) if by_label else None)
        choices = ordered[:limit]
        chosen = query.filters.get(dimension, "")
        if chosen and chosen not in found[dimension]:
            choices.insert(0, (chosen, f"#{chosen}" if by_label else chosen))
        options[dimension] = choices
    return options


def tag_keys(query: ExplorerQuery, *, limit: int = 200, rows_per_day: int | None = None) -> list[str]:
    """Tag keys seen in the period, for the group-by list and the tag input. Tags are not in the rollup, so
    this reads the ledger — a bounded sample of each day (every row on a small ledger) so the page's time does
    not grow with the ledger; a key no sampled row has can still be typed."""

    days = max((query.end - query.start).days, 1)
    per_day = rows_per_day or max(50, TAG_SAMPLE_ROWS // days)
    with analytics_cursor() as cur:
        cur.execute(
            f"""SELECT DISTINCT k
                FROM generate_series(%s::timestamp, %s::timestamp - interval '1 day', interval '1 day') AS g(day)
                CROSS JOIN LATERAL (
                    SELECT c.tags FROM {LEDGER_TABLE} c
                    WHERE c.charge_period_start >= g.day AT TIME ZONE 'UTC'
                      AND c.charge_period_start < (g.day + interval '1 day') AT TIME ZONE 'UTC'
                      AND c.tags <> '{{}}'::jsonb
                    LIMIT %s) t
                CROSS JOIN LATERAL jsonb_object_keys(t.tags) AS k
                ORDER BY k LIMIT %s""",  # noqa: S608
            [query.start, query.end, per_day, limit],
        )
        return [row[0] for row in cur.fetchall()]


def ledger_totals(*, source: BillingSource | None = None) -> dict[str, dict[str, Decimal]]:
    """Σ of every cost measure per currency (the figure tests and runs compare to the cent)."""
    records = CostRecord.objects.all()
    if source is not None:
        records = records.filter(source=source)
    out: dict[str, dict[str, Decimal]] = {}
    for row in records.values("billing_currency").annotate(
        billed_cost=Coalesce(Sum("billed_cost"), Decimal(0)),
        effective_cost=Coalesce(Sum("effective_cost"), Decimal(0)),
        rows=Count("id"),
        first=Min("charge_period_start"),
        last=Max("charge_period_end"),
    ):
        out[row.pop("billing_currency")] = row
    return out


# --- the explorer's query string ------------------------------------------------------------------
# One reading of ?from=…&to=…&service=…&group=… for the explorer page and the FOCUS export alike.

PRESETS: dict[str, str] = {
    "this_month": "This month",
    "last_month": "Last month",
    "last_30_days": "Last 30 days",
    "last_90_days": "Last 90 days",
    "last_12_months": "Last 12 months",
}
GRANULARITIES = {"day": "Daily", "month": "Monthly"}
TOP_CHOICES = (5, 10, 20, 50)
DEFAULT_TOP = 10
MAX_RANGE_DAYS = 366 * 5
DAILY_UP_TO_DAYS = 93  # longer ranges default to monthly bars


def preset_range(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """[first day, last day] (both inclusive) of a named period ending today."""
    first_of_month = today.replace(day=1)
    if preset == "last_month":
        last = first_of_month - dt.timedelta(days=1)
        return last.replace(day=1), last
    if preset == "last_30_days":
        return today - dt.timedelta(days=29), today
    if preset == "last_90_days":
        return today - dt.timedelta(days=89), today
    if preset == "last_12_months":  # twelve whole months and the month so far, as cloud consoles count it
        month = first_of_month.month - 12
        year = first_of_month.year + (month - 1) // 12
        return dt.date(year, (month - 1) % 12 + 1, 1), today
    return first_of_month, today


@dataclass
class ExplorerParams:
    """The explorer's query as a person asked for it: dates inclusive, the active preset, and any mistakes."""

    query: ExplorerQuery
    first_day: dt.date
    last_day: dt.date  # inclusive
    preset: str  # the preset the dates equal, or ""
    top: int
    tag: str  # "key" or "key=value", as typed
    errors: list[str]

    def as_params(self, **override) -> dict[str, str]:
        """The query string that reproduces this view (without defaults left implicit)."""
        params = {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}
        params.update({name: value for name, value in self.query.filters.items() if value})
        if self.tag:
            params["tag"] = self.tag
        params["group"] = self.query.group_by
        params["measure"] = self.query.measure
        params["granularity"] = self.query.granularity
        if self.top != DEFAULT_TOP:
            params["top"] = str(self.top)
        params.update(override)
        return {key: value for key, value in params.items() if value not in (None, "")}

    def querystring(self, **override) -> str:
        return urlencode(self.as_params(**override))


def _date(value: str, label: str, errors: list[str]) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        errors.append(f"{label} {value!r} is not a date (use YYYY-MM-DD); the default period is shown.")
        return None


def explorer_params(params: Mapping[str, str], *, today: dt.date) -> ExplorerParams:
    """Read the explorer's query string. Anything malformed falls back to the default with a message."""
    errors: list[str] = []
    preset = params.get("preset", "")
    if preset in PRESETS:
        first, last = preset_range(preset, today)
    else:
        default_first, default_last = preset_range("this_month", today)
        first = _date(params.get("from", ""), "From", errors) or default_first
        last = _date(params.get("to", ""), "To", errors) or default_last
        if last < first:
            errors.append("The period ends before it starts; the dates were swapped.")
            first, last = last, first
        if (last - first).days > MAX_RANGE_DAYS:
            errors.append(f"At most {MAX_RANGE_DAYS // 366} years at a time; the period was shortened.")
            first = last - dt.timedelta(days=MAX_RANGE_DAYS)
    active = next((name for name in PRESETS if preset_range(name, today) == (first, last)), "")
    filters = {name: params.get(name, "").strip() for name in EXPLORER_ALL_DIMENSIONS if params.get(name, "").strip()}
    for name, (label, _column) in ALLOCATION_DIMENSIONS.items():
        if name in filters and not filters[name].isdigit():
            errors.append(f"{label} {filters.pop(name)!r} is not an id; that filter was ignored.")
    tag = params.get("tag", "").strip()
    tag_key, _, tag_value = tag.partition("=")
    group = params.get("group", "") or "service"
    if group not in EXPLORER_ALL_DIMENSIONS and not (group.startswith("tag:") and len(group) > 4):
        errors.append(f"Cannot group by {group!r}; grouped by service instead.")
        group = "service"
    measure = params.get("measure", "") or "effective_cost"
    if measure not in MEASURES:
        errors.append(f"Unknown measure {measure!r}; EffectiveCost is shown.")
        measure = "effective_cost"
    granularity = params.get("granularity", "")
    if granularity not in GRANULARITIES:
        granularity = "day" if (last - first).days < DAILY_UP_TO_DAYS else "month"
    try:
        top = int(params.get("top", DEFAULT_TOP))
    except (TypeError, ValueError):
        top = DEFAULT_TOP
    top = top if top in TOP_CHOICES else DEFAULT_TOP
    query = ExplorerQuery(
        start=first,
        end=last + dt.timedelta(days=1),
        filters=filters,
        tag_key=tag_key.strip(),
        tag_value=tag_value.strip(),
        group_by=group,
        measure=measure,
        granularity=granularity,
    )
    return ExplorerParams(query=query, first_day=first, last_day=last, preset=active, top=top, tag=tag, errors=errors)


# --- the explorer's table and chart: top N groups and "Other" ---------------------------------------

OTHER = None  # the key of the "everything else" line: no real group has it (untagged rows have "")


@dataclass
class ExplorerTable:
    rows: list[dict]  # {"key", "currency", "amount", "rows", "share", "other"}; per currency, Other last
    totals: list[dict]  # {"currency", "amount", "rows"}
    series: list[dict]  # {"period", "key", "currency", "amount", "other"}, top keys and Other only
    periods: list[dt.date]


def explorer_table(result: ExplorerResult, *, top: int = DEFAULT_TOP) -> ExplorerTable:
    """The `top` biggest groups per currency, the rest summed as one "Other" line: every currency's lines add
    up to its total exactly (Decimal), and the chart's series use the same groups."""
    kept: dict[str, list[dict]] = {}
    other: dict[str, dict] = {}
    for group in result.groups:  # already sorted by amount, biggest first
        lines = kept.setdefault(group["currency"], [])
        if len(lines) < top:
            lines.append({**group, "other": False})
        else:
            bucket = other.setdefault(
                group["currency"],
                {"key": OTHER, "currency": group["currency"], "amount": Decimal(0), "rows": 0, "groups": 0},
            )
            bucket["amount"] += group["amount"]
            bucket["rows"] += group["rows"]
            bucket["groups"] += 1
    rows: list[dict] = []
    totals: list[dict] = []
    for currency in sorted(kept):
        total = result.totals[currency]
        lines = kept[currency] + ([{**other[currency], "other": True}] if currency in other else [])
        for line in lines:
            line["share"] = (line["amount"] * 100 / total).quantize(Decimal("0.1")) if total else None
        rows.extend(lines)
        totals.append({"currency": currency, "amount": total, "rows": sum(line["rows"] for line in lines)})
    top_keys = {(line["currency"], line["key"]) for line in rows if not line["other"]}
    merged: dict[tuple, dict] = {}
    for point in result.series:
        is_other = (point["currency"], point["key"]) not in top_keys
        key = OTHER if is_other else point["key"]
        period = point["period"].date() if isinstance(point["period"], dt.datetime) else point["period"]
        slot = merged.setdefault(
            (period, point["currency"], key, is_other),
            {"period": period, "key": key, "currency": point["currency"], "amount": Decimal(0), "other": is_other},
        )
        slot["amount"] += point["amount"]
    series = sorted(
        merged.values(),  # keys are text, or ids of departments/assets/rules (None: none)
        key=lambda p: (p["period"], p["currency"], p["other"], "" if p["key"] is None else str(p["key"])),
    )
    periods = sorted({p["period"] for p in series})
    return ExplorerTable(rows=rows, totals=totals, series=series, periods=periods)
