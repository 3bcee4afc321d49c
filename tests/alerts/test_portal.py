"""The alert pages of the client workspace (/c/alpha/alerts/…): list and filters, detail, acknowledge and
resolve by form POST and by HTMX, who may act, and the delivery channel form."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.alerts.models import Alert, NotificationChannel
from apps.alerts.services import alert_acknowledge, alert_resolve
from tests.conftest import make_user

from .support import add_channel, audit_trail, raise_alert

LIST = "/c/alpha/alerts/"


@pytest.fixture
def manager(alpha):
    return make_user("am-alerts@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)


@pytest.fixture
def executive(alpha):
    return make_user("cfo-alerts@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)


@pytest.fixture
def three_alerts(alpha):
    """A critical open alert, a medium acknowledged one and a low resolved one."""
    with schema_context(alpha.schema_name):
        critical = raise_alert(severity="critical", subject="Runaway agent uw-7", dedup_key="runaway")
        medium = raise_alert(severity="medium", subject="Cost sync throttled", dedup_key="sync", kind="ingestion")
        alert_acknowledge(alert=medium, note="Provider throttling.")
        low = raise_alert(severity="low", subject="Slow claims integration", dedup_key="slow", kind="integration")
        alert_resolve(alert=low, note="Recovered.")
    return critical, medium, low


def _state(alpha, alert) -> Alert:
    with schema_context(alpha.schema_name):
        return Alert.objects.get(pk=alert.pk)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- list and filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query,shown",
    [
        ("", {"Runaway agent uw-7", "Cost sync throttled"}),  # default: open or acknowledged
        ("?state=active", {"Runaway agent uw-7", "Cost sync throttled"}),
        ("?state=open", {"Runaway agent uw-7"}),
        ("?state=acknowledged", {"Cost sync throttled"}),
        ("?state=resolved", {"Slow claims integration"}),
        ("?state=", {"Runaway agent uw-7", "Cost sync throttled", "Slow claims integration"}),
        ("?state=&severity=low", {"Slow claims integration"}),
        ("?severity=critical", {"Runaway agent uw-7"}),
        ("?state=&query=THROTTLED", {"Cost sync throttled"}),
        ("?state=&query=nothing+like+this", set()),
    ],
)
def test_list_filters(query, shown, three_alerts, manager, login_as):
    response = login_as(manager).get(LIST + query)
    assert response.status_code == 200
    page = response.content.decode()
    subjects = {"Runaway agent uw-7", "Cost sync throttled", "Slow claims integration"}
    assert {s for s in subjects if s in page} == shown
    if not shown:
        assert "No alerts match." in page


def test_list_puts_the_worst_first_and_offers_actions_by_state(three_alerts, manager, login_as):
    critical, medium, low = three_alerts
    page = login_as(manager).get(LIST + "?state=").content.decode()
    assert page.index("Runaway agent uw-7") < page.index("Cost sync throttled") < page.index("Slow claims")
    assert f"/alerts/{critical.pk}/acknowledge/" in page  # open: can be acknowledged
    assert f"/alerts/{medium.pk}/acknowledge/" not in page  # already acknowledged
    assert f"/alerts/{medium.pk}/#resolve" in page and f"/alerts/{low.pk}/#resolve" not in page


def test_htmx_filtering_returns_only_the_table(three_alerts, manager, login_as):
    response = login_as(manager).get(LIST + "?severity=medium", HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page and "<table>" in page
    assert "Cost sync throttled" in page and "Runaway agent" not in page


def test_the_sidebar_counts_open_alerts(three_alerts, manager, login_as):
    page = login_as(manager).get("/c/alpha/").content.decode()
    assert 'aria-label="2 open"' in page


# --- detail ------------------------------------------------------------------------------------------------


def test_detail_shows_the_story_with_actors_and_notes(alpha, manager, login_as):
    with schema_context(alpha.schema_name):
        alert = raise_alert(data={"agent": "uw-7", "spend_usd": 1356})
        add_channel("email", target="ops@alpha.test")
    http = login_as(manager)
    http.post(f"{LIST}{alert.pk}/acknowledge/", {"note": "Paging the agent's owner."})
    page = http.get(f"{LIST}{alert.pk}/").content.decode()
    assert "<h1>Spend spike on agent uw-7</h1>" in page
    assert "uw-7 spent 9x its hourly baseline." in page and "spend_usd" in page
    assert "Acknowledged" in page and "by am-alerts@msp.test" in page and "Paging the agent&#x27;s owner." in page
    assert "Owner: am-alerts@msp.test" in page
    assert 'id="resolve"' in page  # the manager can still resolve it
    # No on-commit delivery ran in this rolled-back test transaction: the empty state explains.
    assert "Not delivered to any channel" in page


def test_detail_of_an_unknown_alert_is_404(alpha, manager, login_as):
    assert login_as(manager).get(f"{LIST}999999/").status_code == 404


def test_a_resolved_alert_offers_no_actions(alpha, manager, login_as):
    with schema_context(alpha.schema_name):
        alert = alert_resolve(alert=raise_alert(), note="Fixed.")
    page = login_as(manager).get(f"{LIST}{alert.pk}/").content.decode()
    assert 'id="resolve"' not in page and "Resolved" in page


# --- acting on alerts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.ENGINEER, Role.MSP_ADMIN])
def test_acknowledge_by_form_post(role, alpha, login_as):
    manager = make_user(f"{role}-ack@msp.test", role=role, client=alpha)
    with schema_context(alpha.schema_name):
        alert = raise_alert()
    http = login_as(manager)
    response = http.post(f"{LIST}{alert.pk}/acknowledge/", {"note": "On it."})
    assert response.status_code == 302 and response.url == f"{LIST}{alert.pk}/"
    assert _messages(response) == ["Alert acknowledged."]
    stored = _state(alpha, alert)
    assert stored.state == "acknowledged" and stored.acknowledged_by == manager.email
    with schema_context(alpha.schema_name):
        assert (stored.events.last().kind, stored.events.last().note) == ("acknowledged", "On it.")
        record = audit_trail(alert)[-1]
    assert (record.action, record.actor_email, record.actor_user_id) == ("alert.acknowledge", manager.email, manager.pk)
    assert record.source == "portal" and record.after["note"] == "On it."

    again = http.post(f"{LIST}{alert.pk}/acknowledge/", follow=True)
    assert "Only an open alert can be acknowledged." in again.content.decode()


def test_acknowledge_from_the_list_returns_to_the_list(alpha, manager, login_as):
    with schema_context(alpha.schema_name):
        alert = raise_alert()
    http = login_as(manager)
    back = f"{LIST}?severity=high"
    response = http.post(f"{LIST}{alert.pk}/acknowledge/", {"next": back})
    assert response.status_code == 302 and response.url == back
    # Somewhere else is refused: the redirect goes to the alert instead.
    with schema_context(alpha.schema_name):
        other = raise_alert(dedup_key="other")
    response = http.post(f"{LIST}{other.pk}/acknowledge/", {"next": "https://evil.example/phish"})
    assert response.url == f"{LIST}{other.pk}/"


def test_acknowledge_by_htmx_returns_the_refreshed_table(alpha, manager, login_as):
    with schema_context(alpha.schema_name):
        alert = raise_alert()
        other = raise_alert(dedup_key="other", subject="Another open alert")
    response = login_as(manager).post(
        f"{LIST}{alert.pk}/acknowledge/",
        {"from": "list", "note": "via htmx"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{LIST}?severity=high",
    )
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page
    assert "state-acknowledged" in page and "Spend spike on agent uw-7" in page
    assert f"/alerts/{alert.pk}/acknowledge/" not in page  # its button is gone…
    assert f"/alerts/{other.pk}/acknowledge/" in page  # …the other open alert keeps its own
    # …and still brings the user back to the list they are looking at, not to the POST-only action URL.
    assert f'name="next" value="{LIST}?severity=high"' in page
    assert _state(alpha, alert).state == "acknowledged"
    with schema_context(alpha.schema_name):
        assert Alert.objects.get(pk=alert.pk).events.last().note == "via htmx"


def test_resolve_with_a_note_and_add_a_note(alpha, manager, login_as):
    with schema_context(alpha.schema_name):
        alert = raise_alert()
    http = login_as(manager)
    empty = http.post(f"{LIST}{alert.pk}/note/", {"note": "  "}, follow=True)
    assert "Write a note first." in empty.content.decode()
    http.post(f"{LIST}{alert.pk}/note/", {"note": "Asked the client."})
    response = http.post(f"{LIST}{alert.pk}/resolve/", {"note": "Agent capped at $10/hour."}, follow=True)
    assert "Alert resolved." in response.content.decode()
    stored = _state(alpha, alert)
    assert stored.state == "resolved" and stored.resolved_by == manager.email
    with schema_context(alpha.schema_name):
        assert [(e.kind, e.note) for e in stored.events.all()][1:] == [
            ("note", "Asked the client."),
            ("resolved", "Agent capped at $10/hour."),
        ]
    again = http.post(f"{LIST}{alert.pk}/resolve/", follow=True)
    assert "This alert is already resolved." in again.content.decode()


def test_actions_need_post(alpha, manager, login_as):
    with schema_context(alpha.schema_name):
        alert = raise_alert()
    assert login_as(manager).get(f"{LIST}{alert.pk}/acknowledge/").status_code == 405
    assert _state(alpha, alert).state == "open"


def test_a_client_executive_reads_but_cannot_act(alpha, executive, login_as):
    with schema_context(alpha.schema_name):
        alert = raise_alert()
    http = login_as(executive)
    listing = http.get(LIST).content.decode()
    assert "Spend spike on agent uw-7" in listing
    assert "/acknowledge/" not in listing and "Resolve…" not in listing and "Delivery channels" not in listing
    detail = http.get(f"{LIST}{alert.pk}/").content.decode()
    assert "Spend spike on agent uw-7" in detail and 'id="resolve"' not in detail
    for action in ("acknowledge", "resolve", "note"):
        assert http.post(f"{LIST}{alert.pk}/{action}/", {"note": "x"}).status_code == 403
    assert http.get(f"{LIST}channels/").status_code == 403
    assert _state(alpha, alert).state == "open"


# --- delivery channels -------------------------------------------------------------------------------------


def _channel_form(**overrides) -> dict:
    return {"name": "Ops", "kind": "email", "target": "ops@alpha.test", "min_severity": "high", "is_active": "on"} | (
        overrides
    )


@pytest.mark.parametrize(
    "fields,error",
    [
        ({"kind": "email", "target": "not-an-email"}, "Enter a valid email address."),
        ({"kind": "email", "target": "ops@alpha.test, nope"}, "Enter a valid email address."),
        ({"kind": "email", "target": " , "}, "Enter at least one email address."),
        ({"kind": "webhook", "target": "ftp://hooks.example.test/x"}, "Enter the webhook URL, starting with https://."),
        ({"kind": "slack", "target": "hooks.slack.com/services/x"}, "Enter the webhook URL, starting with https://."),
        ({"kind": "teams", "target": ""}, "This field is required."),
        ({"name": ""}, "This field is required."),
        ({"kind": "pager"}, "Select a valid choice."),
    ],
)
def test_channel_form_refuses_bad_targets(fields, error, alpha, manager, login_as):
    response = login_as(manager).post(f"{LIST}channels/new/", _channel_form(**fields))
    assert response.status_code == 200
    assert error in response.content.decode()
    with schema_context(alpha.schema_name):
        assert not NotificationChannel.objects.exists()


def test_channel_form_creates_and_edits_a_channel(alpha, manager, login_as):
    http = login_as(manager)
    form = _channel_form(kind="webhook", target="https://hooks.example.test/keel", signing_secret="s3cret-value")
    response = http.post(f"{LIST}channels/new/", form)
    assert response.status_code == 302 and response.url == f"{LIST}channels/"
    with schema_context(alpha.schema_name):
        channel = NotificationChannel.objects.get()
        assert channel.signing_secret == "s3cret-value" and channel.kind == "webhook"
    # Editing without a secret keeps the stored one; the page never shows it.
    edit_page = http.get(f"{LIST}channels/{channel.pk}/").content.decode()
    assert "s3cret-value" not in edit_page
    http.post(f"{LIST}channels/{channel.pk}/", form | {"signing_secret": "", "min_severity": "critical"})
    with schema_context(alpha.schema_name):
        channel.refresh_from_db()
        assert channel.signing_secret == "s3cret-value" and channel.min_severity == "critical"
        assert [r.action for r in audit_trail(channel)] == ["alert_channel.create", "alert_channel.update"]
    listing = http.get(f"{LIST}channels/").content.decode()
    assert "https://hooks.example.test/keel" in listing and "Critical and worse" in listing
    http.post(f"{LIST}channels/{channel.pk}/delete/")
    with schema_context(alpha.schema_name):
        assert not NotificationChannel.objects.exists()
        assert audit_trail(channel)[-1].action == "alert_channel.delete"
