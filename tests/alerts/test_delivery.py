"""Delivering alert events to channels: signed webhooks (replay-safe), Slack and Teams payloads, email,
severity and kind filters, and the retry bookkeeping that makes sure nothing is lost.

Deliveries are enqueued with transaction.on_commit; the tests run in a rolled-back transaction, so they
execute the captured callbacks with django_capture_on_commit_callbacks(execute=True)."""

from __future__ import annotations

import json
import smtplib
import time
from datetime import timedelta
from unittest import mock

import pytest
import requests
import responses
from django.core import mail
from django.db import connection
from django.utils import timezone

from apps.alerts.delivery import SIGNATURE_TOLERANCE_SECONDS, sign, verify_signature
from apps.alerts.models import AlertDelivery, NotificationChannel
from apps.alerts.services import alert_acknowledge, alert_resolve
from apps.alerts.services_delivery import MAX_DELIVERY_ATTEMPTS, deliveries_retry_due
from apps.alerts.tasks import retry_failed_deliveries_task

from .support import HOOK, add_channel, audit_trail, raise_alert, request_bytes, request_json

SECRET = "whsec-test-0123456789"


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """`with deliver(): ...` runs the on-commit delivery (and rollup) tasks when the block ends."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


def _make_due(delivery: AlertDelivery) -> None:
    AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


# --- signed webhooks ---------------------------------------------------------------------------------------


@responses.activate
def test_a_signed_webhook_verifies_and_is_replay_safe(in_alpha, deliver):
    responses.add(responses.POST, HOOK, status=204)
    add_channel(signing_secret=SECRET)
    with deliver():
        alert = raise_alert()

    [call] = responses.calls
    body, headers = request_bytes(call), call.request.headers
    delivery = AlertDelivery.objects.get(alert=alert)
    assert (delivery.status, delivery.response_code, delivery.attempts, delivery.event) == ("sent", 204, 1, "raised")
    assert headers["Content-Type"] == "application/json" and headers["X-Keel-Event"] == "alert.raised"
    assert headers["X-Keel-Delivery"] == f"{connection.schema_name}-{delivery.pk}"

    signature = headers["X-Keel-Signature"]
    timestamp = int(dict(part.split("=", 1) for part in signature.split(","))["t"])
    assert abs(timestamp - time.time()) < 60
    assert verify_signature(SECRET, signature, body)
    # Refused: a changed body, another secret, a malformed header.
    assert not verify_signature(SECRET, signature, body.replace(b"Spend spike", b"All is well"))
    assert not verify_signature(SECRET, signature, body + b" ")
    assert not verify_signature("another-secret", signature, body)
    assert not verify_signature(SECRET, "v1=deadbeef", body)
    assert not verify_signature(SECRET, "", body)
    # Refused: replayed more than 5 minutes later (or stamped more than 5 minutes ahead).
    assert SIGNATURE_TOLERANCE_SECONDS == 300
    assert verify_signature(SECRET, signature, body, now=timestamp + 299)
    assert not verify_signature(SECRET, signature, body, now=timestamp + 301)
    assert not verify_signature(SECRET, signature, body, now=timestamp - 301)
    stale = sign(SECRET, int(time.time()) - 301, body)  # correctly signed, but too old
    assert not verify_signature(SECRET, stale, body)

    payload = json.loads(body)
    assert payload["event"] == "alert.raised"
    assert payload["client"] == {"slug": "alpha", "name": "Alpha Corp"}
    assert payload["alert"]["id"] == alert.pk and payload["alert"]["severity"] == "high"
    assert payload["alert"]["dedup_key"] == "cost:uw-7" and payload["alert"]["state"] == "open"
    assert payload["alert"]["url"].endswith(f"/c/alpha/alerts/{alert.pk}/")


@responses.activate
def test_a_webhook_without_a_secret_is_sent_unsigned(in_alpha, deliver):
    responses.add(responses.POST, HOOK, status=200)
    add_channel()
    with deliver():
        raise_alert()
    [call] = responses.calls
    assert "X-Keel-Signature" not in call.request.headers and call.request.headers["X-Keel-Delivery"]


def test_the_signing_secret_is_encrypted_at_rest_and_never_audited(in_alpha):
    channel = add_channel(signing_secret=SECRET)
    with connection.cursor() as cursor:
        cursor.execute("SELECT signing_secret FROM alerts_notificationchannel WHERE id = %s", [channel.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored
    assert NotificationChannel.objects.get(pk=channel.pk).signing_secret == SECRET
    [record] = audit_trail(channel)
    assert record.action == "alert_channel.create" and record.after["signing_secret_set"] is True
    assert SECRET not in json.dumps([record.before, record.after])


# --- chat formats ------------------------------------------------------------------------------------------


@responses.activate
def test_slack_gets_text_and_blocks(in_alpha, deliver):
    responses.add(responses.POST, HOOK, status=200)
    add_channel("slack")
    with deliver():
        alert = raise_alert()
    payload = request_json(responses.calls[0])
    assert set(payload) == {"text", "blocks"}
    assert payload["text"] == "[High] Alpha Corp: Spend spike on agent uw-7"
    section, context = payload["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "*[High] Alpha Corp: Spend spike on agent uw-7*" in section["text"]["text"]
    assert "uw-7 spent 9x its hourly baseline." in section["text"]["text"]
    assert context["type"] == "context"
    assert f"/c/alpha/alerts/{alert.pk}/|Open in Keel>" in context["elements"][0]["text"]


@responses.activate
def test_teams_gets_an_adaptive_card(in_alpha, deliver):
    responses.add(responses.POST, HOOK, status=202)
    add_channel("teams")
    with deliver():
        alert = raise_alert()
    payload = request_json(responses.calls[0])
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] and card["$schema"].startswith("http")
    assert card["body"][0]["text"] == "[High] Alpha Corp: Spend spike on agent uw-7"
    assert card["body"][1]["text"] == "uw-7 spent 9x its hourly baseline."
    [open_url] = card["actions"]
    assert open_url["type"] == "Action.OpenUrl" and open_url["url"].endswith(f"/c/alpha/alerts/{alert.pk}/")
    assert AlertDelivery.objects.get(alert=alert).status == "sent"


# --- which events are delivered ----------------------------------------------------------------------------


@responses.activate
def test_escalation_is_delivered_again_but_plain_repeats_are_not(in_alpha, deliver):
    responses.add(responses.POST, HOOK, status=200)
    add_channel(min_severity="medium")
    with deliver():
        alert = raise_alert(severity="medium")
    with deliver():
        raise_alert(severity="medium")
        raise_alert(severity="low")
    assert len(responses.calls) == 1  # the same condition seen again is not news
    with deliver():
        raise_alert(severity="critical")
    assert len(responses.calls) == 2
    escalation = request_json(responses.calls[1])
    assert responses.calls[1].request.headers["X-Keel-Event"] == "alert.escalated"
    assert escalation["event"] == "alert.escalated" and escalation["alert"]["severity"] == "critical"
    assert escalation["alert"]["occurrences"] == 4
    assert list(AlertDelivery.objects.filter(alert=alert).order_by("pk").values_list("event", "status")) == [
        ("raised", "sent"),
        ("escalated", "sent"),
    ]


@responses.activate
def test_acknowledge_and_resolve_are_delivered_as_their_own_events(in_alpha, deliver):
    responses.add(responses.POST, HOOK, status=200)
    add_channel()
    with deliver():
        alert = raise_alert()
    with deliver():
        alert_acknowledge(alert=alert, note="mine")
    with deliver():
        alert_resolve(alert=alert, note="fixed")
    events = [call.request.headers["X-Keel-Event"] for call in responses.calls]
    assert events == ["alert.raised", "alert.acknowledged", "alert.resolved"]
    assert request_json(responses.calls[2])["alert"]["state"] == "resolved"
    delivery_ids = {call.request.headers["X-Keel-Delivery"] for call in responses.calls}
    assert len(delivery_ids) == 3  # one id per delivery: receivers drop only true replays


def test_channels_filter_by_minimum_severity_kind_and_active(in_alpha, deliver):
    add_channel("email", name="critical only", target="crit@alpha.test", min_severity="critical")
    add_channel("email", name="low and up", target="all@alpha.test", min_severity="low")
    add_channel("email", name="budgets only", target="budget@alpha.test", min_severity="low", kinds=["budget"])
    add_channel("email", name="paused", target="paused@alpha.test", min_severity="info", is_active=False)
    with deliver():
        high = raise_alert(severity="high")
        info = raise_alert(severity="info", dedup_key="info:1")
        budget = raise_alert(severity="critical", kind="budget", dedup_key="budget:1", subject="Budget at 120%")

    def sent_to(alert):
        return sorted(AlertDelivery.objects.filter(alert=alert).values_list("channel__name", flat=True))

    assert sent_to(high) == ["low and up"]
    assert sent_to(info) == []  # below every active channel's threshold
    assert sent_to(budget) == ["budgets only", "critical only", "low and up"]
    assert sorted(address for m in mail.outbox for address in m.to) == [
        "all@alpha.test",
        "all@alpha.test",
        "budget@alpha.test",
        "crit@alpha.test",
    ]


# --- email -------------------------------------------------------------------------------------------------


def test_email_channel_sends_to_every_address(in_alpha, deliver):
    add_channel("email", target="ops@alpha.test, cto@alpha.test ,", min_severity="high")
    with deliver():
        raise_alert(severity="low", dedup_key="quiet", subject="Quiet")
        alert = raise_alert(severity="critical", subject="Runaway agent", dedup_key="loud")
    [message] = mail.outbox
    assert message.subject == "[Keel Critical] Runaway agent"
    assert message.to == ["ops@alpha.test", "cto@alpha.test"]
    assert "State: Open (raised)" in message.body
    assert f"/c/alpha/alerts/{alert.pk}/" in message.body
    delivery = AlertDelivery.objects.get(alert=alert)
    assert delivery.status == "sent" and delivery.response_code is None


def test_an_smtp_failure_is_retried(in_alpha, deliver):
    add_channel("email", target="ops@alpha.test")
    with mock.patch("apps.alerts.delivery.send_mail", side_effect=smtplib.SMTPServerDisconnected("gone")), deliver():
        alert = raise_alert()
    delivery = AlertDelivery.objects.get(alert=alert)
    assert delivery.status == "retrying" and delivery.error == "Email could not be sent: gone"
    _make_due(delivery)
    assert deliveries_retry_due() == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 2 and len(mail.outbox) == 1


# --- failures and retries ----------------------------------------------------------------------------------


@responses.activate
def test_a_timeout_leaves_a_retrying_delivery_then_the_retry_sends_it(in_alpha, deliver, settings):
    responses.add(responses.POST, HOOK, body=requests.exceptions.ReadTimeout())
    add_channel(signing_secret=SECRET)
    with deliver():
        alert = raise_alert()

    delivery = AlertDelivery.objects.get(alert=alert)
    assert delivery.status == "retrying" and delivery.attempts == 1 and delivery.response_code is None
    seconds = settings.KEEL_WEBHOOK_TIMEOUT_SECONDS
    assert delivery.error == f"The webhook did not answer within {seconds:g} s."
    # Backoff with jitter: somewhere in the first minute, never in the past.
    assert delivery.last_attempt_at <= delivery.next_attempt_at <= delivery.last_attempt_at + timedelta(seconds=60)
    alert.refresh_from_db()
    assert alert.state == "open"  # a failed delivery never touches the alert

    assert deliveries_retry_due() == 0  # not due yet
    responses.replace(responses.POST, HOOK, status=200)
    _make_due(delivery)
    assert deliveries_retry_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error, delivery.next_attempt_at) == ("sent", 2, "", None)
    assert delivery.response_code == 200
    first, retry = responses.calls
    # A retry is the same delivery (same id, so receivers can drop a duplicate), freshly signed.
    assert first.request.headers["X-Keel-Delivery"] == retry.request.headers["X-Keel-Delivery"]
    assert verify_signature(SECRET, retry.request.headers["X-Keel-Signature"], request_bytes(retry))


@responses.activate
def test_connection_errors_are_retried_with_a_readable_error(in_alpha, deliver):
    responses.add(responses.POST, HOOK, body=requests.exceptions.ConnectionError("refused"))
    add_channel()
    with deliver():
        alert = raise_alert()
    delivery = AlertDelivery.objects.get(alert=alert)
    assert delivery.status == "retrying"
    assert delivery.error == "The webhook could not be reached: ConnectionError."


@responses.activate
@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_throttling_and_server_errors_are_retried(status, in_alpha, deliver):
    responses.add(responses.POST, HOOK, status=status)
    add_channel()
    with deliver():
        alert = raise_alert()
    delivery = AlertDelivery.objects.get(alert=alert)
    assert (delivery.status, delivery.response_code) == ("retrying", status)
    assert delivery.error == f"The webhook answered HTTP {status}." and delivery.next_attempt_at is not None


@responses.activate
@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 301])
def test_client_errors_and_redirects_fail_without_retry(status, in_alpha, deliver):
    responses.add(responses.POST, HOOK, status=status)
    add_channel()
    with deliver():
        alert = raise_alert()
    delivery = AlertDelivery.objects.get(alert=alert)
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("failed", status, 1)
    assert delivery.next_attempt_at is None and f"HTTP {status}" in delivery.error
    AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(hours=1))
    assert deliveries_retry_due() == 0
    assert len(responses.calls) == 1


@responses.activate
def test_after_the_last_attempt_a_delivery_is_failed(in_alpha, deliver):
    responses.add(responses.POST, HOOK, body=requests.exceptions.ReadTimeout())
    add_channel()
    with deliver():
        alert = raise_alert()
    delivery = AlertDelivery.objects.get(alert=alert)
    for attempt in range(2, MAX_DELIVERY_ATTEMPTS + 1):
        _make_due(delivery)
        deliveries_retry_due()
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert delivery.status == ("failed" if attempt == MAX_DELIVERY_ATTEMPTS else "retrying")
    assert delivery.next_attempt_at is None and "did not answer" in delivery.error
    deliveries_retry_due()
    assert len(responses.calls) == MAX_DELIVERY_ATTEMPTS  # given up: no further attempts


@responses.activate
def test_retry_sends_only_the_due_deliveries(in_alpha, deliver):
    responses.add(responses.POST, HOOK, status=503)
    add_channel()
    with deliver():
        due = raise_alert(dedup_key="a", subject="Due")
        later = raise_alert(dedup_key="b", subject="Later")
    due_delivery = AlertDelivery.objects.get(alert=due)
    later_delivery = AlertDelivery.objects.get(alert=later)
    _make_due(due_delivery)
    AlertDelivery.objects.filter(pk=later_delivery.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    responses.replace(responses.POST, HOOK, status=200)

    assert retry_failed_deliveries_task.delay().get() == 1  # the beat task, run eagerly in this schema
    due_delivery.refresh_from_db()
    later_delivery.refresh_from_db()
    assert due_delivery.status == "sent" and due_delivery.attempts == 2
    assert later_delivery.status == "retrying" and later_delivery.attempts == 1
    assert request_json(responses.calls[-1])["alert"]["subject"] == "Due"


@responses.activate
def test_one_failing_channel_does_not_stop_the_others(in_alpha, deliver):
    responses.add(responses.POST, HOOK, body=requests.exceptions.ReadTimeout())
    add_channel(name="slow hook")
    add_channel("email", name="ops mail", target="ops@alpha.test")
    with deliver():
        alert = raise_alert()
    statuses = dict(AlertDelivery.objects.filter(alert=alert).values_list("channel__name", "status"))
    assert statuses == {"slow hook": "retrying", "ops mail": "sent"}
    assert len(mail.outbox) == 1
