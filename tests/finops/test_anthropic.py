"""The Anthropic connector against responses in the real Admin API's shape (HTTP mocked by `responses`):
paging, cents → dollars as exact Decimals, tokens on the right rows and never as money, and failures
through the ingestion service."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.db.models import Sum
from django_tenants.utils import schema_context

from apps.alerts.models import Alert
from apps.core.tasks import TransientError
from apps.finops.connectors import connector_for
from apps.finops.connectors.anthropic import from_minor_units
from apps.finops.connectors.base import Window
from apps.finops.models import BillingSource, CostRecord, IngestionRun
from apps.finops.selectors import ledger_totals
from apps.finops.services import billing_source_save, billing_source_test, ingestion_run_execute

FIXTURES = Path(__file__).parent / "fixtures" / "llm"
DAY = dt.date(2026, 11, 9)
WINDOW = Window(DAY, DAY + dt.timedelta(days=2))
COST_URL = "https://api.anthropic.com/v1/organizations/cost_report"
USAGE_URL = "https://api.anthropic.com/v1/organizations/usage_report/messages"
KEY = "sk-ant-admin01-Hq7TzW3mVx9RkP2sL8nB4cD6fG1jK5aE0yU"
PROD, DEV = "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ", "wrkspc_01Ab3DevXYZ0pQ8TlkMn4RsT"
SONNET, HAIKU = "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"
COST_PAGES = ("anthropic_cost_page1.json", "anthropic_cost_page2.json")
USAGE_PAGES = ("anthropic_usage_page1.json", "anthropic_usage_page2.json")
DAY1 = {"charge_period_start": dt.datetime(2026, 11, 9, tzinfo=dt.UTC)}


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def results(names):
    for name in names:
        for bucket in json.loads(fixture_text(name))["data"]:
            yield from bucket["results"]


def add(api, url: str, name: str | None = None, *, status: int = 200, body=None, headers=None):
    text = fixture_text(name) if name else json.dumps(body)
    api.add(responses.GET, url, body=text, status=status, content_type="application/json", headers=headers)


def mock_success(api):
    for name in COST_PAGES:
        add(api, COST_URL, name)
    for name in USAGE_PAGES:
        add(api, USAGE_URL, name)


def query(call) -> dict:
    return parse_qs(urlsplit(call.request.url).query)


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def source(in_alpha):
    return billing_source_save(kind="anthropic", name="Claude org", settings={}, secrets={"api_key": KEY})


def rows(source, **filters):
    return CostRecord.objects.filter(source=source, **filters)


def one(source, **filters) -> CostRecord:
    (row,) = rows(source, **filters)
    return row


# --- fetch, paging, mapping ---------------------------------------------------------------------------------


def test_cents_become_dollars_exactly():
    assert from_minor_units("123.45", "USD") == Decimal("1.2345") and str(from_minor_units("123.45", "USD")) == "1.2345"
    assert from_minor_units("123.78912", "USD") == Decimal("1.2378912")
    assert from_minor_units("0.3", "USD") == Decimal("0.003")
    assert from_minor_units("-250", "USD") == Decimal("-2.50")
    assert from_minor_units("1500", "JPY") == Decimal("1500")  # the lowest unit of yen is the yen


def test_two_pages_of_each_report_are_read_and_booked(source, api):
    mock_success(api)
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.SUCCEEDED, run.error
    assert [c.request.url.split("?")[0] for c in api.calls] == [COST_URL, COST_URL, USAGE_URL, USAGE_URL]
    first, second, usage_first, usage_second = (query(c) for c in api.calls)
    assert first["group_by[]"] == ["workspace_id", "description"] and first["bucket_width"] == ["1d"]
    assert first["starting_at"] == ["2026-11-09T00:00:00Z"] and first["ending_at"] == ["2026-11-11T00:00:00Z"]
    assert first["limit"] == ["2"] and "page" not in first
    assert second["page"] == ["page_MjAyNi0xMS0xMFQwMDowMDowMFo="]
    assert usage_first["group_by[]"] == ["model", "workspace_id"] and "page" in usage_second
    headers = api.calls[0].request.headers
    assert headers["x-api-key"] == KEY and headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in headers

    # 11 cost results, plus 3 usage-only rows.
    assert run.rows_loaded == 14 and rows(source).count() == 14
    line = one(source, **DAY1, sub_account_id=PROD, x_token_type="uncached_input_tokens")
    assert line.billed_cost == Decimal("1.2345") == line.effective_cost  # "123.45" cents
    assert line.x_extra["x_AmountCents"] == "123.45" and line.x_extra["x_ServiceTier"] == "standard"
    assert (line.x_model, line.sku_meter, line.charge_description) == (
        SONNET,
        "Input Tokens",
        "Claude Sonnet 4.5 Usage - Input Tokens",
    )
    assert (line.service_name, line.provider_name, line.billing_currency) == ("Claude API", "Anthropic", "USD")
    assert (line.service_category, line.service_subcategory) == ("AI and Machine Learning", "Generative AI")
    assert (line.sub_account_type, line.billing_account_id, line.x_cost_source) == ("Workspace", "anthropic", "actual")
    assert line.charge_period_end == dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    assert line.billing_period_start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    meters = {r.x_token_type: r.sku_meter for r in rows(source, **DAY1, sub_account_id=PROD, x_model=SONNET)}
    assert meters == {
        "uncached_input_tokens": "Input Tokens",
        "output_tokens": "Output Tokens",
        "cache_read_input_tokens": "Cache Read Tokens",
        "cache_creation.ephemeral_5m_input_tokens": "Cache Write Tokens (5m)",
    }
    code = one(source, x_extra__x_CostType="code_execution")
    assert (code.billed_cost, code.sku_meter, code.x_model) == (Decimal("0.05123"), "Code Execution", "")
    # The default workspace comes back as null: it is booked as "default".
    default = rows(source, sub_account_id="default")
    assert default.count() == 4 and {r.sub_account_name for r in default} == {"Default workspace"}


def test_the_ledger_total_is_the_sum_of_the_cost_report_exactly(source, api):
    mock_success(api)
    run = ingestion_run_execute(source=source, window=WINDOW)
    expected = sum((Decimal(r["amount"]) / 100 for r in results(COST_PAGES)), Decimal(0))
    assert expected == Decimal("18.12373")
    assert ledger_totals(source=source)["USD"]["billed_cost"] == expected
    assert ledger_totals(source=source)["USD"]["effective_cost"] == expected
    assert Decimal(run.totals["USD"]["billed_cost"]) == expected
    usage_only = rows(source, x_extra__x_UsageOnly=True)
    assert usage_only.count() == 3
    assert usage_only.aggregate(s=Sum("billed_cost"))["s"] == 0 == usage_only.aggregate(s=Sum("effective_cost"))["s"]


def test_token_counts_are_on_the_matching_cost_rows_and_counted_once(source, api):
    mock_success(api)
    ingestion_run_execute(source=source, window=WINDOW)
    usage = list(results(USAGE_PAGES))
    totals = rows(source).aggregate(i=Sum("x_input_tokens"), c=Sum("x_cached_tokens"), o=Sum("x_output_tokens"))
    writes = sum(sum(u["cache_creation"].values()) for u in usage)
    assert totals["i"] == sum(u["uncached_input_tokens"] for u in usage) + writes == 712510
    assert totals["c"] == sum(u["cache_read_input_tokens"] for u in usage) == 200000
    assert totals["o"] == sum(u["output_tokens"] for u in usage) == 1130005
    assert not rows(source, x_requests__isnull=False).exists()  # the usage report has no request count

    sonnet = {r.sku_meter: r for r in rows(source, **DAY1, sub_account_id=PROD, x_model=SONNET)}
    assert sonnet["Input Tokens"].consumed_quantity == 411500 == sonnet["Input Tokens"].x_input_tokens
    assert sonnet["Input Tokens"].pricing_quantity == Decimal("0.4115")
    assert sonnet["Input Tokens"].pricing_unit == "1000000 Tokens" and sonnet["Input Tokens"].consumed_unit == "Tokens"
    assert sonnet["Output Tokens"].x_output_tokens == 1029000
    assert sonnet["Cache Read Tokens"].x_cached_tokens == 200000 and sonnet["Cache Read Tokens"].x_input_tokens is None
    write = sonnet["Cache Write Tokens (5m)"]
    assert (write.x_input_tokens, write.x_extra["x_CacheWriteTokens"]) == (100000, 100000)
    # Web searches are billed per workspace and day: their count goes on the web search row.
    search = one(source, **DAY1, sku_meter="Web Search Requests")
    assert (search.consumed_quantity, search.consumed_unit, search.billed_cost) == (30, "Requests", Decimal("0.3"))

    # Haiku input in the default workspace is billed at two rates (standard and batch): its tokens get a
    # zero-cost row rather than a guessed split; its output has one line and carries its tokens.
    haiku = rows(source, sub_account_id="default", x_model=HAIKU)
    assert {(r.x_extra.get("x_ServiceTier"), r.sku_meter, r.consumed_quantity, r.billed_cost) for r in haiku} == {
        ("standard", "Input Tokens", None, Decimal("0.1")),
        ("batch", "Input Tokens", None, Decimal("0.05")),
        ("standard", "Output Tokens", 100000, Decimal("0.5")),
        (None, "Input Tokens", 200000, Decimal("0")),
    }
    # Usage in a workspace the cost report has not billed: tokens only.
    assert {(r.sku_meter, r.consumed_quantity, r.billed_cost) for r in rows(source, sub_account_id=DEV)} == {
        ("Input Tokens", 10, 0),
        ("Output Tokens", 5, 0),
    }


def test_re_running_the_window_replaces_and_gives_the_same_totals(source, api):
    mock_success(api)
    first = ingestion_run_execute(source=source, window=WINDOW)
    before = ledger_totals(source=source)
    tokens_before = rows(source).aggregate(i=Sum("x_input_tokens"), o=Sum("x_output_tokens"))
    mock_success(api)
    second = ingestion_run_execute(source=source, window=WINDOW)
    assert second.status == IngestionRun.Status.SUCCEEDED
    assert ledger_totals(source=source) == before
    assert second.rows_replaced == first.rows_loaded == second.rows_loaded == 14
    assert rows(source).aggregate(i=Sum("x_input_tokens"), o=Sum("x_output_tokens")) == tokens_before


def test_a_workspace_filter_keeps_only_those_workspaces(in_alpha, api):
    source = billing_source_save(
        kind="anthropic", name="Prod only", settings={"workspaces": PROD}, secrets={"api_key": KEY}
    )
    mock_success(api)
    ingestion_run_execute(source=source, window=WINDOW)
    assert set(rows(source).values_list("sub_account_id", flat=True)) == {PROD}
    expected = sum((Decimal(r["amount"]) / 100 for r in results(COST_PAGES) if r["workspace_id"] == PROD), Decimal(0))
    assert ledger_totals(source=source)["USD"]["billed_cost"] == expected


def test_the_catalog_gives_list_prices_on_standard_tier_token_rows(source, api):
    from apps.catalog.services import catalog_load_bundled

    with schema_context("public"):
        catalog_load_bundled(loaded_by="test")
    mock_success(api)
    ingestion_run_execute(source=source, window=WINDOW)
    sonnet = {r.sku_meter: r for r in rows(source, **DAY1, sub_account_id=PROD, x_model=SONNET)}
    assert (sonnet["Input Tokens"].list_unit_price, sonnet["Input Tokens"].list_cost) == (
        Decimal("3"),
        Decimal("1.2345"),
    )
    assert sonnet["Cache Write Tokens (5m)"].list_unit_price == Decimal("3.75")
    batch = one(source, x_extra__x_ServiceTier="batch")
    assert batch.list_unit_price is None and batch.list_cost == batch.billed_cost
    assert ledger_totals(source=source)["USD"]["billed_cost"] == Decimal("18.12373")


# --- failures through the ingestion service ---------------------------------------------------------------


def test_429_records_a_retrying_run_with_retry_after_and_the_retry_succeeds(source, api):
    body = {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit."},
    }
    add(api, COST_URL, status=429, body=body, headers={"retry-after": "42"})
    with pytest.raises(TransientError) as err:
        ingestion_run_execute(source=source, window=WINDOW)
    assert err.value.retry_after == 42
    (run,) = IngestionRun.objects.filter(source=source)
    assert run.status == IngestionRun.Status.RETRYING and run.error_kind == "throttled"
    assert "exceeded your rate limit" in run.error

    mock_success(api)
    retried = ingestion_run_execute(source=source, window=WINDOW)
    assert retried.pk == run.pk and retried.attempt == 1 and retried.status == IngestionRun.Status.SUCCEEDED
    assert ledger_totals(source=source)["USD"]["billed_cost"] == Decimal("18.12373")


def test_401_fails_the_run_marks_the_source_and_raises_an_alert(source, api):
    body = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    add(api, COST_URL, status=401, body=body)
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.FAILED and run.error_kind == "credentials"
    assert "invalid x-api-key" in run.error
    source.refresh_from_db()
    assert source.status == BillingSource.Status.CREDENTIALS
    alert = Alert.objects.get(dedup_key=f"ingestion:{source.pk}")
    assert alert.severity == "high" and "credentials rejected" in alert.subject


def test_a_workspace_key_is_told_to_use_an_admin_key(in_alpha, api):
    source = billing_source_save(
        kind="anthropic", name="API key", settings={}, secrets={"api_key": "sk-ant-api03-abcdefghijkl"}
    )
    body = {"type": "error", "error": {"type": "permission_error", "message": "This endpoint requires an admin key."}}
    add(api, COST_URL, status=403, body=body)
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.error_kind == "credentials" and "requires an admin key" in run.error and "sk-ant-admin" in run.error


def test_overloaded_is_retried(source, api):
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    add(api, COST_URL, status=529, body=body)
    with pytest.raises(TransientError):
        ingestion_run_execute(source=source, window=WINDOW)
    run = IngestionRun.objects.get(source=source)
    assert run.status == IngestionRun.Status.RETRYING and run.error_kind == "provider" and "Overloaded" in run.error


def test_an_amount_that_is_not_a_number_fails_the_run_and_keeps_stored_rows(source, api):
    mock_success(api)
    ingestion_run_execute(source=source, window=WINDOW)
    broken = fixture_text("anthropic_cost_page2.json").replace('"amount": "0.3"', '"amount": "n/a"')
    add(api, COST_URL, "anthropic_cost_page1.json")
    api.add(responses.GET, COST_URL, body=broken, content_type="application/json")
    for name in USAGE_PAGES:
        add(api, USAGE_URL, name)
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.FAILED and "'n/a'" in run.error
    assert ledger_totals(source=source)["USD"]["billed_cost"] == Decimal("18.12373")


def test_connection_test_says_how_many_workspaces_were_billed_yesterday(source, api):
    today = dt.datetime.now(dt.UTC).date()
    page = {
        "data": [
            {
                "starting_at": f"{today - dt.timedelta(days=1)}T00:00:00Z",
                "ending_at": f"{today}T00:00:00Z",
                "results": [
                    {"currency": "USD", "amount": "250.5", "workspace_id": PROD},
                    {"currency": "USD", "amount": "49.5", "workspace_id": None},
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    add(api, COST_URL, body=page)
    result = billing_source_test(source=source)
    assert (
        result.ok and result.message == "Connected to Anthropic organisation; 2 workspaces billed yesterday (USD 3.00)."
    )
    params = query(api.calls[0])
    assert params["group_by[]"] == ["workspace_id"] and params["starting_at"] == [
        f"{today - dt.timedelta(days=1)}T00:00:00Z"
    ]

    add(
        api,
        COST_URL,
        status=401,
        body={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
    )
    failed = billing_source_test(source=source)
    assert (
        not failed.ok and failed.message.startswith("Credentials rejected: ") and "invalid x-api-key" in failed.message
    )


def test_fetch_hands_the_ledger_decimals(source, api):
    mock_success(api)
    fetched = connector_for("anthropic").fetch(source, {"api_key": KEY}, WINDOW)
    amounts = [row["billed_cost"] for row in fetched.rows]
    assert all(isinstance(a, Decimal) for a in amounts) and sum(amounts) == Decimal("18.12373")
    assert fetched.scope == "window" and fetched.details["counts_on_cost_rows"] == 8


def test_nan_is_not_an_amount():
    with pytest.raises(ValueError):
        from_minor_units("NaN", "USD")
    with pytest.raises(ValueError):
        from_minor_units("Infinity", "USD")
