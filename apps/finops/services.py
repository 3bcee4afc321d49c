"""Billing sources and ingestion runs: create, test, run, and book what a run brings back."""

from __future__ import annotations

import datetime as dt
import json
import logging
import zlib
from contextlib import contextmanager
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.audit.services import audit_record, snapshot, snapshot_stored
from apps.core.context import current_actor
from apps.core.tasks import TransientError

from .connectors import connector_for
from .connectors.base import ConnectionResult, ConnectorError, CredentialsRejected, FetchResult, Throttled, Window
from .ledger import BILLING_PERIODS, ChargeWindow, LedgerError, LoadResult, load_focus_file, load_rows
from .models import BillingSource, IngestionRun, SourceKind

logger = logging.getLogger(__name__)

SOURCE_FIELDS = [
    "name",
    "kind",
    "settings",
    "enabled",
    "interval_minutes",
    "lookback_days",
    "backfill_days",
    "credentials_hint",
]
MIN_INTERVAL_MINUTES = 5
ALERT_KIND = "ingestion"


# --- billing sources -------------------------------------------------------------------------------------


def _clean_settings(kind: str, settings: dict) -> dict:
    connector = connector_for(kind)
    allowed = {f.name: f for f in connector.settings_fields}
    settings = {k: (v.strip() if isinstance(v, str) else v) for k, v in (settings or {}).items()}
    errors = {}
    unknown = set(settings) - set(allowed)
    if unknown:
        errors["settings"] = f"Unknown settings for {connector.label}: {', '.join(sorted(unknown))}."
    for spec in connector.settings_fields:
        value = settings.get(spec.name, spec.default)
        if spec.required and value in ("", None):
            errors[f"settings.{spec.name}"] = f"{spec.label} is required."
        if spec.choices and value not in ("", None) and value not in {c for c, _ in spec.choices}:
            errors[f"settings.{spec.name}"] = f"{spec.label} must be one of {', '.join(c for c, _ in spec.choices)}."
        settings[spec.name] = value
    if not errors:
        errors = {f"settings.{name}": message for name, message in connector.validate_settings(settings).items()}
    if errors:
        raise ValidationError(errors)
    return settings


def _clean_secrets(kind: str, secrets: dict | None, *, existing: dict | None) -> dict:
    connector = connector_for(kind)
    allowed = {f.name for f in connector.secret_fields}
    given = {k: v.strip() for k, v in (secrets or {}).items() if isinstance(v, str) and v.strip()}
    unknown = set(given) - allowed
    if unknown:
        raise ValidationError(
            {"credentials": f"Unknown credentials for {connector.label}: {', '.join(sorted(unknown))}."}
        )
    merged = {**(existing or {}), **given}  # blank fields on an edit keep the stored secret
    missing = [f.label for f in connector.secret_fields if f.required and not merged.get(f.name)]
    if missing:
        raise ValidationError({"credentials": f"Missing: {', '.join(missing)}."})
    return merged


def source_secrets(source: BillingSource) -> dict:
    """Decrypted secrets, for connectors only. Never logged, never returned by the API or the portal."""
    if not source.credentials:
        return {}
    return json.loads(source.credentials)


