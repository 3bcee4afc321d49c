import json
from datetime import timedelta

import pytest
import yaml
from django.core.cache import cache
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import ApiKey, hash_secret
from apps.accounts.roles import Role
from apps.alerts.services import alert_raise
from tests.conftest import auth_header, make_user

PROBLEM = "application/problem+json"


def _alerts(client, n: int, prefix: str = "a"):
    with schema_context(client.schema_name):
        return [
            alert_raise(kind="t", severity="low", subject=f"{prefix}{i}", dedup_key=f"{prefix}:{i}") for i in range(n)
        ]


def test_key_secret_is_shown_once_and_stored_hashed(alpha, login_as):
    manager = make_user("am-keys@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    http = login_as(manager)
    created = http.post(
        "/c/alpha/api/v1/api-keys/", {"name": "gw", "scopes": ["ingest", "read"]}, content_type="application/json"
    )
    assert created.status_code == 201
    secret = created.json()["key"]
    key = ApiKey.objects.get(prefix=created.json()["prefix"])
    assert key.key_hash == hash_secret(secret) and secret not in key.key_hash
    listing = http.get("/c/alpha/api/v1/api-keys/").json()
    assert all("key" not in row for row in listing["results"])
    assert "key" not in http.get(f"/c/alpha/api/v1/api-keys/{key.pk}/").json()


def test_scopes_decide_what_a_key_may_do(alpha, api_key_for, client):
    alert = _alerts(alpha, 1)[0]
    _, reader = api_key_for(alpha, ["read"])
    _, handler = api_key_for(alpha, ["read", "alerts"])
    url = f"/c/alpha/api/v1/alerts/{alert.pk}/acknowledge/"
    assert client.get("/c/alpha/api/v1/alerts/", **auth_header(reader)).status_code == 200
    denied = client.post(url, {}, content_type="application/json", **auth_header(reader))
    assert denied.status_code == 403 and denied["Content-Type"] == PROBLEM
    ok = client.post(url, {"note": "on it"}, content_type="application/json", **auth_header(handler))
    assert ok.status_code == 200 and ok.json()["state"] == "acknowledged"
    _, ingest_only = api_key_for(alpha, ["ingest"])
    assert client.get("/c/alpha/api/v1/alerts/", **auth_header(ingest_only)).status_code == 403


@pytest.mark.parametrize("state", ["revoked", "expired", "malformed", "unknown"])
def test_bad_keys_get_401_problem(state, alpha, api_key_for, client):
    key, secret = api_key_for(alpha, ["read"])
    if state == "revoked":
        ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    elif state == "expired":
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    elif state == "malformed":
        secret = "not-a-keel-key"
    else:
        secret = f"keel_{key.prefix}_wrongsecret"
    response = client.get("/c/alpha/api/v1/alerts/", **auth_header(secret))
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM
    assert response.json()["status"] == 401 and response.json()["title"]


def test_last_used_is_recorded(alpha, api_key_for, client):
    key, secret = api_key_for(alpha, ["read"])
    client.get("/c/alpha/api/v1/alerts/", **auth_header(secret))
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_errors_are_problem_json(alpha, api_key_for, client):
    _, secret = api_key_for(alpha, ["read", "write", "alerts"])
    not_found = client.get("/c/alpha/api/v1/alerts/999999/", **auth_header(secret))
    assert not_found.status_code == 404 and not_found["Content-Type"] == PROBLEM
    bad_json = client.post(
        "/c/alpha/api/v1/alert-channels/", "{not json", content_type="application/json", **auth_header(secret)
    )
    assert bad_json.status_code in (400, 403) and bad_json["Content-Type"] == PROBLEM
    wrong_method = client.delete("/c/alpha/api/v1/alerts/", **auth_header(secret))
    assert wrong_method.status_code == 405 and wrong_method["Content-Type"] == PROBLEM


def test_validation_errors_list_fields(alpha, login_as):
    http = login_as(make_user("am-val@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha))
    response = http.post(
        "/c/alpha/api/v1/alert-channels/", {"name": "x", "kind": "pager"}, content_type="application/json"
    )
    body = response.json()
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert "kind" in body["errors"] and "target" in body["errors"]


def test_oversized_body_is_refused_cleanly(alpha, api_key_for, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    alert = _alerts(alpha, 1)[0]
    _, secret = api_key_for(alpha, ["alerts", "read"])
    response = client.post(
        f"/c/alpha/api/v1/alerts/{alert.pk}/acknowledge/",
        json.dumps({"note": "x" * 5000}),
        content_type="application/json",
        **auth_header(secret),
    )
    assert response.status_code == 413 and response["Content-Type"] == PROBLEM
    with schema_context(alpha.schema_name):
        alert.refresh_from_db()
    assert alert.state == "open"


def test_throttling_per_key(alpha, api_key_for, client, monkeypatch):
    from apps.api.throttling import ApiKeyRateThrottle

    cache.clear()
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    _, secret = api_key_for(alpha, ["read"])
    _, other = api_key_for(alpha, ["read"])
    codes = [client.get("/c/alpha/api/v1/alerts/", **auth_header(secret)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/c/alpha/api/v1/alerts/", **auth_header(secret))
    assert limited["Content-Type"] == PROBLEM and limited.json()["retry_after_seconds"] > 0
    assert client.get("/c/alpha/api/v1/alerts/", **auth_header(other)).status_code == 200
    cache.clear()


def test_cursor_pagination_walks_every_row_once(alpha, api_key_for, client):
    _alerts(alpha, 60, prefix="p")
    _, secret = api_key_for(alpha, ["read"])
    url, seen = "/c/alpha/api/v1/alerts/?page_size=25", []
    while url:
        page = client.get(url, **auth_header(secret)).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) >= 60


@pytest.mark.parametrize("path", ["alerts/", "api-keys/", "memberships/", "audit-events/"])
def test_client_api_lists_use_constant_queries(path, alpha, login_as, django_assert_max_num_queries):
    manager = make_user(f"am-q-{path[:4]}@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    http = login_as(manager)
    _alerts(alpha, 3, prefix=f"q{path}")
    http.get(f"/c/alpha/api/v1/{path}")
    with django_assert_max_num_queries(12) as small:
        http.get(f"/c/alpha/api/v1/{path}")
    _alerts(alpha, 30, prefix=f"r{path}")
    for i in range(5):
        make_user(f"v{i}-{path[:4]}@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
    with django_assert_max_num_queries(len(small.captured_queries)):
        http.get(f"/c/alpha/api/v1/{path}")


@pytest.mark.parametrize("path", ["/", "/c/alpha/alerts/", "/c/alpha/audit/", "/api/v1/alerts/", "/api/v1/clients/"])
def test_pages_and_msp_lists_use_constant_queries(
    path, alpha, beta, msp_admin, login_as, django_assert_max_num_queries
):
    http = login_as(msp_admin)
    _alerts(alpha, 2, prefix=f"s{path}")
    http.get(path)
    with django_assert_max_num_queries(30) as small:
        assert http.get(path).status_code == 200
    _alerts(alpha, 25, prefix=f"t{path}")
    _alerts(beta, 25, prefix=f"t{path}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert http.get(path).status_code == 200


def test_openapi_document_covers_both_faces(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3")
    assert "/api/v1/clients/" in document["paths"]
    assert "/c/{client}/api/v1/alerts/{id}/acknowledge/" in document["paths"]
    assert "ApiKeyAuth" in document["components"]["securitySchemes"]
    assert client.get("/api/docs/").status_code == 200


def test_msp_level_keys_are_managed_by_msp_admins_only(alpha, msp_admin, login_as):
    manager = login_as(make_user("am-msp-keys@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha))
    body = {"name": "BI export", "scopes": ["read"]}
    assert manager.post("/api/v1/api-keys/", body, content_type="application/json").status_code == 403
    assert manager.get("/api/v1/api-keys/").status_code == 403
    created = login_as(msp_admin).post("/api/v1/api-keys/", body, content_type="application/json")
    assert created.status_code == 201 and created.json()["key"].startswith("keel_")
