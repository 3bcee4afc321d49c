"""Discovery: unregistered AI spend found in ledger rows and in usage events, grouped by a stable identity, with
exact Decimal figures; registered assets, rules, shared costs, non-AI services, credits and old rows left out;
rescans that update instead of duplicating, items that vanish and come back, and the dismissed-item rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.audit.models import AuditEvent
from apps.shadow_ai.models import ShadowItem, ShadowScan, Status
from apps.shadow_ai.services import item_dismiss, shadow_scan, shadow_settings_save

from .conftest import TODAY, bedrock, book, events, ingest, item_for, project

pytestmark = pytest.mark.django_db(transaction=False)

OCT_10, OCT_17, NOV_19 = dt.date(2026, 10, 10), dt.date(2026, 10, 17), dt.date(2026, 11, 19)
SAGEMAKER = "arn:aws:sagemaker:eu-central-1:222222222222:endpoint/fraud-score"


def cloud_rows(day):
    rows = [
        bedrock(day, "10.00"),  # unregistered Bedrock model: a resource item
        bedrock(
            day,
            "50.00",
            service_name="Amazon EC2",
            service_category="Compute",
            resource_id="i-0abc",
            x_model="",
        ),  # not AI
        bedrock(day, "3.00", service_name="Amazon SageMaker", service_category="Other", resource_id=SAGEMAKER),
        bedrock(day, "7.00", resource_id="", tags={"app": "claims"}),  # the asset's cost tags route it
        bedrock(day, "2.00", resource_id="", tags={"agent": "claims-triage"}),  # a registered agent's name
        bedrock(day, "1.50", resource_id="", tags={"api_key": "key_rogue"}),
        bedrock(day, "1.25", resource_id="", tags={"agent": "night-bot"}),
        bedrock(day, "4.00", resource_id="", tags={"team": "shared"}),  # spread by a shared-cost rule
    ]
    if day == dt.date(2026, 11, 5):
        rows.append(bedrock(day, "-5.00", charge_category="Credit"))
    return rows


@pytest.fixture
def ledger(org, cloud, openai):
    from apps.finops.allocation import allocation_rule_save

    allocation_rule_save(
        name="Shared platform",
        match_field="tag",
        match_key="team",
        match_value="shared",
        split="even",
        targets=[{"department": org["claims"]}, {"department": org["risk"]}],
    )
    book(cloud, cloud_rows, OCT_10, NOV_19)
    book(
        openai,
        lambda day: [project(day, "4.00"), project(day, "6.00", project_id="proj_known", tags={"app": "claims"})],
        OCT_10,
        NOV_19,
    )
    return org


def test_ledger_rows_without_an_asset_become_items_by_identity(ledger):
    scan = shadow_scan()

    found = {(i.origin, i.identity_kind, i.identity_value) for i in ShadowItem.objects.all()}
    assert found == {
        ("ledger", "resource", "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-5-v1:0"),
        ("ledger", "resource", SAGEMAKER),
        ("ledger", "api_key", "key_rogue"),
        ("ledger", "agent", "night-bot"),
        ("ledger", "account", "proj_shadow"),
    }
    assert (scan.found, scan.created, scan.window_start, scan.window_end) == (5, 5, OCT_17, TODAY)

    model = item_for("arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-5-v1:0")
    # 29 days from 22 Oct (the last 30 UTC days) and 19 in November, at 10.00; the credit is left out.
    assert (model.cost_30d, model.cost_month, model.currency) == (Decimal("290"), Decimal("190"), "USD")
    assert model.row_count == 34  # 17 Oct – 19 Nov: the rows before the window are not counted
    assert model.first_seen_at.date() == OCT_17 and model.last_seen_at.date() == NOV_19
    assert model.suggested_kind == "model" and model.service == "Amazon Bedrock"
    assert model.department == ledger["claims"]  # its department tag, as the allocation read it
    assert model.prefill["model_id"] == "anthropic.claude-sonnet-4-5-v1:0" and model.prefill["provider"] == "bedrock"
    assert model.prefill["department"] == ledger["claims"].pk
    assert model.rule_candidates[0]["field"] == "resource"
    assert model.ledger_filters["service"] == "Amazon Bedrock" and model.ledger_filters["sub_account"] == "222222222222"

    assert item_for(SAGEMAKER).suggested_kind == "endpoint"  # a known AI service filed under another category
    assert item_for("key_rogue").cost_30d == Decimal("43.50") and item_for("key_rogue").suggested_kind == "agent"
    assert item_for("key_rogue").ledger_filters["tag"] == "api_key=key_rogue"
    assert item_for("night-bot").ledger_filters["tag"] == "agent=night-bot"

    account = item_for("proj_shadow")
    assert account.service == "OpenAI API" and account.models_seen == ["gpt-4o-mini"]
    assert account.cost_30d == Decimal("116") and account.label == "OpenAI API · proj_shadow"
    assert account.ledger_filters == {"currency": "USD", "service": "OpenAI API", "sub_account": "proj_shadow"}
    # Its project holds only this spend, so the sub-account rule comes first; a service rule would catch more.
    assert [c["field"] for c in account.rule_candidates] == ["sub_account", "service"]
    assert [Decimal(c["other_spend"]) for c in account.rule_candidates] == [0, Decimal("174")]  # 6.00 × 29 days


def test_usage_events_of_unregistered_agents_and_keys_become_items(org, clock):
    from apps.finops.allocation import allocation_rule_save

    allocation_rule_save(name="Mapped key", match_field="api_key", match_value="key_map*", asset=org["helper"])
    org["helper"].cost_tags = {"agent": "tagged-bot"}
    org["helper"].save()
    nov_18, nov_19 = dt.date(2026, 11, 18), NOV_19
    ingest(
        events("rogue-bot", "key_rogue", day=nov_18)
        + events("rogue-bot", "key_rogue", day=nov_19)
        + events("rogue-bot", day=dt.date(2026, 10, 18), count=2)  # in the window, before the last 30 days
        + events("claims-triage", day=nov_19)  # the agent "Claims-Triage", whatever the case
        + events(api_key="key_orphan", day=nov_19, count=4, cost="0.25")
        + events(api_key="key_mapped", day=nov_19)  # a rule sends this key to an asset
        + events("tagged-bot", day=nov_19)  # an asset's cost tags name this agent
        + events(day=nov_19, prefix="anonymous")  # neither agent nor key: no identity
    )

    shadow_scan()

    items = {(i.origin, i.identity_kind, i.identity_value): i for i in ShadowItem.objects.all()}
    assert set(items) == {("usage", "agent", "rogue-bot"), ("usage", "api_key", "key_orphan")}
    rogue = items[("usage", "agent", "rogue-bot")]
    assert (rogue.cost_30d, rogue.cost_month, rogue.row_count) == (Decimal("3.00"), Decimal("3.00"), 8)
    assert rogue.tags == {"api_key": ["key_rogue"]}
    assert rogue.suggested_kind == "agent" and rogue.prefill["name"] == "rogue-bot"
    assert rogue.models_seen == ["gpt-4o"] and rogue.service == "OpenAI API"
    assert rogue.rule_candidates == [
        {
            "field": "agent",
            "key": "",
            "value": "rogue-bot",
            "label": "Agent (usage events) is rogue-bot",
            "other_spend": "0",
        }
    ]
    assert rogue.ledger_filters == {"currency": "USD", "tag": "agent=rogue-bot"}
    orphan = items[("usage", "api_key", "key_orphan")]
    assert (orphan.cost_30d, orphan.requests, orphan.input_tokens) == (Decimal("1.00"), 4, 400)


def test_a_rescan_updates_the_same_items_and_keeps_their_decisions(ledger, cloud):
    shadow_scan()
    first = {i.fingerprint: i.pk for i in ShadowItem.objects.all()}
    item_dismiss(item=item_for("night-bot"), reason="A night-time batch test")

    book(cloud, lambda day: [bedrock(day, "20.00")], TODAY, TODAY)  # today's spend arrives
    scan = shadow_scan()

    assert scan.created == 0 and scan.found == 5
    assert {i.fingerprint: i.pk for i in ShadowItem.objects.all()} == first
    model = item_for("arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-5-v1:0")
    assert (model.cost_30d, model.cost_month, model.row_count) == (Decimal("310"), Decimal("210"), 35)
    assert item_for("night-bot").status == Status.DISMISSED  # small changes leave the decision alone
    assert ShadowScan.objects.count() == 3  # today's booking scanned too (see the listener test)


def test_an_item_whose_spend_vanishes_stays_in_history_and_comes_back(org, openai):
    book(openai, lambda day: [project(day, "4.00")], dt.date(2026, 11, 1), NOV_19)
    shadow_scan()
    item = item_for("proj_shadow")

    # Someone registers the asset in the inventory with the project as a cost tag: its rows now carry it.
    from apps.finops.allocation import allocation_recompute_all, allocation_rule_save

    rule = allocation_rule_save(
        name="Project", match_field="sub_account", match_value="proj_shadow", asset=org["helper"]
    )
    allocation_recompute_all()
    scan = shadow_scan()
    item.refresh_from_db()
    assert (scan.gone, item.status) == (1, Status.GONE) and item.gone_at is not None
    assert item.cost_30d == Decimal("76")  # the last figures it had, kept as history

    from apps.finops.allocation import allocation_rule_delete

    allocation_rule_delete(rule=rule)
    allocation_recompute_all()
    shadow_scan()
    item.refresh_from_db()
    assert item.status == Status.OPEN and item.gone_at is None


def test_a_dismissed_item_reopens_only_when_its_spend_grows_a_lot(org, openai):
    book(openai, lambda day: [project(day, "4.00")], dt.date(2026, 11, 1), dt.date(2026, 11, 10))
    shadow_scan()
    item = item_for("proj_shadow")
    item_dismiss(item=item, reason="Trial")
    assert item.cost_at_decision == Decimal("40")
    shadow_settings_save(alert_threshold=Decimal("1000"), reopen_factor=Decimal("2"), reopen_min_increase=Decimal("30"))

    # 40 → 76: under twice the spend at dismissal.
    book(openai, lambda day: [project(day, "4.00")], dt.date(2026, 11, 11), dt.date(2026, 11, 19))
    shadow_scan()
    item.refresh_from_db()
    assert item.status == Status.DISMISSED and item.cost_30d == Decimal("76")

    # 76 + 10 = 86 ≥ 2 × 40 and 46 more than 40: reopened by the scan, which says why and audits it.
    book(openai, lambda day: [project(day, "10.00")], TODAY, TODAY)
    shadow_scan()
    item.refresh_from_db()
    assert item.status == Status.OPEN and "86.00 USD in 30 days" in item.reopen_note
    reopen = AuditEvent.objects.filter(action="shadow_ai.reopen", object_id=str(item.pk)).get()
    assert reopen.before["status"] == "dismissed" and reopen.after["status"] == "open"


def test_the_factor_and_the_increase_must_both_be_met(org, openai):
    book(openai, lambda day: [project(day, "1.00")], dt.date(2026, 11, 1), dt.date(2026, 11, 10))
    shadow_scan()
    item = item_for("proj_shadow")
    item_dismiss(item=item, reason="Trial")
    book(openai, lambda day: [project(day, "5.00")], dt.date(2026, 11, 11), dt.date(2026, 11, 19))
    shadow_scan()  # 10 → 55: 5.5 × but only 45 more, under the default 100
    item.refresh_from_db()
    assert item.status == Status.DISMISSED


def test_the_booking_listener_scans_recent_bookings_but_not_backfills(org, openai):
    book(openai, lambda day: [project(day, "4.00")], dt.date(2026, 10, 1), dt.date(2026, 11, 10))
    assert not ShadowItem.objects.exists()  # a backfill from October waits for the daily scan
    book(openai, lambda day: [project(day, "4.00")], dt.date(2026, 11, 17), NOV_19)
    assert ShadowScan.objects.get().trigger == "booking"
    assert item_for("proj_shadow").cost_30d == Decimal("4") * 23  # 22 Oct – 10 Nov and 17–19 Nov


def test_the_scheduled_task_scans(org, openai):
    from apps.shadow_ai.tasks import shadow_scan_task

    book(openai, lambda day: [project(day, "4.00")], dt.date(2026, 11, 1), dt.date(2026, 11, 2))
    result = shadow_scan_task.delay().get()
    assert result["created"] == 1 and ShadowScan.objects.get().trigger == "schedule"
