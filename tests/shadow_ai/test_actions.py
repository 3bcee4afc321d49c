"""The three decisions: register as a new asset and map to an existing one (each creates an allocation rule that
matches the item's identity, placed before the rules that take its rows today, so that after the recompute the
rows carry the asset), dismiss with a required reason; every decision audited; one alert per new item."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.alerts.models import Alert
from apps.audit.models import AuditEvent
from apps.finops.allocation import allocation_recompute_all, allocation_rule_save
from apps.finops.models import AllocationRule, CostRecord
from apps.inventory.models import AIModel, Asset
from apps.shadow_ai.models import ShadowItem, Status
from apps.shadow_ai.services import (
    item_dismiss,
    item_map,
    item_register,
    item_reopen,
    shadow_scan,
    shadow_settings_save,
)

from .conftest import bedrock, book, events, ingest, item_for, project

pytestmark = pytest.mark.django_db(transaction=False)

NOV_1, NOV_19 = dt.date(2026, 11, 1), dt.date(2026, 11, 19)
SONNET = "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-5-v1:0"


@pytest.fixture
def found(org, cloud, openai):
    """A Bedrock model (resource), an OpenAI project a department-only rule takes today, an unregistered agent."""
    allocation_rule_save(name="Risk projects", match_field="sub_account", match_value="proj_*", department=org["risk"])
    book(
        cloud,
        lambda day: [bedrock(day, "10.00"), bedrock(day, "2.00", resource_id="", tags={"agent": "night-bot"})],
        NOV_1,
        NOV_19,
    )
    book(openai, lambda day: [project(day, "4.00")], NOV_1, NOV_19)
    shadow_scan()
    return org


def test_register_creates_the_asset_and_a_rule_on_the_identity(found):
    item = item_for(SONNET)
    item_register(
        item=item,
        kind="model",
        fields={
            "name": "Claude Sonnet on Bedrock",
            "provider": "bedrock",
            "model_id": "anthropic.claude-sonnet-4-5-v1:0",
            "department": found["claims"],
        },
    )

    item.refresh_from_db()
    asset = AIModel.objects.get(name="Claude Sonnet on Bedrock")
    assert (item.status, item.asset_id, item.decided_by) == (Status.REGISTERED, asset.pk, "Keel")
    assert item.decided_at is not None and item.cost_at_decision == Decimal("190")
    rule = item.rule
    assert (rule.match_field, rule.match_key, rule.match_value, rule.asset_id, rule.split) == (
        "resource",
        "",
        SONNET,
        asset.pk,
        "none",
    )
    assert rule.name == f"Shadow AI: {item.label}"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"model.create", "allocation_rule.create", "shadow_ai.register"} <= actions
    audit = AuditEvent.objects.get(action="shadow_ai.register")
    assert audit.object_id == str(item.pk) and audit.before["status"] == "open"
    assert audit.after["status"] == "registered" and audit.after["asset"] == asset.pk and audit.after["rule"] == rule.pk

    allocation_recompute_all()  # what the background task does after the commit
    rows = CostRecord.objects.filter(resource_id=SONNET)
    assert rows.count() == 19 and set(rows.values_list("asset_id", flat=True)) == {asset.pk}
    assert set(rows.values_list("department_id", flat=True)) == {found["claims"].pk}
    scan = shadow_scan()
    item.refresh_from_db()
    assert item.status == Status.REGISTERED and scan.found == 2  # no longer unregistered, and still decided


def test_the_rule_goes_before_the_rule_that_takes_the_rows_today(found):
    item = item_for("proj_shadow")
    department_rule = AllocationRule.objects.get(name="Risk projects")
    assert item.details["current_rules"] == [department_rule.pk]
    item_map(item=item, asset=found["helper"])

    item.refresh_from_db()
    order = list(AllocationRule.objects.order_by("position", "id").values_list("pk", flat=True))
    assert order.index(item.rule_id) < order.index(department_rule.pk)
    assert (item.rule.match_field, item.rule.match_value) == ("sub_account", "proj_shadow")
    allocation_recompute_all()
    assert set(CostRecord.objects.filter(sub_account_id="proj_shadow").values_list("asset_id", flat=True)) == {
        found["helper"].pk
    }


def test_map_can_use_another_candidate_rule(found):
    item = item_for("proj_shadow")
    item_map(item=item, asset=found["helper"], match="service")
    item.refresh_from_db()
    assert (item.rule.match_field, item.rule.match_value) == ("service", "OpenAI API")
    with pytest.raises(ValidationError):
        item_map(item=item_for("night-bot"), asset=found["helper"], match="billing_account")


def test_map_an_agent_from_usage_events(org, clock):
    ingest(events("intake-bot", day=NOV_19))
    shadow_scan()
    item = item_for("intake-bot")
    item_map(item=item, asset=org["triage"])
    item.refresh_from_db()
    assert item.status == Status.MAPPED and (item.rule.match_field, item.rule.match_value) == ("agent", "intake-bot")
    assert AuditEvent.objects.filter(action="shadow_ai.map", object_id=str(item.pk)).exists()
    shadow_scan()  # the rule sends the agent to an asset: its events are registered now
    item.refresh_from_db()
    assert item.status == Status.MAPPED
    assert not ShadowItem.objects.filter(status=Status.OPEN).exists()


def test_dismiss_needs_a_reason_and_is_audited(found):
    item = item_for("night-bot")
    with pytest.raises(ValidationError) as error:
        item_dismiss(item=item, reason="   ")
    assert "reason" in error.value.message_dict
    item.refresh_from_db()
    assert item.status == Status.OPEN

    item_dismiss(item=item, reason="Nightly load test, switched off on Friday")
    item.refresh_from_db()
    assert (item.status, item.dismiss_reason, item.rule_id) == (
        Status.DISMISSED,
        "Nightly load test, switched off on Friday",
        None,
    )
    audit = AuditEvent.objects.get(action="shadow_ai.dismiss")
    assert audit.after["dismiss_reason"] == "Nightly load test, switched off on Friday"
    assert not AllocationRule.objects.filter(name__startswith="Shadow AI").exists()

    with pytest.raises(ValidationError):
        item_dismiss(item=item, reason="again")
    item_reopen(item=item)
    item.refresh_from_db()
    assert item.status == Status.OPEN
    assert AuditEvent.objects.filter(action="shadow_ai.reopen").count() == 1


def test_a_decided_item_cannot_be_decided_again(found):
    item = item_for("night-bot")
    item_map(item=item, asset=found["triage"])
    with pytest.raises(ValidationError):
        item_map(item=item, asset=found["helper"])
    with pytest.raises(ValidationError):
        item_dismiss(item=item, reason="no")
    with pytest.raises(ValidationError):
        item_register(item=item, kind="agent", fields={"name": "night-bot"})


def test_register_rolls_back_the_asset_when_the_form_is_wrong(found):
    item = item_for(SONNET)
    with pytest.raises(ValidationError):
        item_register(item=item, kind="model", fields={"name": "No model id", "provider": "bedrock", "model_id": ""})
    with pytest.raises(ValidationError):
        item_register(item=item, kind="prompt", fields={"name": "A prompt"})
    item.refresh_from_db()
    assert item.status == Status.OPEN and not Asset.objects.filter(name="No model id").exists()


def test_a_new_item_above_the_threshold_raises_one_medium_alert(org, openai):
    shadow_settings_save(alert_threshold=Decimal("50"), reopen_factor=Decimal("2"), reopen_min_increase=Decimal("100"))
    book(openai, lambda day: [project(day, "4.00"), project(day, "1.00", project_id="proj_small")], NOV_1, NOV_19)
    shadow_scan()
    shadow_scan()

    alerts = Alert.objects.filter(kind="shadow_ai")
    item = item_for("proj_shadow")
    assert list(alerts.values_list("dedup_key", "severity", "occurrences")) == [
        (f"shadow_ai:{item.pk}", "medium", 1)
    ]  # proj_small spent 19.00, under the threshold
    alert = alerts.get()
    assert "76.00 USD" in alert.subject and alert.link == f"/finops/shadow-ai/{item.pk}/"

    item_dismiss(item=item, reason="Sandbox")
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED
