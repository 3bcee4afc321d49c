"""Writing the ledger: COPY into a staging table, then swap into CostRecord in one transaction.

Two ways in, one way to swap:
- `load_rows`: rows already normalised in Python by an API connector (Decimal, aware UTC datetimes);
- `load_focus_file`: a FOCUS file (CSV, CSV.gz, Parquet) streamed by COPY into a raw text table and
  normalised by one set-based INSERT … SELECT (NULL literals, timestamps without T/Z, x_ columns).

Either way the new rows are inserted first and the source's old rows in the same scope are deleted after,
inside one transaction: a failure anywhere leaves the previous data exactly as it was, and running the same
load twice gives the same rows and totals (re-runs replace, never duplicate).

Scopes: a pull replaces a charge-period window ([start, end) in UTC); a file or export replaces the
(billing account, billing period) pairs it contains, so a month-to-date file is superseded by the next one.

How a load stays fast (bench/ingest_focus.py times a 1,000,000-row file against a plain COPY):
- the raw table is a temporary table (no WAL, no shared buffers) without a row-number column (no sequence
  call per row): error messages number rows by their physical order, which for a table filled by one COPY
  is the file's order;
- one pass over the new rows: the INSERT … SELECT returns what it wrote into an aggregate (GROUPING SETS), which
  gives the checks, the totals per currency and the (billing account, billing period) pairs to replace, so the
  ledger is never re-read by run; the DELETE of the replaced rows takes those pairs as an array;
- the ledger's run column is not a database foreign key (each row would queue a deferred check at COMMIT,
  a million look-ups of the same run row); the ledger only ever writes the run it has just created;
- SET LOCAL for the load transaction only: synchronous_commit off (the commit does not wait for the WAL
  flush: a crash can lose the last load, never half of it, and the run is marked succeeded by a later,
  durable commit), work_mem for the aggregate, jit off (compiling the 60-column expression costs more
  than it saves);
- nothing global is dropped or rebuilt: the ledger's indexes stay as they are for everyone reading it.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg
from django.db import DataError, IntegrityError, connection, transaction
from psycopg.types.json import Jsonb

from .focus import (
    BIGINT,
    COLUMN_BY_FIELD,
    JSON,
    LEDGER_COLUMNS,
    LEDGER_FIELDS,
    NUMERIC,
    REQUIRED_FIELDS,
    TEXT,
    TIMESTAMP,
    detect_version,
    extension_headers,
    header_lookup,
)
from .models import CostRecord

LEDGER_TABLE = CostRecord._meta.db_table
STAGE_TABLE = "keel_cost_stage"
RAW_TABLE = "keel_cost_raw"
COPY_CHUNK = 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")


class LedgerError(Exception):
    """The data cannot be booked; the message says why in plain words. Nothing was changed."""


@dataclass
class LoadResult:
    rows_loaded: int = 0
    rows_replaced: int = 0
    totals: dict = field(default_factory=dict)  # currency -> {"rows", "billed_cost", "effective_cost", "list_cost"}
    periods: list[str] = field(default_factory=list)  # billing periods touched, YYYY-MM
    charge_start: dt.datetime | None = None
    charge_end: dt.datetime | None = None
    warnings: list[str] = field(default_factory=list)
    file: dict = field(default_factory=dict)  # for files: format, compression, delimiter, version, columns

    def as_details(self) -> dict:
        return {
            "periods": self.periods,
            "charge_start": self.charge_start.isoformat() if self.charge_start else None,
            "charge_end": self.charge_end.isoformat() if self.charge_end else None,
            "warnings": self.warnings,
            **({"file": self.file} if self.file else {}),
        }


@dataclass(frozen=True)
class ChargeWindow:
    """Replace the source's rows whose charge period starts in [start, end)."""

    start: dt.datetime
    end: dt.datetime


BILLING_PERIODS = "billing_periods"  # replace the (billing account, billing period) pairs present in the data


# --- shared SQL pieces --------------------------------------------------------------------------------

