"""FOCUS export of a client's ledger for any period: CSV (streamed straight from PostgreSQL) and Parquet.

Columns are the FOCUS names of apps.finops.focus.LEDGER_COLUMNS, in that order, with:
- ProviderName next to ServiceProviderName, and PublisherName filled with the provider when the ledger has
  none, so FOCUS 1.2 readers (which require both) read a 1.3 export too;
- every x_ column of the ledger, then one column per key of the rows' x_extra (whatever the source files
  carried that the ledger has no field for), sorted; a key that repeats a column name is left out;
- never the internal ids (row, source, run).

Values: times ISO 8601 UTC with `Z`; money and quantities exact (no exponent, no trailing zeros in CSV,
decimal128 in Parquet); Tags as JSON; missing values empty in CSV and null in Parquet. A file exported here
imports through apps.finops.ledger.load_focus_file with the same rows and totals to the cent.

It reads the ledger and writes one thing: the audit event of a download (export_audit, which the API and the
portal view call before they start sending the file).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO

from django.db import connection
from django.db.models import Count, Max, Min, QuerySet, Sum
from django.db.models.functions import Coalesce

from apps.audit.services import audit_record

from .focus import BIGINT, JSON, LEDGER_COLUMNS, NUMERIC, TEXT, TIMESTAMP
from .models import BillingSource, CostRecord
from .selectors import EXPLORER_DIMENSIONS

FORMATS = ("csv", "parquet")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
FOCUS_VERSION = "1.3"  # 1.3 names, with the 1.2 ProviderName/PublisherName alongside
MAX_RANGE_DAYS = 366 * 5
LEDGER_TABLE = CostRecord._meta.db_table
SOURCE_TABLE = BillingSource._meta.db_table
# Filters of an export: name → ledger column (the explorer's dimensions; `source` is a name, handled apart).
FILTER_COLUMNS = {name: column for name, (_label, column) in EXPLORER_DIMENSIONS.items() if name != "source"}


@dataclass(frozen=True)
class ExportQuery:
    """Rows whose charge period starts in [start, end) (UTC days), optionally narrowed like the explorer."""

    start: dt.date
    end: dt.date  # exclusive
    filters: dict[str, str] = field(default_factory=dict)  # FILTER_COLUMNS name → exact value
    source_id: int | None = None
    source_name: str = ""  # the explorer's `source` filter is a source's name
    tag_key: str = ""
    tag_value: str = ""

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime(self.start.year, self.start.month, self.start.day, tzinfo=dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime(self.end.year, self.end.month, self.end.day, tzinfo=dt.UTC)

    def describe(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            **({"filters": dict(sorted(self.filters.items()))} if self.filters else {}),
            **({"source": self.source_id} if self.source_id is not None else {}),
            **({"source_name": self.source_name} if self.source_name else {}),
            **({"tag": f"{self.tag_key}={self.tag_value}".rstrip("=")} if self.tag_key else {}),
        }


def ledger_records(query: ExportQuery) -> QuerySet[CostRecord]:
    """The ledger rows an export covers."""
    records = CostRecord.objects.filter(charge_period_start__gte=query.start_at, charge_period_start__lt=query.end_at)
    for name, value in query.filters.items():
        if name in FILTER_COLUMNS and value != "":
            records = records.filter(**{FILTER_COLUMNS[name]: value})
    if query.source_id is not None:
        records = records.filter(source_id=query.source_id)
    if query.source_name:
        records = records.filter(source__name=query.source_name)
    if query.tag_key:
        if query.tag_value:
            records = records.filter(tags__contains={query.tag_key: query.tag_value})
        else:
            records = records.filter(tags__has_key=query.tag_key)
    return records


def _where(query: ExportQuery) -> tuple[str, list]:
    """The same rows as ledger_records, as SQL over `c` (the ledger) for COPY."""
    conditions = ["c.charge_period_start >= %s", "c.charge_period_start < %s"]
    params: list = [query.start_at, query.end_at]
    for name, value in sorted(query.filters.items()):
        if name in FILTER_COLUMNS and value != "":
            conditions.append(f"c.{FILTER_COLUMNS[name]} = %s")
            params.append(value)
    if query.source_id is not None:
        conditions.append("c.source_id = %s")
        params.append(query.source_id)
    if query.source_name:
        conditions.append(f"c.source_id IN (SELECT id FROM {SOURCE_TABLE} WHERE name = %s)")  # noqa: S608
        params.append(query.source_name)
    if query.tag_key:
        if query.tag_value:
            conditions.append("c.tags @> jsonb_build_object(%s::text, %s::text)")
            params += [query.tag_key, query.tag_value]
        else:
            conditions.append("c.tags ? %s")
            params.append(query.tag_key)
    return " AND ".join(conditions), params


# --- columns ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportColumn:
    name: str  # FOCUS column name in the file
    sql: str  # expression over `c`, giving text (CSV) — NULL where the value is missing
    type: str  # focus type: text, numeric, timestamptz, jsonb, bigint
    precision: tuple[int, int] | None = None  # NUMERIC: (max_digits, decimal_places)


def _timestamp_sql(column: str) -> str:
    utc = f"(c.{column} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN date_trunc('second', c.{column}) = c.{column} "
        f"""THEN to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
        f"""ELSE to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END"""
    )