def billing_source_save(
    *,
    source: BillingSource | None = None,
    kind: str | None = None,
    secrets: dict | None = None,
    **fields,
) -> BillingSource:
    """Create or change a billing source. Secrets are merged (blank keeps the stored one), encrypted, audited
    only as 'changed'. Changing the schedule takes effect at the next dispatch."""
    unknown = set(fields) - set(SOURCE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown billing source fields: {', '.join(sorted(unknown))}.")
    if source is None:
        if kind not in SourceKind.values:
            raise ValidationError({"kind": f"Unknown source kind {kind!r}."})
        connector = connector_for(kind)
        source = BillingSource(
            kind=kind,
            interval_minutes=connector.default_interval_minutes,
            lookback_days=connector.default_lookback_days,
            backfill_days=connector.default_backfill_days,
        )
        before = None
    else:
        if kind is not None and kind != source.kind:
            raise ValidationError({"kind": "A source's kind cannot change; add a new source instead."})
        before = snapshot_stored(source, SOURCE_FIELDS)
    fields.pop("credentials_hint", None)
    fields.pop("kind", None)
    for key, value in fields.items():
        setattr(source, key, value.strip() if isinstance(value, str) else value)
    source.settings = _clean_settings(source.kind, source.settings)
    existing = source_secrets(source) if source.pk else None
    merged = _clean_secrets(source.kind, secrets, existing=existing)
    secrets_changed = merged != (existing or {})
    source.credentials = json.dumps(merged, sort_keys=True) if merged else ""
    source.credentials_hint = connector_for(source.kind).credentials_hint(merged)[:80]
    if source.is_pull and source.interval_minutes < MIN_INTERVAL_MINUTES:
        raise ValidationError({"interval_minutes": f"Runs can be at most every {MIN_INTERVAL_MINUTES} minutes."})
    if secrets_changed and source.status == BillingSource.Status.CREDENTIALS:
        source.status, source.status_message = BillingSource.Status.NEW, "New credentials: waiting for the next run."
    source.full_clean(exclude=["credentials"], validate_constraints=False)
    if BillingSource.objects.exclude(pk=source.pk).filter(name__iexact=source.name).exists():
        raise ValidationError({"name": "A billing source with this name already exists."})
    if source.next_run_at is None and source.is_pull and source.enabled:
        source.next_run_at = timezone.now()
    try:
        with transaction.atomic():
            source.save()
            after = snapshot(source, SOURCE_FIELDS) | {"credentials": "changed" if secrets_changed else "unchanged"}
            audit_record(
                action="billing_source.update" if before else "billing_source.create",
                target=source,
                before=before,
                after=after,
            )
    except IntegrityError as exc:
        raise ValidationError({"name": "A billing source with this name already exists."}) from exc
    return source


def billing_source_delete(*, source: BillingSource) -> None:
    """Remove a source and every cost it booked (its ledger rows go with it)."""
    with transaction.atomic():
        audit_record(action="billing_source.delete", target=source, before=snapshot(source, SOURCE_FIELDS))
        source.delete()


def billing_source_test(*, source: BillingSource) -> ConnectionResult:
    """Ask the provider whether the credentials and settings work; the answer is stored and shown."""
    connector = connector_for(source.kind)
    try:
        result = connector.test_connection(source, source_secrets(source))
    except CredentialsRejected as exc:
        result = ConnectionResult(False, f"Credentials rejected: {exc}")
    except Throttled as exc:
        result = ConnectionResult(False, f"The provider is throttling requests; try again shortly ({exc}).")
    except (ConnectorError, TransientError) as exc:
        result = ConnectionResult(False, str(exc))
    except Exception as exc:  # a connection test never raises into a page
        logger.exception("connection test of source %s failed", source.pk)
        result = ConnectionResult(False, f"The test could not run: {exc.__class__.__name__}.")
    source.last_tested_at = timezone.now()
    source.last_test_ok = result.ok
    source.last_test_message = result.message[:2000]
    source.save(update_fields=["last_tested_at", "last_test_ok", "last_test_message", "updated_at"])
    audit_record(action="billing_source.test", target=source, after={"ok": result.ok, "message": result.message})
    return result


# --- runs ---------------------------------------------------------------------------------------------


def run_window(source: BillingSource, *, today: dt.date | None = None) -> Window:
    """First run: backfill; later runs: the trailing lookback window (restated days are re-read)."""
    today = today or timezone.now().astimezone(dt.UTC).date()
    days = source.lookback_days if source.last_success_at else source.backfill_days
    return Window(start=today - dt.timedelta(days=max(days, 1)), end=today + dt.timedelta(days=1))


def _actor_label() -> str:
    actor = current_actor()
    return actor.user_email or (f"API key {actor.api_key_prefix}" if actor.api_key_prefix else actor.source)


def _open_run(source: BillingSource, *, trigger: str, window: Window | None) -> IngestionRun:
    """A retry continues the run it retries (attempt + 1), so one pull is one record with its retry count."""
    retrying = source.runs.filter(status=IngestionRun.Status.RETRYING).order_by("-started_at").first()
    if retrying is not None and trigger == IngestionRun.Trigger.SCHEDULE:
        retrying.status = IngestionRun.Status.RUNNING
        retrying.attempt += 1
        retrying.save(update_fields=["status", "attempt"])
        return retrying
    return IngestionRun.objects.create(
        source=source,
        trigger=trigger,
        window_start=window.start if window else None,
        window_end=window.end if window else None,
        started_by=_actor_label(),
    )


def _finish_run(run: IngestionRun, *, status: str, error: str = "", error_kind: str = "", result=None) -> None:
    run.status = status
    run.finished_at = timezone.now()
    run.error = error[:4000]
    run.error_kind = error_kind
    if result is not None:
        run.rows_loaded = result.rows_loaded
        run.rows_replaced = result.rows_replaced
        run.totals = result.totals
        loaded = result.as_details()
        loaded["warnings"] = [*run.details.get("warnings", []), *loaded["warnings"]]
        run.details = {**run.details, **loaded}
    run.save()


def _source_after_run(source: BillingSource, *, status: str, message: str, success: bool) -> None:
    now = timezone.now()
    source.status, source.status_message, source.last_run_at = status, message[:2000], now
    if success:
        source.last_success_at = now
        source.consecutive_failures = 0
    elif status != BillingSource.Status.RETRYING:
        source.consecutive_failures += 1
    source.save(
        update_fields=[
            "status",
            "status_message",
            "last_run_at",
            "last_success_at",
            "consecutive_failures",
            "updated_at",
        ]
    )


def _alert_failure(source: BillingSource, *, severity: str, subject: str, body: str) -> None:
    from apps.alerts.services import alert_raise

    alert_raise(
        kind=ALERT_KIND,
        severity=severity,
        subject=subject,
        body=body,
        dedup_key=f"ingestion:{source.pk}",
        link=f"/finops/sources/{source.pk}/",
        data={"source_id": source.pk, "source": source.name, "kind": source.kind},
    )


def _resolve_failure_alert(source: BillingSource) -> None:
    from apps.alerts.services import alert_resolve_condition

    alert_resolve_condition(dedup_key=f"ingestion:{source.pk}", note=f"{source.name} ingested successfully again.")


def book_fetch(*, source: BillingSource, run: IngestionRun, fetched: FetchResult, window: Window) -> LoadResult:
    """Load what a connector fetched: rows through COPY, export files through the file loader."""
    if fetched.files:
        # An export splits a period over several files: book them all or none (one transaction).
        # Each file's totals are the run's so far, so the last one holds them all; replaced rows add up.
        replaced, warnings, last = 0, [], LoadResult()
        with transaction.atomic():
            for path in fetched.files:
                last = load_focus_file(source_id=source.pk, run_id=run.pk, path=Path(path))
                replaced += last.rows_replaced
                warnings += last.warnings
        last.rows_replaced, last.warnings = replaced, warnings
        last.file = {"files": len(fetched.files)}
        return last
    scope = BILLING_PERIODS if fetched.scope == "billing_periods" else ChargeWindow(window.start_at, window.end_at)
    return load_rows(source_id=source.pk, run_id=run.pk, rows=fetched.rows, scope=scope)


@contextmanager
def _source_lock(source: BillingSource, *, wait: bool = False):
    """One run per source at a time, whoever starts it (schedule, Run now, a retry): a session advisory lock."""
    key = zlib.crc32(f"{connection.schema_name}:finops-source:{source.pk}".encode()) - 2**31
    with connection.cursor() as cur:
        if wait:
            cur.execute("SELECT pg_advisory_lock(%s), true", [key])
        else:
            cur.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cur.fetchone()[-1])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [key])


