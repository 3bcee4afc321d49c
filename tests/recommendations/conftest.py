"""Recommendations fixtures: a small price catalog with exact prices, ledger rows booked through the real path
(load_rows + the after-booking rollup), usage events, and a fixed refresh day so every window is known.

AS_OF is 1 Dec 2026: the window is the 30 UTC days 1–30 Nov 2026."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

AS_OF = dt.date(2026, 12, 1)
WINDOW = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(30)]
D = Decimal

# key → (litellm_provider, input, cache read, output, deprecation date) in USD per token
PRICES = {
    "gpt-4o": ("openai", "0.0000025", "0.00000125", "0.00001", None),
    "gpt-4o-2024-08-06": ("openai", "0.0000025", "0.00000125", "0.00001", "2027-01-14"),
    "gpt-4o-mini": ("openai", "0.00000015", "0.000000075", "0.0000006", None),
    "gpt-4.1": ("openai", "0.000002", "0.0000005", "0.000008", None),
    "gpt-4.1-mini": ("openai", "0.0000004", "0.0000001", "0.0000016", None),
    "gpt-4.1-nano": ("openai", "0.0000001", "0.000000025", "0.0000004", "2026-10-23"),
    "gpt-5-nano": ("openai", "0.00000005", "0.000000005", "0.0000004", "2026-12-11"),
    "claude-opus-4-5-20251101": ("anthropic", "0.000005", "0.0000005", "0.000025", None),
    "claude-sonnet-4-5": ("anthropic", "0.000003", "0.0000003", "0.000015", "2026-11-30"),
    "claude-sonnet-4-6": ("anthropic", "0.000003", "0.0000003", "0.000015", None),
    "claude-haiku-4-5": ("anthropic", "0.000001", "0.0000001", "0.000005", None),
    "groq/openai/gpt-oss-20b": ("groq", "0.000000075", "0.0000000375", "0.0000003", None),
}


@pytest.fixture
def catalog(db):
    """The prices above as the current catalog (public schema), nothing else."""
    from apps.catalog.models import CatalogRelease, ModelPrice

    with schema_context("public"):
        CatalogRelease.objects.filter(is_current=True).update(is_current=False)
        release = CatalogRelease.objects.create(
            source="test", sha256="f" * 64, entry_count=len(PRICES), is_current=True
        )
        for key, (provider, inp, cache, out, deprecated) in PRICES.items():
            ModelPrice.objects.create(
                key=key,
                litellm_provider=provider,
                mode="chat",
                input_cost_per_token=D(inp),
                cache_read_input_token_cost=D(cache),
                output_cost_per_token=D(out),
                deprecation_date=dt.date.fromisoformat(deprecated) if deprecated else None,
                release=release,
            )
    return PRICES


@pytest.fixture
def settings_row(in_alpha):
    """The client's settings with no minimum saving, so small hand-made figures are listed."""
    from apps.recommendations.services import settings_get

    row = settings_get()
    row.min_monthly_saving = D(0)
    row.save()
    return row


@pytest.fixture
def source(in_alpha):
    from apps.finops.models import BillingSource

    return BillingSource.objects.create(name="Test bill", kind="focus_upload")


def book(source, rows, *, start: dt.date = WINDOW[0] - dt.timedelta(days=62), end: dt.date = AS_OF):
    """Book rows for [start, end) the way a connector run does, rollup included."""
    from apps.finops.ledger import ChargeWindow, load_rows
    from apps.finops.models import IngestionRun
    from apps.finops.services import _after_booking

    run = IngestionRun.objects.create(source=source, window_start=start, window_end=end)
    window = ChargeWindow(dt.datetime.combine(start, dt.time(), dt.UTC), dt.datetime.combine(end, dt.time(), dt.UTC))
    result = load_rows(source_id=source.pk, run_id=run.pk, rows=rows, scope=window)
    run.rows_loaded, run.rows_replaced = result.rows_loaded, result.rows_replaced
    run.status = IngestionRun.Status.SUCCEEDED
    run.save()
    _after_booking(source, run)
    return run


def row(day: dt.date, cost: str, **values) -> dict:
    """One ledger row charged on `day` (USD, Usage, OpenAI API unless told otherwise)."""
    from apps.finops.focus import day_bounds, ledger_row, month_bounds

    start, end = day_bounds(day)
    period_start, period_end = month_bounds(start)
    base = dict(
        billing_account_id="acct-1",
        billing_currency="USD",
        billing_period_start=period_start,
        billing_period_end=period_end,
        charge_period_start=start,
        charge_period_end=end,
        charge_category="Usage",
        billed_cost=D(cost),
        effective_cost=D(cost),
        list_cost=D(cost),
        provider_name="OpenAI",
        service_name="OpenAI API",
        service_category="AI and Machine Learning",
    )
    return ledger_row(**{**base, **values})


def tokens_row(
    day,
    *,
    model: str,
    uncached: int,
    cached: int = 0,
    output: int = 0,
    requests: int | None = None,
    cost: str = "1.00",
    provider: str = "OpenAI",
    sub_account: str = "proj_a",
    **values,
) -> dict:
    return row(
        day,
        cost,
        provider_name=provider,
        service_name=f"{provider} API",
        x_model=model,
        x_input_tokens=uncached,
        x_cached_tokens=cached,
        x_output_tokens=output,
        x_requests=requests,
        sub_account_id=sub_account,
        **values,
    )


def events(
    n: int,
    *,
    model: str,
    input_tokens: int,
    output_tokens: int = 0,
    cached: int = 0,
    agent: str = "bot",
    provider: str = "openai",
    day: dt.date = WINDOW[10],
    prompt_hash: str = "",
    cost: str | None = None,
    prefix: str = "e",
    **attributes,
) -> None:
    """n usage events on `day` (spread over its hours), stored as the ingest service stores them."""
    from apps.finops.models import UsageEvent

    base = dt.datetime.combine(day, dt.time(8), dt.UTC)
    UsageEvent.objects.bulk_create(
        UsageEvent(
            request_id=f"{prefix}-{model}-{day}-{input_tokens}-{i}",
            occurred_at=base + dt.timedelta(seconds=i),
            provider=provider,
            model=model,
            input_tokens=input_tokens,
            cached_tokens=cached,
            output_tokens=output_tokens,
            agent=agent,
            prompt_hash=prompt_hash,
            cost=D(cost) if cost is not None else None,
            attributes=attributes,
        )
        for i in range(n)
    )


def refresh(as_of: dt.date = AS_OF):
    from apps.recommendations.services import recommendations_refresh

    result = recommendations_refresh(as_of=as_of)
    assert result.errors == []
    return result
