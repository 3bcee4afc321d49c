"""Load a model price catalog file (LiteLLM's format, its own key names) into the shared catalog tables."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.services import audit_record

from .models import CatalogRelease, ModelPrice

BUNDLED_CATALOG = Path(__file__).resolve().parent / "data" / "model_prices_and_context_window_backup.json"
PRICE_FIELDS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
)
TOKEN_FIELDS = ("max_input_tokens", "max_output_tokens")
DOCUMENTATION_KEYS = {"sample_spec"}  # the catalog's own description of its fields, not a model
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_KEY_LENGTH = 300  # ModelPrice.key
# The price columns are NUMERIC(20, 12): 12 places, under 10^8 USD per token.
PRICE_PLACES = Decimal("1e-12")
PRICE_LIMIT = Decimal(10) ** 8
MAX_TOKENS = 2**31 - 1  # PositiveIntegerField
# Row fields compared to decide whether a stored entry changed.
COMPARED_FIELDS = ("litellm_provider", "mode", *PRICE_FIELDS, *TOKEN_FIELDS, "deprecation_date", "source", "raw")


class CatalogError(Exception):
    """The file cannot be used as a catalog; nothing stored was changed."""


@dataclass(frozen=True)
class CatalogLoadResult:
    unchanged: bool  # the current catalog is already this file: nothing was done
    sha256: str
    entries: int
    added: int = 0
    changed: int = 0
    removed: int = 0
    skipped_entries: int = 0  # keys whose value is not an entry (text, a list…)
    skipped_fields: int = 0  # fields present but unusable (a price written as words, a date that is not one)
    rounded_prices: int = 0  # prices with more than 12 decimal places (float noise in the file); exact in `raw`
    # Up to EXAMPLES keys of each kind, sorted, for a person reading what a refresh did.
    added_keys: tuple[str, ...] = ()
    changed_keys: tuple[str, ...] = ()
    removed_keys: tuple[str, ...] = ()


EXAMPLES = 20


@dataclass
class ParsedCatalog:
    rows: list[dict]
    skipped_entries: int = 0
    skipped_fields: int = 0
    rounded_prices: int = 0


def _number(value) -> Decimal | None:
    """A finite number from the file (parsed as Decimal, never float), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip()) if isinstance(value, str) else None
    except ValueError:
        return None


