"""Every API error is application/problem+json (RFC 9457) with type, title and status; nothing answers 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client as HttpClient
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.alerts.models import Alert
from apps.alerts.services import alert_raise
from tests.conftest import auth_header, make_user

PROBLEM = "application/problem+json"
ALERTS = "/c/alpha/api/v1/alerts/"


def assert_problem(response, status: int, title: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == PROBLEM
    body = json.loads(response.content)
    assert body["status"] == status and body["type"] and body["title"]
    if title is not None:
        assert body["title"] == title
    return body


def open_alert(client, key: str) -> Alert:
    with schema_context(client.schema_name):
        return alert_raise(kind="t", severity="low", subject=f"errors {key}", dedup_key=f"errors:{key}")


@pytest.fixture
def full_key(alpha, api_key_for):
    _, secret = api_key_for(alpha, ["read", "write", "alerts", "ingest"])
    return auth_header(secret)


def test_unknown_objects_and_routes_are_404_problems(alpha, full_key, client, api_key_for):
    assert_problem(client.get(f"{ALERTS}987654321/", **full_key), 404, "Not found")
    assert_problem(client.get(f"{ALERTS}not-a-number/", **full_key), 404)
    assert_problem(client.get("/c/alpha/api/v1/no-such-thing/", **full_key), 404)
    assert_problem(client.post(f"{ALERTS}987654321/acknowledge/", {}, "application/json", **full_key), 404)
    _, msp_key = api_key_for(None)
    assert_problem(client.get("/api/v1/no-such-thing/", **auth_header(msp_key)), 404)
    assert_problem(client.get("/api/v1/clients/no-such-client/", **auth_header(msp_key)), 404)
    assert_problem(client.get("/c/alpha/api/v1/audit-events/?cursor=garbage", **full_key), 404)


def test_portal_404s_stay_html(alpha, login_as):
    http = login_as(make_user("html404@alpha.test", role=Role.CLIENT_VIEWER, client=alpha))
    response = http.get("/c/alpha/alerts/987654321/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_validation_errors_are_400_problems_listing_each_field(alpha, full_key, client):
    alert = open_alert(alpha, "validation")
    body = assert_problem(
        client.post(f"{ALERTS}{alert.pk}/acknowledge/", {"note": "x" * 4001}, "application/json", **full_key),
        400,
        "Invalid request",
    )
    assert set(body["errors"]) == {"note"} and isinstance(body["errors"]["note"], list)
    body = assert_problem(
        client.post("/c/alpha/api/v1/alert-channels/", {"name": "x", "kind": "pager"}, "application/json", **full_key),
        400,
        "Invalid request",
    )
    assert {"kind", "target"} <= set(body["errors"])


def test_business_rule_refusals_are_400_problems(alpha, full_key, client):
    alert = open_alert(alpha, "twice")
    url = f"{ALERTS}{alert.pk}/acknowledge/"
    assert client.post(url, {}, "application/json", **full_key).status_code == 200
    body = assert_problem(client.post(url, {}, "application/json", **full_key), 400)
    assert "Only an open alert can be acknowledged." in json.dumps(body)


def test_malformed_json_is_a_400_problem(alpha, full_key, client):
    alert = open_alert(alpha, "malformed")
    for raw in ("{not json", '{"note": ', "[1, 2", "\x00"):
        response = client.post(f"{ALERTS}{alert.pk}/acknowledge/", raw, content_type="application/json", **full_key)
        assert_problem(response, 400, "Bad request")
    with schema_context(alpha.schema_name):
        alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN


def test_a_body_that_is_not_json_is_a_415_problem(alpha, full_key, client):
    alert = open_alert(alpha, "form")
    response = client.post(f"{ALERTS}{alert.pk}/acknowledge/", {"note": "x"}, **full_key)  # multipart
    assert_problem(response, 415, "Unsupported media type")


def test_missing_credentials_are_401_problems(alpha, client):
    for path in (ALERTS, "/api/v1/clients/"):
        body = assert_problem(client.get(path), 401, "Authentication required")
        assert "Api-Key" in body["detail"]


def test_missing_capability_is_a_403_problem(alpha, api_key_for, client):
    alert = open_alert(alpha, "forbidden")
    _, reader = api_key_for(alpha, ["read"])
    response = client.post(f"{ALERTS}{alert.pk}/acknowledge/", {}, "application/json", **auth_header(reader))
    body = assert_problem(response, 403, "Permission denied")
    assert body["detail"]


def test_wrong_methods_are_405_problems(alpha, full_key, client):
    alert = open_alert(alpha, "methods")
    assert_problem(client.delete(ALERTS, **full_key), 405, "Method not allowed")
    assert_problem(client.put(f"{ALERTS}{alert.pk}/", {}, "application/json", **full_key), 405)
    assert_problem(client.get(f"{ALERTS}{alert.pk}/acknowledge/", **full_key), 405)


@pytest.mark.parametrize("limit", [100, 1000])
def test_an_oversized_body_is_refused_cleanly(limit, alpha, full_key, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = limit
    alert = open_alert(alpha, f"big{limit}")
    payload = json.dumps({"note": "x" * (limit * 3)})
    response = client.post(f"{ALERTS}{alert.pk}/acknowledge/", payload, "application/json", **full_key)
    assert response.status_code in (400, 413)
    assert_problem(response, response.status_code)
    with schema_context(alpha.schema_name):
        alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN
    # A body under the limit still goes through.
    small = client.post(f"{ALERTS}{alert.pk}/acknowledge/", {"note": "ok"}, "application/json", **full_key)
    assert small.status_code == 200


def test_an_oversized_portal_form_is_refused_without_a_500(alpha, login_as, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    alert = open_alert(alpha, "big-portal")
    http = login_as(make_user("big@msp.test", role=Role.ENGINEER, client=alpha))
    response = http.post(f"/c/alpha/alerts/{alert.pk}/note/", {"note": "x" * 2000})
    assert response.status_code in (400, 413)


def test_session_writes_need_the_csrf_token_but_key_writes_do_not(alpha, api_key_for):
    """The test client skips CSRF checks by default; a real browser session must send the token."""
    alert = open_alert(alpha, "csrf")
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(make_user("csrf@msp.test", role=Role.ENGINEER, client=alpha))
    response = browser.post(f"{ALERTS}{alert.pk}/acknowledge/", {}, content_type="application/json")
    body = assert_problem(response, 403)
    assert "CSRF" in body["detail"]
    _, secret = api_key_for(alpha, ["alerts"])
    keyed = HttpClient(enforce_csrf_checks=True)
    response = keyed.post(
        f"{ALERTS}{alert.pk}/acknowledge/", {}, content_type="application/json", **auth_header(secret)
    )
    assert response.status_code == 200
