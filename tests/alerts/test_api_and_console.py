"""Alerts through the per-client API (/c/alpha/api/v1/alerts/), and across clients on the MSP console (/) and
the MSP API (/api/v1/alerts/), which read the public-schema rollup that each change refreshes on commit."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.alerts.models import Alert
from apps.alerts.services import alert_acknowledge
from apps.portfolio.models import AlertFeedItem, ClientRollup
from tests.conftest import auth_header, make_user

from .support import audit_trail, raise_alert

API = "/c/alpha/api/v1/alerts/"


@pytest.fixture
def manager(alpha):
    return make_user("am-api@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)


@pytest.fixture
def alerts(alpha):
    with schema_context(alpha.schema_name):
        open_one = raise_alert(severity="critical", subject="Runaway agent uw-7", dedup_key="runaway")
        acked = raise_alert(severity="medium", subject="Cost sync throttled", dedup_key="sync")
        alert_acknowledge(alert=acked, note="known")
    return open_one, acked


def _post(http, url, body=None, **extra):
    return http.post(url, body or {}, content_type="application/json", **extra)


# --- per-client API ----------------------------------------------------------------------------------------


def test_list_filters_by_state_and_severity(alerts, manager, login_as):
    open_one, acked = alerts
    http = login_as(manager)
    rows = http.get(f"{API}?state=open").json()["results"]
    assert [r["id"] for r in rows] == [open_one.pk]
    assert rows[0]["state"] == "open" and rows[0]["severity"] == "critical" and rows[0]["occurrences"] == 1
    assert [r["id"] for r in http.get(f"{API}?state=acknowledged").json()["results"]] == [acked.pk]
    assert [r["id"] for r in http.get(f"{API}?severity=medium").json()["results"]] == [acked.pk]
    assert len(http.get(API).json()["results"]) == 2


def test_detail_includes_the_history(alerts, manager, login_as):
    _, acked = alerts
    body = login_as(manager).get(f"{API}{acked.pk}/").json()
    assert [(e["kind"], e["note"]) for e in body["events"]] == [("raised", body["body"]), ("acknowledged", "known")]


def test_acknowledge_and_resolve_with_a_session(alpha, alerts, manager, login_as):
    open_one, _ = alerts
    http = login_as(manager)
    response = _post(http, f"{API}{open_one.pk}/acknowledge/", {"note": "Looking into the token spike."})
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "acknowledged" and body["acknowledged_by"] == manager.email
    assert body["owner_email"] == manager.email

    twice = _post(http, f"{API}{open_one.pk}/acknowledge/")
    assert twice.status_code == 400 and twice["Content-Type"] == "application/problem+json"
    assert "Only an open alert can be acknowledged." in str(twice.json()["errors"])

    resolved = _post(http, f"{API}{open_one.pk}/resolve/", {"note": "Capped at $10/hour."})
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    assert _post(http, f"{API}{open_one.pk}/resolve/").status_code == 400
    with schema_context(alpha.schema_name):
        alert = Alert.objects.get(pk=open_one.pk)
        assert [(e.kind, e.actor, e.note) for e in alert.events.all()][1:] == [
            ("acknowledged", manager.email, "Looking into the token spike."),
            ("resolved", manager.email, "Capped at $10/hour."),
        ]
        records = audit_trail(alert)[-2:]
    assert [(r.action, r.actor_email, r.source) for r in records] == [
        ("alert.acknowledge", manager.email, "api"),
        ("alert.resolve", manager.email, "api"),
    ]


def test_an_api_key_with_the_alerts_scope_can_act(alpha, alerts, api_key_for, client):
    open_one, _ = alerts
    key, secret = api_key_for(alpha, ["alerts"])
    response = _post(client, f"{API}{open_one.pk}/resolve/", {"note": "Closed by the runbook."}, **auth_header(secret))
    assert response.status_code == 200
    assert response.json()["resolved_by"] == f"API key {key.prefix}"
    with schema_context(alpha.schema_name):
        record = audit_trail(open_one)[-1]
    assert (record.action, record.actor_api_key, record.actor_email) == ("alert.resolve", key.prefix, "")
    assert record.after["note"] == "Closed by the runbook."


def test_a_note_longer_than_the_limit_is_refused(alerts, manager, login_as):
    open_one, _ = alerts
    response = _post(login_as(manager), f"{API}{open_one.pk}/acknowledge/", {"note": "x" * 4001})
    assert response.status_code == 400 and "note" in response.json()["errors"]


def test_without_the_alerts_capability_acting_is_forbidden(alpha, alerts, api_key_for, client, login_as):
    open_one, _ = alerts
    _, read_only = api_key_for(alpha, ["read"])
    assert client.get(f"{API}?state=open", **auth_header(read_only)).status_code == 200
    assert _post(client, f"{API}{open_one.pk}/acknowledge/", **auth_header(read_only)).status_code == 403
    executive = make_user("cfo-api@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)
    http = login_as(executive)
    assert http.get(API).status_code == 200
    assert _post(http, f"{API}{open_one.pk}/resolve/").status_code == 403
    with schema_context(alpha.schema_name):
        assert Alert.objects.get(pk=open_one.pk).state == "open"


# --- MSP console and MSP API -------------------------------------------------------------------------------


def test_the_console_and_msp_api_follow_the_rollup(
    alpha, beta, manager, login_as, api_key_for, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), schema_context(alpha.schema_name):
        alert = raise_alert(severity="critical", subject="Loop on agent uw-7", dedup_key="loop")

    # The on-commit chain refreshed alpha's rollup row and feed in the public schema.
    item = AlertFeedItem.objects.get(client=alpha, alert_id=alert.pk)
    assert (item.severity, item.state, item.subject) == ("critical", "open", "Loop on agent uw-7")
    rollup = ClientRollup.objects.get(client=alpha)
    assert (rollup.open_alerts, rollup.open_critical, rollup.open_high) == (1, 1, 0)

    http = login_as(manager)
    console = http.get("/").content.decode()
    assert "Loop on agent uw-7" in console and f'href="/c/alpha/alerts/{alert.pk}/"' in console
    rows = http.get("/api/v1/alerts/").json()["results"]
    assert [(r["client"], r["alert_id"], r["url"]) for r in rows] == [
        ("alpha", alert.pk, f"/c/alpha/alerts/{alert.pk}/")
    ]
    _, msp_key = api_key_for(None)
    assert [r["alert_id"] for r in client.get("/api/v1/alerts/", **auth_header(msp_key)).json()["results"]] == [
        alert.pk
    ]

    # Staff who do not look after alpha see nothing of it.
    other = make_user("am-beta@msp.test", role=Role.ACCOUNT_MANAGER, client=beta)
    other_http = login_as(other)
    assert "Loop on agent uw-7" not in other_http.get("/").content.decode()
    assert other_http.get("/api/v1/alerts/").json()["results"] == []

    # Acknowledging updates the feed; resolving removes the alert from it.
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(http, f"/c/alpha/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 200
    assert AlertFeedItem.objects.get(client=alpha, alert_id=alert.pk).state == "acknowledged"
    _, secret = api_key_for(alpha, ["read", "alerts"])
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            client, f"/c/alpha/api/v1/alerts/{alert.pk}/resolve/", {"note": "killed"}, **auth_header(secret)
        )
    assert response.status_code == 200 and response.json()["state"] == "resolved"
    assert not AlertFeedItem.objects.filter(client=alpha, alert_id=alert.pk).exists()
    assert ClientRollup.objects.get(client=alpha).open_alerts == 0
    assert "Loop on agent uw-7" not in http.get("/").content.decode()
    assert http.get("/api/v1/alerts/").json()["results"] == []


def test_the_console_orders_clients_worst_first(alpha, beta, login_as, msp_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with schema_context(alpha.schema_name):
            raise_alert(severity="low", subject="Alpha is slightly off", dedup_key="a")
        with schema_context(beta.schema_name):
            raise_alert(severity="critical", subject="Beta is on fire", dedup_key="b")
    page = login_as(msp_admin).get("/").content.decode()
    grid, feed = page.split('id="clients-h"')[1].split('id="feed-h"')  # skip the sidebar's alphabetical switcher
    assert grid.index("Beta Corp") < grid.index("Alpha Corp")
    assert feed.index("Beta is on fire") < feed.index("Alpha is slightly off")
