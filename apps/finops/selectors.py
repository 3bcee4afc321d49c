"""Reads of the FinOps ledger: sources, runs, and the cost explorer (set-based, one query per view)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import CharField, Count, F, Max, Min, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncDay, TruncMonth

from .models import BillingSource, CostRecord, IngestionRun, SourceKind

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
    filters: dict[str, str] = field(default_factory=dict)  # dimension → exact value
    tag_key: str = ""
    tag_value: str = ""
    group_by: str = "service"  # a dimension, or "tag:<key>"
    measure: str = "effective_cost"
    granularity: str = "day"  # day | month


@dataclass
class ExplorerResult:
    groups: list[dict]  # {"key", "currency", "amount", "rows"} sorted by amount desc
    series: list[dict]  # {"period", "key", "currency", "amount"}
    totals: dict[str, Decimal]  # currency → amount
    row_count: int


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


def _group_expression(group_by: str):
    if group_by.startswith("tag:"):
        return Coalesce(KeyTextTransform(group_by[4:], "tags"), Value(""), output_field=CharField())  # '' when untagged
    return F(EXPLORER_DIMENSIONS.get(group_by, EXPLORER_DIMENSIONS["service"])[1])


def cost_explorer(query: ExplorerQuery) -> ExplorerResult:
    """Totals by group and by period for the filtered ledger rows; amounts are exact Decimal sums."""
    measure = query.measure if query.measure in MEASURES else "effective_cost"
    records = _records(query)
    key = _group_expression(query.group_by)
    amount = Coalesce(Sum(measure), Decimal(0))
    groups = list(
        records.annotate(key=key)
        .values("key", "billing_currency")
        .annotate(amount=amount, rows=Count("id"))
        .order_by("-amount", "key")
    )
    trunc = TruncMonth if query.granularity == "month" else TruncDay
    series = list(
        records.annotate(key=key, period=trunc("charge_period_start", tzinfo=dt.UTC))
        .values("period", "key", "billing_currency")
        .annotate(amount=amount)
        .order_by("period", "key")
    )
    totals: dict[str, Decimal] = {}
    row_count = 0
    for group in groups:
        group["currency"] = group.pop("billing_currency")
        totals[group["currency"]] = totals.get(group["currency"], Decimal(0)) + group["amount"]
        row_count += group["rows"]
    for point in series:
        point["currency"] = point.pop("billing_currency")
    return ExplorerResult(groups=groups, series=series, totals=totals, row_count=row_count)


def explorer_choices(query: ExplorerQuery, dimension: str, *, limit: int = 200) -> list[str]:
    """Distinct values of a dimension within the period (for filter drop-downs)."""
    column = EXPLORER_DIMENSIONS[dimension][1]
    base = ExplorerQuery(start=query.start, end=query.end)
    return list(
        _records(base).exclude(**{column: ""}).values_list(column, flat=True).distinct().order_by(column)[:limit]
    )


def explorer_filter_options(query: ExplorerQuery, *, limit: int = 200) -> dict[str, list[tuple[str, str]]]:
    """(value, label) per filterable dimension within the period, from one scan (GROUPING SETS); ids come with
    their names where the ledger has them. A value filtered on but absent from the period is kept, so the
    drop-down still shows it."""
    from django.db import connection

    ledger, sources = CostRecord._meta.db_table, BillingSource._meta.db_table
    columns = {
        dimension: ("s.name" if column == "source__name" else f"c.{column}")
        for dimension, (_, column) in EXPLORER_DIMENSIONS.items()
    }
    names = {dimension: f"c.{name}" for dimension, name in DIMENSION_NAMES.items()}
    sets = ", ".join(f"({columns[d]}{', ' + names[d] if d in names else ''})" for d in EXPLORER_DIMENSIONS)
    selected = [columns[d] for d in EXPLORER_DIMENSIONS] + list(names.values())
    flags = ", ".join(f"GROUPING({columns[d]})" for d in EXPLORER_DIMENSIONS)
    start = dt.datetime(query.start.year, query.start.month, query.start.day, tzinfo=dt.UTC)
    end = dt.datetime(query.end.year, query.end.month, query.end.day, tzinfo=dt.UTC)
    sql = (
        f"SELECT {', '.join(selected)}, {flags} FROM {ledger} c JOIN {sources} s ON s.id = c.source_id "  # noqa: S608
        f"WHERE c.charge_period_start >= %s AND c.charge_period_start < %s GROUP BY GROUPING SETS ({sets})"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [start, end])
        rows = cur.fetchall()
    dimensions = list(EXPLORER_DIMENSIONS)
    name_index = {d: len(dimensions) + i for i, d in enumerate(names)}
    found: dict[str, dict[str, str]] = {d: {} for d in dimensions}
    for row in rows:
        grouping = row[len(selected) :]
        dimension = dimensions[grouping.index(0)]  # GROUPING() is 0 for the set this row belongs to
        value = row[dimensions.index(dimension)]
        if value in (None, ""):
            continue
        label = row[name_index[dimension]] if dimension in name_index else ""
        shown = f"{value} · {label}" if label and label != value else value
        found[dimension].setdefault(value, shown)
    options: dict[str, list[tuple[str, str]]] = {}
    for dimension in dimensions:
        choices = sorted(found[dimension].items())[:limit]
        chosen = query.filters.get(dimension, "")
        if chosen and chosen not in found[dimension]:
            choices.insert(0, (chosen, chosen))
        options[dimension] = choices
    return options


def tag_keys(query: ExplorerQuery, *, limit: int = 200) -> list[str]:
    from django.db import connection

    start = dt.datetime(query.start.year, query.start.month, query.start.day, tzinfo=dt.UTC)
    end = dt.datetime(query.end.year, query.end.month, query.end.day, tzinfo=dt.UTC)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT DISTINCT jsonb_object_keys(tags) AS k FROM {CostRecord._meta.db_table} "  # noqa: S608
            "WHERE charge_period_start >= %s AND charge_period_start < %s ORDER BY k LIMIT %s",
            [start, end, limit],
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
    filters = {name: params.get(name, "").strip() for name in EXPLORER_DIMENSIONS if params.get(name, "").strip()}
    tag = params.get("tag", "").strip()
    tag_key, _, tag_value = tag.partition("=")
    group = params.get("group", "") or "service"
    if group not in EXPLORER_DIMENSIONS and not (group.startswith("tag:") and len(group) > 4):
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
    series = sorted(merged.values(), key=lambda p: (p["period"], p["currency"], p["other"], p["key"] or ""))
    periods = sorted({p["period"] for p in series})
    return ExplorerTable(rows=rows, totals=totals, series=series, periods=periods)
