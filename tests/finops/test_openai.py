"""The OpenAI connector against responses in the real API's shape (HTTP mocked by `responses`): paging, exact
Decimal amounts, tokens on the right rows and never as money, and failures through the ingestion service."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.db.models import Sum
from django_tenants.utils import schema_context

from apps.alerts.models import Alert
from apps.core.tasks import TransientError
from apps.finops.connectors import connector_for
from apps.finops.connectors import http as llm_http
from apps.finops.connectors.base import Window
from apps.finops.connectors.openai import parse_line_item
from apps.finops.models import BillingSource, CostRecord, IngestionRun
from apps.finops.selectors import ledger_totals
from apps.finops.services import billing_source_save, billing_source_test, ingestion_run_execute

FIXTURES = Path(__file__).parent / "fixtures" / "llm"
DAY = dt.date(2026, 11, 9)
WINDOW = Window(DAY, DAY + dt.timedelta(days=2))
COSTS_URL = "https://api.openai.com/v1/organization/costs"
USAGE_URL = "https://api.openai.com/v1/organization/usage/completions"
KEY = "sk-admin-Qm3v8RkT2xLw9PzA0bYc1dE4fG5hJ6kN7pS8uV9wX0yZ"
PROJECT_A, PROJECT_B, PROJECT_C = "proj_Kx81pQbmTTq7", "proj_9eZrW2LhVd0c", "proj_3mTnC0aQy5Fs"
COST_PAGES = ("openai_costs_page1.json", "openai_costs_page2.json")
USAGE_PAGES = ("openai_usage_page1.json", "openai_usage_page2.json")


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def fixture(name: str) -> dict:
    return json.loads(fixture_text(name), parse_float=Decimal)


def results(names):
    for name in names:
        for bucket in fixture(name)["data"]:
            yield from bucket["results"]


def add(api, url: str, name: str | None = None, *, status: int = 200, body=None, headers=None):
    text = fixture_text(name) if name else json.dumps(body)
    api.add(responses.GET, url, body=text, status=status, content_type="application/json", headers=headers)


def mock_success(api):
    # Registered twice on one URL, `responses` answers in order: page 1, then page 2.
    for name in COST_PAGES:
        add(api, COSTS_URL, name)
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
    return billing_source_save(
        kind="openai", name="OpenAI org", settings={"organisation": "org-8vQ2mZ"}, secrets={"api_key": KEY}
    )


def rows(source, **filters):
    return CostRecord.objects.filter(source=source, **filters)


def one(source, **filters) -> CostRecord:
    (row,) = rows(source, **filters)
    return row


# --- fetch, paging, mapping ---------------------------------------------------------------------------------


def test_two_pages_of_each_api_are_read_and_booked_with_exact_decimals(source, api):
    mock_success(api)
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.SUCCEEDED, run.error
    assert [c.request.url.split("?")[0] for c in api.calls] == [COSTS_URL, COSTS_URL, USAGE_URL, USAGE_URL]
    first, second, usage_first, usage_second = (query(c) for c in api.calls)
    assert first["group_by"] == ["project_id", "line_item"] and first["bucket_width"] == ["1d"]
    assert first["start_time"] == ["1794182400"] and first["end_time"] == ["1794355200"]
    assert first["limit"] == ["2"] and "page" not in first
    assert second["page"] == ["page_AAAAAGcq5YAiJdKOAAAAAGcqsYA="]
    assert usage_first["group_by"] == ["model", "project_id"] and usage_first["limit"] == ["2"]
    assert usage_second["page"] == ["page_AAAAAGdGxdEiJdKOAAAAAGcqsYA="]
    assert api.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"
    assert api.calls[0].request.headers["OpenAI-Organization"] == "org-8vQ2mZ"
    assert run.details["pages_costs"] == 2 and run.details["pages_usage"] == 2 and run.details["requests"] == 4

    # 14 cost results, plus 3 usage-only rows (see below).
    assert run.rows_loaded == 17 and rows(source).count() == 17
    row = one(
        source, charge_period_start=dt.datetime(2026, 11, 9, tzinfo=dt.UTC), charge_description__endswith="training"
    )
    assert row.billed_cost == Decimal("0.123456789012") == row.effective_cost  # every digit, no float
    assert row.x_model == "ft-gpt-4o-mini-2024-07-18" and row.x_token_type == "" and row.consumed_quantity is None
    assert row.charge_period_end == dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    assert row.billing_period_start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert row.billing_period_end == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert (row.billing_currency, row.service_name, row.provider_name) == ("USD", "OpenAI API", "OpenAI")
    assert (row.service_category, row.service_subcategory) == ("AI and Machine Learning", "Generative AI")
    assert (row.sub_account_id, row.sub_account_type, row.billing_account_id) == (PROJECT_A, "Project", "org-8vQ2mZ")
    assert (row.charge_category, row.charge_frequency, row.x_cost_source) == ("Usage", "Usage-Based", "actual")
    storage = one(source, charge_description="Vector storage")
    assert storage.sub_account_id == "" and storage.sku_meter == "Vector storage" and storage.x_model == ""


def test_the_ledger_total_is_the_sum_of_the_cost_buckets_exactly(source, api):
    mock_success(api)
    run = ingestion_run_execute(source=source, window=WINDOW)
    expected = sum((r["amount"]["value"] for r in results(COST_PAGES)), Decimal(0))
    assert expected == Decimal("0.837806789012")  # 0.1 + 0.2 and friends, summed as decimals
    assert ledger_totals(source=source)["USD"]["billed_cost"] == expected
    assert ledger_totals(source=source)["USD"]["effective_cost"] == expected
    assert Decimal(run.totals["USD"]["billed_cost"]) == expected
    # Usage never adds money: the rows that only carry tokens are all zero.
    usage_only = rows(source, x_extra__x_UsageOnly=True)
    assert usage_only.count() == 3
    assert usage_only.aggregate(s=Sum("billed_cost"))["s"] == 0 == usage_only.aggregate(s=Sum("effective_cost"))["s"]


def test_token_counts_are_on_the_matching_cost_rows_and_counted_once(source, api):
    mock_success(api)
    ingestion_run_execute(source=source, window=WINDOW)
    usage = list(results(USAGE_PAGES))
    totals = rows(source).aggregate(
        i=Sum("x_input_tokens"), c=Sum("x_cached_tokens"), o=Sum("x_output_tokens"), r=Sum("x_requests")
    )
    assert totals["i"] == sum(u["input_tokens"] - u["input_cached_tokens"] + u["input_audio_tokens"] for u in usage)
    assert totals["c"] == sum(u["input_cached_tokens"] for u in usage) == 5000
    assert totals["o"] == sum(u["output_tokens"] + u["output_audio_tokens"] for u in usage) == 38350
    assert totals["r"] == sum(u["num_model_requests"] for u in usage) == 88

    day1 = {"charge_period_start": dt.datetime(2026, 11, 9, tzinfo=dt.UTC)}
    # input_tokens includes the cached ones: 15,000 − 5,000 uncached on the input line, 5,000 on cached input.
    line = one(source, **day1, charge_description="gpt-4o-2024-08-06, input")
    assert (line.billed_cost, line.sku_meter, line.x_token_type) == (Decimal("0.025"), "Input Tokens", "input")
    assert (line.x_input_tokens, line.consumed_quantity, line.consumed_unit) == (10000, 10000, "Tokens")
    assert (line.pricing_quantity, line.pricing_unit, line.x_requests) == (Decimal("0.01"), "1000000 Tokens", 40)
    cached = one(source, **day1, charge_description="gpt-4o-2024-08-06, cached input")
    assert (cached.sku_meter, cached.x_cached_tokens, cached.x_input_tokens) == ("Cache Read Tokens", 5000, None)
    output = one(source, **day1, charge_description="gpt-4o-2024-08-06, output")
    assert (output.x_output_tokens, output.x_requests) == (12000, None)

    # Project B's input is billed on two lines (standard and priority): splitting its tokens would be a guess,
    # so they go on a zero-cost row of their own; its output has one line and gets its tokens.
    b_lines = rows(source, sub_account_id=PROJECT_B, x_extra__x_UsageOnly__isnull=True)
    assert {r.charge_description: r.consumed_quantity for r in b_lines} == {
        "gpt-4o-mini-2024-07-18, input": None,
        "priority | gpt-4o-mini-2024-07-18, input": None,
        "gpt-4o-mini-2024-07-18, output": 6000,
    }
    assert one(source, charge_description="priority | gpt-4o-mini-2024-07-18, input").x_extra["x_ServiceTier"] == (
        "priority"
    )
    b_usage = one(source, sub_account_id=PROJECT_B, x_extra__x_UsageOnly=True)
    assert (b_usage.billed_cost, b_usage.x_input_tokens, b_usage.x_requests) == (0, 20000, 12)
    assert (b_usage.charge_category, b_usage.sku_meter, b_usage.x_model) == (
        "Usage",
        "Input Tokens",
        "gpt-4o-mini-2024-07-18",
    )
    # Project C has usage the costs API has not billed (yet): tokens only, no money.
    assert {(r.sku_meter, r.consumed_quantity, r.billed_cost) for r in rows(source, sub_account_id=PROJECT_C)} == {
        ("Input Tokens", 100, 0),
        ("Output Tokens", 50, 0),
    }
    # Audio tokens land on the "… audio, input" line; text input on the plain one.
    audio = one(source, charge_description="gpt-4o-audio-preview-2024-12-17 audio, input")
    assert (audio.x_model, audio.sku_meter, audio.x_token_type) == (
        "gpt-4o-audio-preview-2024-12-17",
        "Audio Input Tokens",
        "audio input",
    )
    assert audio.x_input_tokens == 2500
    assert one(source, charge_description="gpt-4o-audio-preview-2024-12-17, input").x_input_tokens == 1000


def test_re_running_the_window_replaces_and_gives_the_same_totals(source, api):
    mock_success(api)
    first = ingestion_run_execute(source=source, window=WINDOW)
    before = ledger_totals(source=source)
    tokens_before = rows(source).aggregate(i=Sum("x_input_tokens"), o=Sum("x_output_tokens"))
    mock_success(api)
    second = ingestion_run_execute(source=source, window=WINDOW)
    assert second.status == IngestionRun.Status.SUCCEEDED and second.pk != first.pk
    assert ledger_totals(source=source) == before
    assert second.rows_replaced == first.rows_loaded == second.rows_loaded
    assert rows(source).count() == 17 and not rows(source, run=first).exists()
    assert rows(source).aggregate(i=Sum("x_input_tokens"), o=Sum("x_output_tokens")) == tokens_before


def test_the_catalog_gives_list_prices_on_standard_rate_token_rows(source, api):
    from apps.catalog.services import catalog_load_bundled

    with schema_context("public"):
        catalog_load_bundled(loaded_by="test")
    mock_success(api)
    run = ingestion_run_execute(source=source, window=WINDOW)
    day1 = {"charge_period_start": dt.datetime(2026, 11, 9, tzinfo=dt.UTC)}
    line = one(source, **day1, charge_description="gpt-4o-2024-08-06, input")
    assert (line.list_unit_price, line.list_cost) == (Decimal("2.5"), Decimal("0.025"))  # $2.50 per 1M × 10,000
    cached = one(source, **day1, charge_description="gpt-4o-2024-08-06, cached input")
    assert (cached.list_unit_price, cached.list_cost) == (Decimal("1.25"), Decimal("0.00625"))
    audio = one(source, charge_description="gpt-4o-audio-preview-2024-12-17 audio, input")
    assert (audio.list_unit_price, audio.list_cost) == (Decimal("40"), Decimal("0.1"))
    # Not the standard rate, or no tokens to price: ListCost stays the billed amount.
    for description in ("priority | gpt-4o-mini-2024-07-18, input", "gpt-4o-mini-2024-07-18, input"):
        row = one(source, charge_description=description)
        assert row.list_unit_price is None and row.list_cost == row.billed_cost
    assert run.details["list_priced_rows"] == 9
    assert rows(source, x_extra__x_UsageOnly=True, list_cost__gt=0).count() == 0
    # Money is unchanged by list prices.
    assert ledger_totals(source=source)["USD"]["billed_cost"] == Decimal("0.837806789012")


# --- failures through the ingestion service ---------------------------------------------------------------


RATE_LIMITED = {
    "error": {
        "message": "Rate limit reached for organization org-8vQ2mZ on requests per min (RPM): Limit 5, Used 5.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}


def test_429_records_a_retrying_run_with_retry_after_and_the_retry_succeeds(source, api):
    add(api, COSTS_URL, status=429, body=RATE_LIMITED, headers={"retry-after": "17"})
    with pytest.raises(TransientError) as err:
        ingestion_run_execute(source=source, window=WINDOW)
    assert err.value.retry_after == 17
    (run,) = IngestionRun.objects.filter(source=source)
    assert run.status == IngestionRun.Status.RETRYING and run.error_kind == "throttled"
    assert "Rate limit reached" in run.error and "HTTP 429" in run.error
    source.refresh_from_db()
    assert source.status == BillingSource.Status.RETRYING
    assert not rows(source).exists()

    mock_success(api)
    retried = ingestion_run_execute(source=source, window=WINDOW)
    assert retried.pk == run.pk and retried.attempt == 1 and retried.status == IngestionRun.Status.SUCCEEDED
    assert ledger_totals(source=source)["USD"]["billed_cost"] == Decimal("0.837806789012")


def test_401_fails_the_run_marks_the_source_and_raises_an_alert(source, api):
    body = {
        "error": {
            "message": f"Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    add(api, COSTS_URL, status=401, body=body)
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.FAILED and run.error_kind == "credentials"
    assert "Incorrect API key provided" in run.error and KEY not in run.error  # the provider's words, no secret
    source.refresh_from_db()
    assert source.status == BillingSource.Status.CREDENTIALS
    alert = Alert.objects.get(dedup_key=f"ingestion:{source.pk}")
    assert alert.severity == "high" and "credentials rejected" in alert.subject and KEY not in alert.body


def test_a_project_key_is_told_to_use_an_admin_key(in_alpha, api):
    source = billing_source_save(
        kind="openai", name="Wrong key", settings={}, secrets={"api_key": "sk-proj-abc123456789"}
    )
    add(
        api, COSTS_URL, status=403, body={"error": {"message": "You have insufficient permissions for this operation."}}
    )
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.error_kind == "credentials" and "insufficient permissions" in run.error and "sk-admin-" in run.error


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"status": 503, "body": {"error": {"message": "The server is overloaded."}}}, "provider"),
        ({"body": requests.exceptions.ConnectTimeout("timed out")}, "provider"),
        ({"body": requests.exceptions.ConnectionError("connection reset")}, "provider"),
    ],
)
def test_5xx_timeouts_and_connection_errors_are_retried(source, api, answer, kind):
    if isinstance(answer["body"], Exception):
        api.add(responses.GET, COSTS_URL, body=answer["body"])
    else:
        add(api, COSTS_URL, status=answer["status"], body=answer["body"])
    with pytest.raises(TransientError):
        ingestion_run_execute(source=source, window=WINDOW)
    run = IngestionRun.objects.get(source=source)
    assert run.status == IngestionRun.Status.RETRYING and run.error_kind == kind


def test_other_4xx_fail_with_the_providers_message(source, api):
    body = {"error": {"message": "Invalid value for 'bucket_width': '1w'.", "type": "invalid_request_error"}}
    add(api, COSTS_URL, status=400, body=body)
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.FAILED and run.error_kind == "provider"
    assert "HTTP 400" in run.error and "Invalid value for 'bucket_width'" in run.error


def test_a_page_that_promises_more_without_a_cursor_fails_instead_of_booking_half(source, api):
    page = fixture("openai_costs_page1.json")
    page["next_page"] = None
    api.add(responses.GET, COSTS_URL, body=json.dumps(page, default=str), content_type="application/json")
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.FAILED and "next_page" in run.error
    assert not rows(source).exists()


# --- connection test, seams, parsing ------------------------------------------------------------------------


def test_connection_test_says_how_many_projects_were_billed_yesterday(source, api):
    today = dt.datetime.now(dt.UTC).date()
    yesterday = dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC) - dt.timedelta(days=1)
    page = {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": int(yesterday.timestamp()),
                "end_time": int(yesterday.timestamp()) + 86400,
                "results": [
                    {
                        "object": "organization.costs.result",
                        "amount": {"value": 1.2, "currency": "usd"},
                        "project_id": p,
                    }
                    for p in (PROJECT_A, PROJECT_B, PROJECT_C)
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    add(api, COSTS_URL, body=page)
    result = billing_source_test(source=source)
    assert result.ok, result.message
    assert result.message == "Connected to OpenAI organisation org-8vQ2mZ; 3 projects billed yesterday (USD 3.60)."
    params = query(api.calls[0])
    assert params["group_by"] == ["project_id"] and params["limit"] == ["1"]
    assert params["start_time"] == [str(int(yesterday.timestamp()))]

    add(api, COSTS_URL, status=401, body={"error": {"message": "Invalid admin key."}})
    failed = billing_source_test(source=source)
    assert (
        not failed.ok and failed.message.startswith("Credentials rejected: ") and "Invalid admin key." in failed.message
    )


def test_an_injected_session_is_used(source, api, monkeypatch):
    session = requests.Session()
    session.headers["User-Agent"] = "keel-tests/1"
    seen = []
    monkeypatch.setattr(connector_for("openai"), "client_factory", lambda src: seen.append(src.pk) or session)
    mock_success(api)
    assert ingestion_run_execute(source=source, window=WINDOW).status == IngestionRun.Status.SUCCEEDED
    assert seen == [source.pk] and all(c.request.headers["User-Agent"] == "keel-tests/1" for c in api.calls)


@pytest.mark.parametrize(
    ("text", "model", "token_type", "meter", "tier"),
    [
        ("gpt-4o-2024-08-06, input", "gpt-4o-2024-08-06", "input", "Input Tokens", ""),
        ("gpt-4o-mini-2024-07-18, cached input", "gpt-4o-mini-2024-07-18", "cached input", "Cache Read Tokens", ""),
        ("gpt-4.1-2025-04-14, output", "gpt-4.1-2025-04-14", "output", "Output Tokens", ""),
        (
            "priority | gpt-5-2025-08-07, output, long context",
            "gpt-5-2025-08-07",
            "output",
            "Output Tokens",
            "priority",
        ),
        (
            "gpt-audio-mini-2025-12-15 audio, input",
            "gpt-audio-mini-2025-12-15",
            "audio input",
            "Audio Input Tokens",
            "",
        ),
        ("gpt-image-1 image, output", "gpt-image-1", "image output", "Image Output Tokens", ""),
        ("dall-e 3, standard, 1024x1024", "dall-e 3", "", "", ""),
        ("web search tool calls", "", "", "", ""),
        (None, "", "", "", ""),
    ],
)
def test_line_items_are_parsed_only_where_they_name_model_and_token_type(text, model, token_type, meter, tier):
    item = parse_line_item(text)
    assert (item.model, item.token_type, item.meter, item.tier) == (model, token_type, meter, tier)


def test_retry_after_is_read_as_seconds_or_an_http_date():
    now = dt.datetime(2026, 11, 9, 12, 0, tzinfo=dt.UTC)
    assert llm_http.retry_after_seconds({"retry-after": "17"}) == 17
    date = email.utils.format_datetime(now + dt.timedelta(seconds=90), usegmt=True)
    assert llm_http.retry_after_seconds({"retry-after": date}, now=now) == 90
    assert llm_http.retry_after_seconds({"retry-after": date}, now=now + dt.timedelta(hours=1)) == 0
    assert llm_http.retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert llm_http.retry_after_seconds({"retry-after": "soon"}) is None
    assert llm_http.retry_after_seconds({}) is None


def test_amounts_never_pass_through_a_float(source, api):
    # 20 significant digits: a float would keep 17. The fetch hands the ledger the JSON literal as a Decimal.
    page = fixture_text("openai_costs_page2.json").replace('"value": 0.2,', '"value": 0.20000000000000000001,')
    api.add(responses.GET, COSTS_URL, body=fixture_text("openai_costs_page1.json"), content_type="application/json")
    api.add(responses.GET, COSTS_URL, body=page, content_type="application/json")
    for name in USAGE_PAGES:
        add(api, USAGE_URL, name)
    fetched = connector_for("openai").fetch(source, {"api_key": KEY}, WINDOW)
    (row,) = [
        r
        for r in fetched.rows
        if r["charge_description"] == "gpt-4o-2024-08-06, output" and r["x_output_tokens"] == 20000
    ]
    assert row["billed_cost"] == Decimal("0.20000000000000000001") and isinstance(row["billed_cost"], Decimal)
    assert any("more decimals than the ledger keeps" in note for note in fetched.details["notes"])


def test_nan_is_not_an_amount(source, api):
    page = fixture_text("openai_costs_page2.json").replace('"value": 0.2,', '"value": NaN,')
    add(api, COSTS_URL, "openai_costs_page1.json")
    api.add(responses.GET, COSTS_URL, body=page, content_type="application/json")
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.FAILED and "not JSON" in run.error and not rows(source).exists()
