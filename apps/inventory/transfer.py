"""Move the inventory in and out as CSV: one format for every kind, a preview that writes nothing, an
all-or-nothing import fast enough for 50,000 rows, and a streaming export that the import reads back.

The file: a header row, then one asset per row. `kind` and `name` are required columns; every other column
is optional (a missing column or an empty cell leaves the field at its default). Columns that do not apply
to a row's kind must be empty. See COLUMN_HELP and docs/inventory-import-export.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django_tenants.utils import tenant_context

from apps.audit.services import audit_record

from .models import (
    KIND_MODEL,
    AIModel,
    Asset,
    AssetKind,
    Department,
    Power,
)
from .services import COMMON_FIELDS, KIND_FIELDS, fields_for_kind, owner_choices, prepare_asset

MAX_ROWS = 50_000
MAX_BYTES = 20 * 1024 * 1024
REQUIRED_COLUMNS = ("kind", "name")
IMPORT_AUDIT_OBJECT_TYPE = "inventory.import"
NOT_UTF8 = "The file is not UTF-8 text: save it as 'CSV UTF-8' and upload again."


def _union_kind_fields() -> list[str]:
    seen: list[str] = []
    for names in KIND_FIELDS.values():
        seen += [name for name in names if name not in seen]
    return seen


COLUMNS: list[str] = ["kind", *COMMON_FIELDS, *_union_kind_fields()]
# Which kinds each column applies to (kind and the common fields: all of them).
COLUMN_KINDS: dict[str, tuple[str, ...]] = {
    column: tuple(kind for kind in KIND_MODEL if column == "kind" or column in fields_for_kind(kind))
    for column in COLUMNS
}
LIST_SEPARATOR = ";"  # between items of a list cell (tags, approvals, sources, results)

# What a person reads next to each column (import page, template, docs): (format, example).
COLUMN_HELP: dict[str, tuple[str, str]] = {
    "kind": ("Required: model, agent, prompt, pipeline, endpoint or integration (or the label).", "agent"),
    "name": ("Required. Unique per kind (case-insensitive).", "Claims triage agent"),
    "owner_email": ("A member of this client, an MSP admin or a department owner.", "ops.lead@harbor.example"),
    "department": ("The department's name or code; it must exist already.", "claims-ops"),
    "purpose": ("Business purpose, free text.", "Routes incoming claims to the right adjuster"),
    "lifecycle": ("proposed, pilot, production or retired.", "production"),
    "risk_tier": ("unassessed, prohibited, high, limited or minimal (or the label).", "high"),
    "annex_iii_area": ("Required for high risk: III.1 … III.8.", "III.5"),
    "risk_rationale": ("Why this tier.", "Prices insurance for natural persons"),
    "data_classification": ("public, internal, confidential or restricted.", "confidential"),
    "personal_data": ("yes/no, true/false or 1/0.", "yes"),
    "residency_region": ("Where its data must stay.", "ca-central-1"),
    "cost_tags": ("key=value pairs separated by semicolons.", "app=claims; team=ops"),
    "provider": ("Models: required.", "openai"),
    "model_id": ("Models: required, as the provider names it.", "gpt-4o"),
    "model_version": ("Models.", "2024-08-06"),
    "hosting": ("Models: provider_api, private_cloud or on_prem (or the label).", "provider_api"),
    "open_weight": ("Models: yes/no.", "no"),
    "licence": ("Models.", "Proprietary"),
    "region": ("Models and endpoints: where it runs.", "eu-west-1"),
    "context_window": ("Models: tokens, a whole number.", "128000"),
    "deprecation_date": ("Models: YYYY-MM-DD.", "2026-06-30"),
    "task": ("Models (model card).", "text-generation"),
    "intended_use": ("Models (model card).", "Drafting replies to customers"),
    "limitations": ("Models (model card).", "Not for legal advice"),
    "evaluation_results": (
        "Models: metric=value pairs separated by semicolons; a dataset in brackets.",
        "accuracy=0.94 (holdout 2026-Q3); f1=0.91",
    ),
    "training_data_summary": ("Models (model card).", "Provider's pre-training corpus"),
    "autonomy_level": ("Agents: suggest, approve_each, supervised or autonomous.", "supervised"),
    "spend_cap": ("Agents: a number, e.g. 250.00.", "250.00"),
    "spend_cap_currency": ("Agents: a 3-letter currency code.", "EUR"),
    "spend_cap_period": ("Agents: day or month.", "day"),
    "approval_required_for": (
        "Agents: powers separated by semicolons: " + ", ".join(Power.values) + ".",
        "move_money; delete_data",
    ),
    "kill_switch_url": ("Agents: the kill-switch webhook URL.", "https://agents.harbor.example/kill"),
    "sources": (
        "Pipelines: name | location pairs separated by semicolons.",
        "Claims PDFs | s3://harbor-claims/docs; Policies | https://intranet/policies",
    ),
    "vector_store": ("Pipelines.", "pgvector"),
    "embedding_model": ("Pipelines.", "text-embedding-3-large"),
    "refresh_schedule": ("Pipelines.", "nightly at 02:00"),
    "last_refreshed_at": ("Pipelines: date and time, ISO 8601; UTC unless it says otherwise.", "2026-05-01T02:00:00Z"),
    "per_document_access_control": ("Pipelines: yes/no.", "yes"),
    "environment": ("Endpoints: development, staging or production.", "production"),
    "url": ("Endpoints: the URL.", "https://llm.harbor.example/v1"),
    "model": ("Endpoints: the name of the model it serves (registered, or a model row in this file).", "Claims LLM"),
    "system_kind": (
        "Integrations: crm, erp, warehouse, ticketing, hris, payments, ehr, documents, messaging or other.",
        "crm",
    ),
    "system_name": ("Integrations.", "Salesforce"),
    "direction": ("Integrations: inbound, outbound or bidirectional.", "inbound"),
    "health_status": ("Integrations: healthy, degraded, down or unknown.", "unknown"),
    "health_checked_at": ("Integrations: date and time, ISO 8601.", "2026-05-01T08:00:00Z"),
}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets would execute (CSV injection)
TRUE_WORDS = {"yes", "true", "1", "y"}
FALSE_WORDS = {"no", "false", "0", "n"}


class ImportRejected(Exception):
    """The file has errors; nothing was written. `preview` holds them."""

    def __init__(self, preview: ImportPreview):
        self.preview = preview
        super().__init__(preview.summary())


class _CellError(Exception):
    pass


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str  # "" when it concerns the whole row
    message: str


@dataclass
class PreviewRow:
    number: int
    kind: str
    name: str
    cells: dict[str, str] = field(default_factory=dict)  # kept for rows shown in the preview only
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportPreview:
    sha256: str
    size: int
    columns: list[str] = field(default_factory=list)
    rows: list[PreviewRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    _prepared: list[tuple[Asset, str]] = field(default_factory=list, repr=False)  # (asset, endpoint model ref)
    _registered_models: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return not self.file_errors and not any(row.errors for row in self.rows)

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def error_rows(self) -> list[PreviewRow]:
        return [row for row in self.rows if row.errors]

    @property
    def errors(self) -> list[RowError]:
        return [
            RowError(row.number, column, message)
            for row in self.rows
            for column, messages in row.errors.items()
            for message in messages
        ]

    def summary(self) -> str:
        if self.file_errors:
            return " ".join(self.file_errors)
        bad = len(self.error_rows)
        if bad:
            return f"{bad} of {self.total} rows have errors; nothing was imported."
        return f"{self.total} assets ready to import."

    def as_dict(self, *, max_errors: int = 1000) -> dict:
        errors = self.errors
        return {
            "ok": self.ok,
            "sha256": self.sha256,
            "rows": self.total,
            "counts": self.counts,
            "rows_with_errors": len(self.error_rows),
            "file_errors": self.file_errors,
            "error_count": len(errors),
            "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in errors[:max_errors]],
        }


@dataclass(frozen=True)
class ImportResult:
    created: int
    counts: dict[str, int]
    first_id: int | None
    last_id: int | None
    sha256: str
    guardrails: dict[str, int]
    models_matched: int

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "counts": self.counts,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "sha256": self.sha256,
            "guardrails": self.guardrails,
            "models_matched": self.models_matched,
        }


# --- cell parsing --------------------------------------------------------------------------------------------


def _choice_map(choices) -> dict[str, str]:
    mapping = {}
    for value, label in choices:
        mapping[str(label).strip().lower()] = value
    for value, _ in choices:  # the stored value wins over a label spelled the same
        mapping[str(value).lower()] = value
    return mapping


def _enum(raw: str, choices, what: str) -> str:
    value = _choice_map(choices).get(raw.strip().lower())
    if value is None:
        allowed = ", ".join(str(v) for v, _ in choices)
        raise _CellError(f"“{raw}” is not a valid {what}. Use one of: {allowed}.")
    return value


def _split_list(raw: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;\n]", raw) if part.strip()]


def _parse_bool(raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _CellError(f"“{raw}” is not yes or no. Write yes/no, true/false or 1/0.")


def _parse_sources(raw: str) -> list[dict]:
    sources = []
    for part in _split_list(raw):
        name, _, location = part.partition("|")
        if not name.strip():
            raise _CellError(f"Each source needs a name before the “|” (got “{part}”).")
        sources.append({"name": name.strip(), "location": location.strip()})
    return sources


def _parse_results(raw: str) -> list[dict]:
    results = []
    for part in _split_list(raw):
        metric, sep, rest = part.partition("=")
        if not sep or not metric.strip():
            raise _CellError(f"Write each result as metric=value (got “{part}”).")
        value, _, dataset = rest.partition("(")
        item = {"metric": metric.strip(), "value": value.strip()}
        if dataset.strip():
            item["dataset"] = dataset.strip().rstrip(")").strip()
        results.append(item)
    return results


def _parse_field(model_field: models.Field, raw: str):
    """Turn one non-empty cell into the value the service takes; _CellError explains a bad one."""
    name = model_field.name
    if name == "sources":
        return _parse_sources(raw)
    if name == "evaluation_results":
        return _parse_results(raw)
    if name == "cost_tags":
        return raw  # clean_cost_tags (via prepare_asset) parses key=value; key2=value2 and explains mistakes
    if name == "approval_required_for":
        base = model_field.base_field
        return [_enum(item, base.choices, "power") for item in _split_list(raw)]
    if model_field.choices:
        return _enum(raw, model_field.choices, str(model_field.verbose_name))
    if isinstance(model_field, models.BooleanField):
        return _parse_bool(raw)
    if isinstance(model_field, models.IntegerField):
        text = raw.strip().replace(",", "").replace("_", "").replace(" ", "")
        if not re.fullmatch(r"\d+", text):
            raise _CellError(f"“{raw}” is not a whole number.")
        return int(text)
    if isinstance(model_field, models.DecimalField):
        try:
            number = Decimal(raw.strip().replace(",", ""))
        except InvalidOperation as exc:
            raise _CellError(f"“{raw}” is not a number. Write it like 250.00.") from exc
        if not number.is_finite():
            raise _CellError(f"“{raw}” is not a number. Write it like 250.00.")
        return number.quantize(Decimal(1).scaleb(-model_field.decimal_places))
    if isinstance(model_field, models.DateTimeField):
        text = raw.strip()
        try:
            moment = parse_datetime(text)
            if moment is None and (day := parse_date(text)) is not None:
                moment = dt.datetime.combine(day, dt.time())
        except ValueError:
            moment = None
        if moment is None:
            raise _CellError(f"“{raw}” is not a date and time. Write it like 2026-05-01T02:00:00Z.")
        return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt.UTC)
    if isinstance(model_field, models.DateField):
        try:
            day = parse_date(raw.strip())
        except ValueError:
            day = None
        if day is None:
            raise _CellError(f"“{raw}” is not a date. Write it as YYYY-MM-DD, e.g. 2026-06-30.")
        return day
    return raw


def _uninject(raw: str) -> str:
    """The export protects formulas with a leading apostrophe; take it off again."""
    if len(raw) > 1 and raw[0] == "'" and raw[1] in FORMULA_PREFIXES:
        return raw[1:]
    return raw


def _kind_label(kind: str) -> str:
    return AssetKind(kind).label.lower()


def _a(kind: str) -> str:
    """ "an agent", "a model"."""
    label = _kind_label(kind)
    return f"{'an' if label[0] in 'aeiou' else 'a'} {label}"


def _applies_to(column: str) -> str:
    labels = [_kind_label(kind) + "s" for kind in COLUMN_KINDS[column]]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _friendly(column: str, message: str, kind: str) -> str:
    if message in ("This field cannot be blank.", "This field cannot be null.", "This field is required."):
        return f"Required for {_a(kind)}."
    return message


# --- reading the file ----------------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str | None, str | None]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, NOT_UTF8 + " (It looks like UTF-16, which Excel writes for 'Unicode Text'.)"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, f"{NOT_UTF8} (The first character that is not UTF-8 is on line {line}.)"


def _normalise_column(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", (name or "").strip().lower())


def _dialect(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


@dataclass
class _Lookups:
    owners: dict[str, str]
    departments: dict[str, Department]
    existing: set[tuple[str, str]]  # (kind, lower(name)) already registered
    models: dict[str, int]  # lower(name) → id of registered models


def _lookups() -> _Lookups:
    departments: dict[str, Department] = {}
    for department in Department.objects.all():
        departments.setdefault(department.code.lower(), department)
        departments.setdefault(department.name.strip().lower(), department)
    existing = set(Asset.objects.annotate(lname=Lower("name")).values_list("kind", "lname"))
    models_by_name = dict(AIModel.objects.annotate(lname=Lower("name")).values_list("lname", "pk"))
    return _Lookups(owner_choices(), departments, existing, models_by_name)


def import_preview(data: bytes) -> ImportPreview:
    """Read and check a CSV file without writing anything: per-row errors, duplicates, counts per kind."""
    preview = ImportPreview(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    if len(data) > MAX_BYTES:
        preview.file_errors.append(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; the limit is {MAX_BYTES // 1024 // 1024} MB. "
            "Split it into smaller files."
        )
        return preview
    text, problem = _decode(data)
    if problem:
        preview.file_errors.append(problem)
        return preview
    if not text.strip():
        preview.file_errors.append("The file is empty.")
        return preview

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_dialect(text))
    try:
        header = next(reader)
    except csv.Error as exc:
        preview.file_errors.append(f"The file is not a readable CSV file ({exc}).")
        return preview
    columns = [_normalise_column(name) for name in header]
    while columns and not columns[-1]:  # trailing empty header cells (spreadsheets add them)
        columns.pop()
    unknown = [header[i].strip() or f"(empty, column {i + 1})" for i, c in enumerate(columns) if c not in COLUMNS]
    duplicated = sorted({c for c in columns if columns.count(c) > 1 and c in COLUMNS})
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if unknown:
        preview.file_errors.append(
            f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"The columns Keel reads are: {', '.join(COLUMNS)}."
        )
    if duplicated:
        preview.file_errors.append(f"These columns appear twice: {', '.join(duplicated)}.")
    if missing:
        preview.file_errors.append(f"Missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}.")
    if preview.file_errors:
        return preview
    preview.columns = columns

    raw_rows: list[tuple[int, list[str]]] = []
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            if len(raw_rows) >= MAX_ROWS:
                preview.file_errors.append(
                    f"The file has more than {MAX_ROWS:,} rows. Split it into files of at most {MAX_ROWS:,} rows."
                )
                return preview
            raw_rows.append((number, cells))
    except csv.Error as exc:
        preview.file_errors.append(f"The file is not a readable CSV file (line {reader.line_num}: {exc}).")
        return preview
    if not raw_rows:
        preview.file_errors.append("The file has a header but no assets below it.")
        return preview

    _validate_rows(preview, raw_rows, _lookups())
    return preview


KEEP_CELLS_FOR_FIRST = 100  # the preview shows the first rows in full, and every row with an error


def _validate_rows(preview: ImportPreview, raw_rows: list[tuple[int, list[str]]], lookups: _Lookups) -> None:
    columns = preview.columns
    width = len(columns)
    field_cache: dict[tuple[str, str], models.Field] = {}
    seen: dict[tuple[str, str], int] = {}
    endpoint_refs: list[tuple[PreviewRow, str, dict[str, str]]] = []
    file_models: set[str] = set()
    counts: Counter = Counter()

    for index, (number, cells) in enumerate(raw_rows):
        extra = [cell for cell in cells[width:] if cell.strip()]
        values = {column: _uninject(cells[i].strip()) if i < len(cells) else "" for i, column in enumerate(columns)}
        row = PreviewRow(number=number, kind="", name=values.get("name", ""))
        preview.rows.append(row)
        errors: dict[str, list[str]] = {}

        def add(column: str, message: str, errors=errors) -> None:
            errors.setdefault(column, []).append(message)

        if extra:
            add("", f"This row has more cells than the header has columns ({len(cells)} instead of {width}).")
        try:
            kind = _enum(values["kind"], AssetKind.choices, "kind") if values["kind"] else ""
        except _CellError:
            kind = ""
        if not kind:
            what = f"“{values['kind']}” is not a kind of asset." if values["kind"] else "The kind is missing."
            add("kind", f"{what} Use one of: {', '.join(AssetKind.values)}.")
            row.errors, row.cells = errors, values
            continue
        row.kind = kind
        allowed = set(fields_for_kind(kind))
        model = KIND_MODEL[kind]
        fields: dict = {}
        department = None
        model_ref = ""
        for column in columns:
            raw = values[column]
            if column == "kind" or not raw:
                continue
            if column not in allowed:
                add(column, f"This column is for {_applies_to(column)}; leave it empty for {_a(kind)}.")
                continue
            if column == "department":
                department = lookups.departments.get(raw.lower())
                if department is None:
                    add(column, f"No department is named or coded “{raw}”. Add it under Departments first.")
                continue
            if column == "model":  # endpoint → the model it serves, by name; resolved to an id on commit
                model_ref = raw.lower()
                continue
            key = (kind, column)
            if key not in field_cache:
                field_cache[key] = model._meta.get_field(column)
            try:
                fields[column] = _parse_field(field_cache[key], raw)
            except _CellError as exc:
                add(column, str(exc))

        name = values.get("name", "").strip()
        if not name:
            add("name", "Every asset needs a name.")
        else:
            key = (kind, name.lower())
            if key in seen:
                add("name", f"Row {seen[key]} already has {_a(kind)} named “{name}”.")
            else:
                seen[key] = number
                if key in lookups.existing:
                    add("name", f"{_a(kind).capitalize()} named “{name}” is already registered.")
            if kind == AssetKind.MODEL:
                file_models.add(name.lower())

        try:
            asset = prepare_asset(
                kind, None, {k: v for k, v in fields.items() if k not in errors}, known_owners=lookups.owners
            )
        except ValidationError as exc:
            messages = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            for column, found in messages.items():
                column = "" if column == "__all__" else column
                if column in errors:
                    continue  # already explained by the cell parser
                for message in found:
                    add(column, _friendly(column, message, kind))
        else:
            if department is not None:
                asset.department_id = department.pk  # set after validation: no per-row foreign-key query
            preview._prepared.append((asset, model_ref))
        if model_ref:
            endpoint_refs.append((row, model_ref, values))
        counts[kind] += 1
        row.errors = errors
        if errors or index < KEEP_CELLS_FOR_FIRST:
            row.cells = values

    for row, ref, values in endpoint_refs:
        if ref not in lookups.models and ref not in file_models:
            row.errors.setdefault("model", []).append(
                f"No model named “{values['model']}” is registered or in this file "
                "(an endpoint names the model it serves)."
            )
            row.cells = values
    preview._registered_models = lookups.models
    preview.counts = {str(kind): counts[kind] for kind in KIND_MODEL if counts[kind]}
    if not preview.ok:
        preview._prepared = []  # nothing will be written; free the memory


# --- writing -------------------------------------------------------------------------------------------------

PARENT_FIELDS = [f for f in Asset._meta.concrete_fields if not f.primary_key]


def import_commit(data: bytes, *, filename: str = "") -> ImportResult:
    """Import every row of the file in one transaction, or nothing (ImportRejected carries the errors)."""
    from .deprecation import model_catalog_match
    from .guardrails import guardrails_evaluate

    preview = import_preview(data)
    if not preview.ok:
        raise ImportRejected(preview)
    prepared = preview._prepared
    try:
        with transaction.atomic():
            ids = _insert(prepared, preview._registered_models)
            new_models = [asset for asset, _ in prepared if asset.kind == AssetKind.MODEL]
            matched = 0
            for start in range(0, len(new_models), 1000):
                matched += model_catalog_match(models=new_models[start : start + 1000])
            audit_record(
                action="inventory.import",
                object_type=IMPORT_AUDIT_OBJECT_TYPE,
                object_id=preview.sha256,
                object_repr=f"CSV import of {len(ids)} assets" + (f" from {filename}" if filename else ""),
                after={
                    "sha256": preview.sha256,
                    "filename": filename,
                    "bytes": preview.size,
                    "rows": len(ids),
                    "counts": preview.counts,
                    "first_id": min(ids),
                    "last_id": max(ids),
                },
            )
            guardrails = guardrails_evaluate(asset_ids=_ids_guardrails_look_at(prepared))
    except IntegrityError as exc:  # someone registered one of these names while we were importing
        preview.file_errors.append(
            "Another change registered an asset with one of these names during the import; nothing was "
            f"imported. Check the file again. ({exc.__class__.__name__})"
        )
        raise ImportRejected(preview) from exc
    return ImportResult(
        created=len(ids),
        counts=preview.counts,
        first_id=min(ids),
        last_id=max(ids),
        sha256=preview.sha256,
        guardrails=guardrails,
        models_matched=matched,
    )


def _ids_guardrails_look_at(prepared: list[tuple[Asset, str]]) -> list[int]:
    """New assets of the kinds some active rule checks (new assets have no findings to resolve)."""
    from .guardrails import active_rules

    kinds = {kind for rule in active_rules() for kind in rule.kinds}
    return [asset.pk for asset, _ in prepared if asset.kind in kinds]


def _insert(prepared: list[tuple[Asset, str]], registered_models: dict[str, int]) -> list[int]:
    """Set-based writes: reserve ids from the asset sequence, COPY the inventory_asset parents with them,
    then COPY each kind's child rows (multi-table inheritance: bulk_create refuses the children)."""
    quote = connection.ops.quote_name
    now = timezone.now()
    with connection.cursor() as cursor, connection.wrap_database_errors:  # psycopg errors → django.db errors
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Asset._meta.db_table, len(prepared)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        for (asset, _), pk in zip(prepared, ids, strict=True):
            asset.pk = asset.id = pk  # the child's pk is its asset_ptr
            asset.created_at = asset.updated_at = now
            asset._state.adding = False
        new_models = {asset.name.lower(): asset.pk for asset, _ in prepared if asset.kind == AssetKind.MODEL}
        for asset, ref in prepared:
            if ref:
                asset.model_id = new_models.get(ref) or registered_models[ref]

        parent_fields = [Asset._meta.pk, *PARENT_FIELDS]
        batches = [(Asset, parent_fields, [asset for asset, _ in prepared])]
        for kind, model in KIND_MODEL.items():
            rows = [asset for asset, _ in prepared if asset.kind == kind]
            if rows:
                batches.append((model, model._meta.local_concrete_fields, rows))
        for model, fields, rows in batches:
            columns = ", ".join(quote(f.column) for f in fields)
            # psycopg adapts str, bool, int, Decimal, dates and lists itself; JSON needs Django's adapter.
            json_fields = [isinstance(f, models.JSONField) for f in fields]
            with cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
                for asset in rows:
                    copy.write_row(
                        [
                            f.get_db_prep_save(getattr(asset, f.attname), connection)
                            if is_json
                            else getattr(asset, f.attname)
                            for f, is_json in zip(fields, json_fields, strict=True)
                        ]
                    )
    return ids


