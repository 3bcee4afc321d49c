"""Platform signals read inside alpha's schema: for each, the data that turns it on, off (and None where Keel has no
basis), made through the other apps' services or models; levels and the figures in `observed` are asserted."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.assessments.signals import SIGNALS, SignalReading, read_all, read_signal, share_level
from tests.compliance import conftest as compliance
from tests.compliance.conftest import enable, make_framework, node, pdf_file
from tests.conftest import TEST_TOTP_SECRET, make_user

media = compliance.media  # the compliance folder's fixture, made visible here

pytestmark = pytest.mark.django_db
D = Decimal
KEYS = {
    "finops.billing_freshness",
    "finops.token_monitoring",
    "finops.unit_economics",
    "security.mfa_enforced",
    "agents.kill_switches",
    "agents.permissions_reviewed",
    "compliance.readiness",
    "inventory.completeness",
    "shadow_ai.discovery",
    "finops.anomaly_detection",
    "recommendations.adoption",
}


@pytest.fixture
def now(in_alpha):
    return timezone.now()


def level(key: str, now) -> int | None:
    reading = read_signal(key, now=now)
    return None if reading is None else reading.level


# --- the registry -----------------------------------------------------------------------------------------------


def test_the_registry_has_every_signal_with_a_description(in_alpha):
    assert set(SIGNALS) == KEYS
    for key, signal in SIGNALS.items():
        assert signal.key == key and signal.label and len(signal.description) > 60


def test_read_all_on_an_empty_client_is_json_able_and_unknown_keys_raise(now):
    readings = read_all(now=now)
    assert set(readings) == KEYS
    # Nothing to judge: no agents, no recommendations, nobody with access.
    assert {k for k, r in readings.items() if r is None} == {
        "agents.kill_switches",
        "agents.permissions_reviewed",
        "recommendations.adoption",
        "security.mfa_enforced",
    }
    for reading in readings.values():
        if reading is not None:
            assert isinstance(reading, SignalReading) and reading.level == 1
            assert reading.summary.endswith(".") and not reading.source_url.startswith("/")
            json.dumps(reading.observed)
    with pytest.raises(KeyError):
        read_signal("finops.nothing", now=now)
    with pytest.raises(ValueError):
        read_signal("finops.unit_economics", now=dt.datetime(2026, 1, 1))  # naive


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(0, 0, 1), (0, 4, 1), (1, 4, 2), (2, 4, 3), (3, 4, 4), (4, 4, 5), (2, 3, 3), (74, 100, 3), (3, 5, 3)],
)
def test_share_banding(part, whole, expected):
    assert share_level(part, whole) == expected


# --- finops.billing_freshness -----------------------------------------------------------------------------------


def source(name, *, kind="aws_cost_explorer", ago=None, status="ok", now, **fields):
    from apps.finops.models import BillingSource

    return BillingSource.objects.create(
        name=name, kind=kind, status=status, last_success_at=None if ago is None else now - ago, **fields
    )


def test_billing_all_connectors_fresh_is_5(now):
    source("AWS", ago=dt.timedelta(hours=2), now=now)
    source("OpenAI", kind="openai", ago=dt.timedelta(minutes=20), now=now)
    source("Live", kind="usage_events", ago=dt.timedelta(days=30), now=now)  # not a connector
    source("Old", ago=dt.timedelta(days=40), enabled=False, now=now)  # disabled

    reading = read_signal("finops.billing_freshness", now=now)

    assert reading.level == 5
    assert reading.observed["connected"] == 2 and reading.observed["fresh"] == 2
    assert reading.observed["latest_success_at"] == (now - dt.timedelta(minutes=20)).isoformat()
    assert reading.summary.startswith("2 of 2 billing sources ingested within 24 h")
    assert reading.source_url == "finops/sources/"


@pytest.mark.parametrize(
    ("second", "expected", "fresh", "failing"),
    [
        ({"ago": dt.timedelta(hours=3), "status": "failing"}, 4, 2, 1),  # fresh data, but the latest run failed
        ({"ago": dt.timedelta(days=3)}, 4, 1, 0),  # lagging, within a week
        ({"ago": dt.timedelta(days=10)}, 3, 1, 0),
        ({"ago": None, "status": "credentials"}, 3, 1, 1),  # never ingested
    ],
)
def test_billing_some_connectors_late_or_failing(now, second, expected, fresh, failing):
    source("AWS", ago=dt.timedelta(hours=2), now=now)
    source("Azure", kind="azure_cost_query", now=now, **second)

    reading = read_signal("finops.billing_freshness", now=now)

    assert reading.level == expected
    assert (reading.observed["connected"], reading.observed["fresh"], reading.observed["failing"]) == (
        2,
        fresh,
        failing,
    )


def test_billing_only_stale_data_or_uploads_is_2_and_nothing_is_1(now):
    assert level("finops.billing_freshness", now) == 1
    assert read_signal("finops.billing_freshness", now=now).summary == "No billing source connected."

    upload = source("FOCUS file uploads", kind="focus_upload", ago=dt.timedelta(days=20), now=now)
    assert level("finops.billing_freshness", now) == 2

    upload.delete()
    aws = source("AWS", now=now)  # connected, never ingested
    reading = read_signal("finops.billing_freshness", now=now)
    assert reading.level == 1 and reading.observed["connected"] == 1 and reading.observed["ever_ingested"] == 0

    aws.last_success_at = now - dt.timedelta(days=9)
    aws.save()
    reading = read_signal("finops.billing_freshness", now=now)
    assert reading.level == 2 and reading.observed["fresh"] == 0 and reading.observed["recent"] == 0


# --- finops.token_monitoring ------------------------------------------------------------------------------------


def usage(now, count=3, *, at=None):
    from apps.finops.usage import usage_events_ingest

    at = at or now
    result = usage_events_ingest(
        events=[
            {
                "timestamp": (at - dt.timedelta(minutes=i + 1)).isoformat().replace("+00:00", "Z"),
                "request_id": f"sig-{at.timestamp()}-{i}",
                "provider": "openai",
                "model": "gpt-4o",
                "input_tokens": 100,
                "output_tokens": 20,
                "cost": "0.50",
                "agent": "claims-bot",
            }
            for i in range(count)
        ],
        now=at,
    )
    assert not result.rejected, result.errors


def test_token_monitoring_events_and_runaway_detection_is_5_then_3_when_detection_is_off(now):
    from apps.runaway.services import runaway_settings_save

    usage(now, 3)
    reading = read_signal("finops.token_monitoring", now=now)
    assert reading.level == 5
    assert reading.observed == {"events_recent": 3, "latest_event_at": now.isoformat(), "runaway_detection": True}

    runaway_settings_save(enabled=False)
    reading = read_signal("finops.token_monitoring", now=now)
    assert reading.level == 3 and reading.observed["runaway_detection"] is False
    assert "runaway-spend detection is off" in reading.summary


def test_token_monitoring_without_events_is_1_and_with_old_events_2(now):
    reading = read_signal("finops.token_monitoring", now=now)
    assert reading.level == 1 and reading.observed["events_recent"] == 0

    usage(now, 2, at=now - dt.timedelta(days=3))
    reading = read_signal("finops.token_monitoring", now=now)
    assert reading.level == 2 and reading.observed["events_recent"] == 0
    assert reading.observed["latest_event_at"] == (now - dt.timedelta(days=3)).isoformat()


# --- finops.unit_economics --------------------------------------------------------------------------------------


def unit(code):
    from apps.unit_economics.services import business_unit_save

    return business_unit_save(name=f"{code} processed", code=code, unit_label=code)


def count(code, day: dt.date, n=10):
    from apps.unit_economics.services import unit_counts_ingest

    result = unit_counts_ingest([{"unit": code, "day": day.isoformat(), "count": n}])
    assert not result.errors, result.errors


def test_unit_economics_every_unit_counted_lately_is_5(now):
    today = now.date()
    unit("claims")
    unit("loans")
    count("claims", today - dt.timedelta(days=1))
    count("loans", today)

    reading = read_signal("finops.unit_economics", now=now)

    assert reading.level == 5
    assert reading.observed == {"units": 2, "units_counted_recently": 2, "latest_count_day": today.isoformat()}


def test_unit_economics_levels_without_recent_counts(now):
    today = now.date()
    assert level("finops.unit_economics", now) == 1

    unit("claims")
    reading = read_signal("finops.unit_economics", now=now)
    assert reading.level == 3 and reading.observed["units_counted_recently"] == 0
    assert "no count received yet" in reading.summary

    count("claims", today - dt.timedelta(days=30))
    reading = read_signal("finops.unit_economics", now=now)
    assert reading.level == 3 and reading.observed["latest_count_day"] == (today - dt.timedelta(days=30)).isoformat()

    unit("loans")
    count("loans", today - dt.timedelta(days=2))
    reading = read_signal("finops.unit_economics", now=now)
    assert reading.level == 4 and reading.observed["units_counted_recently"] == 1


# --- security.mfa_enforced --------------------------------------------------------------------------------------


def test_mfa_everyone_with_access_has_it_is_5(now, alpha, beta):
    make_user("admin@msp.test", role=Role.MSP_ADMIN)
    make_user("am@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    executive = make_user("exec@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)
    TOTP.activate(executive, TEST_TOTP_SECRET)
    make_user("exec@beta.test", role=Role.CLIENT_EXECUTIVE, client=beta)  # cannot reach alpha
    make_user("eng@msp.test", role=Role.ENGINEER, mfa=False)  # staff without an alpha assignment

    reading = read_signal("security.mfa_enforced", now=now)

    assert reading.level == 5
    assert reading.observed["people"] == 3 and reading.observed["with_mfa"] == 3
    assert reading.observed["staff"] == 2 and reading.observed["client_users"] == 1
    assert reading.observed["staff_mfa_enforced"] is True
    assert reading.source_url == "settings/members/"


def test_mfa_missing_for_client_users_and_not_enforced(now, alpha, settings):
    make_user("admin@msp.test", role=Role.MSP_ADMIN)
    make_user("exec@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)
    make_user("viewer@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
    auditor = make_user("auditor@kpmg.test", role=Role.AUDITOR, client=alpha, expires_at=now + dt.timedelta(days=30))
    auditor.memberships.update(expires_at=now - dt.timedelta(days=1))  # expired since: no access

    reading = read_signal("security.mfa_enforced", now=now)
    assert reading.level == 2  # 1 of 3
    assert (reading.observed["people"], reading.observed["with_mfa"], reading.observed["client_users_with_mfa"]) == (
        3,
        1,
        0,
    )
    assert reading.observed["share_percent"] == "33.3"

    settings.KEEL_REQUIRE_STAFF_MFA = False
    for email in ("exec@alpha.test", "viewer@alpha.test"):
        TOTP.activate(User.objects.get(email=email), TEST_TOTP_SECRET)
    reading = read_signal("security.mfa_enforced", now=now)
    assert reading.observed["with_mfa"] == 3 and reading.level == 3  # everyone, but nothing enforces it
    assert "does NOT enforce" in reading.summary


def test_mfa_without_anyone_with_access_is_none(now):
    assert read_signal("security.mfa_enforced", now=now) is None


# --- agents -----------------------------------------------------------------------------------------------------


def agent(name, **fields):
    from apps.inventory.services import asset_save

    return asset_save(kind="agent", name=name, **fields)


def tool(for_agent, name, powers):
    from apps.inventory.services import agent_tool_save

    return agent_tool_save(agent=for_agent, name=name, powers=powers)


def test_kill_switches_share_of_agents(now):
    assert read_signal("agents.kill_switches", now=now) is None

    agent("Claims bot", kill_switch_url="https://hooks.alpha.test/stop/claims")
    agent("Old bot", lifecycle="retired")  # retired agents are not judged
    assert level("agents.kill_switches", now) == 5

    agent("Intake bot")
    reading = read_signal("agents.kill_switches", now=now)
    assert reading.level == 3
    assert reading.observed == {"agents": 2, "with_kill_switch": 1, "share_percent": "50.0"}
    assert reading.summary == "1 of 2 agents in the inventory has a kill-switch webhook (50 %)."


def test_kill_switches_none_set_is_1(now):
    agent("Intake bot")
    reading = read_signal("agents.kill_switches", now=now)
    assert reading.level == 1 and reading.observed["with_kill_switch"] == 0


def test_permissions_recorded_and_dangerous_powers_approved(now):
    assert read_signal("agents.permissions_reviewed", now=now) is None

    reader = agent("Reader bot")
    tool(reader, "search", ["read_data"])
    payer = agent("Payer bot")
    tool(payer, "pay", ["read_data", "move_money"])  # no approval: an open guardrail finding
    agent("Silent bot")  # no tool recorded

    reading = read_signal("agents.permissions_reviewed", now=now)
    assert reading.level == 2  # 1 of 3
    assert {k: reading.observed[k] for k in ("agents", "with_tools", "without_tools", "unapproved_powers")} == {
        "agents": 3,
        "with_tools": 2,
        "without_tools": 1,
        "unapproved_powers": 1,
    }
    assert reading.observed["reviewed"] == 1

    agent("Payer bot", asset=payer, approval_required_for=["move_money"])  # the finding resolves
    reading = read_signal("agents.permissions_reviewed", now=now)
    assert reading.level == 3 and reading.observed["reviewed"] == 2 and reading.observed["unapproved_powers"] == 0


def test_permissions_none_recorded_is_1(now):
    agent("Silent bot")
    reading = read_signal("agents.permissions_reviewed", now=now)
    assert reading.level == 1 and reading.observed["without_tools"] == 1


# --- compliance.readiness ---------------------------------------------------------------------------------------


SIG_NODES = [node("R1", "Keep an AI policy"), node("R2", "Log AI events")]


def evidenced_control(code, urns, now):
    from apps.compliance.services import control_save, evidence_create, mapping_add

    control = control_save(code=code, name=f"Control {code}", status="active")
    for urn in urns:
        mapping_add(control=control, urn=urn)
    evidence_create(
        title=f"Proof {code}",
        file=pdf_file(),
        effective_date=now.date() - dt.timedelta(days=5),
        controls=[control],
        approve=True,
    )
    return control


def test_compliance_none_enabled_is_1(now):
    reading = read_signal("compliance.readiness", now=now)
    assert reading.level == 1 and reading.observed["frameworks"] == 0
    assert reading.summary == "No compliance framework enabled."


def test_compliance_readiness_bands(now, media):
    version = make_framework("tf-sig", SIG_NODES)
    enable(version)
    reading = read_signal("compliance.readiness", now=now)
    assert reading.level == 2 and reading.observed["mean_readiness"] == "0.0"
    assert reading.observed["scores"] == {"TF-SIG": "0.0"}

    evidenced_control("SIG-01", ["urn:keel:fw:tf-sig:r1"], now)
    reading = read_signal("compliance.readiness", now=now)
    assert reading.level == 3 and reading.observed["mean_readiness"] == "50.0"

    evidenced_control("SIG-02", ["urn:keel:fw:tf-sig:r2"], now)
    reading = read_signal("compliance.readiness", now=now)
    assert reading.level == 5 and reading.observed["mean_readiness"] == "100.0"
    assert reading.summary == "1 framework enabled (TF-SIG 100.0 %); mean readiness 100.0 %."


# --- inventory.completeness and shadow_ai.discovery -------------------------------------------------------------


def department(code):
    from apps.inventory.services import department_save

    return department_save(name=code.title(), code=code)


def shadow_agent_events(now, name="rogue-bot"):
    """Yesterday's calls of an agent the inventory does not know, then a discovery scan: one open item."""
    from apps.finops.usage import usage_events_ingest
    from apps.shadow_ai.services import shadow_scan

    usage_at = now - dt.timedelta(days=1)
    result = usage_events_ingest(
        events=[
            {
                "timestamp": (usage_at - dt.timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                "request_id": f"{name}-{i}",
                "provider": "openai",
                "model": "gpt-4o",
                "input_tokens": 100,
                "output_tokens": 20,
                "cost": "0.50",
                "agent": name,
            }
            for i in range(3)
        ],
        now=now,
    )
    assert not result.rejected, result.errors
    return shadow_scan(today=now.date(), trigger="manual")


def test_inventory_complete_assets_is_5(now, alpha):
    make_user("owner@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)
    claims = department("claims")
    for name in ("Claims bot", "Intake bot"):
        agent(name, owner_email="owner@alpha.test", risk_tier="minimal", department=claims)

    reading = read_signal("inventory.completeness", now=now)

    assert reading.level == 5
    assert reading.observed["assets"] == 2 and reading.observed["complete"] == 2
    assert reading.observed["shadow_open"] == 0 and reading.observed["share_percent"] == "100.0"


def test_inventory_gaps_and_shadow_items_lower_it(now, alpha):
    assert level("inventory.completeness", now) == 1

    make_user("owner@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)
    claims = department("claims")
    agent("Claims bot", owner_email="owner@alpha.test", risk_tier="minimal", department=claims)
    agent("Intake bot", owner_email="owner@alpha.test", department=claims)  # risk tier not assessed
    assert level("inventory.completeness", now) == 3  # 1 of 2

    shadow_agent_events(now)
    reading = read_signal("inventory.completeness", now=now)
    assert reading.level == 2  # 1 of (2 assets + 1 unregistered)
    assert reading.observed["shadow_open"] == 1 and reading.observed["with_risk_tier"] == 1
    assert reading.observed["share_percent"] == "33.3"


def test_shadow_discovery_never_run_is_1(now):
    reading = read_signal("shadow_ai.discovery", now=now)
    assert reading.level == 1 and reading.observed == {"last_scan_at": None}


def test_shadow_discovery_recent_scan_with_the_queue_triaged_is_5(now):
    from apps.shadow_ai.models import ShadowItem
    from apps.shadow_ai.services import item_dismiss

    shadow_agent_events(now)
    reading = read_signal("shadow_ai.discovery", now=now)
    assert reading.level == 4  # one open item, new this week
    assert reading.observed["open"] == 1 and reading.observed["waiting_long"] == 0

    item_dismiss(item=ShadowItem.objects.get(identity_value="rogue-bot"), reason="Load test, switched off")
    reading = read_signal("shadow_ai.discovery", now=now)
    assert reading.level == 5 and (reading.observed["open"], reading.observed["decided"]) == (0, 1)


def test_shadow_discovery_untriaged_or_stale_is_2(now):
    from apps.shadow_ai.models import ShadowItem, ShadowScan

    shadow_agent_events(now)
    ShadowItem.objects.update(created_at=now - dt.timedelta(days=20))  # waited in the queue for weeks
    reading = read_signal("shadow_ai.discovery", now=now)
    assert reading.level == 2 and reading.observed["waiting_long"] == 1 and reading.observed["decided"] == 0

    ShadowItem.objects.update(status="dismissed", dismiss_reason="Trial")
    ShadowScan.objects.update(started_at=now - dt.timedelta(days=10))  # discovery stopped running
    reading = read_signal("shadow_ai.discovery", now=now)
    assert reading.level == 2 and reading.observed["open"] == 0


# --- finops.anomaly_detection -----------------------------------------------------------------------------------


def budget():
    from apps.budgets.services import budget_save

    return budget_save(name="Alpha AI", amount=D("5000"))  # in the reporting currency


def anomaly_scan_with_spend(now):
    """Rollup rows for the last few days (what a booking leaves), then the daily scan."""
    from apps.anomalies.services import anomalies_scan
    from apps.finops.models import BillingSource, CostDaily

    aws = BillingSource.objects.create(name="AWS", kind="aws_cost_explorer")
    for back in range(1, 4):
        CostDaily.objects.create(
            day=now.date() - dt.timedelta(days=back),
            source=aws,
            provider_name="AWS",
            service_name="Amazon Bedrock",
            service_category="AI and Machine Learning",
            charge_category="Usage",
            billing_account_id="111111111111",
            sub_account_id="",
            region_id="",
            x_model="",
            billing_currency="USD",
            effective_cost=D("40"),
        )
    return anomalies_scan(today=now.date())


def test_anomaly_detection_and_budgets_is_5(now):
    budget()
    assert anomaly_scan_with_spend(now).series > 0

    reading = read_signal("finops.anomaly_detection", now=timezone.now())

    assert reading.level == 5
    assert reading.observed["active_budgets"] == 1 and reading.observed["anomaly_detection_active"] is True
    assert reading.observed["anomaly_series"] >= 1
    assert reading.source_url == "finops/anomalies/"


def test_anomaly_detection_one_of_two_is_3_none_is_1(now):
    from apps.anomalies.services import anomalies_scan

    reading = read_signal("finops.anomaly_detection", now=now)
    assert reading.level == 1 and reading.source_url == "finops/budgets/"
    assert reading.observed["anomaly_last_scan_at"] is None

    anomalies_scan(today=now.date())  # ran, but there is no spend to watch
    reading = read_signal("finops.anomaly_detection", now=timezone.now())
    assert reading.level == 1 and reading.observed["anomaly_series"] == 0

    budget()
    reading = read_signal("finops.anomaly_detection", now=timezone.now())
    assert reading.level == 3 and reading.observed["anomaly_detection_active"] is False


def test_anomaly_detection_without_budget_is_3(now):
    anomaly_scan_with_spend(now)
    reading = read_signal("finops.anomaly_detection", now=timezone.now())
    assert reading.level == 3 and reading.observed["active_budgets"] == 0


# --- recommendations.adoption -----------------------------------------------------------------------------------


def recommendation(n, **values):
    from apps.recommendations.models import Recommendation

    return Recommendation.objects.create(
        fingerprint=f"{n:064d}",
        kind="model_routing",
        title=f"Route short prompts #{n}",
        scope_kind="model",
        scope_label="gpt-4o",
        estimated_monthly_saving=D("120"),
        currency="USD",
        window_start=dt.date(2026, 11, 1),
        window_end=dt.date(2026, 11, 30),
        **values,
    )


def test_recommendations_reviewed_share(now):
    from apps.recommendations.services import recommendation_accept, recommendation_dismiss

    assert read_signal("recommendations.adoption", now=now) is None

    recs = [recommendation(n) for n in range(1, 4)]
    recommendation(4, status="implemented", implemented_on=dt.date(2026, 11, 15))
    reading = read_signal("recommendations.adoption", now=now)
    assert reading.level == 2 and reading.observed["reviewed"] == 1 and reading.observed["total"] == 4

    recommendation_accept(recommendation=recs[0])
    recommendation_dismiss(recommendation=recs[1], reason="The cheaper tier fails our evaluation.")
    reading = read_signal("recommendations.adoption", now=now)
    assert reading.level == 4  # 3 of 4
    assert {k: reading.observed[k] for k in ("open", "accepted", "dismissed", "implemented")} == {
        "open": 1,
        "accepted": 1,
        "dismissed": 1,
        "implemented": 1,
    }

    recommendation_accept(recommendation=recs[2])
    assert level("recommendations.adoption", now) == 5


def test_recommendations_all_open_is_1(now):
    recommendation(1)
    reading = read_signal("recommendations.adoption", now=now)
    assert reading.level == 1 and reading.observed["open"] == 1 and reading.observed["reviewed"] == 0


def test_each_signal_is_a_handful_of_queries(now, alpha, media):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_user("admin@msp.test", role=Role.MSP_ADMIN)
    source("AWS", ago=dt.timedelta(hours=2), now=now)
    usage(now, 3)
    unit("claims")
    payer = agent("Payer bot", kill_switch_url="https://hooks.alpha.test/stop")
    tool(payer, "pay", ["move_money"])
    enable(make_framework("tf-sig", SIG_NODES))
    evidenced_control("SIG-01", ["urn:keel:fw:tf-sig:r1"], now)
    shadow_agent_events(now)
    budget()
    recommendation(1)
    for key in SIGNALS:
        with CaptureQueriesContext(connection) as captured:
            assert read_signal(key, now=now) is not None
        # django-tenants sets the search path before each query here; those are not the signal's.
        queries = [q["sql"] for q in captured if not q["sql"].startswith("SET search_path")]
        # The register's readiness is its own five queries; every other signal needs at most three.
        assert len(queries) <= (7 if key == "compliance.readiness" else 3), (key, queries)
