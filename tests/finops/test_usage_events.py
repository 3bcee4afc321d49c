"""Live usage events: the ingest endpoint (native and OpenTelemetry names, per-event errors, idempotency,
limits, scopes, constant queries), catalog pricing in exact Decimal, booking as ledger estimates, and
reconciliation against the provider's daily cost."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.catalog.services import catalog_load_bundled
from apps.finops import connectors
from apps.finops.connectors.base import ConnectionResult, Connector, FetchResult, FieldSpec, Window
from apps.finops.focus import day_bounds, month_bounds
from apps.finops.models import BillingSource, CostRecord, IngestionRun, UsageEvent, UsageReconciliation
from apps.finops.services import billing_source_save, ingestion_run_execute, usage_events_source
from apps.finops.usage import (
    MAX_EVENTS,
    canonical_provider,
    reconcile_after_booking,
    usage_events_ingest,
    usage_ledger_rows,
)
from tests.conftest import auth_header, make_user
from tests.finops.conftest import openai_day_row

URL = "/c/alpha/api/v1/usage-events"
PROBLEM = "application/problem+json"
DAY = dt.date(2026, 11, 10)
NEXT = DAY + dt.timedelta(days=1)
WINDOW = Window(DAY, DAY + dt.timedelta(days=2))

# Bundled catalog (LiteLLM 1.109.1), USD per token: (input, output, cache read).
GPT_4O = (Decimal("0.0000025"), Decimal("0.00001"), Decimal("0.00000125"))
GPT_4O_MINI = (Decimal("0.00000015"), Decimal("0.0000006"), Decimal("0.000000075"))
SONNET_45 = (Decimal("0.000003"), Decimal("0.000015"), Decimal("0.0000003"))


def price(prices, inp=0, out=0, cached=0) -> Decimal:
    """The documented rule: cached tokens are part of input and cost the cache-read price."""
    return (inp - cached) * prices[0] + out * prices[1] + cached * prices[2]


def at(day: dt.date, hour: int = 12, minute: int = 0) -> str:
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00Z"


def event(request_id: str, **fields) -> dict:
    return {"timestamp": at(DAY), "request_id": request_id, "model": "gpt-4o", **fields}


@pytest.fixture
def catalog(db):
    """The real model price catalog in the public schema (as keel_setup loads it)."""
    with schema_context("public"):
        return catalog_load_bundled(loaded_by="test")


@pytest.fixture
def ingest_key(alpha, api_key_for):
    return api_key_for(alpha, ["ingest"])[1]


def post(client, secret, body, url=URL):
    return client.post(url, json.dumps(body), content_type="application/json", **auth_header(secret))


def stored(alpha) -> dict[str, UsageEvent]:
    with schema_context(alpha.schema_name):
        return {e.request_id: e for e in UsageEvent.objects.all()}


# --- the endpoint ----------------------------------------------------------------------------------------


def test_native_and_opentelemetry_names_are_stored_and_priced(alpha, catalog, ingest_key, client):
    body = {
        "events": [
            event(
                "chatcmpl-1",
                provider="OpenAI",
                input_tokens=1200,
                output_tokens=350,
                cached_tokens=1000,
                agent="claims-triage",
                department="claims-ops",
                api_key_id="key_prod",
                prompt_hash="9f86d081",
            ),
            {
                "timestamp": "2026-11-10T13:00:00.123456789+01:00",
                "gen_ai.response.id": "msg_01",
                "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-3-5-sonnet",
                "gen_ai.response.model": "claude-sonnet-4-5",
                "gen_ai.usage.input_tokens": 5000,
                "gen_ai.usage.output_tokens": 800,
                "gen_ai.usage.cache_read.input_tokens": 3000,
                "gen_ai.agent.name": "underwriting",
                "gen_ai.operation.name": "chat",
            },
            {  # the deprecated OpenTelemetry names, and no provider: inferred from the catalog
                "timestamp": at(DAY, 14),
                "gen_ai.response.id": "resp_02",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 100,
                "gen_ai.usage.cache_read_input_tokens": 40,
                "gen_ai.usage.output_tokens": 10,
            },
            event("own-cost", model="claude-sonnet-4-5", input_tokens=10, cost=0.1, currency="eur"),
        ]
    }
    response = post(client, ingest_key, body)
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 4, "duplicates": 0, "rejected": 0, "unpriced": 0, "errors": []}

    events = stored(alpha)
    native = events["chatcmpl-1"]
    assert (native.provider, native.model, native.agent, native.department, native.api_key_id) == (
        "openai",
        "gpt-4o",
        "claims-triage",
        "claims-ops",
        "key_prod",
    )
    assert (native.input_tokens, native.output_tokens, native.cached_tokens, native.prompt_hash) == (
        1200,
        350,
        1000,
        "9f86d081",
    )
    assert native.cost == price(GPT_4O, 1200, 350, 1000) == Decimal("0.00525")
    assert native.cost_source == "estimate" and native.currency == "USD"
    assert native.occurred_at == dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC)

    otel = events["msg_01"]
    assert (otel.provider, otel.model, otel.agent) == ("anthropic", "claude-sonnet-4-5", "underwriting")
    assert (otel.input_tokens, otel.output_tokens, otel.cached_tokens) == (5000, 800, 3000)
    assert otel.cost == price(SONNET_45, 5000, 800, 3000) == Decimal("0.0189")
    assert otel.occurred_at == dt.datetime(2026, 11, 10, 12, 0, 0, 123456, tzinfo=dt.UTC)
    assert otel.attributes == {"gen_ai.operation.name": "chat"}  # kept for later allocation

    legacy = events["resp_02"]
    assert (legacy.provider, legacy.cached_tokens) == ("openai", 40)
    assert legacy.cost == price(GPT_4O_MINI, 100, 10, 40)

    own = events["own-cost"]
    assert own.cost == Decimal("0.1") and own.cost_source == "actual" and own.currency == "EUR"


def test_every_event_is_checked_and_valid_ones_are_kept(alpha, catalog, ingest_key, client):
    events = [
        event("ok-1", input_tokens=10),
        event("bad-time", timestamp="2026-11-10T12:00:00"),  # no offset: not RFC 3339
        event("bad-time-2", timestamp="yesterday"),
        event("bad-time-3", timestamp=1762776000),
        event("bad-date", timestamp="2026-02-30T12:00:00Z"),
        event("negative", input_tokens=-5, output_tokens=-1),
        {"timestamp": at(DAY), "request_id": "no-model"},
        {"timestamp": at(DAY), "model": "gpt-4o"},
        event("types", input_tokens="12", output_tokens=1.5, cached_tokens=True, model=42),
        event("cost-type", cost="abc", agent=["x"]),
        event("currency", cost="1.00", currency="dollars"),
        event("cached-over-input", input_tokens=10, cached_tokens=11),
        event("future", timestamp="2999-01-01T00:00:00Z"),
        event("nul", agent="a\x00b"),
        "not an object",
        event("ok-2", output_tokens=7.0),  # integral numbers written as doubles are integers
        {"request_id": "no-time", "model": "gpt-4o"},
    ]
    response = post(client, ingest_key, {"events": events})
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 15)
    errors = {(e["index"], e["field"]) for e in body["errors"]}
    assert errors == {
        (1, "timestamp"),
        (2, "timestamp"),
        (3, "timestamp"),
        (4, "timestamp"),
        (5, "input_tokens"),
        (5, "output_tokens"),
        (6, "model"),
        (7, "request_id"),
        (8, "input_tokens"),
        (8, "output_tokens"),
        (8, "cached_tokens"),
        (8, "model"),
        (9, "cost"),
        (9, "agent"),
        (10, "currency"),
        (11, "cached_tokens"),
        (12, "timestamp"),
        (13, "agent"),
        (14, ""),
        (16, "timestamp"),
    }
    messages = {(e["index"], e["field"]): e["message"] for e in body["errors"]}
    assert "RFC 3339" in messages[(1, "timestamp")]
    assert messages[(5, "input_tokens")] == "input_tokens must be a non-negative integer, not -5."
    assert "required" in messages[(6, "model")] and "required" in messages[(7, "request_id")]
    assert "future" in messages[(12, "timestamp")]
    assert set(stored(alpha)) == {"ok-1", "ok-2"}
    assert stored(alpha)["ok-2"].output_tokens == 7


def test_errors_name_the_opentelemetry_field_that_was_sent(alpha, ingest_key, client):
    bad = {
        "timestamp": at(DAY),
        "gen_ai.response.id": "x",
        "gen_ai.request.model": "m",
        "gen_ai.usage.input_tokens": -1,
    }
    body = post(client, ingest_key, [bad, event("fine")]).json()
    assert body["errors"] == [
        {"index": 0, "field": "gen_ai.usage.input_tokens", "message": body["errors"][0]["message"]}
    ]
    assert "non-negative integer" in body["errors"][0]["message"]


def test_other_keys_are_kept_as_attributes_within_limits(in_alpha):
    result = usage_events_ingest(
        events=[
            event("kept", attributes={"run_id": "r-9", "step": 3}, **{"server.address": "api.openai.com"}),
            event("priority", model="gpt-4o", **{"gen_ai.request.model": "gpt-4o-mini"}),  # native wins
            event("not-an-object", attributes=["x"]),
            event("too-big", attributes={"blob": "x" * 5000}),
            event("nul-inside", attributes={"note": "a\x00b"}),
        ]
    )
    assert (result.accepted, result.rejected) == (2, 3)
    assert {(e["index"], e["field"]) for e in result.errors} == {
        (2, "attributes"),
        (3, "attributes"),
        (4, "attributes"),
    }
    kept = UsageEvent.objects.get(request_id="kept")
    assert kept.attributes == {"run_id": "r-9", "step": 3, "server.address": "api.openai.com"}
    priority = UsageEvent.objects.get(request_id="priority")
    assert priority.model == "gpt-4o" and priority.attributes == {}


def test_a_batch_with_no_valid_event_or_no_batch_at_all_is_a_problem(alpha, ingest_key, client):
    response = post(client, ingest_key, {"events": [{"model": "gpt-4o"}]})
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    body = response.json()
    assert (body["accepted"], body["rejected"], body["status"]) == (0, 1, 400)
    assert {e["field"] for e in body["errors"]} == {"timestamp", "request_id"}
    for not_a_batch in ({"event": []}, {"events": {}}, "text", 12):
        response = post(client, ingest_key, not_a_batch)
        assert response.status_code == 400 and response["Content-Type"] == PROBLEM, not_a_batch
    broken = client.post(URL, "{not json", content_type="application/json", **auth_header(ingest_key))
    assert broken.status_code == 400 and broken["Content-Type"] == PROBLEM
    nan = client.post(URL, '[{"cost": NaN}]', content_type="application/json", **auth_header(ingest_key))
    assert nan.status_code == 400 and nan["Content-Type"] == PROBLEM
    empty = post(client, ingest_key, {"events": []})
    assert empty.status_code == 200 and empty.json()["accepted"] == 0


def test_request_ids_make_retries_safe_across_and_within_batches(alpha, ingest_key, client):
    first = post(client, ingest_key, [event("a"), event("b"), event("a", input_tokens=99)]).json()
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (2, 1, 0)
    assert stored(alpha)["a"].input_tokens == 0  # the first of the batch wins
    again = post(client, ingest_key, {"events": [event("a"), event("b"), event("c"), event("c")]}).json()
    assert (again["accepted"], again["duplicates"]) == (1, 3)
    assert sorted(stored(alpha)) == ["a", "b", "c"]
    with schema_context(alpha.schema_name):
        assert UsageEvent.objects.count() == 3


def test_at_most_5000_events_per_batch(alpha, ingest_key, client):
    too_many = [event(f"r{i}") for i in range(MAX_EVENTS + 1)]
    response = post(client, ingest_key, {"events": too_many})
    assert response.status_code == 413 and response["Content-Type"] == PROBLEM
    assert "5,000" in response.json()["detail"] and "5,001" in response.json()["detail"]
    assert stored(alpha) == {}
    response = post(client, ingest_key, too_many[:MAX_EVENTS])
    assert response.status_code == 200 and response.json()["accepted"] == MAX_EVENTS


def test_only_keys_with_the_ingest_scope_of_this_client_may_push(alpha, beta, api_key_for, login_as, client):
    _, reader = api_key_for(alpha, ["read", "write", "alerts"])
    denied = post(client, reader, [event("r")])
    assert denied.status_code == 403 and denied["Content-Type"] == PROBLEM
    _, beta_key = api_key_for(beta, ["ingest"])
    assert post(client, beta_key, [event("r")]).status_code == 404  # another client's key: no such client
    _, alpha_key = api_key_for(alpha, ["ingest"])
    assert post(client, alpha_key, [event("r")], url="/c/beta/api/v1/usage-events").status_code == 404
    signed_out = client.post(URL, "[]", content_type="application/json")
    assert signed_out.status_code == 401 and signed_out["Content-Type"] == PROBLEM
    manager = login_as(make_user("am-usage@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha))
    assert manager.post(URL, "[]", content_type="application/json").status_code == 403  # people do not ingest
    assert stored(alpha) == {}
    with schema_context(beta.schema_name):
        assert not UsageEvent.objects.exists()


def test_a_batch_costs_the_same_queries_with_10_or_1000_events(alpha, catalog, ingest_key, client):
    models = ("gpt-4o", "claude-sonnet-4-5", "not-in-the-catalog")

    def batch(prefix: str, n: int) -> list[dict]:
        return [event(f"{prefix}{i}", model=models[i % 3], input_tokens=i, agent=f"agent-{i % 7}") for i in range(n)]

    post(client, ingest_key, batch("warm", 10))  # records the key's last use, fills caches
    with CaptureQueriesContext(connection) as few:
        assert post(client, ingest_key, batch("few", 10)).json()["accepted"] == 10
    with CaptureQueriesContext(connection) as many:
        body = post(client, ingest_key, batch("many", 1000)).json()
    assert body["accepted"] == 1000 and body["unpriced"] == 333
    assert len(many.captured_queries) == len(few.captured_queries)
    # Routing, key, two catalog lookups, savepoint, temp table, INSERT … SELECT, release (+ search_path switches).
    statements = [q["sql"] for q in many.captured_queries if not q["sql"].startswith("SET search_path")]
    assert len(statements) <= 10, statements


def test_the_endpoint_is_described_with_examples(client, db):
    document = client.get("/api/schema/?format=json").json()
    operation = document["paths"]["/c/{client}/api/v1/usage-events/"]["post"]
    assert operation["operationId"] == "usage_events_ingest"
    request = operation["requestBody"]["content"]["application/json"]
    assert {"Native field names", "OpenTelemetry GenAI names, bare list"} <= {
        e["summary"] for e in request["examples"].values()
    }
    assert {"200", "400", "403", "413"} <= set(operation["responses"])
    assert operation["responses"]["200"]["content"]["application/json"]["examples"]


# --- pricing ---------------------------------------------------------------------------------------------


def test_catalog_prices_are_exact_and_one_lookup_serves_the_batch(in_alpha, catalog):
    events = [
        event("azure", provider="Azure OpenAI", input_tokens=1_000_000, output_tokens=1_000_000),
        event("bedrock", provider="aws.bedrock", model="anthropic.claude-3-5-sonnet-20240620-v1:0", input_tokens=7),
        event("mini", model="gpt-4o-mini", input_tokens=333, output_tokens=77, cached_tokens=111),
        event("embed", model="text-embedding-3-small", input_tokens=1000),  # no cache-read price, none needed
        event("unknown", model="acme-brain-9000", input_tokens=10),
        event("guessed", model="claude-opus-99", input_tokens=10),  # not in the catalog, provider from its name
    ] + [event(f"same-{i}", input_tokens=i) for i in range(50)]
    with CaptureQueriesContext(connection) as queries:
        result = usage_events_ingest(events=events)
    assert (result.accepted, result.unpriced) == (56, 2)
    catalog_queries = [q for q in queries.captured_queries if "catalog_modelprice" in q["sql"]]
    assert len(catalog_queries) <= 2  # exact keys, then the case-insensitive pass for the misses
    rows = {e.request_id: e for e in UsageEvent.objects.all()}
    assert rows["azure"].provider == "azure" and rows["azure"].cost == Decimal("12.500000000000")
    assert rows["bedrock"].provider == "bedrock" and rows["bedrock"].cost == 7 * SONNET_45[0]
    assert rows["mini"].cost == price(GPT_4O_MINI, 333, 77, 111) == Decimal("0.000087825")
    assert rows["embed"].cost == Decimal("0.00002")
    assert rows["unknown"].cost is None and rows["unknown"].provider == ""
    assert rows["guessed"].cost is None and rows["guessed"].provider == "anthropic"
    assert all(rows[f"same-{i}"].cost == i * GPT_4O[0] for i in range(50))
    assert all(isinstance(e.cost, Decimal) for e in rows.values() if e.cost is not None)


def test_provider_spellings_map_to_the_catalog_names():
    assert canonical_provider("OpenAI") == "openai"
    assert canonical_provider("aws.bedrock") == canonical_provider("AWS Bedrock") == "bedrock"
    assert canonical_provider("azure.ai.openai") == canonical_provider("Azure OpenAI") == "azure"
    assert canonical_provider("gcp.vertex_ai") == canonical_provider("Vertex AI") == "vertex_ai"
    assert canonical_provider("x_ai") == "xai" and canonical_provider("mistral_ai") == "mistral"


# --- booking into the ledger -----------------------------------------------------------------------------


@pytest.fixture
def day_of_events(in_alpha, catalog):
    """Two days of OpenAI and Anthropic calls by two agents; one Anthropic call carries its own cost."""
    events = [
        event("o1", input_tokens=1000, output_tokens=100, agent="triage", department="claims", api_key_id="k1"),
        event(
            "o2",
            input_tokens=3000,
            output_tokens=200,
            cached_tokens=2000,
            agent="triage",
            department="claims",
            api_key_id="k1",
            timestamp=at(DAY, 23, 59),
        ),
        event("o3", input_tokens=500, agent="kyc", timestamp=at(DAY, 0, 0)),
        event(
            "o4",
            input_tokens=400,
            output_tokens=40,
            agent="triage",
            department="claims",
            api_key_id="k1",
            timestamp=at(NEXT, 0, 1),
        ),
        event("a1", model="claude-sonnet-4-5", input_tokens=2000, output_tokens=300, agent="triage"),
        event("a2", model="claude-sonnet-4-5", input_tokens=10, cost="0.5", agent="triage", timestamp=at(DAY, 9)),
        event("x1", model="acme-brain-9000", provider="acme", input_tokens=10, agent="triage"),
    ]
    result = usage_events_ingest(events=events)
    assert result.accepted == 7
    return events


def _by(rows, **match):
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, found)
    return found[0]


def test_ledger_rows_aggregate_per_day_provider_model_agent_department_key(day_of_events):
    rows = usage_ledger_rows(window=WINDOW)
    assert len(rows) == 5
    day_start, day_end = day_bounds(DAY)
    triage = _by(
        rows,
        charge_period_start=day_start,
        x_model="gpt-4o",
        tags={"agent": "triage", "department": "claims", "api_key": "k1"},
    )
    assert (triage["x_requests"], triage["x_input_tokens"], triage["x_output_tokens"], triage["x_cached_tokens"]) == (
        2,
        4000,
        300,
        2000,
    )
    assert (
        triage["effective_cost"] == triage["billed_cost"] == price(GPT_4O, 1000, 100) + price(GPT_4O, 3000, 200, 2000)
    )
    assert triage["billing_currency"] == "USD" and triage["x_cost_source"] == "estimate"
    assert triage["list_cost"] == triage["effective_cost"]  # every call priced from the catalog's list prices
    assert (triage["charge_period_end"], triage["billing_period_start"], triage["billing_period_end"]) == (
        day_end,
        *month_bounds(day_start),
    )
    assert triage["charge_category"] == "Usage" and triage["charge_frequency"] == "Usage-Based"
    assert triage["service_category"] == "AI and Machine Learning"
    assert triage["service_subcategory"] == "Generative AI"
    assert (triage["service_name"], triage["provider_name"]) == ("OpenAI API", "OpenAI")
    assert triage["consumed_quantity"] == 4300 and triage["consumed_unit"] == "Tokens"

    kyc = _by(rows, x_model="gpt-4o", tags={"agent": "kyc"})  # empty department and key are left out of the tags
    assert kyc["effective_cost"] == price(GPT_4O, 500)
    nxt = _by(rows, charge_period_start=day_bounds(NEXT)[0])
    assert nxt["x_requests"] == 1 and nxt["effective_cost"] == price(GPT_4O, 400, 40)

    claude = _by(rows, x_model="claude-sonnet-4-5")
    assert (claude["service_name"], claude["provider_name"], claude["x_requests"]) == ("Claude API", "Anthropic", 2)
    assert claude["effective_cost"] == price(SONNET_45, 2000, 300) + Decimal("0.5")
    assert claude["x_cost_source"] == "estimate"  # one of its two calls was priced from the catalog
    assert claude["list_cost"] is None  # the other carried the caller's own cost

    unpriced = _by(rows, x_model="acme-brain-9000")
    assert unpriced["effective_cost"] == 0 and unpriced["x_extra"] == {"x_UnpricedRequests": 1}
    assert unpriced["service_name"] == "Acme API"


def test_calls_that_all_carry_their_own_cost_are_actual(in_alpha):
    usage_events_ingest(events=[event("c1", cost="0.25"), event("c2", cost=Decimal("0.75"))])
    (row,) = usage_ledger_rows(window=WINDOW)
    assert row["x_cost_source"] == "actual" and row["effective_cost"] == Decimal("1.00")


def test_the_scheduled_booking_puts_estimates_in_the_ledger(day_of_events):
    source = usage_events_source()
    run = ingestion_run_execute(source=source, trigger=IngestionRun.Trigger.SCHEDULE, window=WINDOW)
    assert run.status == IngestionRun.Status.SUCCEEDED, run.error
    expected = sum((e.cost or Decimal(0) for e in UsageEvent.objects.all()), Decimal(0))
    records = CostRecord.objects.filter(source=source)
    assert records.count() == 5 and run.rows_loaded == 5
    assert sum((r.effective_cost for r in records), Decimal(0)) == expected
    assert Decimal(run.totals["USD"]["effective_cost"]) == expected
    assert set(records.values_list("x_cost_source", flat=True)) == {"estimate"}
    again = ingestion_run_execute(source=source, trigger=IngestionRun.Trigger.MANUAL, window=WINDOW)
    assert again.rows_loaded == 5 and again.rows_replaced == 5  # re-runs replace, never add
    assert CostRecord.objects.filter(source=source).count() == 5


# --- reconciliation --------------------------------------------------------------------------------------


class BillConnector(Connector):
    """An OpenAI source whose daily cost the test decides: {day: amount}."""

    kind = "openai"
    label = "OpenAI (test bill)"
    settings_fields = (FieldSpec("organisation", "Organisation", required=False),)
    secret_fields = (FieldSpec("api_key", "Admin key", secret=True),)

    def __init__(self):
        self.bill: dict[dt.date, str] = {}

    def test_connection(self, source, secrets):
        return ConnectionResult(True, "ok")

    def fetch(self, source, secrets, window):
        return FetchResult(rows=[_bill_row(day, amount) for day, amount in self.bill.items() if day in window.days()])


def _bill_row(day: dt.date, amount: str) -> dict:
    return openai_day_row(day, amount, x_model="gpt-4o")


@pytest.fixture
def openai_source(monkeypatch, day_of_events):
    connector = BillConnector()
    monkeypatch.setitem(connectors._cache, "openai", connector)
    source = billing_source_save(
        kind="openai", name="OpenAI org", settings={}, secrets={"api_key": "sk-admin-x1234567890"}
    )
    return source, connector


def _usage_rows(**match):
    return CostRecord.objects.filter(source__kind="usage_events", **match)


def test_the_providers_bill_replaces_the_estimates_of_its_days(openai_source):
    source, connector = openai_source
    usage = usage_events_source()
    ingestion_run_execute(source=usage, window=WINDOW)
    day_start = day_bounds(DAY)[0]
    assert _usage_rows(provider_name="OpenAI", charge_period_start=day_start).count() == 2
    estimated = sum(
        (e.cost for e in UsageEvent.objects.filter(provider="openai", occurred_at__lt=day_bounds(NEXT)[0])),
        Decimal(0),
    )

    connector.bill = {DAY: "0.0123"}  # OpenAI's cost for DAY only; NEXT is not billed yet
    run = ingestion_run_execute(source=source, window=WINDOW)
    assert run.status == IngestionRun.Status.SUCCEEDED, run.error

    recon = UsageReconciliation.objects.get(day=DAY, provider="openai", currency="USD")
    assert recon.estimated_cost == estimated and recon.actual_cost == Decimal("0.0123")
    assert recon.events == 3 and recon.reconciled_at is not None
    pending = UsageReconciliation.objects.get(day=NEXT, provider="openai")
    assert pending.actual_cost is None and pending.reconciled_at is None and pending.events == 1

    # The usage source was booked again: no OpenAI estimate left for DAY, the rest untouched.
    assert not _usage_rows(provider_name="OpenAI", charge_period_start=day_start).exists()
    assert _usage_rows(provider_name="OpenAI", charge_period_start=day_bounds(NEXT)[0]).count() == 1
    assert _usage_rows(provider_name="Anthropic", charge_period_start=day_start).count() == 1
    openai_day = CostRecord.objects.filter(provider_name="OpenAI", charge_period_start=day_start)
    assert sum((r.effective_cost for r in openai_day), Decimal(0)) == Decimal("0.0123")  # counted once
    assert usage.runs.count() == 2
    # The events keep their attributes for allocation.
    assert set(UsageEvent.objects.filter(provider="openai").values_list("agent", flat=True)) == {"triage", "kyc"}

    # The bill for DAY disappears (restated to nothing): the estimates come back.
    connector.bill = {}
    ingestion_run_execute(source=source, window=WINDOW)
    assert _usage_rows(provider_name="OpenAI", charge_period_start=day_start).count() == 2
    assert UsageReconciliation.objects.get(day=DAY, provider="openai").actual_cost is None


def test_reconciliation_ignores_other_sources_and_runs_without_rows(day_of_events):
    usage = usage_events_source()
    run = ingestion_run_execute(source=usage, window=WINDOW)
    reconcile_after_booking(source=usage, run=run)
    anthropic = BillingSource.objects.create(kind="anthropic", name="Anthropic org")
    empty = IngestionRun.objects.create(source=anthropic, window_start=WINDOW.start, window_end=WINDOW.end)
    reconcile_after_booking(source=anthropic, run=empty)
    assert not UsageReconciliation.objects.exists()
    assert usage.runs.count() == 1


def test_usage_rows_leave_out_days_a_provider_source_has_booked(day_of_events):
    from apps.finops.ledger import ChargeWindow, load_rows

    anthropic = BillingSource.objects.create(kind="anthropic", name="Anthropic org")
    run = IngestionRun.objects.create(source=anthropic, window_start=DAY, window_end=NEXT)
    row = _bill_row(DAY, "1.00") | {"provider_name": "Anthropic", "service_name": "Claude API"}
    load_rows(source_id=anthropic.pk, run_id=run.pk, rows=[row], scope=ChargeWindow(*day_bounds(DAY)))
    rows = usage_ledger_rows(window=WINDOW)
    assert {r["provider_name"] for r in rows} == {"OpenAI", "Acme"}
    assert not [r for r in rows if r["x_model"] == "claude-sonnet-4-5"]


def test_models_resold_by_a_cloud_give_way_to_that_clouds_bill(in_alpha, catalog):
    from apps.finops.ledger import ChargeWindow, load_rows

    usage_events_ingest(
        events=[event("az1", model="gpt-4o", provider="azure.ai.openai", input_tokens=1000, agent="triage")]
    )
    assert {r["service_name"] for r in usage_ledger_rows(window=WINDOW)} == {"Azure OpenAI"}
    azure = BillingSource.objects.create(kind="azure_export", name="Azure EA")
    run = IngestionRun.objects.create(source=azure, window_start=DAY, window_end=NEXT)
    row = _bill_row(DAY, "3.20") | {"provider_name": "Microsoft", "service_name": "Azure OpenAI Service"}
    load_rows(source_id=azure.pk, run_id=run.pk, rows=[row], scope=ChargeWindow(*day_bounds(DAY)))
    assert usage_ledger_rows(window=WINDOW) == []  # Azure's bill has the day: no estimate beside it


def test_late_events_widen_the_next_booking_window(in_alpha, catalog):
    from django.utils import timezone

    usage = usage_events_source()
    ingestion_run_execute(source=usage, window=WINDOW)
    usage.refresh_from_db()
    late_day = timezone.now().date() - dt.timedelta(days=20)
    usage_events_ingest(events=[event("late1", input_tokens=1000, agent="triage", timestamp=at(late_day))])
    run = ingestion_run_execute(source=usage)  # the scheduled window is the last 2 days …
    assert run.window_start == late_day  # … reached back to the late event
    assert _usage_rows(charge_period_start=day_bounds(late_day)[0]).exists()
