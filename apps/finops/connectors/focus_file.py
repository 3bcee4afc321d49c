"""Sources that Keel does not pull from a provider: FOCUS file uploads, and live usage events.

FOCUS files are mapped by apps.finops.focus.LEDGER_COLUMNS (the mapping table for every FOCUS version) and
loaded by apps.finops.ledger.load_focus_file. Usage events are booked as estimate rows by apps.finops.usage.
"""

from __future__ import annotations

from .base import ConnectionResult, Connector, FetchResult, Window


class FocusUploadConnector(Connector):
    kind = "focus_upload"
    label = "FOCUS file upload"
    default_interval_minutes = 0

    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        return ConnectionResult(True, "Uploads need no connection: upload FOCUS CSV, CSV.gz or Parquet files.")

    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        return FetchResult(rows=(), details={"note": "Uploads are booked when a file is committed."})


class UsageEventsConnector(Connector):
    kind = "usage_events"
    label = "Live usage events"
    default_interval_minutes = 5
    default_lookback_days = 2
    default_backfill_days = 400

    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        return ConnectionResult(True, "Events arrive through POST /api/v1/usage-events with an ingest-scoped key.")

    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        from ..usage import usage_ledger_rows

        return FetchResult(rows=usage_ledger_rows(window=window), details={"kind": "usage events"})
