"""Writes of unit economics: business units, and the daily counts that arrive by API or CSV file.

Counts are idempotent by (unit, UTC day, department, asset): a count sent again for the same key replaces the
stored one, so a retried batch leaves exactly the same totals. Each item is validated on its own in plain
Python; the valid ones are stored even when others are not, and every error names the item (index, and the
caller's id when it sent one), the field and what is wrong. A batch is one transaction with one audit event.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import audit_record, snapshot, snapshot_stored
from apps.core.context import current_actor
from apps.inventory.models import Asset, Department

from .models import RESERVED_CODES, BusinessUnit, ScopeKind, UnitCount

MAX_ITEMS = 10_000  # one API batch
MAX_CSV_ROWS = 200_000  # one file
MAX_ERRORS = 1000  # listed in one answer; the counts stay exact
MAX_COUNT = 10**15
EARLIEST_DAY = dt.date(2000, 1, 1)
FUTURE_SLACK = dt.timedelta(days=1)  # a caller a few hours ahead of UTC may already be "tomorrow"
ITEM_FIELDS = ("unit", "day", "timestamp", "count", "department", "asset", "id")
WRITE_BATCH = 2000  # rows per INSERT … ON CONFLICT (PostgreSQL takes at most 65,535 parameters a statement)
AUDITED_CHANGES = 100  # replaced counts listed in the audit event; the totals stay exact

UNIT_FIELDS = [
    "name",
    "code",
    "unit_label",
    "unit_label_plural",
    "description",
    "scope_kind",
    "department",
    "asset",
    "model",
    "ai_only",
]

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z", re.ASCII)
_DIGITS = re.compile(r"\d{1,16}\Z|\d{1,3}(,\d{3}){1,5}\Z", re.ASCII)


class BatchTooLarge(ValueError):
    """More items than one batch may hold; nothing was stored."""


# --- business units -------------------------------------------------------------------------------------


def _check_scope(unit: BusinessUnit) -> None:
    """Exactly the field its scope kind needs; the others cleared so the stored unit says one thing."""
    errors = {}
    if unit.scope_kind == ScopeKind.DEPARTMENT and unit.department_id is None:
        errors["department"] = "Choose the department this unit is measured against."
    if unit.scope_kind == ScopeKind.ASSET and unit.asset_id is None:
        errors["asset"] = "Choose the AI asset this unit is measured against."
    if unit.scope_kind == ScopeKind.MODEL and not unit.model:
        errors["model"] = "Give the model id as the ledger names it, e.g. claude-sonnet-4-5-20250929."
    if errors:
        raise ValidationError(errors)
    if unit.scope_kind != ScopeKind.DEPARTMENT:
        unit.department = None
    if unit.scope_kind != ScopeKind.ASSET:
        unit.asset = None
    if unit.scope_kind != ScopeKind.MODEL:
        unit.model = ""


def business_unit_save(*, unit: BusinessUnit | None = None, **fields) -> BusinessUnit:
    """Create a business unit or change one. The code is fixed once the unit exists (callers send it)."""
    unknown = set(fields) - set(UNIT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown business unit fields: {', '.join(sorted(unknown))}.")
    if unit is not None and unit.pk and "code" in fields and fields["code"] != unit.code:
        raise ValidationError({"code": "The code cannot change: the API and CSV files use it."})
    before = snapshot_stored(unit, UNIT_FIELDS)
    unit = unit or BusinessUnit()
    for key, value in fields.items():
        setattr(unit, key, value.strip() if isinstance(value, str) else value)
    unit.code = (unit.code or "").lower()
    if unit.code in RESERVED_CODES:
        raise ValidationError({"code": f"“{unit.code}” is reserved by the portal; choose another code."})
    _check_scope(unit)
    unit.full_clean(validate_constraints=False)
    if BusinessUnit.objects.exclude(pk=unit.pk).filter(code=unit.code).exists():
        raise ValidationError({"code": "A business unit with this code already exists."})
    try:
        with transaction.atomic():
            unit.save()
            audit_record(
                action="business_unit.update" if before else "business_unit.create",
                target=unit,
                before=before,
                after=snapshot(unit, UNIT_FIELDS),
            )
    except IntegrityError as exc:  # a concurrent save took the code
        raise ValidationError({"code": "A business unit with this code already exists."}) from exc
    return unit


def business_unit_delete(*, unit: BusinessUnit) -> None:
    """Remove a unit and its counts; the audit event keeps what they added up to."""
    with transaction.atomic():
        counts = unit.counts.order_by()
        summary = {"rows": counts.count(), "first_day": None, "last_day": None}
        first = counts.order_by("day").values_list("day", flat=True).first()
        if first is not None:
            summary.update(first_day=first, last_day=counts.order_by("-day").values_list("day", flat=True).first())
        audit_record(
            action="business_unit.delete", target=unit, before={**snapshot(unit, UNIT_FIELDS), "counts": summary}
        )
        unit.delete()


# --- counts: validation --------------------------------------------------------------------------------------


@dataclass
class IngestResult:
    accepted: int = 0  # valid items (stored, or already stored with the same count)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0  # valid items whose key came again later in the batch (the later one counts)
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    errors_omitted: int = 0
    units: dict[str, dict] = field(default_factory=dict)  # code → {items, first_day, last_day, count}
    dry_run: bool = False

    def as_dict(self) -> dict:
        body = {
            "accepted": self.accepted,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": self.errors,
            "units": {
                code: {
                    **summary,
                    "first_day": summary["first_day"].isoformat(),
                    "last_day": summary["last_day"].isoformat(),
                }
                for code, summary in self.units.items()
            },
        }
        if self.errors_omitted:
            body["errors_omitted"] = self.errors_omitted
        if self.dry_run:
            body["dry_run"] = True
        return body


class _Errors:
    """(index, id, field, message) of the first MAX_ERRORS errors; `count` counts every one."""

    def __init__(self, *, line_offset: int | None = None):
        self.items: list[dict] = []
        self.count = 0
        self.line_offset = line_offset  # CSV: report the file's line number instead of the index

    def add(self, index: int, reference: str, name: str, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_ERRORS:
            where = {"line": index + self.line_offset} if self.line_offset is not None else {"index": index}
            self.items.append({**where, "id": reference, "field": name, "message": message})


@dataclass(frozen=True)
class _Lookups:
    units: dict[str, int]  # code → id
    departments: dict[str, int]  # code, and str(id) → id
    assets: dict[str, int | None]  # lower name, and str(id) → id (None: the name is ambiguous)


def _lookups(items: list) -> _Lookups:
    wants_department = any(type(i) is dict and i.get("department") not in (None, "") for i in items)
    wants_asset = any(type(i) is dict and i.get("asset") not in (None, "") for i in items)
    units = dict(BusinessUnit.objects.values_list("code", "id"))
    departments: dict[str, int] = {}
    if wants_department:
        for pk, code in Department.objects.values_list("id", "code"):
            departments[code.lower()] = pk
            departments[str(pk)] = pk
    assets: dict[str, int | None] = {}
    if wants_asset:
        for pk, name in Asset.objects.values_list("id", "name"):
            key = name.strip().lower()
            assets[key] = None if key in assets else pk  # two kinds may share a name: ask for the id
            assets[str(pk)] = pk
    return _Lookups(units, departments, assets)


def _day(item: dict, index: int, reference: str, errors: _Errors, latest: dt.date) -> dt.date | None:
    day, moment = item.get("day"), item.get("timestamp")
    if day not in (None, "") and moment not in (None, ""):
        errors.add(index, reference, "day", "Give day or timestamp, not both.")
        return None
    if day not in (None, ""):
        if not isinstance(day, str) or not _DAY.match(day.strip()):
            errors.add(index, reference, "day", "day must be a date, YYYY-MM-DD (the UTC day).")
            return None
        try:
            value = dt.date.fromisoformat(day.strip())
        except ValueError:
            errors.add(index, reference, "day", f"day {day.strip()!r} is not a valid date.")
            return None
    elif moment not in (None, ""):
        text = moment.strip() if isinstance(moment, str) else ""
        if not _RFC3339.match(text):
            errors.add(
                index,
                reference,
                "timestamp",
                "timestamp must be an RFC 3339 date and time with an offset, e.g. 2026-11-30T17:45:00Z.",
            )
            return None
        text = text[:10] + "T" + text[11:]
        if text[-1] in "Zz":
            text = text[:-1] + "+00:00"
        try:
            value = dt.datetime.fromisoformat(text).astimezone(dt.UTC).date()
        except ValueError:
            errors.add(index, reference, "timestamp", f"timestamp {text[:40]!r} is not a valid date and time.")
            return None
    else:
        errors.add(index, reference, "day", "day (YYYY-MM-DD, UTC) or timestamp is required.")
        return None
    if value < EARLIEST_DAY:
        errors.add(index, reference, "day", f"{value} is before {EARLIEST_DAY}: check the date.")
        return None
    if value > latest:
        errors.add(index, reference, "day", f"{value} is in the future: counts are for days that have begun (UTC).")
        return None
    return value


def _count(value, index: int, reference: str, errors: _Errors) -> int | None:
    if type(value) is int:
        number = value
    elif isinstance(value, Decimal | float) and value == value and value not in (float("inf"), float("-inf")):
        if value != int(value):
            errors.add(index, reference, "count", f"count must be a whole number, not {value}.")
            return None
        number = int(value)
    elif isinstance(value, str) and _DIGITS.match(value.strip()):
        number = int(value.strip().replace(",", ""))
    elif value in (None, ""):
        errors.add(index, reference, "count", "count is required: how many units happened that day.")
        return None
    else:
        errors.add(index, reference, "count", "count must be a whole number of units, zero or more.")
        return None
    if number < 0:
        errors.add(index, reference, "count", f"count must be zero or more, not {number}.")
        return None
    if number > MAX_COUNT:
        errors.add(index, reference, "count", f"count is more than {MAX_COUNT:,} for one day.")
        return None
    return number


def _reference(item: dict, index: int, errors: _Errors) -> tuple[str, bool]:
    value = item.get("id")
    if value in (None, ""):
        return "", True
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.add(index, "", "id", "id must be a string or an integer.")
        return "", False
    text = str(value).strip()
    if len(text) > 200 or "\x00" in text:
        errors.add(index, text[:40], "id", "id must be at most 200 characters, without NUL.")
        return "", False
    return text, True


def _validate(index: int, item, lookups: _Lookups, errors: _Errors, latest: dt.date) -> tuple | None:
    """One item → (unit_id, day, department_id, asset_id, count, reference, code), or None (errors recorded)."""
    if type(item) is not dict:
        errors.add(index, "", "", "Each item must be an object with unit, day (or timestamp) and count.")
        return None
    before = errors.count
    reference, _ok = _reference(item, index, errors)
    unknown = [key for key in item if key not in ITEM_FIELDS]
    for key in unknown[:5]:
        errors.add(index, reference, str(key)[:60], f"Unknown field; an item has {', '.join(ITEM_FIELDS)}.")
    code = item.get("unit")
    unit_id = None
    if code in (None, ""):
        errors.add(index, reference, "unit", "unit is required: the business unit's code.")
    elif not isinstance(code, str):
        errors.add(index, reference, "unit", "unit must be the business unit's code (a string).")
    else:
        code = code.strip().lower()
        unit_id = lookups.units.get(code)
        if unit_id is None:
            known = ", ".join(sorted(lookups.units)[:10]) or "none yet: create one in the portal or the API"
            errors.add(index, reference, "unit", f"No business unit has the code {code[:60]!r} (known: {known}).")
    day = _day(item, index, reference, errors, latest)
    count = _count(item.get("count"), index, reference, errors)
    department_id = asset_id = None
    department = item.get("department")
    if department not in (None, ""):
        key = str(department).strip().lower() if isinstance(department, str | int) else None
        department_id = lookups.departments.get(key) if key else None
        if department_id is None:
            errors.add(index, reference, "department", f"No department has the code or id {str(department)[:60]!r}.")
    asset = item.get("asset")
    if asset not in (None, ""):
        key = str(asset).strip().lower() if isinstance(asset, str | int) else None
        if key in lookups.assets and lookups.assets[key] is None:
            errors.add(index, reference, "asset", f"More than one AI asset is called {str(asset)[:60]!r}: send its id.")
        else:
            asset_id = lookups.assets.get(key) if key else None
            if asset_id is None:
                errors.add(index, reference, "asset", f"No AI asset has the name or id {str(asset)[:60]!r}.")
    if errors.count != before:
        return None
    return unit_id, day, department_id, asset_id, count, reference, code


# --- counts: storing -----------------------------------------------------------------------------------------


def _actor_label() -> str:
    actor = current_actor()
    return (actor.user_email or (f"key {actor.api_key_prefix}" if actor.api_key_prefix else actor.source))[:254]


def unit_counts_ingest(
    items: list,
    *,
    source: str = UnitCount.Source.API,
    dry_run: bool = False,
    max_items: int = MAX_ITEMS,
    line_offset: int | None = None,
) -> IngestResult:
    """Validate and store a batch of counts (see the module docstring). With dry_run nothing is written:
    the result says what would be created, replaced or left as it is.

    Items: {"unit": code, "day": "YYYY-MM-DD" | "timestamp": RFC 3339, "count": n, "department": code or id,
    "asset": name or id, "id": the caller's reference}. line_offset turns indexes into CSV line numbers."""
    if len(items) > max_items:
        raise BatchTooLarge(f"A batch holds at most {max_items:,} items; this one has {len(items):,}.")
    errors = _Errors(line_offset=line_offset)
    result = IngestResult(dry_run=dry_run)
    if not items:
        return result
    lookups = _lookups(items)
    latest = timezone.now().astimezone(dt.UTC).date() + FUTURE_SLACK
    valid: dict[tuple, tuple] = {}
    for index, item in enumerate(items):
        row = _validate(index, item, lookups, errors, latest)
        if row is None:
            continue
        key = row[:4]
        if key in valid:
            result.duplicates += 1
            del valid[key]  # keep insertion order of the last occurrence
        valid[key] = row
    result.rejected = len(items) - len(valid) - result.duplicates
    result.accepted = len(valid) + result.duplicates
    result.errors, result.errors_omitted = errors.items, errors.count - len(errors.items)
    if not valid:
        return result

    existing = _existing(valid)
    to_write, replaced = [], []
    for key, (unit_id, day, department_id, asset_id, count, reference, code) in valid.items():
        summary = result.units.setdefault(code, {"items": 0, "first_day": day, "last_day": day, "count": 0})
        summary["items"] += 1
        summary["count"] += count
        summary["first_day"], summary["last_day"] = min(summary["first_day"], day), max(summary["last_day"], day)
        stored = existing.get(key)
        if stored is not None and stored == count:
            result.unchanged += 1
            continue
        if stored is None:
            result.created += 1
        else:
            result.updated += 1
            replaced.append((code, day, department_id, asset_id, stored, count))
        to_write.append(
            UnitCount(
                unit_id=unit_id,
                day=day,
                department_id=department_id,
                asset_id=asset_id,
                count=count,
                reference=reference,
                source=source,
                updated_by=_actor_label(),
            )
        )
    if dry_run or not to_write:
        return result
    with transaction.atomic():
        for start in range(0, len(to_write), WRITE_BATCH):
            UnitCount.objects.bulk_create(
                to_write[start : start + WRITE_BATCH],
                update_conflicts=True,
                unique_fields=["unit", "day", "department", "asset"],
                update_fields=["count", "reference", "source", "updated_at", "updated_by"],
            )
        audit_record(
            action="unit_counts.ingest",
            object_type=UnitCount._meta.label_lower,
            object_repr=f"{len(to_write):,} daily counts of {', '.join(sorted(result.units))}"[:300],
            before={
                "replaced": [
                    {"unit": c, "day": d, "department": dep, "asset": a, "count": old}
                    for c, d, dep, a, old, _new in replaced[:AUDITED_CHANGES]
                ],
                "replaced_total": len(replaced),
            }
            if replaced
            else None,
            after={
                "source": source,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "rejected": result.rejected,
                "units": result.units,
            },
        )
    return result


def _existing(valid: dict[tuple, tuple]) -> dict[tuple, int]:
    """The stored counts of the batch's keys: one query over the batch's units and day range."""
    days = [row[1] for row in valid.values()]
    unit_ids = {row[0] for row in valid.values()}
    stored = UnitCount.objects.filter(unit_id__in=unit_ids, day__gte=min(days), day__lte=max(days)).values_list(
        "unit_id", "day", "department_id", "asset_id", "count"
    )
    return {(u, d, dep, a): count for u, d, dep, a, count in stored.order_by().iterator(chunk_size=5000)}


# --- counts: CSV files ----------------------------------------------------------------------------------------

CSV_ALIASES = {
    "unit": "unit",
    "unit_code": "unit",
    "business_unit": "unit",
    "day": "day",
    "date": "day",
    "timestamp": "timestamp",
    "time": "timestamp",
    "count": "count",
    "units": "count",
    "quantity": "count",
    "department": "department",
    "department_code": "department",
    "asset": "asset",
    "asset_id": "asset",
    "asset_name": "asset",
    "id": "id",
    "reference": "id",
}


class CsvError(ValueError):
    """The file cannot be read as counts at all (not CSV, no header, columns missing, too many rows)."""


@dataclass
class CsvCounts:
    items: list[dict]
    columns: dict[str, str]  # item field → the header as written in the file
    ignored_columns: list[str]


def unit_counts_csv_read(data: bytes, *, default_unit: str = "", max_rows: int = MAX_CSV_ROWS) -> CsvCounts:
    """A CSV file of counts → items for unit_counts_ingest (line n of the file is item n − 2).

    Columns (header names are not case-sensitive): unit (may be left out when default_unit is given), day or
    date (YYYY-MM-DD) or timestamp, count, and optionally department, asset, id."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError("The file is not UTF-8 text. Save it as CSV (UTF-8) and upload it again.") from exc
    if "\x00" in text:
        raise CsvError("The file holds NUL characters: it is not a CSV text file.")
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise CsvError("The file is empty: the first line must name the columns (unit, day, count…).")
    columns: dict[str, int] = {}
    names: dict[str, str] = {}
    ignored = []
    for position, raw in enumerate(header):
        name = CSV_ALIASES.get(raw.strip().lower().replace(" ", "_"))
        if name is None or name in columns:
            if raw.strip():
                ignored.append(raw.strip())
            continue
        columns[name], names[name] = position, raw.strip()
    missing = [c for c in ("count",) if c not in columns]
    if "day" not in columns and "timestamp" not in columns:
        missing.append("day")
    if "unit" not in columns and not default_unit:
        missing.append("unit")
    if missing:
        raise CsvError(
            f"Columns missing: {', '.join(missing)}. The first line must name the columns: unit, day (YYYY-MM-DD), "
            "count, and optionally department, asset and id."
        )
    items = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            items.append({"__blank__": True})  # keeps line numbers right; skipped below
            continue
        if len(items) >= max_rows:
            raise CsvError(f"The file has more than {max_rows:,} rows: split it (by month, say) and upload each part.")
        item = {name: (row[pos].strip() if pos < len(row) else "") for name, pos in columns.items()}
        if default_unit and not item.get("unit"):
            item["unit"] = default_unit
        items.append(item)
    return CsvCounts(items=items, columns=names, ignored_columns=ignored)


def unit_counts_csv_ingest(
    data: bytes, *, default_unit: str = "", dry_run: bool = False
) -> tuple[IngestResult, CsvCounts]:
    """Read a CSV file and ingest its rows (or, with dry_run, say what they would do). Blank lines are skipped;
    errors carry the file's line numbers."""
    parsed = unit_counts_csv_read(data, default_unit=default_unit)
    lines = [(n, item) for n, item in enumerate(parsed.items) if "__blank__" not in item]
    if not lines:
        raise CsvError("The file has a header but no rows.")
    result = unit_counts_ingest(
        [item for _n, item in lines],
        source=UnitCount.Source.CSV,
        dry_run=dry_run,
        max_items=MAX_CSV_ROWS,
        line_offset=2,
    )
    if len(lines) != len(parsed.items):  # blank lines shifted the indexes: map them back to file lines
        for error in result.errors:
            error["line"] = lines[error["line"] - 2][0] + 2
    return result, parsed
