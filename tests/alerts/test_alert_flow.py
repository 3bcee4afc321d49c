import json
import time

import pytest
import requests
import responses
from django.core import mail
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.alerts.delivery import verify_signature
from apps.alerts.models import Alert, AlertDelivery, AlertEvent
from apps.alerts.services import alert_acknowledge, alert_raise, alert_resolve
from apps.alerts.services_delivery import MAX_DELIVERY_ATTEMPTS, channel_save, deliveries_retry_due
from apps.audit.models import AuditEvent
from apps.portfolio.models import AlertFeedItem
from tests.conftest import auth_header, make_user

HOOK = "https://hooks.example.test/keel"


def raise_one(**kw):
    defaults = {"kind": "cost_anomaly", "severity": "high", "subject": "Spend spike", "dedup_key": "spike:1"}
    return alert_raise(**{**defaults, **kw})


def test_repeats_update_one_open_alert(in_alpha):
    first = raise_one()
    again = raise_one(body="still spiking")
    assert again.pk == first.pk and again.occurrences == 2 and again.body == "still spiking"
    assert Alert.objects.filter(dedup_key="spike:1").count() == 1


def test_worse_severity_escalates_and_resolution_allows_a_new_alert(in_alpha):
    alert = raise_one(severity="medium")
    alert_acknowledge(alert=alert, note="looking")
    escalated = raise_one(severity="critical")
    assert escalated.severity == "critical" and escalated.state == "open"
    assert escalated.events.filter(kind=AlertEvent.Kind.ESCALATED).exists()
    alert_resolve(alert=escalated, note="fixed")
    fresh = raise_one()
    assert fresh.pk != alert.pk and fresh.state == "open"


