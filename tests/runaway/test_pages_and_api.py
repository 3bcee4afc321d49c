"""Runaway through the portal and the API: list and detail with the chart, the CSV of what it shows, the
settings form, the kill-switch button and resolve with their permissions, another client's incident is a 404,
and list query counts that do not grow with the incidents."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.alerts.models import Alert
from apps.audit.models import AuditEvent
from apps.runaway import killswitch
from apps.runaway.models import KillSwitchCall, RunawayIncident
from apps.runaway.services import runaway_scan, runaway_settings
from tests.conftest import auth_header, make_user
from tests.runaway.conftest import DAY, LOOP_START, KillSwitchStandIn, at, ingest

PORTAL = "/c/alpha/finops/runaway/"
API = "/c/alpha/api/v1/runaway/"


@pytest.fixture
def incident(in_alpha, agent, events):
    """The seed loop, scanned through 13:15: one open critical incident of underwriter-7."""
    ingest(
        events.history(hour=13)
        + events.per_minute(at(DAY, 13, 0), 30, 2)
        + events.per_minute(LOOP_START, 6, 20, cost="1.13", prompt_hash="feed" * 16)
    )
    for minute in (13, 14, 15):
        runaway_scan(now=at(DAY, 13, minute))
    return RunawayIncident.objects.get()


@pytest.fixture
def more_incidents(incident, events):
    """Nine more incidents of other agents (to show the list does not query per row)."""
    for n in range(9):
        ingest(events.per_minute(at(DAY, 13, 15), 1, 15, agent=f"agent-{n}", cost="1.00"))
    runaway_scan(now=at(DAY, 13, 16))
    assert RunawayIncident.objects.count() == 10


@pytest.fixture
def stand_in(monkeypatch):
    adapter = KillSwitchStandIn()

    def session():
        import requests

        s = requests.Session()
        s.mount("https://", adapter)
        return s

    monkeypatch.setattr(killswitch, "session_factory", session)
    return adapter


# --- portal ---------------------------------------------------------------------------------------------


def test_incident_list_shows_each_incident_with_a_bounded_number_of_queries(
    more_incidents, login_as, alpha_manager, django_assert_max_num_queries
):
    client = login_as(alpha_manager)
    with django_assert_max_num_queries(30):  # 28 today with 1 incident or 10: nothing per row
        page = client.get(PORTAL)
    assert page.status_code == 200
    body = page.content.decode()
    assert "underwriter-7" in body and "agent-8" in body
    assert "91.04 USD" in body  # 4 minutes of $22.76 (scanned through 13:16)
    assert body.count('href="/c/alpha/finops/runaway/') >= 10


def test_incident_detail_has_the_chart_threshold_detection_and_drill_down(incident, login_as, alpha_manager):
    client = login_as(alpha_manager)
    page = client.get(f"{PORTAL}{incident.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-plotly-figure="runaway-figure"' in body
    start = body.index('<script type="application/json" id="runaway-figure">') + len(
        '<script type="application/json" id="runaway-figure">'
    )
    figure = json.loads(body[start : body.index("</script>", start)])
    bars, line = figure["data"]
    assert max(bars["y"]) == pytest.approx(22.76)
    assert line["y"] == [1.6, 1.6]  # the per-minute pace: the $16 ten-minute threshold ÷ 10
    assert any(a["text"].startswith("▾ Detected 14:13") for a in figure["layout"]["annotations"])  # Paris time
    assert bars["customdata"][0].startswith("/c/alpha/finops/ledger/?from=2026-11-20&to=2026-11-20")
    assert "tag=agent%3Dunderwriter-7" in bars["customdata"][0]
    assert "Call kill-switch now" in body and "data-confirm" in body
    assert "68.28" in body and "32,774.40" in body
    assert "Same prompt repeating" in body and "Above the $/minute ceiling" in body


def test_detail_csv_is_what_the_chart_shows(incident, login_as, alpha_manager):
    client = login_as(alpha_manager)
    response = client.get(f"{PORTAL}{incident.pk}/minutes.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    loop = [r for r in rows if r["above_threshold"] == "yes"]
    # The loop's minutes up to the one in progress at the last scan (13:15).
    assert [r["minute_utc"][11:16] for r in loop] == ["13:12", "13:13", "13:14", "13:15"]
    assert all(Decimal(r["spend"]) == Decimal("22.76") for r in loop)


def test_executive_sees_but_cannot_stop_resolve_or_change_settings(incident, login_as, alpha_executive, stand_in):
    client = login_as(alpha_executive)
    body = client.get(f"{PORTAL}{incident.pk}/").content.decode()
    assert "Call kill-switch now" not in body and "Resolve incident" not in body
    assert client.post(f"{PORTAL}{incident.pk}/stop/").status_code == 403
    assert client.post(f"{PORTAL}{incident.pk}/resolve/").status_code == 403
    assert client.post(f"{PORTAL}settings/", {"auto_stop": "on"}).status_code == 403
    assert stand_in.requests == []
    settings_page = client.get(f"{PORTAL}settings/").content.decode()
    assert "changing them needs the edit permission" in settings_page and "disabled" in settings_page


def test_manager_calls_the_kill_switch_from_the_page(incident, alpha, login_as, alpha_manager, stand_in):
    incident_schema = alpha.schema_name
    client = login_as(alpha_manager)
    response = client.post(f"{PORTAL}{incident.pk}/stop/", follow=True)
    assert response.status_code == 200
    assert "Kill-switch called: underwriter-7 answered HTTP 200." in response.content.decode()
    assert len(stand_in.requests) == 1 and stand_in.payloads[0]["trigger"] == "manual"
    with schema_context(incident_schema):
        call = KillSwitchCall.objects.get()
        assert call.requested_by == "am@msp.test"
        assert RunawayIncident.objects.get().status == "stopped"


def test_settings_form_saves_and_audits(in_alpha, login_as, alpha_manager):
    client = login_as(alpha_manager)
    response = client.post(
        f"{PORTAL}settings/",
        {
            "enabled": "on",
            "baseline_multiplier": "8",
            "min_spend_10m": "25",
            "max_spend_per_minute": "4.50",
            "max_tokens_per_request": "150000",
            "repeat_threshold": "40",
            "request_rate_multiplier": "6",
            "min_requests_10m": "200",
            "quiet_minutes": "15",
            "auto_stop": "on",
        },
    )
    assert response.status_code == 302
    saved = runaway_settings()
    assert (saved.auto_stop, saved.max_spend_per_minute, saved.quiet_minutes) == (True, Decimal("4.5"), 15)
    assert AuditEvent.objects.filter(action="runaway.settings_update").exists()
    bad = client.post(f"{PORTAL}settings/", {"baseline_multiplier": "0.5", "quiet_minutes": "0"})
    assert bad.status_code == 200 and "Some answers need a look" in bad.content.decode()


def test_rotating_the_secret_shows_it_once(in_alpha, login_as, alpha_manager):
    from apps.runaway.services import kill_switch_secret

    before = kill_switch_secret()
    page = login_as(alpha_manager).post(f"{PORTAL}settings/secret/").content.decode()
    after = runaway_settings().kill_switch_secret
    assert after != before and after in page
    assert after not in login_as(alpha_manager).get(f"{PORTAL}settings/").content.decode()


def test_resolving_the_incident_resolves_its_alert(incident, login_as, alpha_manager):
    client = login_as(alpha_manager)
    response = client.post(f"{PORTAL}{incident.pk}/resolve/", {"note": "retry loop fixed"}, follow=True)
    assert "Incident resolved" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolution_note == "retry loop fixed"
    assert Alert.objects.get(pk=incident.alert_id).state == Alert.State.RESOLVED


def test_another_clients_incident_is_a_404(incident, beta, login_as, alpha_manager, api_key_for):
    beta_member = make_user("eng@beta.test", role=Role.CLIENT_EXECUTIVE, client=beta)
    assert login_as(beta_member).get(f"{PORTAL}{incident.pk}/").status_code == 404  # not a member of alpha
    staff = login_as(alpha_manager)
    assert staff.get(f"/c/beta/finops/runaway/{incident.pk}/").status_code == 404  # not in beta's schema
    _key, secret = api_key_for(beta, ["read"])
    assert staff.get(f"/c/beta/api/v1/runaway/incidents/{incident.pk}/", **auth_header(secret)).status_code == 404
    assert staff.get(f"{API}incidents/{incident.pk}/", **auth_header(secret)).status_code == 404


# --- API ------------------------------------------------------------------------------------------------


def test_api_list_and_detail(more_incidents, client, alpha, api_key_for, django_assert_max_num_queries):
    _key, secret = api_key_for(alpha, ["read"])
    with django_assert_max_num_queries(10):  # 8 today, whatever the number of incidents
        listed = client.get(f"{API}incidents/?status=active", **auth_header(secret))
    assert listed.status_code == 200
    results = listed.json()["results"]
    assert len(results) == 10
    first = next(r for r in results if r["scope_key"] == "underwriter-7")
    assert first["burned"] == "91.040000" and first["projected_24h"] == "32774.400000"
    assert first["detection_delay_seconds"] == 60.0 and first["severity"] == "critical"
    assert first["link"] == f"/finops/runaway/{first['id']}/"
    detail = client.get(f"{API}incidents/{first['id']}/", **auth_header(secret)).json()
    assert {s["name"] for s in detail["signals"]} >= {"spend_vs_baseline", "spend_ceiling", "prompt_repetition"}
    assert detail["kill_switch_calls"] == []
    kinds = client.get(f"{API}incidents/?scope_kind=model", **auth_header(secret)).json()["results"]
    assert kinds == []


def test_api_stop_needs_write_and_resolve_needs_alerts(incident, client, alpha, api_key_for, stand_in):
    _key, read = api_key_for(alpha, ["read"])
    _key, write = api_key_for(alpha, ["read", "write"])
    _key, alerts = api_key_for(alpha, ["read", "alerts"])
    assert client.post(f"{API}incidents/{incident.pk}/stop/", **auth_header(read)).status_code == 403
    stopped = client.post(f"{API}incidents/{incident.pk}/stop/", **auth_header(write))
    assert stopped.status_code == 200 and stopped.json()["outcome"] == "stopped"
    assert stand_in.requests and stand_in.payloads[0]["requested_by"].startswith("API key ")
    denied = client.post(
        f"{API}incidents/{incident.pk}/resolve/", "{}", content_type="application/json", **auth_header(write)
    )
    assert denied.status_code == 403
    resolved = client.post(
        f"{API}incidents/{incident.pk}/resolve/",
        json.dumps({"note": "fixed"}),
        content_type="application/json",
        **auth_header(alerts),
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    again = client.post(
        f"{API}incidents/{incident.pk}/resolve/", "{}", content_type="application/json", **auth_header(alerts)
    )
    assert again.status_code == 400


def test_api_settings_get_and_patch(in_alpha, client, alpha, api_key_for):
    _key, read = api_key_for(alpha, ["read"])
    _key, write = api_key_for(alpha, ["read", "write"])
    got = client.get(f"{API}settings", **auth_header(read)).json()
    assert got["auto_stop"] is False and got["kill_switch_secret_set"] is False  # made on first need
    assert "kill_switch_secret" not in got
    body = json.dumps({"auto_stop": True, "max_spend_per_minute": "5.00", "kill_switch_secret": "s" * 24})
    assert client.patch(f"{API}settings", body, content_type="application/json", **auth_header(read)).status_code == 403
    patched = client.patch(f"{API}settings", body, content_type="application/json", **auth_header(write))
    assert patched.status_code == 200
    assert patched.json()["auto_stop"] is True and patched.json()["max_spend_per_minute"] == "5.000000"
    assert runaway_settings().kill_switch_secret == "s" * 24
    bad = client.patch(
        f"{API}settings", json.dumps({"quiet_minutes": 0}), content_type="application/json", **auth_header(write)
    )
    assert bad.status_code == 400
