"""The ingestion service and schedule with a connector whose answers the test decides: runs are recorded,
failures are classified, retries continue the same run, one source never runs twice, and a crash in the
middle of a swap changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from apps.alerts.models import Alert
from apps.audit.models import AuditEvent
from apps.core.tasks import TransientError
from apps.finops import connectors, ledger
from apps.finops.connectors.base import (
    ConnectionResult,
    Connector,
    ConnectorError,
    CredentialsRejected,
    FetchResult,
    FieldSpec,
    Throttled,
    Window,
)
from apps.finops.models import BillingSource, CostRecord, IngestionRun
from apps.finops.selectors import ledger_totals
from apps.finops.services import (
    billing_source_save,
    billing_source_test,
    ingestion_run_execute,
    ingestion_run_gave_up,
    run_window,
)
from apps.finops.tasks import dispatch_due_sources_task

from .conftest import openai_day_row

DAY = dt.date(2026, 11, 10)


class ScriptedConnector(Connector):
    """Answers each fetch with the next scripted item: an exception to raise or a list of (day, amount)."""

    kind = "openai"
    label = "Scripted"
    settings_fields = (FieldSpec("organisation", "Organisation", required=False),)
    secret_fields = (FieldSpec("api_key", "Admin key", secret=True),)
    default_interval_minutes = 15

    def __init__(self):
        self.script: list = []
        self.windows: list[Window] = []

    def test_connection(self, source, secrets):
        if secrets.get("api_key") == "bad":
            raise CredentialsRejected("invalid x-api-key")
        return ConnectionResult(True, "Connected.")

    def fetch(self, source, secrets, window):
        self.windows.append(window)
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return FetchResult(rows=(_row(day, amount) for day, amount in item), details={"pages": 1})


def _row(day: dt.date, amount: str) -> dict:
    return openai_day_row(day, amount)


@pytest.fixture
def scripted(monkeypatch):
    fake = ScriptedConnector()
    monkeypatch.setitem(connectors._cache, "openai", fake)
    return fake


@pytest.fixture
def source(in_alpha, scripted):
    return billing_source_save(
        kind="openai", name="OpenAI org", settings={}, secrets={"api_key": "sk-admin-abcdefghijkl1234"}
    )


WINDOW = Window(DAY, DAY + dt.timedelta(days=2))


def test_credentials_are_encrypted_hinted_and_never_audited(source):
    with connection.cursor() as cur:
        cur.execute("SELECT credentials FROM finops_billingsource WHERE id = %s", [source.pk])
        stored = cur.fetchone()[0]
    assert "sk-admin" not in stored and stored.startswith("gAAAA")  # Fernet token
    assert source.credentials_hint == "…1234"
    event = AuditEvent.objects.filter(action="billing_source.create").latest("seq")
    assert "sk-admin" not in str(event.after) and event.after["credentials"] == "changed"


def test_editing_without_secrets_keeps_them_and_unknown_settings_are_refused(source):
    billing_source_save(source=source, interval_minutes=30)
    source.refresh_from_db()
    assert "sk-admin-abcdefghijkl1234" in source.credentials and source.interval_minutes == 30
    with pytest.raises(ValidationError) as err:
        billing_source_save(source=source, settings={"bucket": "x"})
    assert "Unknown settings" in str(err.value)
    with pytest.raises(ValidationError):
        billing_source_save(kind="openai", name="No key", settings={}, secrets={})
    with pytest.raises(ValidationError):
        billing_source_save(source=source, interval_minutes=1)


def test_connection_test_records_a_clear_result(source):
    assert billing_source_test(source=source) == ConnectionResult(True, "Connected.")
    billing_source_save(source=source, secrets={"api_key": "bad"})
    result = billing_source_test(source=source)
    source.refresh_from_db()
    assert not result.ok and "Credentials rejected: invalid x-api-key" in result.message
    assert source.last_test_ok is False and source.last_test_message == result.message


def test_a_successful_run_is_recorded_with_totals(source, scripted):
    scripted.script = [[(DAY, "10.50"), (DAY + dt.timedelta(days=1), "0.25")]]
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.SUCCEEDED and run.rows_loaded == 2
    assert run.totals["USD"]["effective_cost"] == "10.750000000000"
    assert run.window_start == DAY and run.window_end == DAY + dt.timedelta(days=2)
    assert run.details["pages"] == 1 and run.details["periods"] == ["2026-11"]
    source.refresh_from_db()
    assert source.status == BillingSource.Status.OK and source.last_success_at is not None


def test_re_running_a_window_replaces_and_gives_the_same_totals(source, scripted):
    scripted.script = [[(DAY, "10.50"), (DAY, "1.00")], [(DAY, "10.50"), (DAY, "1.00")], [(DAY, "12.00")]]
    ingestion_run_execute(source=source, window=WINDOW)
    first = ledger_totals(source=source)
    second_run = ingestion_run_execute(source=source, window=WINDOW)
    assert ledger_totals(source=source) == first and first["USD"]["effective_cost"] == Decimal("11.5")
    assert second_run.rows_replaced == 2 and CostRecord.objects.filter(source=source).count() == 2
    ingestion_run_execute(source=source, window=WINDOW)  # a restated day
    assert ledger_totals(source=source)["USD"]["effective_cost"] == Decimal("12")


def test_rows_outside_the_window_are_refused(source, scripted):
    scripted.script = [[(DAY - dt.timedelta(days=5), "3.00")]]
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.FAILED and "outside the window" in run.error
    assert CostRecord.objects.filter(source=source).count() == 0


def test_credentials_rejected_fails_fast_with_an_alert(source, scripted):
    scripted.script = [CredentialsRejected("401 invalid api key")]
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.FAILED and run.error_kind == "credentials"
    source.refresh_from_db()
    assert source.status == BillingSource.Status.CREDENTIALS
    alert = Alert.objects.get(dedup_key=f"ingestion:{source.pk}")
    assert alert.severity == "high" and "credentials rejected" in alert.subject
    # New credentials clear the status; a good run resolves the alert.
    billing_source_save(source=source, secrets={"api_key": "sk-admin-new-key-000000"})
    source.refresh_from_db()
    assert source.status == BillingSource.Status.NEW
    scripted.script = [[(DAY, "1.00")]]
    ingestion_run_execute(source=source, window=WINDOW)
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_throttling_is_recorded_and_the_retry_continues_the_same_run(source, scripted):
    scripted.script = [Throttled("429 Too Many Requests", retry_after=42), [(DAY, "2.00")]]
    with pytest.raises(TransientError) as err:
        ingestion_run_execute(source=source, window=WINDOW)
    assert err.value.retry_after == 42
    (run,) = IngestionRun.objects.filter(source=source)
    assert run.status == IngestionRun.Status.RETRYING and run.error_kind == "throttled"
    retried = ingestion_run_execute(source=source, window=WINDOW)
    assert retried.pk == run.pk and retried.attempt == 1 and retried.status == IngestionRun.Status.SUCCEEDED


def test_retries_exhausted_turn_into_a_failure_with_an_alert(source, scripted):
    scripted.script = [Throttled("429", retry_after=5)]
    with pytest.raises(TransientError):
        ingestion_run_execute(source=source, window=WINDOW)
    ingestion_run_gave_up(source=source, error="429")
    run = IngestionRun.objects.get(source=source)
    assert run.status == IngestionRun.Status.FAILED and "gave up" in run.error
    assert Alert.objects.filter(dedup_key=f"ingestion:{source.pk}").exists()


def test_provider_errors_are_failures_in_plain_words_and_keep_stored_rows(source, scripted):
    scripted.script = [[(DAY, "5.00")], ConnectorError("Cost Explorer has no data for this period yet.")]
    ingestion_run_execute(source=source, window=WINDOW)
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.FAILED and run.error == "Cost Explorer has no data for this period yet."
    assert ledger_totals(source=source)["USD"]["effective_cost"] == Decimal("5")


def test_a_crash_in_the_middle_of_the_swap_changes_nothing(source, scripted, monkeypatch):
    scripted.script = [[(DAY, "5.00")], [(DAY, "7.00")]]
    ingestion_run_execute(source=source, window=WINDOW)

    def crash(*args, **kwargs):
        raise RuntimeError("server closed the connection unexpectedly")

    monkeypatch.setattr(ledger, "_swap", crash)
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.FAILED and run.error_kind == "internal"
    assert "Nothing already stored was changed" in run.error
    assert ledger_totals(source=source)["USD"]["effective_cost"] == Decimal("5")
    assert CostRecord.objects.filter(run=run).count() == 0


def test_a_source_already_running_is_skipped(source, scripted):
    key = __import__("zlib").crc32(f"{connection.schema_name}:finops-source:{source.pk}".encode()) - 2**31
    db = connection.settings_dict
    info = {"dbname": db["NAME"], "user": db["USER"] or "postgres", "autocommit": True}
    info |= {k: db[v] for k, v in (("host", "HOST"), ("port", "PORT")) if db.get(v)}
    with psycopg.connect(**info) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        run = ingestion_run_execute(source=source, window=WINDOW)
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    assert run.status == IngestionRun.Status.SKIPPED and scripted.windows == []


def test_the_first_run_backfills_and_later_runs_reread_the_trailing_window(source):
    assert run_window(source, today=DAY) == Window(DAY - dt.timedelta(days=90), DAY + dt.timedelta(days=1))
    source.last_success_at = timezone.now()
    assert run_window(source, today=DAY) == Window(DAY - dt.timedelta(days=3), DAY + dt.timedelta(days=1))


def test_the_dispatcher_runs_due_sources_once_and_moves_their_next_run(source, scripted):
    scripted.script = [[(timezone.now().date(), "1.00")]]
    BillingSource.objects.filter(pk=source.pk).update(next_run_at=timezone.now() - dt.timedelta(minutes=1))
    assert dispatch_due_sources_task.delay().get() == 1
    source.refresh_from_db()
    assert source.next_run_at > timezone.now() + dt.timedelta(minutes=14)
    assert IngestionRun.objects.get(source=source).status == IngestionRun.Status.SUCCEEDED
    assert dispatch_due_sources_task.delay().get() == 0  # not due again until its interval has passed


def test_disabled_sources_and_uploads_are_never_dispatched(source, scripted):
    from apps.finops.services import focus_upload_source

    focus_upload_source()
    billing_source_save(source=source, enabled=False)
    BillingSource.objects.update(next_run_at=timezone.now() - dt.timedelta(minutes=1))
    assert dispatch_due_sources_task.delay().get() == 0


def test_upload_sources_are_never_pulled_and_uploads_stay(in_alpha):
    from apps.finops.services import focus_upload_commit, focus_upload_source
    from apps.finops.tasks import ingest_source_task

    from .conftest import shared_file

    upload = focus_upload_source()
    focus_upload_commit(path=shared_file("focus_sample.csv"), filename="focus_sample.csv")
    before = ledger_totals(source=upload)
    with pytest.raises(ValidationError):
        ingestion_run_execute(source=upload)
    assert ingest_source_task.delay(upload.pk).get() == "source removed, disabled or not pulled"
    assert ledger_totals(source=upload) == before


def test_a_preview_writes_nothing_not_even_the_upload_source(in_alpha):
    from apps.finops.services import focus_upload_preview

    from .conftest import shared_file

    result = focus_upload_preview(path=shared_file("focus_sample.csv"))
    assert result.rows_loaded == 1000
    assert not BillingSource.objects.exists() and not CostRecord.objects.exists()


def test_abandoned_upload_files_are_pruned_after_a_day(settings, tmp_path):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from apps.finops.services import UPLOAD_DIR, focus_uploads_prune

    settings.MEDIA_ROOT = str(tmp_path)
    name = default_storage.save(f"{UPLOAD_DIR}/old.csv", ContentFile(b"x"))
    assert focus_uploads_prune() == 0
    assert focus_uploads_prune(now=timezone.now() + dt.timedelta(days=2)) == 1
    assert not default_storage.exists(name)