_SQL_TYPES = {TEXT: "text", NUMERIC: "numeric", TIMESTAMP: "timestamptz", JSON: "jsonb", BIGINT: "bigint"}
_FIELD_LIST = ", ".join(LEDGER_FIELDS)


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _begin(cur) -> None:
    # Transaction-local: timestamps without an offset are UTC, as FOCUS says they are; the commit of a bulk
    # load does not wait for its WAL flush; enough memory for the one-pass aggregate; no JIT compilation.
    # Dates that are not ISO 8601 (the FOCUS spec's own examples write 5/1/25) read month first, whatever the
    # server's DateStyle.
    cur.execute(
        "SET LOCAL TIME ZONE 'UTC'; SET LOCAL DateStyle = 'ISO, MDY'; SET LOCAL synchronous_commit = off; "
        "SET LOCAL work_mem = '64MB'; SET LOCAL jit = off"
    )


SOURCE_TABLE = CostRecord._meta.get_field("source").related_model._meta.db_table
RUN_TABLE = CostRecord._meta.get_field("run").related_model._meta.db_table


@contextmanager
def _bulk_insert(cur, *, source_id: int, run_id: int):
    """Around one bulk statement into the ledger: the source must exist for the whole load (it is locked
    against deletion once, here); the run is not a database-level key (see CostRecord.run), so a million rows
    queue one foreign-key check each, not two."""
    cur.execute(f"SELECT 1 FROM {SOURCE_TABLE} WHERE id = %s FOR KEY SHARE", [source_id])  # noqa: S608
    if cur.fetchone() is None:
        raise LedgerError("The billing source was removed while this load was running.")
    yield


@dataclass
class _Summary:
    """What one load inserted, from one pass over its rows."""

    rows: int = 0
    totals: dict = field(default_factory=dict)  # currency -> {"rows", "billed_cost", "effective_cost", "list_cost"}
    pairs: list[tuple[str, dt.datetime]] = field(default_factory=list)  # (billing account, billing period start)
    charge_start: dt.datetime | None = None
    charge_end: dt.datetime | None = None
    missing_text: int = 0
    missing_cost: int = 0
    outside: int = 0
    not_a_number: bool = False


# The aggregate over what a load wrote: per currency (totals) and per (currency, account, period) (the pairs).
_SUMMARY_SELECT = """SELECT billing_currency, billing_account_id, billing_period_start,
       GROUPING(billing_account_id, billing_period_start), count(*),
       COALESCE(sum(billed_cost), 0), COALESCE(sum(effective_cost), 0), COALESCE(sum(list_cost), 0),
       min(charge_period_start), max(charge_period_end),
       count(*) FILTER (WHERE billing_currency = '' OR charge_category = '' OR service_name = '' OR provider_name = ''),
       count(*) FILTER (WHERE billed_cost IS NULL OR effective_cost IS NULL),
       count(*) FILTER (WHERE {outside})
FROM {rows} GROUP BY GROUPING SETS ((billing_currency), (billing_currency, billing_account_id, billing_period_start))"""
_SUMMARY_COLUMNS = (
    "billing_currency, billing_account_id, billing_period_start, billed_cost, effective_cost, list_cost, "
    "charge_period_start, charge_period_end, charge_category, service_name, provider_name"
)


def _summary(rows) -> _Summary:
    summary = _Summary()
    for currency, account, period, grouping, count, billed, effective, listed, first, last, *flags in rows:
        if grouping == 0:
            summary.pairs.append((account, period))
            continue
        summary.totals[currency] = {
            "rows": count,
            "billed_cost": str(billed),
            "effective_cost": str(effective),
            "list_cost": str(listed),
        }
        summary.not_a_number |= any(value.is_nan() for value in (billed, effective, listed))
        summary.rows += count
        summary.charge_start = min(filter(None, [summary.charge_start, first]), default=None)
        summary.charge_end = max(filter(None, [summary.charge_end, last]), default=None)
        summary.missing_text += flags[0]
        summary.missing_cost += flags[1]
        summary.outside += flags[2]
    summary.totals = dict(sorted(summary.totals.items()))
    return summary


def _outside_sql(scope, params: list) -> str:
    if isinstance(scope, ChargeWindow):
        params += [scope.start, scope.end]
        return "charge_period_start < %s OR charge_period_start >= %s"
    return "false"


