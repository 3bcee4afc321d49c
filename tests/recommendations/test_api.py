"""The API: list (open first, by saving) and detail with constant queries, decisions with the write scope only,
realised savings of a month, proposals, refresh, another client's id → 404, and the OpenAPI description."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.recommendations.models import Recommendation, Status
from tests.conftest import auth_header

from .conftest import book, tokens_row
from .test_portal import _realised, make_rec

pytestmark = pytest.mark.django_db(transaction=False)
BASE = "/c/alpha/api/v1/recommendations/"
D = Decimal


@pytest.fixture
def reader(alpha, api_key_for):
    return auth_header(api_key_for(alpha, ["read"])[1])


@pytest.fixture
def writer(alpha, api_key_for):
    return auth_header(api_key_for(alpha, ["read", "write"])[1])


def test_list_is_open_first_by_saving_with_money_as_decimal_strings(in_alpha, client, reader):
    low = make_rec(estimated_monthly_saving=D("12.5"))
    high = make_rec(estimated_monthly_saving=D("900"))
    accepted = make_rec(estimated_monthly_saving=D("5000"), status=Status.ACCEPTED)
    dismissed = make_rec(estimated_monthly_saving=D("9000"), status=Status.DISMISSED, dismiss_reason="No")
    body = client.get(BASE, **reader).json()
    assert [r["id"] for r in body["results"]] == [high.pk, low.pk, accepted.pk, dismissed.pk]
    first = body["results"][0]
    assert first["estimated_monthly_saving"] == "900.000000000000" and first["currency"] == "USD"
    assert first["steps"][0]["value"] == "$4.47/month"
    assert first["evidence"][0]["url"] == "/c/alpha/finops/ledger/?from=2026-11-01&to=2026-11-30&model=gpt-4o"
    assert first["scope"] == {
        "kind": "model",
        "label": "gpt-4o",
        "asset": None,
        "provider": "",
        "model": "",
        "service": "",
        "account": "",
    }
    only = client.get(BASE, {"status": "accepted"}, **reader).json()["results"]
    assert [r["id"] for r in only] == [accepted.pk]


def test_list_pages_in_order_with_the_cursor(in_alpha, client, reader):
    made = [make_rec(estimated_monthly_saving=D(n)) for n in (5, 50, 500, 5000, 50000)]
    first = client.get(BASE, {"page_size": 2}, **reader).json()
    second = client.get(first["next"], **reader).json()
    third = client.get(second["next"], **reader).json()
    ids = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert ids == [r.pk for r in reversed(made)] and third["next"] is None


def test_list_and_detail_queries_do_not_grow(in_alpha, client, reader):
    for _ in range(2):
        make_rec()
    client.get(BASE, **reader)  # the key's first use records itself; measure from the second
    with CaptureQueriesContext(connection) as few:
        assert client.get(BASE, **reader).status_code == 200
    for _ in range(30):
        make_rec(asset=None)
    with CaptureQueriesContext(connection) as many:
        assert client.get(BASE, **reader).status_code == 200
    assert len(many) == len(few)
    rec = make_rec(status=Status.IMPLEMENTED, implemented_on=dt.date(2026, 10, 1))
    _realised(rec, dt.date(2026, 10, 1), "1")
    with CaptureQueriesContext(connection) as one:
        client.get(BASE + f"{rec.pk}/", **reader)
    for month in (11, 12):
        _realised(rec, dt.date(2026, month, 1), "1")
    with CaptureQueriesContext(connection) as three:
        detail = client.get(BASE + f"{rec.pk}/", **reader).json()
    assert len(three) == len(one) and [r["month"] for r in detail["realised"]] == ["2026-10", "2026-11", "2026-12"]


def test_decisions_need_the_write_scope_and_are_audited(in_alpha, client, reader, writer):
    rec = make_rec()
    assert client.post(BASE + f"{rec.pk}/accept/", {}, content_type="application/json", **reader).status_code == 403
    response = client.post(BASE + f"{rec.pk}/dismiss/", {"reason": ""}, content_type="application/json", **writer)
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert "reason" in response.json()["errors"]
    response = client.post(BASE + f"{rec.pk}/accept/", {"note": "sprint 49"}, content_type="application/json", **writer)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    response = client.post(
        BASE + f"{rec.pk}/dismiss/", {"reason": "Too risky"}, content_type="application/json", **writer
    )
    assert response.json()["dismiss_reason"] == "Too risky"
    client.post(BASE + f"{rec.pk}/reopen/", {}, content_type="application/json", **writer)
    response = client.post(
        BASE + f"{rec.pk}/implement/", {"implemented_on": "2026-11-20"}, content_type="application/json", **writer
    )
    assert response.status_code == 200 and response.json()["implemented_on"] == "2026-11-20"
    actions = list(
        AuditEvent.objects.filter(object_id=str(rec.pk)).order_by("seq").values_list("action", "actor_api_key")
    )
    assert [a for a, _ in actions] == [
        "recommendation.accept",
        "recommendation.dismiss",
        "recommendation.reopen",
        "recommendation.implement",
    ]
    assert all(key for _, key in actions)


def test_realised_savings_of_a_month(in_alpha, client, reader):
    rec = make_rec(status=Status.IMPLEMENTED, implemented_on=dt.date(2026, 9, 1), title="Routing to Sonnet")
    _realised(rec, dt.date(2026, 10, 1), "6040.090044")
    body = client.get(BASE + "realised-savings/", {"month": "2026-10"}, **reader).json()
    assert body["month"] == "2026-10" and body["totals"] == {"USD": "6040.090044000000"}
    assert body["rows"] == [
        {
            "recommendation": rec.pk,
            "title": "Routing to Sonnet",
            "kind": "model_routing",
            "first_day": "2026-10-01",
            "last_day": "2026-10-28",
            "amount": "6040.090044000000",
            "currency": "USD",
            "method": "per_1m_tokens",
            "implemented_on": "2026-09-01",
        }
    ]
    assert client.get(BASE + "realised-savings/", {"month": "2026-08"}, **reader).json()["rows"] == []
    bad = client.get(BASE + "realised-savings/", {"month": "October"}, **reader)
    assert bad.status_code == 400 and "YYYY-MM" in str(bad.json())


def test_another_clients_id_is_a_404(in_alpha, client, reader, beta, api_key_for):
    rec = make_rec()
    beta_reader = auth_header(api_key_for(beta, ["read"])[1])
    assert client.get(f"/c/beta/api/v1/recommendations/{rec.pk}/", **beta_reader).status_code == 404
    assert client.get(f"/c/beta/api/v1/recommendations/{rec.pk}/", **reader).status_code == 404  # alpha's key
    assert client.get(BASE + "424242/", **reader).status_code == 404


def test_propose_and_refresh_over_the_api(catalog, settings_row, source, client, writer, reader):
    day = dt.date.today() - dt.timedelta(days=2)
    book(
        source,
        [
            tokens_row(
                day,
                model="claude-opus-4-5-20251101",
                provider="Anthropic",
                uncached=10_000_000,
                output=1_000_000,
                sub_account="wrk",
            )
        ],
        start=day,
        end=day + dt.timedelta(days=1),
    )
    proposal = {
        "provider_name": "Anthropic",
        "model": "claude-opus-4-5-20251101",
        "sub_account_id": "wrk",
        "target": "claude-sonnet-4-6",
        "share_percent": "80",
    }
    assert (
        client.post(BASE + "propose-routing/", proposal, content_type="application/json", **reader).status_code == 403
    )
    response = client.post(BASE + "propose-routing/", proposal, content_type="application/json", **writer)
    assert response.status_code == 201
    expected = D(8_000_000) * D("0.000002") + D(800_000) * D("0.00001")
    assert D(response.json()["estimated_monthly_saving"]) == expected
    refreshed = client.post(BASE + "refresh/", {}, content_type="application/json", **writer)
    assert refreshed.status_code == 202 and refreshed.json()["errors"] == []
    assert Recommendation.objects.filter(origin="proposed").count() == 1


def test_openapi_describes_the_routes_with_examples(client, db):
    document = yaml.safe_load(client.get("/api/schema/").content)
    paths = document["paths"]
    assert "/c/{client}/api/v1/recommendations/" in paths or any(p.endswith("/recommendations/") for p in paths)
    realised = next(v for p, v in paths.items() if p.endswith("/recommendations/realised-savings/"))
    assert "October2026" in realised["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    dismiss = next(v for p, v in paths.items() if p.endswith("/recommendations/{id}/dismiss/"))
    assert "Dismiss" in dismiss["post"]["requestBody"]["content"]["application/json"]["examples"]
    listing = next(v for p, v in paths.items() if p.endswith("/recommendations/"))
    assert {p["name"] for p in listing["get"]["parameters"]} >= {"status", "kind", "search"}
