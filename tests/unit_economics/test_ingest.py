"""Daily counts: idempotent batches (a retry leaves the same totals), per-item errors with the valid items
stored, scoped counts, limits, the ingest API (scopes, problem+json, OpenAPI), its list with constant queries,
and one audit event per batch that changed something."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.unit_economics.models import UnitCount
from apps.unit_economics.services import MAX_ITEMS, BatchTooLarge, unit_counts_ingest
from tests.conftest import auth_header

from .conftest import queries_run

URL = "/c/alpha/api/v1/unit-metrics/"
PROBLEM = "application/problem+json"


def totals() -> dict:
    return dict(UnitCount.objects.values_list("unit__code").annotate(total=Sum("count")))


def post(client, secret, body, url=URL):
    return client.post(url, json.dumps(body), content_type="application/json", **auth_header(secret))


@pytest.fixture
def units(org, make_unit):
    return {"claims": make_unit("claims"), "loans": make_unit("loans", unit_label="loan application")}


def test_a_batch_sent_twice_leaves_the_same_totals_and_changes_nothing_the_second_time(units):
    batch = [{"unit": "claims", "day": f"2026-11-{d:02d}", "count": 100 + d} for d in range(1, 31)]
    batch += [{"unit": "loans", "timestamp": "2026-11-30T23:30:00-02:00", "count": 7}]  # 01:30 UTC on 1 Dec
    first = unit_counts_ingest(batch)
    assert (first.accepted, first.created, first.updated, first.rejected) == (31, 31, 0, 0)
    stored = totals()
    assert stored == {"claims": sum(100 + d for d in range(1, 31)), "loans": 7}
    assert UnitCount.objects.get(unit__code="loans").day == dt.date(2026, 12, 1)
    events = AuditEvent.objects.filter(action="unit_counts.ingest").count()
    again = unit_counts_ingest(batch)
    assert (again.accepted, again.created, again.updated, again.unchanged) == (31, 0, 0, 31)
    assert totals() == stored and UnitCount.objects.count() == 31
    assert AuditEvent.objects.filter(action="unit_counts.ingest").count() == events  # nothing written, no event


def test_resending_a_day_replaces_its_count_and_the_audit_keeps_the_old_one(units):
    unit_counts_ingest([{"unit": "claims", "day": "2026-11-02", "count": 40, "id": "a"}])
    result = unit_counts_ingest([{"unit": "claims", "day": "2026-11-02", "count": 45, "id": "b"}])
    assert (result.created, result.updated) == (0, 1)
    count = UnitCount.objects.get()
    assert (count.count, count.reference, count.source) == (45, "b", "api")
    event = AuditEvent.objects.filter(action="unit_counts.ingest").order_by("-seq").first()
    assert event.before["replaced"][0]["count"] == 40 and event.before["replaced_total"] == 1
    assert event.after["units"]["claims"]["count"] == 45 and event.after["updated"] == 1


def test_counts_for_a_department_or_asset_are_separate_keys(units, org):
    batch = [
        {"unit": "claims", "day": "2026-11-02", "count": 100},
        {"unit": "claims", "day": "2026-11-02", "department": "claims-ops", "count": 70},
        {"unit": "claims", "day": "2026-11-02", "department": str(org["risk"].pk), "count": 30},
        {"unit": "claims", "day": "2026-11-02", "asset": "Claims-Bot", "count": 55},
        {"unit": "claims", "day": "2026-11-02", "asset": org["bot"].pk, "department": "claims-ops", "count": 50},
    ]
    assert unit_counts_ingest(batch).created == 5
    assert unit_counts_ingest(batch).unchanged == 5
    keys = set(UnitCount.objects.values_list("department__code", "asset__name", "count"))
    assert keys == {
        (None, None, 100),
        ("claims-ops", None, 70),
        ("risk", None, 30),
        (None, "claims-bot", 55),
        ("claims-ops", "claims-bot", 50),
    }


def test_every_bad_item_is_explained_and_the_good_ones_are_stored(units):
    future = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    batch = [
        {"unit": "claims", "day": "2026-11-02", "count": 10, "id": "ok-1"},
        {"unit": "nope", "day": "2026-11-02", "count": 1, "id": "bad-unit"},
        {"unit": "claims", "day": "2026-13-01", "count": 1},
        {"unit": "claims", "day": "2026-11-03", "count": -4},
        {"unit": "claims", "day": "2026-11-03", "count": 2.5},
        {"unit": "claims", "day": "2026-11-03", "count": True},
        {"unit": "claims", "count": 3},
        {"unit": "claims", "day": "2026-11-03", "timestamp": "2026-11-03T10:00:00Z", "count": 3},
        {"unit": "claims", "timestamp": "2026-11-03 10:00", "count": 3},
        {"unit": "claims", "day": future, "count": 3},
        {"unit": "claims", "day": "2026-11-03", "count": 3, "department": "nowhere"},
        {"unit": "claims", "day": "2026-11-03", "count": 3, "cnt": 4},
        "not an object",
        {"unit": "claims", "day": "2026-11-04", "count": "1,204", "id": "ok-2"},
    ]
    result = unit_counts_ingest(batch)
    assert (result.accepted, result.rejected) == (2, 12)
    assert totals() == {"claims": 1214}
    errors = {(e["index"], e["field"]) for e in result.errors}
    assert errors == {
        (1, "unit"),
        (2, "day"),
        (3, "count"),
        (4, "count"),
        (5, "count"),
        (6, "day"),
        (7, "day"),
        (8, "timestamp"),
        (9, "day"),
        (10, "department"),
        (11, "cnt"),
        (12, ""),
    }
    by_index = {e["index"]: e for e in result.errors}
    assert by_index[1]["id"] == "bad-unit" and "known: claims, loans" in by_index[1]["message"]
    assert "not 2.5" in by_index[4]["message"] and "zero or more, not -4" in by_index[3]["message"]
    assert "not both" in by_index[7]["message"] and "future" in by_index[9]["message"]


def test_a_key_repeated_in_one_batch_keeps_the_last_value(units):
    result = unit_counts_ingest(
        [
            {"unit": "claims", "day": "2026-11-02", "count": 1},
            {"unit": "claims", "day": "2026-11-02", "count": 2},
            {"unit": "claims", "day": "2026-11-02", "count": 3},
        ]
    )
    assert (result.accepted, result.duplicates, result.created) == (3, 2, 1)
    assert totals() == {"claims": 3}


def test_a_batch_over_the_limit_stores_nothing(units):
    with pytest.raises(BatchTooLarge):
        unit_counts_ingest([{"unit": "claims", "day": "2026-11-02", "count": 1}] * (MAX_ITEMS + 1))
    assert not UnitCount.objects.exists()


# --- the API -------------------------------------------------------------------------------------------------


@pytest.fixture
def ingest_key(alpha, api_key_for):
    return api_key_for(alpha, ["ingest"])[1]


def test_the_api_takes_a_batch_with_an_ingest_key_and_answers_per_item(client, alpha, units, ingest_key):
    body = {
        "items": [
            {"unit": "claims", "day": "2026-11-02", "count": 12, "id": "x1"},
            {"unit": "claims", "day": "2026-11-03", "count": 0.1},
        ]
    }
    response = post(client, ingest_key, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["accepted"], answer["created"], answer["rejected"]) == (1, 1, 1)
    assert answer["errors"] == [
        {"index": 1, "id": "", "field": "count", "message": "count must be a whole number, not 0.1."}
    ]
    assert answer["units"] == {"claims": {"items": 1, "first_day": "2026-11-02", "last_day": "2026-11-02", "count": 12}}
    retry = post(client, ingest_key, body["items"])  # a bare list, sent again
    assert retry.status_code == 200 and retry.json()["unchanged"] == 1
    with schema_context(alpha.schema_name):
        assert totals() == {"claims": 12}
        event = AuditEvent.objects.filter(action="unit_counts.ingest").get()
        assert event.source == "api" and event.actor_api_key


def test_the_api_refuses_what_it_cannot_take(client, alpha, units, ingest_key, api_key_for):
    read_key = api_key_for(alpha, ["read"])[1]
    refused = post(client, read_key, {"items": [{"unit": "claims", "day": "2026-11-02", "count": 1}]})
    assert refused.status_code == 403 and refused["Content-Type"] == PROBLEM
    write_key = api_key_for(alpha, ["write"])[1]
    assert post(client, write_key, [{"unit": "claims", "day": "2026-11-02", "count": 1}]).status_code == 200
    invalid = post(client, ingest_key, [{"unit": "nope", "day": "2026-11-02", "count": 1}])
    assert invalid.status_code == 400 and invalid["Content-Type"] == PROBLEM
    assert invalid.json()["rejected"] == 1 and invalid.json()["errors"][0]["field"] == "unit"
    assert post(client, ingest_key, {"counts": []}).status_code == 400
    too_many = post(client, ingest_key, [{"unit": "claims", "day": "2026-11-02", "count": 1}] * (MAX_ITEMS + 1))
    assert too_many.status_code == 413 and "at most 10,000" in too_many.json()["detail"]
    assert client.post(URL, "{", content_type="application/json", **auth_header(ingest_key)).status_code == 400


def test_a_batch_costs_the_same_queries_for_ten_items_as_for_a_thousand(client, alpha, units, ingest_key):
    def send(n, offset):
        start = dt.date(2020, 1, 1) + dt.timedelta(days=offset)
        items = [{"unit": "claims", "day": (start + dt.timedelta(days=i)).isoformat(), "count": i} for i in range(n)]
        with CaptureQueriesContext(connection) as captured:
            assert post(client, ingest_key, items).status_code == 200
        return len(queries_run(captured))

    send(1, 0)  # warm up
    assert send(1000, 10) == send(10, 2000)  # 1,000 items still go in one INSERT … ON CONFLICT


def test_the_list_filters_and_costs_constant_queries(client, alpha, beta, units, api_key_for):
    read_key = api_key_for(alpha, ["read"])[1]
    with schema_context(alpha.schema_name):
        unit_counts_ingest([{"unit": "claims", "day": "2026-11-02", "count": 5}])

    def listing(**params):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(URL, params, **auth_header(read_key))
        assert response.status_code == 200, response.content
        return response.json(), len(queries_run(captured))

    listing()  # the key's first use records itself once; measure after it
    one, few_queries = listing()
    assert [r["count"] for r in one["results"]] == [5] and one["results"][0]["unit"] == "claims"
    with schema_context(alpha.schema_name):
        unit_counts_ingest(
            [{"unit": u, "day": f"2026-10-{d:02d}", "count": d} for u in ("claims", "loans") for d in range(1, 21)]
        )
    many, many_queries = listing()
    assert len(many["results"]) == 41 and many_queries == few_queries, (few_queries, many_queries)
    only = listing(unit="loans", **{"from": "2026-10-05", "to": "2026-10-07"})[0]["results"]
    assert sorted(r["count"] for r in only) == [5, 6]
    assert listing(department="none")[0]["results"]
    # an ingest-only key pushes but does not read the list back
    ingest_only = api_key_for(alpha, ["ingest"])[1]
    assert client.get(URL, **auth_header(ingest_only)).status_code == 403
    # beta's list is beta's: alpha's counts are not in it
    beta_key = api_key_for(beta, ["read"])[1]
    assert client.get("/c/beta/api/v1/unit-metrics/", **auth_header(beta_key)).json()["results"] == []


def test_the_openapi_document_describes_the_endpoint_with_examples(client, db):
    import yaml

    document = yaml.safe_load(client.get("/api/schema/").content)
    operation = document["paths"]["/c/{client}/api/v1/unit-metrics/"]["post"]
    assert operation["operationId"] == "unit_metrics_ingest"
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert any(e["value"]["items"][0]["unit"] == "claims" for e in examples.values())
    assert "413" in operation["responses"] and "/c/{client}/api/v1/unit-costs/" in document["paths"]