def _check_summary(summary: _Summary, scope) -> None:
    """Rows a load produced must be bookable: mandatory values present and inside the window."""
    if summary.missing_text:
        raise LedgerError(f"{summary.missing_text} rows have no currency, charge category, service or provider.")
    if summary.missing_cost:
        raise LedgerError(f"{summary.missing_cost} rows have no BilledCost or EffectiveCost.")
    if summary.outside:
        raise LedgerError(
            f"{summary.outside} rows fall outside the window {scope.start:%Y-%m-%d}–{scope.end:%Y-%m-%d}."
        )


def _delete_replaced(cur, *, source_id: int, run_id: int, scope, summary: _Summary) -> int:
    """Delete the source's older rows in the scope of what this load inserted; how many went."""
    params: list = [source_id, run_id]
    if isinstance(scope, ChargeWindow):
        where = "charge_period_start >= %s AND charge_period_start < %s"
        params += [scope.start, scope.end]
    elif summary.pairs:
        where = "(billing_account_id, billing_period_start) IN (SELECT * FROM unnest(%s::text[], %s::timestamptz[]))"
        params += [[account for account, _ in summary.pairs], [period for _, period in summary.pairs]]
    else:
        return 0
    cur.execute(
        f"DELETE FROM {LEDGER_TABLE} WHERE source_id = %s AND run_id IS DISTINCT FROM %s AND {where}",  # noqa: S608
        params,
    )
    return cur.rowcount


def _swap(cur, *, source_id: int, run_id: int, scope, summary: _Summary, result: LoadResult) -> None:
    """Delete what the load replaces; its totals and periods go into the result."""
    result.rows_replaced = _delete_replaced(cur, source_id=source_id, run_id=run_id, scope=scope, summary=summary)
    result.rows_loaded = summary.rows
    result.totals = summary.totals
    result.charge_start, result.charge_end = summary.charge_start, summary.charge_end
    result.periods = sorted({period.astimezone(dt.UTC).strftime("%Y-%m") for _, period in summary.pairs})


# --- rows from connectors ------------------------------------------------------------------------------


def _json_dumps(value) -> str:
    return json.dumps(value, default=str)


def _copy_value(column_type: str, value):
    if column_type == JSON:  # Decimals or datetimes in tags / x_extra are written as text, not refused
        return Jsonb(value or {}, dumps=_json_dumps)
    return value


def load_rows(*, source_id: int, run_id: int, rows: Iterable[dict], scope, dry_run: bool = False) -> LoadResult:
    """Book normalised rows (see focus.ledger_row) for one source, replacing `scope` atomically."""
    result = LoadResult()
    types = [COLUMN_BY_FIELD[f].type if f in COLUMN_BY_FIELD else JSON for f in LEDGER_FIELDS]
    with transaction.atomic():
        with connection.cursor() as cur:
            _begin(cur)
            # Rows of this load only (a run may book several loads): those above the run's highest id so far.
            cur.execute(f"SELECT COALESCE(max(id), 0) FROM {LEDGER_TABLE} WHERE run_id = %s", [run_id])  # noqa: S608
            watermark = cur.fetchone()[0]
            copy_sql = f"COPY {LEDGER_TABLE} (source_id, run_id, {_FIELD_LIST}) FROM STDIN"
            try:
                with (
                    transaction.atomic(),
                    _bulk_insert(cur, source_id=source_id, run_id=run_id),
                    cur.copy(copy_sql) as copy,
                ):
                    for row in rows:
                        values = [row.get(f) for f in LEDGER_FIELDS]
                        copy.write_row(
                            [source_id, run_id, *(_copy_value(t, v) for t, v in zip(types, values, strict=True))]
                        )
            except (IntegrityError, DataError, psycopg.IntegrityError, psycopg.DataError) as exc:
                # e.g. a row without a charge period end (COPY's errors come from psycopg, unwrapped by Django)
                raise LedgerError(f"A row cannot be booked: {str(exc).splitlines()[0]}") from exc
            params: list = []
            outside = _outside_sql(scope, params)
            rows_sql = f"(SELECT {_SUMMARY_COLUMNS} FROM {LEDGER_TABLE} WHERE run_id = %s AND id > %s) booked"
            cur.execute(_SUMMARY_SELECT.format(outside=outside, rows=rows_sql), [*params, run_id, watermark])
            summary = _summary(cur.fetchall())
            _check_summary(summary, scope)
            _swap(cur, source_id=source_id, run_id=run_id, scope=scope, summary=summary, result=result)
        if dry_run:
            transaction.set_rollback(True)
    return result