def ingestion_run_execute(
    *,
    source: BillingSource,
    trigger: str = IngestionRun.Trigger.SCHEDULE,
    window: Window | None = None,
    wait: bool = False,
) -> IngestionRun:
    """Pull one source for its window and book the result. Raises TransientError (for the task to retry)
    after recording it; every other failure is recorded on the run and the source and raised as an alert.
    A source that is already running gets a 'skipped' run instead of a second, concurrent pull."""
    with _source_lock(source, wait=wait) as acquired:
        if not acquired:
            return IngestionRun.objects.create(
                source=source,
                trigger=trigger,
                status=IngestionRun.Status.SKIPPED,
                finished_at=timezone.now(),
                error="Another run of this source was still in progress.",
                started_by=_actor_label(),
            )
        return _execute(source=source, trigger=trigger, window=window)


def _execute(*, source: BillingSource, trigger: str, window: Window | None) -> IngestionRun:
    if not source.is_pull:
        raise ValidationError("Uploads are booked when a file is imported; this source is never pulled.")
    connector = connector_for(source.kind)
    run = _open_run(source, trigger=trigger, window=window or run_window(source))
    if window is None and run.window_start and run.window_end:
        window = Window(run.window_start, run.window_end)  # a retry re-reads what the first attempt asked for
    window = connector.run_window(source, window or run_window(source))
    if (run.window_start, run.window_end) != (window.start, window.end):
        run.window_start, run.window_end = window.start, window.end
        run.save(update_fields=["window_start", "window_end"])
    try:
        fetched = connector.fetch(source, source_secrets(source), window)
        run.details = {**run.details, **fetched.details}
        try:
            result = book_fetch(source=source, run=run, fetched=fetched, window=window)
        finally:
            if fetched.cleanup is not None:
                fetched.cleanup()
    except CredentialsRejected as exc:
        message = f"The provider rejected the credentials: {exc}"
        _finish_run(
            run, status=IngestionRun.Status.FAILED, error=message, error_kind=IngestionRun.ErrorKind.CREDENTIALS
        )
        _source_after_run(source, status=BillingSource.Status.CREDENTIALS, message=message, success=False)
        _alert_failure(
            source,
            severity="high",
            subject=f"{source.name}: credentials rejected, ingestion stopped",
            body=f"{message}\nUpdate the credentials on the billing source, then run it again.",
        )
        return run
    except TransientError as exc:
        kind = IngestionRun.ErrorKind.THROTTLED if isinstance(exc, Throttled) else IngestionRun.ErrorKind.PROVIDER
        _finish_run(run, status=IngestionRun.Status.RETRYING, error=str(exc), error_kind=kind)
        _source_after_run(source, status=BillingSource.Status.RETRYING, message=str(exc), success=False)
        raise
    except (ConnectorError, LedgerError) as exc:
        kind = IngestionRun.ErrorKind.DATA if isinstance(exc, LedgerError) else IngestionRun.ErrorKind.PROVIDER
        _record_failure(source, run, message=str(exc), error_kind=kind)
        return run
    except Exception as exc:
        logger.exception("ingestion of source %s failed", source.pk)
        _record_failure(
            source,
            run,
            message=f"Keel could not finish this run ({exc.__class__.__name__}: {str(exc)[:300]}). "
            "Nothing already stored was changed.",
            error_kind=IngestionRun.ErrorKind.INTERNAL,
        )
        return run
    _finish_run(run, status=IngestionRun.Status.SUCCEEDED, result=result)
    message = f"{result.rows_loaded:,} rows booked" + (
        f", {result.rows_replaced:,} replaced" if result.rows_replaced else ""
    )
    _source_after_run(source, status=BillingSource.Status.OK, message=message, success=True)
    _resolve_failure_alert(source)
    _after_booking(source, run)
    return run


