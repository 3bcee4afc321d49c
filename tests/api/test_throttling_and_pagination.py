"""A request budget per API key (429 problem+json with a retry hint) and keyset pagination that never repeats."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.alerts.services import alert_raise
from apps.api.throttling import ApiKeyRateThrottle
from tests.conftest import auth_header, make_user

PROBLEM = "application/problem+json"
ALERTS = "/c/alpha/api/v1/alerts/"


@pytest.fixture
def budget(monkeypatch):
    """budget("3/min"): DRF reads the rate from the class attribute it bound at import, not from settings."""
    cache.clear()

    def set_rate(rate: str):
        monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {ApiKeyRateThrottle.scope: rate})

    yield set_rate
    cache.clear()


def raise_alerts(client, n: int, prefix: str):
    with schema_context(client.schema_name):
        return [
            alert_raise(kind="t", severity="low", subject=f"{prefix} {i}", dedup_key=f"{prefix}:{i}") for i in range(n)
        ]


def test_each_key_has_its_own_budget(alpha, api_key_for, client, budget):
    budget("3/min")
    _, busy = api_key_for(alpha, ["read"])
    _, other = api_key_for(alpha, ["read"])
    codes = [client.get(ALERTS, **auth_header(busy)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get(ALERTS, **auth_header(busy))
    assert limited.status_code == 429 and limited["Content-Type"] == PROBLEM
    body = limited.json()
    assert body["status"] == 429 and body["title"] == "Too many requests" and body["type"]
    assert 0 < body["retry_after_seconds"] <= 60
    assert 0 < int(limited["Retry-After"]) <= 60
    assert client.get(ALERTS, **auth_header(other)).status_code == 200


def test_the_budget_counts_writes_too_and_is_shared_across_routes(alpha, api_key_for, client, budget):
    budget("2/min")
    alert = raise_alerts(alpha, 1, "throttle-write")[0]
    _, secret = api_key_for(alpha, ["read", "alerts"])
    assert client.get("/c/alpha/api/v1/audit-events/", **auth_header(secret)).status_code == 200
    ack = client.post(f"{ALERTS}{alert.pk}/acknowledge/", {}, "application/json", **auth_header(secret))
    assert ack.status_code == 200
    refused = client.post(f"{ALERTS}{alert.pk}/resolve/", {}, "application/json", **auth_header(secret))
    assert refused.status_code == 429 and refused["Content-Type"] == PROBLEM
    with schema_context(alpha.schema_name):
        alert.refresh_from_db()
    assert alert.state == "acknowledged"  # the refused call changed nothing


def test_signed_in_people_have_a_budget_too(alpha, login_as, budget):
    budget("2/min")
    http = login_as(make_user("budget@msp.test", role=Role.ENGINEER, client=alpha))
    assert [http.get(ALERTS).status_code for _ in range(3)] == [200, 200, 429]
    assert http.get("/c/alpha/alerts/").status_code == 200  # the portal itself is not throttled


def test_the_default_budget_is_generous(alpha, api_key_for, client):
    cache.clear()
    _, secret = api_key_for(alpha, ["read"])
    assert all(client.get(ALERTS, **auth_header(secret)).status_code == 200 for _ in range(30))
    cache.clear()


def walk_pages(client, url: str, headers: dict) -> list[list[int]]:
    """Follow `next` from `url`; the ids (or audit seqs) of each page."""
    pages = []
    while url:
        response = client.get(url, **headers)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        pages.append([row.get("id", row.get("seq")) for row in body["results"]])
        url = body["next"]
        if url:
            assert url.startswith("http://testserver/c/alpha/api/v1/"), url  # links keep the client's prefix
    return pages


def test_cursor_pagination_returns_every_alert_exactly_once(alpha, api_key_for, client):
    created = raise_alerts(alpha, 63, "page")
    _, secret = api_key_for(alpha, ["read"])
    pages = walk_pages(client, f"{ALERTS}?page_size=25", auth_header(secret))
    assert [len(page) for page in pages] == [25, 25, 13]
    seen = [alert_id for page in pages for alert_id in page]
    assert len(seen) == len(set(seen)) == 63
    assert seen == sorted((a.pk for a in created), reverse=True)  # newest first


def test_following_previous_walks_back_over_the_same_rows(alpha, api_key_for, client):
    raise_alerts(alpha, 30, "back")
    _, secret = api_key_for(alpha, ["read"])
    first = client.get(f"{ALERTS}?page_size=10", **auth_header(secret)).json()
    second = client.get(first["next"], **auth_header(secret)).json()
    back = client.get(second["previous"], **auth_header(secret)).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]
    assert first["previous"] is None


def test_rows_added_while_paging_neither_repeat_nor_shift_pages(alpha, api_key_for, client):
    raise_alerts(alpha, 20, "stable")
    _, secret = api_key_for(alpha, ["read"])
    first = client.get(f"{ALERTS}?page_size=10", **auth_header(secret)).json()
    raise_alerts(alpha, 5, "arrived-later")
    second = client.get(first["next"], **auth_header(secret)).json()
    ids_first, ids_second = [r["id"] for r in first["results"]], [r["id"] for r in second["results"]]
    assert not set(ids_first) & set(ids_second) and len(ids_second) == 10
    assert max(ids_second) < min(ids_first)


def test_page_size_is_capped(alpha, api_key_for, client):
    raise_alerts(alpha, 3, "cap")
    _, secret = api_key_for(alpha, ["read"])
    assert len(client.get(f"{ALERTS}?page_size=2", **auth_header(secret)).json()["results"]) == 2
    huge = client.get(f"{ALERTS}?page_size=100000", **auth_header(secret))
    assert huge.status_code == 200 and len(huge.json()["results"]) == 3


def test_audit_events_page_by_sequence(alpha, api_key_for, client):
    raise_alerts(alpha, 12, "audit-page")  # each raise writes one audit event in alpha
    _, secret = api_key_for(alpha, ["read"])
    pages = walk_pages(client, "/c/alpha/api/v1/audit-events/?page_size=5", auth_header(secret))
    seqs = [seq for page in pages for seq in page]
    assert len(seqs) == len(set(seqs)) >= 12 and seqs == sorted(seqs, reverse=True)
