"""Load a model price catalog file (LiteLLM's format, its own key names) into the shared catalog tables."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction
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


class CatalogError(Exception):
    """The file cannot be used as a catalog; nothing stored was changed."""


@dataclass(frozen=True)
class CatalogLoadResult:
    unchanged: bool
    entries: int
    added: int
    removed: int
    skipped_fields: int
    sha256: str


def _price(value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        price = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        return None
    return price if price.is_finite() and price >= 0 else None


def _tokens(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal) and value == int(value) and 0 <= value < 2**31:
        return int(value)
    return None


def _date(value) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _jsonable(value):
    """Keep the raw entry without ever turning a price into a float."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def parse_catalog(data: bytes) -> tuple[list[dict], int]:
    """(rows for ModelPrice, number of fields that were present but unusable)."""
    if len(data) > MAX_FILE_BYTES:
        raise CatalogError(f"The catalog file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    try:
        document = json.loads(data.decode("utf-8-sig"), parse_float=Decimal)
    except UnicodeDecodeError as exc:
        raise CatalogError("The catalog file is not UTF-8 text.") from exc
    except json.JSONDecodeError as exc:
        raise CatalogError(f"The catalog file is not valid JSON (line {exc.lineno}, column {exc.colno}).") from exc
    if not isinstance(document, dict):
        raise CatalogError("The catalog must be a JSON object of model keys to their details.")
    rows, skipped = [], 0
    for key, entry in document.items():
        if key in DOCUMENTATION_KEYS or not isinstance(entry, dict) or not key.strip() or len(key) > 300:
            skipped += key not in DOCUMENTATION_KEYS
            continue
        row = {"key": key, "raw": _jsonable(entry)}
        row["litellm_provider"] = str(entry.get("litellm_provider") or "")[:100]
        row["mode"] = str(entry.get("mode") or "")[:40]
        for field in PRICE_FIELDS:
            row[field] = _price(entry.get(field))
            skipped += entry.get(field) is not None and row[field] is None
        for field in TOKEN_FIELDS:
            row[field] = _tokens(entry.get(field))
            skipped += entry.get(field) is not None and row[field] is None
        row["deprecation_date"] = _date(entry.get("deprecation_date"))
        skipped += entry.get("deprecation_date") is not None and row["deprecation_date"] is None
        source = entry.get("source")
        row["source"] = source if isinstance(source, str) and source.startswith("http") and len(source) <= 500 else ""
        rows.append(row)
    if not rows:
        raise CatalogError("The catalog file has no model entries.")
    return rows, skipped


def catalog_load(*, path: Path, loaded_by: str = "") -> CatalogLoadResult:
    """Load a catalog file. Idempotent: the current file again changes nothing. Entries gone from the new file are
    removed; all in one transaction, so a bad file leaves the old catalog whole."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CatalogError(f"Cannot read the catalog file: {exc.strerror or exc}.") from exc
    sha256 = hashlib.sha256(data).hexdigest()
    with schema_context("public"):
        current = CatalogRelease.objects.filter(is_current=True).first()
        if current is not None and current.sha256 == sha256:
            return CatalogLoadResult(True, current.entry_count, 0, 0, current.skipped_fields, sha256)
        rows, skipped = parse_catalog(data)
        with transaction.atomic():
            CatalogRelease.objects.filter(is_current=True).update(is_current=False)
            release, _ = CatalogRelease.objects.update_or_create(
                sha256=sha256,
                defaults={
                    "source": Path(path).name[:300],
                    "entry_count": len(rows),
                    "skipped_fields": skipped,
                    "loaded_by": loaded_by[:254],
                    "is_current": True,
                },
            )
            before = set(ModelPrice.objects.values_list("key", flat=True))
            keys = {row["key"] for row in rows}
            update_fields = [name for name in rows[0] if name != "key"] + ["release"]
            ModelPrice.objects.bulk_create(
                [ModelPrice(release=release, **row) for row in rows],
                batch_size=1000,
                update_conflicts=True,
                unique_fields=["key"],
                update_fields=update_fields,
            )
            removed = ModelPrice.objects.exclude(key__in=keys).delete()[0] if before - keys else 0
            CatalogRelease.objects.exclude(pk=release.pk).filter(entries__isnull=True).delete()
            result = CatalogLoadResult(False, len(rows), len(keys - before), removed, skipped, sha256)
            audit_record(
                action="catalog.load",
                target=release,
                after={"source": release.source, "sha256": sha256, "entries": len(rows), "added": result.added}
                | {"removed": removed, "skipped_fields": skipped},
            )
    return result


def catalog_load_bundled(*, loaded_by: str = "keel_setup") -> CatalogLoadResult:
    return catalog_load(path=BUNDLED_CATALOG, loaded_by=loaded_by)