# --- FOCUS files ---------------------------------------------------------------------------------------


def _sniff_format(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    if head == b"PAR1":
        return "parquet"
    return "csv"


def _open_text_bytes(path: Path, fmt: str):
    """A binary file object of CSV bytes for the given format (Parquet is converted to CSV first)."""
    if fmt == "csv.gz":
        return gzip.open(path, "rb")
    if fmt == "parquet":
        return _parquet_as_csv(path)
    return open(path, "rb")  # noqa: SIM115 — closed by the caller


def _parquet_as_csv(path: Path):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LedgerError(f"The Parquet file cannot be read: {exc}") from exc
    columns = []
    for name in table.column_names:
        col = table[name]
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S")
        elif pa.types.is_map(col.type):  # to_pylist gives a map as [(key, value), …]; FOCUS Tags is an object
            col = pa.array([json.dumps(dict(v)) if v is not None else None for v in col.to_pylist()])
        elif pa.types.is_struct(col.type) or pa.types.is_list(col.type):
            col = pa.array([json.dumps(v, default=str) if v is not None else None for v in col.to_pylist()])
        elif pa.types.is_decimal(col.type) or pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
            col = pc.cast(col, pa.string())
        columns.append(col)
    out = io.BytesIO()
    pacsv.write_csv(pa.table(columns, names=table.column_names), out, pacsv.WriteOptions(quoting_style="needed"))
    out.seek(0)
    return out


def _read_header(fh) -> tuple[list[str], str, bytes]:
    """The header row, its delimiter, and any bytes read past it (to be fed to COPY)."""
    try:
        first = fh.readline(1024 * 1024)
    except (OSError, EOFError, zlib.error) as exc:
        raise LedgerError(f"The file cannot be read: {_gzip_reason(exc)}") from exc
    if not first.strip():
        raise LedgerError("The file is empty.")
    try:
        line = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise LedgerError("The file is not UTF-8 text. Save it as UTF-8 CSV and upload it again.") from exc
    counts = {d: len(next(csv.reader([line], delimiter=d))) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: counts[d])
    headers = [h.strip() for h in next(csv.reader([line], delimiter=delimiter))]
    return headers, delimiter, b""


def _gzip_reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the gzip file is truncated (it ends before its last block). Upload the complete file."
    if isinstance(exc, gzip.BadGzipFile | zlib.error):
        return f"the gzip data is corrupt ({exc})."
    return str(exc)


# NUMERIC fields cast straight to their column's type: one input call per value, no second coercion.
_NUMERIC_SQL = {
    c.field: "numeric({0.max_digits},{0.decimal_places})".format(CostRecord._meta.get_field(c.field))
    for c in LEDGER_COLUMNS
    if c.type == NUMERIC
}


def _column_expr(column_type: str, raw: str | None, numeric: str = "numeric") -> str:
    if raw is None:
        return {TEXT: "''", JSON: "'{}'::jsonb"}.get(column_type, "NULL")
    if column_type == TEXT:  # 'NULL' and NULL become '' ('' stays '')
        return f"COALESCE(NULLIF({raw}, 'NULL'), '')"
    value = f"NULLIF(NULLIF({raw}, 'NULL'), '')"
    if column_type == NUMERIC:
        return f"{value}::{numeric}"
    if column_type == BIGINT:
        return f"{value}::numeric::bigint"
    if column_type == TIMESTAMP:
        return f"{value}::timestamptz"
    return f"COALESCE({value}::jsonb, '{{}}'::jsonb)"


def _file_select(mapped: dict[str, str], positions: dict[str, int], extensions: list[str]) -> dict[str, str]:
    """SQL expression per ledger field, reading raw columns c0…cN."""

    def raw(field_name: str) -> str | None:
        header = mapped.get(field_name)
        return None if header is None else f"c{positions[header]}"

    exprs = {c.field: _column_expr(c.type, raw(c.field), _NUMERIC_SQL.get(c.field, "numeric")) for c in LEDGER_COLUMNS}
    # 1.3 files carry both ServiceProviderName and ProviderName; prefer the former, fall back to the latter.
    if "provider_name" in mapped and mapped["provider_name"].lower() == "serviceprovidername":
        legacy = next((h for h in positions if h.lower() == "providername"), None)
        if legacy is not None:
            exprs["provider_name"] = f"COALESCE(NULLIF(NULLIF(c{positions[mapped['provider_name']]}, 'NULL'), ''), " + (
                f"NULLIF(NULLIF(c{positions[legacy]}, 'NULL'), ''), '')"
            )
    category = raw("service_category")
    exprs["service_category"] = f"COALESCE(NULLIF(NULLIF({category}, 'NULL'), ''), 'Other')" if category else "'Other'"
    cost_source = raw("x_cost_source")
    exprs["x_cost_source"] = (
        f"CASE WHEN lower({cost_source}) = 'estimate' THEN 'estimate' ELSE 'actual' END" if cost_source else "'actual'"
    )
    if extensions:
        pairs = [f"'{h.replace(chr(39), chr(39) * 2)}', NULLIF(c{positions[h]}, 'NULL')" for h in extensions]
        chunks = [", ".join(pairs[i : i + 40]) for i in range(0, len(pairs), 40)]
        exprs["x_extra"] = " || ".join(f"jsonb_strip_nulls(jsonb_build_object({chunk}))" for chunk in chunks)
    else:
        exprs["x_extra"] = "'{}'::jsonb"
    return exprs


# The raw table's rows with their record number (1 = the first after the header): one COPY filled the table in
# file order, so physical order is file order. Only error messages use it.
_NUMBERED_RAW = f"(SELECT row_number() OVER (ORDER BY ctid) AS _line, * FROM {RAW_TABLE}) numbered"
_NUMBER_RE = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_TIME_RE = r"^\s*\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)?\s*$"


def _explain_bad_values(cur, mapped: dict[str, str], positions: dict[str, int]) -> str:
    """After a cast failed: name the first bad cells (row number as in the file, header is row 1)."""
    problems: list[str] = []
    for column in LEDGER_COLUMNS:
        header = mapped.get(column.field)
        if header is None or column.type == TEXT:
            continue
        raw = f"c{positions[header]}"
        value = f"NULLIF(NULLIF({raw}, 'NULL'), '')"
        if column.type in (NUMERIC, BIGINT):
            condition, what = f"{value} !~ %s", "is not a number"
            params = [_NUMBER_RE]
        elif column.type == TIMESTAMP:
            condition, what = f"{value} !~ %s", "is not a date and time (use ISO 8601, e.g. 2024-09-01T00:00:00Z)"
            params = [_TIME_RE]
        else:
            condition, what = f"{value} IS NOT NULL AND left(ltrim({value}), 1) NOT IN ('{{', '[')", "is not JSON"
            params = []
        cur.execute(f"SELECT _line, {raw} FROM {_NUMBERED_RAW} WHERE {condition} ORDER BY _line LIMIT 3", params)
        for line, bad in cur.fetchall():
            problems.append(f"row {line + 1}: {header} {str(bad)[:60]!r} {what}")
        if len(problems) >= 5:
            break
    return "; ".join(problems)


def _create_raw_table(cur, count: int) -> None:
    # An earlier load in the same (still open) transaction leaves its table behind: start clean.
    cur.execute(f"DROP TABLE IF EXISTS pg_temp.{RAW_TABLE}")
    cur.execute(f"CREATE TEMP TABLE {RAW_TABLE} ({', '.join(f'{c} text' for c in _raw_columns(count))}) ON COMMIT DROP")


def _stage_file(cur, fh, delimiter: str, count: int) -> int:
    """Create the raw table and COPY the file into it; rows copied."""
    _create_raw_table(cur, count)
    return _copy_file(cur, fh, delimiter, count)


def _copy_file(cur, fh, delimiter: str, count: int) -> int:
    """Stream the file into the raw table; rows copied."""
    options = f"FORMAT csv, DELIMITER {_sql_literal(delimiter)}, ENCODING 'UTF8'"
    with cur.copy(f"COPY {RAW_TABLE} ({', '.join(_raw_columns(count))}) FROM STDIN WITH ({options})") as copy:
        while True:
            try:
                chunk = fh.read(COPY_CHUNK)
            except (OSError, EOFError, zlib.error) as exc:
                raise LedgerError(f"The file cannot be read: {_gzip_reason(exc)}") from exc
            if not chunk:
                break
            copy.write(chunk)
    return cur.rowcount


def _raw_columns(count: int) -> list[str]:
    return [f"c{i}" for i in range(count)]


def _sql_literal(text: str) -> str:
    return "E'\\t'" if text == "\t" else "'" + text.replace("'", "''") + "'"


def _translate_copy_error(exc: Exception) -> str:
    text = str(exc).split("\n")[0]
    detail = str(exc).split("CONTEXT:")[-1].strip() if "CONTEXT:" in str(exc) else ""
    if "invalid byte sequence" in text:
        return "The file is not UTF-8 text. Save it as UTF-8 CSV and upload it again."
    if "extra data after last expected column" in text or "missing data for column" in text:
        return f"A row has a different number of columns than the header ({detail or text})."
    if "unterminated CSV quoted field" in text:
        return "The file ends inside a quoted value: it is truncated or a quote is not closed."
    return f"The file cannot be read as CSV: {text}"


DEFAULTABLE_FIELDS = ("billing_currency", "provider_name", "service_name", "billing_account_id", "invoice_issuer_name")


def inspect_focus_file(path: Path, defaults: dict[str, str] | None = None) -> dict:
    """Format, delimiter, FOCUS version and which columns map where, without reading the whole file."""
    fmt = _sniff_format(path)
    with _open_text_bytes(path, fmt) as fh:
        headers, delimiter, _ = _read_header(fh)
    mapped = header_lookup(headers)
    lowered = [h.lower() for h in headers]
    duplicates = sorted({h for h in headers if lowered.count(h.lower()) > 1})
    defaults = {k: v for k, v in (defaults or {}).items() if k in DEFAULTABLE_FIELDS and v}
    missing = [COLUMN_BY_FIELD[f].focus for f in REQUIRED_FIELDS if f not in mapped and f not in defaults]
    defaulted = {COLUMN_BY_FIELD[f].focus: v for f, v in defaults.items() if f not in mapped}
    extensions = extension_headers(headers, mapped)
    ignored = [h for h in headers if h not in mapped.values() and h not in extensions]
    return {
        "format": fmt,
        "delimiter": {"\t": "tab"}.get(delimiter, delimiter),
        "version": detect_version(headers),
        "headers": headers,
        "mapped": {COLUMN_BY_FIELD[f].focus: h for f, h in mapped.items()},
        "extensions": extensions,
        "ignored": ignored,
        "missing": missing,
        "duplicates": duplicates,
        "defaulted": defaulted,
        "_defaults": {f: v for f, v in defaults.items() if f not in mapped},
        "_delimiter": delimiter,
        "_mapped": mapped,
    }


def load_focus_file(
    *, source_id: int, run_id: int, path: Path, dry_run: bool = False, defaults: dict[str, str] | None = None
) -> LoadResult:
    """Book a FOCUS 1.0–1.3 file (CSV, CSV.gz or Parquet) for one source, replacing the periods it covers.

    `defaults` fill mandatory text columns a file does not have at all (the FOCUS spec's own examples omit
    BillingCurrency, ServiceName and ProviderName); a column that is present is never overridden."""
    info = inspect_focus_file(path, defaults)
    public = {k: v for k, v in info.items() if not k.startswith("_")}
    if info["duplicates"]:
        raise LedgerError(f"The header repeats a column: {', '.join(info['duplicates'])}.")
    if info["missing"]:
        hint = ""
        if len(info["headers"]) == 1:
            hint = " The header has a single column: is the file separated by something other than , ; tab or |?"
        raise LedgerError(
            f"Mandatory FOCUS columns are missing: {', '.join(info['missing'])}.{hint}"
            " See docs/connectors.md for the columns Keel needs."
        )
    headers, delimiter, mapped = info["headers"], info["_delimiter"], info["_mapped"]
    positions = {h: i for i, h in enumerate(headers)}
    exprs = _file_select(mapped, positions, info["extensions"])
    for field_name, value in info["_defaults"].items():
        exprs[field_name] = "'" + str(value)[:200].replace("'", "''") + "'"
    result = LoadResult(file=public)
    with transaction.atomic():
        with connection.cursor() as cur:
            _begin(cur)
            with _open_text_bytes(path, info["format"]) as fh:
                _read_header(fh)  # skip it
                try:
                    with transaction.atomic():
                        copied = _stage_file(cur, fh, delimiter, len(headers))
                except LedgerError:
                    raise
                except (DataError, psycopg.DataError) as exc:  # COPY's errors come from psycopg, unwrapped
                    raise LedgerError(_translate_copy_error(exc)) from exc
            if copied == 0:
                raise LedgerError("The file has a header but no rows.")
            try:
                with transaction.atomic(), _bulk_insert(cur, source_id=source_id, run_id=run_id):
                    summary = _insert_from_raw(cur, exprs, source_id=source_id, run_id=run_id)
            except DataError as exc:
                reason = _explain_bad_values(cur, mapped, positions) or str(exc).split("\n")[0]
                raise LedgerError(f"Some values cannot be read: {reason}.") from exc
            if summary.not_a_number:  # 'NaN' is a numeric to PostgreSQL; one of them poisons every total
                reason = _explain_bad_values(cur, mapped, positions) or "a cost is NaN"
                raise LedgerError(f"Some values cannot be read: {reason}.")
            try:
                _check_summary(summary, BILLING_PERIODS)
            except LedgerError as exc:
                raise LedgerError(f"{exc} {_empty_mandatory_rows(cur, exprs)}") from exc
            _swap(cur, source_id=source_id, run_id=run_id, scope=BILLING_PERIODS, summary=summary, result=result)
            cur.execute(f"DROP TABLE {RAW_TABLE}")
        if dry_run:
            transaction.set_rollback(True)
    return result


def _insert_from_raw(cur, exprs: dict[str, str], *, source_id: int, run_id: int) -> _Summary:
    """The one pass: normalise every raw row into the ledger and aggregate what was written.

    The ids are inlined (integers) and no parameters are passed, so a `%` in a header or a default is text."""
    select = ", ".join(exprs[f] for f in LEDGER_FIELDS)
    insert = (
        f"INSERT INTO {LEDGER_TABLE} (source_id, run_id, {_FIELD_LIST}) "
        f"SELECT {int(source_id)}, {int(run_id)}, {select} FROM {RAW_TABLE} RETURNING {_SUMMARY_COLUMNS}"
    )
    cur.execute(f"WITH booked AS ({insert}) " + _SUMMARY_SELECT.format(outside="false", rows="booked"))
    return _summary(cur.fetchall())


def _empty_mandatory_rows(cur, exprs: dict[str, str]) -> str:
    required = " OR ".join(f"({exprs[f]}) IS NULL OR ({exprs[f]})::text = ''" for f in REQUIRED_FIELDS)
    cur.execute(f"SELECT _line FROM {_NUMBERED_RAW} WHERE {required} ORDER BY _line LIMIT 5")
    lines = [str(line + 1) for (line,) in cur.fetchall()]
    names = ", ".join(COLUMN_BY_FIELD[f].focus for f in REQUIRED_FIELDS)
    return f"Each row needs a value in {names}; see rows {', '.join(lines)}." if lines else ""


def sum_file_independently(path: Path, currency: str = "") -> dict[str, dict[str, Decimal]]:
    """Σ BilledCost and EffectiveCost per currency, read by Python's csv module (tests check the ledger with it)."""
    fmt = _sniff_format(path)
    totals: dict[str, dict[str, Decimal]] = {}
    with _open_text_bytes(path, fmt) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
        sample = text.readline()
        delimiter = max(DELIMITERS, key=lambda d: sample.count(d))
        reader = csv.DictReader(_chain([sample], text), delimiter=delimiter)
        for row in reader:
            lowered = {k.lower(): v for k, v in row.items()}
            currency = lowered.get("billingcurrency") or currency
            bucket = totals.setdefault(currency, {"billed_cost": Decimal(0), "effective_cost": Decimal(0)})
            for key, name in (("billed_cost", "billedcost"), ("effective_cost", "effectivecost")):
                value = lowered.get(name) or "0"
                bucket[key] += Decimal(0) if value.strip() in ("", "NULL") else Decimal(value)
    return totals


def _chain(first: list[str], rest) -> Iterator[str]:
    yield from first
    yield from rest