# --- export --------------------------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | Decimal | int):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _export_value(asset: Asset, column: str):
    if column == "kind":
        return asset.kind
    if column == "department":
        return asset.department.name if asset.department_id else ""
    if column == "model":
        return asset.model.name if asset.model_id else ""
    value = getattr(asset, column)
    if column == "cost_tags":
        return f"{LIST_SEPARATOR} ".join(f"{k}={v}" for k, v in (value or {}).items())
    if column == "approval_required_for":
        return f"{LIST_SEPARATOR} ".join(value or [])
    if column == "sources":
        return f"{LIST_SEPARATOR} ".join(
            f"{item.get('name', '')} | {item.get('location', '')}".rstrip(" |") for item in value or []
        )
    if column == "evaluation_results":
        parts = []
        for item in value or []:
            part = f"{item.get('metric', '')}={item.get('value', '')}"
            parts.append(f"{part} ({item['dataset']})" if item.get("dataset") else part)
        return f"{LIST_SEPARATOR} ".join(parts)
    return value


def _csv_line(values: Iterable) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


EXPORT_CHUNK = 2000


def assets_export_csv(queryset, *, byte_order_mark: bool = False) -> Iterator[str]:
    """The assets of `queryset` (e.g. selectors.assets_list(...)) as CSV lines, in the import's format.

    Streams in chunks. The client is taken now, and each chunk is read inside it: a response consumed later
    (StreamingHttpResponse) never reads another client's schema, whatever the connection points at by then.
    """
    return _export_lines(queryset, connection.tenant, byte_order_mark)


