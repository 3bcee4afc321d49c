"""Sources that Keel does not pull from a provider: FOCUS file uploads, and live usage events.

FOCUS files are mapped by apps.finops.focus.LEDGER_COLUMNS (the mapping table for every FOCUS version) and
loaded by apps.finops.ledger.load_focus_file. Usage events are booked as estimate rows by apps.finops.usage.
"""

from __future__ import annotations

import datetime as dt

from .base import ConnectionResult, Connector, ConnectorError, FetchResult, Window


class FocusUploadConnector(Connector):
    kind = "focus_upload"
    label = "FOCUS file upload"
    default_interval_minutes = 0

    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        return ConnectionResult(True, "Uploads need no connection: upload FOCUS CSV, CSV.gz or Parquet files.")

    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        # Never an empty fetch: booking nothing for a window would delete the uploaded rows in it.
        raise ConnectorError("Uploads are booked when a file is imported; there is nothing to pull.")


class UsageEventsConnector(Connector):
    kind = "usage_events"
    label = "Live usage events"
    default_interval_minutes = 5
    default_lookback_days = 2
    default_backfill_days = 400

    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        return ConnectionResult(True, "Events arrive through POST /api/v1/usage-events with an ingest-scoped key.")

    def run_window(self, source, window: Window) -> Window:
        """Events can arrive days late: reach back to the oldest one received since the last good run."""
        from ..models import UsageEvent

        if source.last_success_at is None:
            return window
        oldest = (
            UsageEvent.objects.filter(received_at__gte=source.last_success_at)
            .order_by("occurred_at")
            .values_list("occurred_at", flat=True)
            .first()
        )
        if oldest is None or oldest.date() >= window.start:
            return window
        return Window(start=oldest.astimezone(dt.UTC).date(), end=window.end)

    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        from ..usage import usage_ledger_rows

        return FetchResult(rows=usage_ledger_rows(window=window), details={"kind": "usage events"})