def test_transitions_are_guarded_and_audited(in_alpha):
    alert = raise_one()
    alert_acknowledge(alert=alert, note="mine")
    with pytest.raises(Exception, match="Only an open alert"):
        alert_acknowledge(alert=alert)
    alert_resolve(alert=alert, note="done")
    with pytest.raises(Exception, match="already resolved"):
        alert_resolve(alert=alert)
    kinds = list(alert.events.values_list("kind", flat=True))
    assert kinds == ["raised", "acknowledged", "resolved"]
    actions = list(
        AuditEvent.objects.filter(object_id=str(alert.pk), object_type="alerts.alert")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["alert.raise", "alert.acknowledge", "alert.resolve"]


@responses.activate
def test_webhook_is_signed_and_replay_safe(in_alpha, django_capture_on_commit_callbacks):
    responses.add(responses.POST, HOOK, status=204)
    channel_save(
        name="hook", kind="webhook", target=HOOK, min_severity="high", kinds=[], is_active=True, signing_secret="s3cret"
    )
    with django_capture_on_commit_callbacks(execute=True):
        alert = raise_one()
    call = responses.calls[0].request
    body = call.body if isinstance(call.body, bytes) else call.body.encode()
    assert json.loads(body)["alert"]["id"] == alert.pk and json.loads(body)["event"] == "alert.raised"
    signature = call.headers["X-Keel-Signature"]
    assert verify_signature("s3cret", signature, body)
    assert not verify_signature("s3cret", signature, body + b" ")
    assert not verify_signature("wrong", signature, body)
    assert not verify_signature("s3cret", signature, body, now=int(time.time()) + 600)
    assert call.headers["X-Keel-Delivery"]
    assert AlertDelivery.objects.get(alert=alert).status == "sent"


@responses.activate
@pytest.mark.parametrize("kind,key", [("slack", "blocks"), ("teams", "attachments")])
def test_chat_payload_formats(kind, key, in_alpha, django_capture_on_commit_callbacks):
    responses.add(responses.POST, HOOK, status=200)
    channel_save(name=kind, kind=kind, target=HOOK, min_severity="low", kinds=[], is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        raise_one()
    assert key in json.loads(responses.calls[0].request.body)


@responses.activate
def test_timeouts_retry_with_backoff_then_give_up(in_alpha, django_capture_on_commit_callbacks):
    responses.add(responses.POST, HOOK, body=requests.exceptions.ReadTimeout())
    channel_save(name="slow", kind="webhook", target=HOOK, min_severity="high", kinds=[], is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        alert = raise_one()
    delivery = AlertDelivery.objects.get(alert=alert)
    assert delivery.status == "retrying" and "did not answer" in delivery.error and delivery.next_attempt_at
    assert Alert.objects.filter(pk=alert.pk).exists()
    for _ in range(MAX_DELIVERY_ATTEMPTS):
        AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
        deliveries_retry_due()
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == MAX_DELIVERY_ATTEMPTS


@responses.activate
def test_client_errors_fail_without_retry_and_recovery_sends(in_alpha, django_capture_on_commit_callbacks):
    responses.add(responses.POST, HOOK, status=410)
    channel_save(name="gone", kind="webhook", target=HOOK, min_severity="high", kinds=[], is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        alert = raise_one()
    delivery = AlertDelivery.objects.get(alert=alert)
    assert delivery.status == "failed" and delivery.response_code == 410 and delivery.attempts == 1


def test_email_channel_and_severity_filter(in_alpha, django_capture_on_commit_callbacks):
    channel_save(name="ops", kind="email", target="ops@alpha.test", min_severity="high", kinds=[], is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        raise_one(severity="low", dedup_key="quiet")
        raise_one(severity="critical", subject="Runaway agent", dedup_key="loud")
    assert [m.subject for m in mail.outbox] == ["[Keel Critical] Runaway agent"]
    assert "/c/alpha/alerts/" in mail.outbox[0].body


def test_portal_acknowledge_and_htmx_list(alpha, login_as, django_capture_on_commit_callbacks):
    with schema_context(alpha.schema_name):
        alert = raise_one()
    engineer = make_user("eng-ack@msp.test", role=Role.ENGINEER, client=alpha)
    http = login_as(engineer)
    assert b"Spend spike" in http.get("/c/alpha/alerts/").content
    partial = http.get("/c/alpha/alerts/?state=active", HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"Spend spike" in partial.content
    response = http.post(f"/c/alpha/alerts/{alert.pk}/acknowledge/", {"note": "on it"})
    assert response.status_code == 302
    with schema_context(alpha.schema_name):
        alert.refresh_from_db()
        assert alert.state == "acknowledged" and alert.acknowledged_by == engineer.email
        assert alert.events.last().note == "on it"
    executive = make_user("exec-ack@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)
    http = login_as(executive)
    assert http.post(f"/c/alpha/alerts/{alert.pk}/resolve/").status_code == 403
    page = http.get("/c/alpha/alerts/").content
    assert f"/alerts/{alert.pk}/acknowledge/".encode() not in page and "Resolve…".encode() not in page


def test_api_resolve_and_console_feed(
    alpha, msp_admin, login_as, api_key_for, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), schema_context(alpha.schema_name):
        alert = raise_one(severity="critical", subject="Loop on agent uw-7", dedup_key="loop")
    assert AlertFeedItem.objects.filter(client=alpha, alert_id=alert.pk).exists()
    admin = login_as(msp_admin)
    assert b"Loop on agent uw-7" in admin.get("/").content
    assert any(row["subject"] == "Loop on agent uw-7" for row in admin.get("/api/v1/alerts/").json()["results"])
    _, secret = api_key_for(alpha, ["read", "alerts"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/c/alpha/api/v1/alerts/{alert.pk}/resolve/",
            {"note": "killed"},
            content_type="application/json",
            **auth_header(secret),
        )
    assert response.status_code == 200 and response.json()["state"] == "resolved"
    assert not AlertFeedItem.objects.filter(client=alpha, alert_id=alert.pk).exists()


def test_channel_form_validation(alpha, login_as):
    http = login_as(make_user("am-ch@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha))
    bad_email = http.post(
        "/c/alpha/alerts/channels/new/",
        {"name": "x", "kind": "email", "target": "not-an-email", "min_severity": "high", "is_active": "on"},
    )
    assert bad_email.status_code == 200 and b"valid email" in bad_email.content
    bad_url = http.post(
        "/c/alpha/alerts/channels/new/",
        {"name": "x", "kind": "webhook", "target": "ftp://x", "min_severity": "high", "is_active": "on"},
    )
    assert b"starting with https://" in bad_url.content