def _jsonable(value):
    """Keep the raw entry without ever turning a number into a float: numbers are stored as their text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _entry_row(key: str, entry: dict, parsed: ParsedCatalog) -> dict:
    """One ModelPrice row. A field that is present but unusable is left empty and counted, never fatal."""
    row = {"key": key, "raw": _jsonable(entry)}
    for field, limit in (("litellm_provider", 100), ("mode", 40)):
        value = entry.get(field)
        row[field] = value.strip()[:limit] if isinstance(value, str) else ""
        if value is not None and not isinstance(value, str):
            parsed.skipped_fields += 1
    for field in PRICE_FIELDS:
        value, row[field] = entry.get(field), None
        if value is None:
            continue
        price = _number(value)
        if price is None or not 0 <= price < PRICE_LIMIT:
            parsed.skipped_fields += 1
            continue
        row[field] = price.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN)
        parsed.rounded_prices += row[field] != price
    for field in TOKEN_FIELDS:
        value, row[field] = entry.get(field), None
        if value is None:
            continue
        tokens = _number(value)
        if tokens is None or not 0 <= tokens <= MAX_TOKENS or tokens != tokens.to_integral_value():
            parsed.skipped_fields += 1
            continue
        row[field] = int(tokens)
    value = entry.get("deprecation_date")
    row["deprecation_date"] = _date(value)
    if value is not None and row["deprecation_date"] is None:
        parsed.skipped_fields += 1
    value = entry.get("source")
    usable = isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= 500
    row["source"] = value if usable else ""
    if value is not None and not usable:  # e.g. a sentence about the price instead of a link
        parsed.skipped_fields += 1
    return row


def parse_catalog(data: bytes) -> ParsedCatalog:
    """Rows for ModelPrice from a catalog file's bytes; CatalogError when the file as a whole is unusable."""
    if len(data) > MAX_FILE_BYTES:
        raise CatalogError(f"The catalog file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    try:
        # NaN and Infinity are not JSON but Python accepts them as floats: keep them as text, so the field is
        # counted unusable instead of becoming a float.
        document = json.loads(data.decode("utf-8-sig"), parse_float=Decimal, parse_constant=str)
    except UnicodeDecodeError as exc:
        raise CatalogError("The catalog file is not UTF-8 text.") from exc
    except json.JSONDecodeError as exc:
        raise CatalogError(
            f"The catalog file is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    except RecursionError as exc:
        raise CatalogError("The catalog file is nested too deeply to be a catalog.") from exc
    if not isinstance(document, dict):
        kind = {list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(type(document), "a number")
        raise CatalogError(f"The catalog must be a JSON object of model keys to their details, not {kind}.")
    parsed = ParsedCatalog(rows=[])
    for key, entry in document.items():
        if key in DOCUMENTATION_KEYS:
            continue
        if not isinstance(entry, dict) or not key.strip() or len(key) > MAX_KEY_LENGTH:
            parsed.skipped_entries += 1
            continue
        parsed.rows.append(_entry_row(key, entry, parsed))
    if not parsed.rows:
        raise CatalogError("The catalog file has no model entries.")
    return parsed


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CatalogError(f"The catalog file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
        return path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"Cannot read the catalog file {path}: {exc.strerror or exc}.") from exc


def _unchanged(release: CatalogRelease) -> CatalogLoadResult:
    return CatalogLoadResult(
        unchanged=True, sha256=release.sha256, entries=release.entry_count, skipped_fields=release.skipped_fields
    )


def catalog_load(*, path: Path, loaded_by: str) -> CatalogLoadResult:
    """Load a catalog file. Idempotent: the current file again changes nothing. Otherwise, in one transaction,
    new and changed entries are upserted, entries gone from the file are removed and the file's release becomes
    current; a file that cannot be used raises CatalogError before anything is written."""
    path = Path(path)
    data = _read(path)
    sha256 = hashlib.sha256(data).hexdigest()
    with schema_context("public"):
        current = CatalogRelease.objects.filter(is_current=True).first()
        if current is not None and current.sha256 == sha256:
            return _unchanged(current)
        parsed = parse_catalog(data)
        with transaction.atomic():
            with connection.cursor() as cur:
                # One load at a time: keel_setup and load_model_catalog may run together.
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('keel:catalog-load'))")
            current = CatalogRelease.objects.filter(is_current=True).first()
            if current is not None and current.sha256 == sha256:
                return _unchanged(current)  # another process loaded it while we waited
            result = _apply(parsed, path=path, sha256=sha256, loaded_by=loaded_by)
    return result


def _apply(parsed: ParsedCatalog, *, path: Path, sha256: str, loaded_by: str) -> CatalogLoadResult:
    rows = {row["key"]: row for row in parsed.rows}
    stored = {values["key"]: values for values in ModelPrice.objects.values("key", *COMPARED_FIELDS)}
    added = sorted(rows.keys() - stored.keys())
    removed = sorted(stored.keys() - rows.keys())
    changed = sorted(
        key
        for key in rows.keys() & stored.keys()
        if any(rows[key][field] != stored[key][field] for field in COMPARED_FIELDS)
    )
    CatalogRelease.objects.filter(is_current=True).update(is_current=False)
    # A file loaded before (then replaced) keeps its row: sha256 is unique, so it becomes current again.
    release, _ = CatalogRelease.objects.update_or_create(
        sha256=sha256,
        defaults={
            "source": path.name[:300],
            "entry_count": len(rows),
            "skipped_fields": parsed.skipped_fields,
            "loaded_at": timezone.now(),
            "loaded_by": loaded_by[:254],
            "is_current": True,
        },
    )
    # Only new and changed entries are written, so each entry's release and updated_at say when it last
    # changed; one INSERT … ON CONFLICT per 1,000 rows.
    ModelPrice.objects.bulk_create(
        [ModelPrice(release=release, **rows[key]) for key in (*added, *changed)],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=[*COMPARED_FIELDS, "release", "updated_at"],
    )
    if removed:
        ModelPrice.objects.filter(key__in=removed).delete()
    result = CatalogLoadResult(
        unchanged=False,
        sha256=sha256,
        entries=len(rows),
        added=len(added),
        changed=len(changed),
        removed=len(removed),
        skipped_entries=parsed.skipped_entries,
        skipped_fields=parsed.skipped_fields,
        rounded_prices=parsed.rounded_prices,
        added_keys=tuple(added[:EXAMPLES]),
        changed_keys=tuple(changed[:EXAMPLES]),
        removed_keys=tuple(removed[:EXAMPLES]),
    )
    # One event per load, with counts: the entries themselves are in the file named by its sha256.
    audit_record(
        action="catalog.load",
        target=release,
        after={
            "source": release.source,
            "sha256": sha256,
            "entries": result.entries,
            "added": result.added,
            "changed": result.changed,
            "removed": result.removed,
            "skipped_entries": result.skipped_entries,
            "skipped_fields": result.skipped_fields,
            "rounded_prices": result.rounded_prices,
        },
    )
    return result


def catalog_load_bundled(*, loaded_by: str = "keel_setup") -> CatalogLoadResult:
    """The copy of LiteLLM's catalog shipped in apps/catalog/data/."""
    return catalog_load(path=BUNDLED_CATALOG, loaded_by=loaded_by)