def _column_sql(field_name: str, kind: str) -> str:
    if kind == NUMERIC:
        return f"trim_scale(c.{field_name})::text"
    if kind == TIMESTAMP:
        return _timestamp_sql(field_name)
    if kind == JSON:
        return f"NULLIF(c.{field_name}, '{{}}'::jsonb)::text"
    if kind == BIGINT:
        return f"c.{field_name}::text"
    return f"NULLIF(c.{field_name}, '')"


def _sql_text(value: str) -> str:
    """A string literal inside SQL that is sent with parameters (so `%` is doubled for the driver)."""
    return "'" + value.replace("'", "''").replace("%", "%%") + "'"


def _sql_name(value: str) -> str:
    """A quoted identifier inside SQL that is sent with parameters."""
    return '"' + value.replace('"', '""').replace("%", "%%") + '"'


def export_columns(extra_keys: list[str]) -> list[ExportColumn]:
    """The export's columns, in file order, for rows whose x_extra carry `extra_keys`."""
    columns: list[ExportColumn] = []
    for column in LEDGER_COLUMNS:
        precision = None
        if column.type == NUMERIC:
            model_field = CostRecord._meta.get_field(column.field)
            precision = (model_field.max_digits, model_field.decimal_places)
        sql = _column_sql(column.field, column.type)
        if column.field == "publisher_name":  # mandatory in 1.2: the provider publishes what it sells itself
            sql = "COALESCE(NULLIF(c.publisher_name, ''), NULLIF(c.provider_name, ''))"
        columns.append(ExportColumn(column.focus, sql, column.type, precision))
        if column.field == "provider_name":
            columns.append(ExportColumn("ProviderName", _column_sql("provider_name", TEXT), TEXT))
    taken = {c.name.lower() for c in columns}
    for key in extra_keys:
        if key.strip() and key.lower() not in taken:
            taken.add(key.lower())
            # An empty value stays "" (COPY quotes it), a key the row does not have is empty: both come back.
            columns.append(ExportColumn(key, f"c.x_extra ->> {_sql_text(key)}", TEXT))
    return columns


def extra_keys(query: ExportQuery) -> list[str]:
    """The x_extra keys present in the rows of the export (one index-driven pass over the period)."""
    where, params = _where(query)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT DISTINCT jsonb_object_keys(c.x_extra) FROM {LEDGER_TABLE} c WHERE {where}",  # noqa: S608
            params,
        )
        return sorted((key for (key,) in cur.fetchall()), key=lambda k: (k.lower(), k))


def _select_sql(query: ExportQuery, columns: list[ExportColumn]) -> tuple[str, list]:
    where, params = _where(query)
    selected = ", ".join(f"{c.sql} AS {_sql_name(c.name)}" for c in columns)
    # Ordered by time, then id: the same file for the same ledger, and a row order people expect.
    sql = f"SELECT {selected} FROM {LEDGER_TABLE} c WHERE {where} ORDER BY c.charge_period_start, c.id"  # noqa: S608
    return sql, params


# --- summary and audit ----------------------------------------------------------------------------------