def _record_failure(source: BillingSource, run: IngestionRun, *, message: str, error_kind: str) -> None:
    _finish_run(run, status=IngestionRun.Status.FAILED, error=message, error_kind=error_kind)
    _source_after_run(source, status=BillingSource.Status.FAILING, message=message, success=False)
    _alert_failure(
        source,
        severity="medium" if source.consecutive_failures < 3 else "high",
        subject=f"{source.name}: ingestion failed",
        body=message,
    )


def ingestion_run_gave_up(*, source: BillingSource, error: str) -> None:
    """The task ran out of retries on a transient error: the run becomes a failure people see."""
    run = source.runs.filter(status=IngestionRun.Status.RETRYING).order_by("-started_at").first()
    if run is None:
        return
    _record_failure(source, run, message=f"{error} — gave up after {run.attempt} retries.", error_kind=run.error_kind)


def _after_booking(source: BillingSource, run: IngestionRun) -> None:
    """What follows every booking: allocate the new rows, roll the touched days up, reconcile usage estimates,
    then let the other FinOps capabilities react (budgets, anomalies, shadow AI…) through booking_listeners."""
    from . import usage
    from .allocation import Scope, allocation_apply
    from .rollups import booked_day_range, rollup_refresh

    days = booked_day_range(run)
    if run.rows_loaded:
        allocation_apply(Scope(run_id=run.pk))
    if days is not None:
        rollup_refresh(source_id=source.pk, start=days[0], end=days[1])
    usage.reconcile_after_booking(source=source, run=run)
    if days is not None:
        for listener in BOOKING_LISTENERS:
            listener(source=source, start=days[0], end=days[1])