def _export_lines(queryset, tenant, byte_order_mark: bool) -> Iterator[str]:
    with tenant_context(tenant):
        keys = list(queryset.values_list("pk", "kind"))
    yield ("\ufeff" if byte_order_mark else "") + _csv_line(COLUMNS)
    for start in range(0, len(keys), EXPORT_CHUNK):
        chunk = keys[start : start + EXPORT_CHUNK]
        with tenant_context(tenant):
            by_pk: dict[int, Asset] = {}
            for kind in {kind for _, kind in chunk}:
                qs = KIND_MODEL[kind].objects.select_related("department")
                if kind == AssetKind.ENDPOINT:
                    qs = qs.select_related("model")
                by_pk.update((a.pk, a) for a in qs.filter(pk__in=[pk for pk, k in chunk if k == kind]))
        lines = []
        for pk, kind in chunk:
            asset = by_pk.get(pk)
            if asset is None:  # removed meanwhile
                continue
            lines.append(
                _csv_line(
                    _cell(_export_value(asset, column)) if kind in COLUMN_KINDS[column] else "" for column in COLUMNS
                )
            )
        yield "".join(lines)


def template_csv() -> str:
    """A header and one example row per kind, for people starting a file from scratch."""
    examples = {
        AssetKind.MODEL: {
            "name": "Claims LLM",
            "provider": "openai",
            "model_id": "gpt-4o",
            "hosting": "provider_api",
            "task": "text-generation",
            "evaluation_results": "accuracy=0.94 (holdout 2026-Q3)",
            "lifecycle": "production",
        },
        AssetKind.AGENT: {
            "name": "Claims triage agent",
            "purpose": "Routes incoming claims to the right adjuster",
            "risk_tier": "limited",
            "autonomy_level": "supervised",
            "spend_cap": "50.00",
            "spend_cap_currency": "EUR",
            "spend_cap_period": "day",
            "approval_required_for": "move_money; delete_data",
            "kill_switch_url": "https://agents.example/kill",
            "cost_tags": "app=claims; team=ops",
        },
        AssetKind.PROMPT: {"name": "Triage system prompt"},
        AssetKind.PIPELINE: {
            "name": "Claims knowledge base",
            "data_classification": "confidential",
            "personal_data": "yes",
            "residency_region": "eu-west-1",
            "sources": "Claims PDFs | s3://claims/docs; Policies | https://intranet.example/policies",
        },
        AssetKind.ENDPOINT: {"name": "Claims LLM gateway", "url": "https://llm.example/v1", "model": "Claims LLM"},
        AssetKind.INTEGRATION: {"name": "CRM", "system_kind": "crm", "system_name": "Salesforce"},
    }
    lines = [_csv_line(COLUMNS)]
    for kind, values in examples.items():
        lines.append(_csv_line(kind if c == "kind" else values.get(c, "") for c in COLUMNS))
    return "".join(lines)
