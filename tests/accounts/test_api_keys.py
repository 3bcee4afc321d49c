"""API keys: shown once, stored as a SHA-256 hash, limited to their scopes, dead once revoked or expired."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import ApiKey
from apps.accounts.roles import Role
from apps.alerts.models import Alert
from apps.alerts.services import alert_raise
from apps.audit.models import AuditEvent
from tests.conftest import auth_header, make_user

PROBLEM = "application/problem+json"
ALERTS = "/c/alpha/api/v1/alerts/"


@pytest.fixture
def manager_session(alpha, login_as):
    return login_as(make_user("am-apikeys@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha))


def open_alert(client, key: str) -> Alert:
    with schema_context(client.schema_name):
        return alert_raise(kind="t", severity="low", subject=f"key test {key}", dedup_key=f"keys:{key}")


def acknowledge(http, alert, secret):
    return http.post(f"{ALERTS}{alert.pk}/acknowledge/", {}, content_type="application/json", **auth_header(secret))


def test_the_secret_is_returned_once_and_only_its_hash_is_stored(manager_session, alpha):
    created = manager_session.post(
        "/c/alpha/api/v1/api-keys/",
        {"name": "Claims gateway", "scopes": ["ingest", "read"]},
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    secret = body["key"]
    assert secret.startswith(f"keel_{body['prefix']}_") and body["scopes"] == ["ingest", "read"]
    assert body["status"] == "active"
    key = ApiKey.objects.get(pk=body["id"])
    assert key.client == alpha and key.created_by.email == "am-apikeys@msp.test"
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = [str(getattr(key, f.attname)) for f in ApiKey._meta.concrete_fields]
    assert not any(secret in value or secret.split("_")[-1] in value for value in stored)
    listing = manager_session.get("/c/alpha/api/v1/api-keys/")
    detail = manager_session.get(f"/c/alpha/api/v1/api-keys/{key.pk}/")
    for response in (listing, detail):
        assert response.status_code == 200
        assert secret.encode() not in response.content and b'"key"' not in response.content
    assert [row["prefix"] for row in listing.json()["results"]] == [key.prefix]
    page = manager_session.get("/c/alpha/settings/api-keys/")
    assert page.status_code == 200 and secret.encode() not in page.content


def test_the_portal_shows_the_secret_on_the_creation_page_only(manager_session):
    created = manager_session.post("/c/alpha/settings/api-keys/", {"name": "BI export", "scopes": ["read"]})
    assert created.status_code == 200
    key = ApiKey.objects.get(name="BI export")
    secret = next(
        token.decode()
        for token in created.content.replace(b"<", b" ").replace(b">", b" ").split()
        if token.startswith(f"keel_{key.prefix}_".encode())
    )
    assert key.matches(secret)
    assert secret.encode() not in manager_session.get("/c/alpha/settings/api-keys/").content


def test_creating_a_key_is_audited_in_the_msp_chain(manager_session):
    created = manager_session.post(
        "/c/alpha/api/v1/api-keys/", {"name": "audited", "scopes": ["read"]}, content_type="application/json"
    ).json()
    with schema_context("public"):
        event = AuditEvent.objects.filter(action="api_key.create").latest("seq")
    assert event.object_id == str(created["id"]) and event.actor_email == "am-apikeys@msp.test"
    assert event.after["prefix"] == created["prefix"] and event.after["scopes"] == ["read"]
    assert created["key"] not in str(event.after) and created["key"] not in event.hash


def test_scopes_decide_what_a_key_may_do(alpha, api_key_for, client):
    first, second = open_alert(alpha, "s1"), open_alert(alpha, "s2")
    _, reader = api_key_for(alpha, ["read"])
    _, handler = api_key_for(alpha, ["alerts"])
    _, reader_handler = api_key_for(alpha, ["read", "alerts"])
    assert client.get(ALERTS, **auth_header(reader)).status_code == 200
    denied = acknowledge(client, first, reader)
    assert denied.status_code == 403 and denied["Content-Type"] == PROBLEM
    ok = acknowledge(client, first, handler)
    assert ok.status_code == 200 and ok.json()["state"] == "acknowledged"
    assert client.get(ALERTS, **auth_header(handler)).status_code == 403  # alerts alone does not read
    assert acknowledge(client, second, reader_handler).status_code == 200
    with schema_context(alpha.schema_name):
        first.refresh_from_db()
    assert first.acknowledged_by.startswith("API key ")  # the key, not a person, is named


@pytest.mark.parametrize(
    ("scopes", "path", "allowed"),
    [
        (["read"], "/c/alpha/api/v1/audit-events/", True),
        (["read"], "/c/alpha/api/v1/client/", True),
        (["ingest"], "/c/alpha/api/v1/alerts/", False),
        (["write"], "/c/alpha/api/v1/alerts/", False),
        (["read", "write", "ingest", "alerts"], "/c/alpha/api/v1/api-keys/", False),  # never manages keys
        (["read", "write", "ingest", "alerts"], "/c/alpha/api/v1/memberships/", False),  # nor people
        (["read", "alerts"], "/c/alpha/api/v1/alert-channels/", True),
    ],
)
def test_each_scope_reads_only_what_it_grants(scopes, path, allowed, alpha, api_key_for, client):
    _, secret = api_key_for(alpha, scopes)
    response = client.get(path, **auth_header(secret))
    assert response.status_code == (200 if allowed else 403), (scopes, path, response.status_code)


def test_a_key_is_for_the_api_only(alpha, api_key_for, client):
    _, secret = api_key_for(alpha, ["read"])
    assert client.get("/c/alpha/", **auth_header(secret)).status_code == 404
    assert client.get("/c/alpha/alerts/", **auth_header(secret)).status_code == 404


@pytest.mark.parametrize("state", ["revoked", "expired"])
def test_revoked_and_expired_keys_get_401(state, alpha, api_key_for, client):
    key, secret = api_key_for(alpha, ["read"])
    assert client.get(ALERTS, **auth_header(secret)).status_code == 200
    if state == "revoked":
        ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    else:
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(ALERTS, **auth_header(secret))
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == 401 and body["type"] and body["title"] == "Invalid API key"
    assert state.rstrip("d") in body["detail"]  # "revoked" / "expired"


def test_revoking_through_the_api_takes_effect_at_once(manager_session, alpha, api_key_for, client):
    key, secret = api_key_for(alpha, ["read"])
    revoked = manager_session.post(f"/c/alpha/api/v1/api-keys/{key.pk}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert client.get(ALERTS, **auth_header(secret)).status_code == 401
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="api_key.revoke", object_id=str(key.pk)).exists()


def test_a_key_can_expire_on_a_date_given_at_creation(manager_session, client):
    soon = timezone.now() + timedelta(hours=1)
    created = manager_session.post(
        "/c/alpha/api/v1/api-keys/",
        {"name": "temp", "scopes": ["read"], "expires_at": soon.isoformat()},
        content_type="application/json",
    ).json()
    assert client.get(ALERTS, **auth_header(created["key"])).status_code == 200
    ApiKey.objects.filter(pk=created["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(ALERTS, **auth_header(created["key"])).status_code == 401
    past = manager_session.post(
        "/c/alpha/api/v1/api-keys/",
        {"name": "past", "scopes": ["read"], "expires_at": (timezone.now() - timedelta(days=1)).isoformat()},
        content_type="application/json",
    )
    assert past.status_code == 400 and "expires_at" in past.json()["errors"]


@pytest.mark.parametrize(
    "header",
    [
        "Api-Key not-a-keel-key",
        "Api-Key keel_onlytwo",
        "Api-Key keel_a_b_c",
        "Api-Key other_abcd1234_secret",
        "Bearer keel__",
        "Api-Key ",
    ],
)
def test_malformed_keys_get_401(header, alpha, client):
    response = client.get(ALERTS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM
    assert response.json()["status"] == 401


def test_a_right_prefix_with_a_wrong_secret_gets_401(alpha, api_key_for, client):
    key, secret = api_key_for(alpha, ["read"])
    response = client.get(ALERTS, **auth_header(secret[:-2] + "zz"))
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM
    assert client.get(ALERTS, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200  # both schemes work


def test_last_use_is_recorded_at_most_once_a_minute(alpha, api_key_for, client):
    key, secret = api_key_for(alpha, ["read"])
    assert key.last_used_at is None
    client.get(ALERTS, **auth_header(secret), REMOTE_ADDR="198.51.100.7")
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None and key.last_used_ip == "198.51.100.7"
    client.get(ALERTS, **auth_header(secret))
    key.refresh_from_db()
    assert key.last_used_at == first  # a busy integration does not turn every read into a write
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(minutes=5))
    client.get(ALERTS, **auth_header(secret))
    key.refresh_from_db()
    assert key.last_used_at > first


def test_keys_need_a_scope_and_known_scopes(manager_session):
    for scopes in ([], ["admin"], ["read", "everything"]):
        response = manager_session.post(
            "/c/alpha/api/v1/api-keys/", {"name": "bad", "scopes": scopes}, content_type="application/json"
        )
        assert response.status_code == 400 and "scopes" in response.json()["errors"], scopes
    assert not ApiKey.objects.filter(name="bad").exists()


def test_writes_made_with_a_key_are_audited_with_the_key(alpha, api_key_for, client):
    key, secret = api_key_for(alpha, ["alerts"])
    alert = open_alert(alpha, "audited-ack")
    assert acknowledge(client, alert, secret).status_code == 200
    with schema_context(alpha.schema_name):
        event = AuditEvent.objects.filter(action="alert.acknowledge", object_id=str(alert.pk)).get()
    assert event.actor_api_key == key.prefix and event.actor_email == "" and event.source == "api"