# Callables (source=, start=, end=) run after a booking has been allocated and rolled up, for the UTC days
# [start, end) it touched. Other apps register in their AppConfig.ready(); a failing listener is logged and
# never undoes the booking.
BOOKING_LISTENERS: list = []


def booking_listener(func):
    """Register func to run after every booking (see BOOKING_LISTENERS)."""

    def safe(**kwargs):
        try:
            func(**kwargs)
        except Exception:
            logger.exception("booking listener %s failed", func.__qualname__)

    safe.__qualname__ = func.__qualname__
    BOOKING_LISTENERS.append(safe)
    return func


def sources_due(*, now: dt.datetime | None = None):
    now = now or timezone.now()
    return BillingSource.objects.filter(enabled=True, next_run_at__lte=now).exclude(kind__in=[SourceKind.FOCUS_UPLOAD])


def source_claim_next_run(*, source: BillingSource, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    BillingSource.objects.filter(pk=source.pk).update(next_run_at=now + dt.timedelta(minutes=source.interval_minutes))


# --- uploads ------------------------------------------------------------------------------------------


def focus_upload_preview(*, path: Path, defaults: dict | None = None) -> LoadResult:
    """Everything the upload would book — columns, rows, totals — computed by a load that is rolled back
    (even the upload source, on a client's first upload, is created only inside it)."""
    with transaction.atomic():
        upload_source = focus_upload_source()
        run = IngestionRun.objects.create(source=upload_source, trigger=IngestionRun.Trigger.UPLOAD)
        result = load_focus_file(source_id=upload_source.pk, run_id=run.pk, path=path, dry_run=True, defaults=defaults)
        transaction.set_rollback(True)
    return result


def focus_upload_commit(
    *, path: Path, filename: str, source: BillingSource | None = None, defaults: dict | None = None
) -> IngestionRun:
    """Book an uploaded FOCUS file; the run records the file's name, format and columns."""
    source = source or focus_upload_source()
    run = IngestionRun.objects.create(
        source=source, trigger=IngestionRun.Trigger.UPLOAD, started_by=_actor_label(), details={"filename": filename}
    )
    try:
        result = load_focus_file(source_id=source.pk, run_id=run.pk, path=path, defaults=defaults)
    except LedgerError as exc:
        _finish_run(run, status=IngestionRun.Status.FAILED, error=str(exc), error_kind=IngestionRun.ErrorKind.DATA)
        raise
    _finish_run(run, status=IngestionRun.Status.SUCCEEDED, result=result)
    _source_after_run(
        source, status=BillingSource.Status.OK, message=f"{filename}: {result.rows_loaded:,} rows", success=True
    )
    audit_record(
        action="focus_file.import",
        target=run,
        after={"filename": filename, "rows": result.rows_loaded, "totals": result.totals, "periods": result.periods},
    )
    _after_booking(source, run)
    return run


UPLOAD_DIR = "finops-uploads"
UPLOAD_MAX_AGE = dt.timedelta(days=1)


def focus_uploads_prune(*, now: dt.datetime | None = None) -> int:
    """Remove previewed files that were never imported (they wait at most a day for their import)."""
    from django.core.files.storage import default_storage

    cutoff = (now or timezone.now()) - UPLOAD_MAX_AGE
    removed = 0
    try:
        _dirs, files = default_storage.listdir(UPLOAD_DIR)
    except FileNotFoundError:
        return 0
    for name in files:
        path = f"{UPLOAD_DIR}/{name}"
        if default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)
            removed += 1
    return removed


def focus_upload_source() -> BillingSource:
    """The client's upload source (one, made on first use)."""
    source = BillingSource.objects.filter(kind=SourceKind.FOCUS_UPLOAD).order_by("pk").first()
    return source or billing_source_save(kind=SourceKind.FOCUS_UPLOAD, name="FOCUS file uploads", settings={})


def usage_events_source() -> BillingSource:
    """The system source that books live usage events as estimates (one, made on first use)."""
    source = BillingSource.objects.filter(kind=SourceKind.USAGE_EVENTS).order_by("pk").first()
    if source is None:
        source = billing_source_save(kind=SourceKind.USAGE_EVENTS, name="Live usage events", settings={})
    return source