def export_summary(query: ExportQuery) -> dict:
    """Rows and Σ BilledCost / EffectiveCost per currency of an export (what the audit event records)."""
    totals: dict[str, dict] = {}
    rows = 0
    for row in (
        ledger_records(query)
        .order_by()
        .values("billing_currency")
        .annotate(
            rows=Count("id"),
            billed_cost=Coalesce(Sum("billed_cost"), Decimal(0)),
            effective_cost=Coalesce(Sum("effective_cost"), Decimal(0)),
            first=Min("charge_period_start"),
            last=Max("charge_period_end"),
        )
        .order_by("billing_currency")
    ):
        rows += row["rows"]
        totals[row["billing_currency"]] = {
            "rows": row["rows"],
            "billed_cost": str(row["billed_cost"]),
            "effective_cost": str(row["effective_cost"]),
        }
    return {"rows": rows, "totals": totals}


def export_filename(query: ExportQuery, fmt: str, *, client_slug: str = "") -> str:
    last_day = query.end - dt.timedelta(days=1)
    prefix = f"{client_slug}-" if client_slug else ""
    extension = "csv" if fmt == "csv" else "parquet"
    return f"{prefix}focus-{query.start.isoformat()}-{last_day.isoformat()}.{extension}"


def export_audit(*, query: ExportQuery, fmt: str, summary: dict, channel: str) -> None:
    """One audit event per download: who exported which period, in which format, how many rows and how much."""
    audit_record(
        action="focus_file.export",
        object_type=CostRecord._meta.label_lower,
        object_repr=f"FOCUS {fmt} export {query.start.isoformat()}–{query.end.isoformat()}",
        after={"format": fmt, "channel": channel, **query.describe(), **summary},
    )


# --- CSV ------------------------------------------------------------------------------------------------


def _copy_out(cur, sql: str, params: list):
    """COPY … TO STDOUT with its parameters bound by psycopg (Django's debug cursor, used whenever queries are
    logged or counted, takes no parameters for COPY)."""
    return getattr(cur, "cursor", cur).copy(sql, params)


def focus_csv(query: ExportQuery) -> Iterator[bytes]:
    """The export as CSV bytes, streamed by COPY … TO STDOUT (rows are never held in Python).

    A generator: nothing runs before the first chunk is asked for (a streaming response starts it)."""
    columns = export_columns(extra_keys(query))
    sql, params = _select_sql(query, columns)
    statement = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)"
    with connection.cursor() as cur, _copy_out(cur, statement, params) as copy:
        for chunk in copy:
            yield bytes(chunk)


# --- Parquet --------------------------------------------------------------------------------------------


def _arrow_type(column: ExportColumn):
    import pyarrow as pa

    if column.type == NUMERIC:
        return pa.decimal128(*column.precision)
    if column.type == TIMESTAMP:
        return pa.timestamp("us", tz="UTC")
    if column.type == BIGINT:
        return pa.int64()
    return pa.string()


def focus_parquet(query: ExportQuery) -> IO[bytes]:
    """The export as a Parquet file (an anonymous temporary file, positioned at 0; closing it deletes it).

    PostgreSQL writes the rows as CSV into a temporary file, which pyarrow converts batch by batch with the
    exact column types (decimal128 for money, timestamp[us, UTC], int64 for tokens): memory stays flat."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = export_columns(extra_keys(query))
    sql, params = _select_sql(query, columns)
    schema = pa.schema(
        [pa.field(c.name, _arrow_type(c)) for c in columns],
        metadata={"focus_version": FOCUS_VERSION, "generator": "Keel"},
    )
    out = tempfile.TemporaryFile(prefix="keel-focus-", suffix=".parquet")  # noqa: SIM115 — the caller closes it
    with tempfile.TemporaryFile(prefix="keel-focus-", suffix=".csv") as staged:
        with connection.cursor() as cur, _copy_out(cur, f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            for chunk in copy:
                staged.write(chunk)
        with pq.ParquetWriter(out, schema, compression="zstd") as writer:
            if staged.tell():  # an empty period is still a valid file: the schema and no rows
                staged.seek(0)
                for batch in _csv_batches(staged, columns):
                    writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
    out.seek(0)
    return out


def _csv_batches(staged: IO[bytes], columns: list[ExportColumn]):
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(len(columns))]
    return pacsv.open_csv(
        staged,
        read_options=pacsv.ReadOptions(column_names=names, block_size=8 * 1024 * 1024),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: _arrow_type(c) for n, c in zip(names, columns, strict=True)},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
        ),
    )
