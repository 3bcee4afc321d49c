"""Inventory services: validation a person understands, audit of every write, prompt versions, relations,
owners, and the nightly scheduled check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from freezegun import freeze_time

from apps.audit.models import AuditEvent
from apps.core.models import TaskRun
from apps.inventory.models import AssetRelation, GuardrailFinding, PromptVersion
from apps.inventory.services import (
    AUDIT_OBJECT_TYPE,
    agent_tool_save,
    asset_save,
    assets_assign_owner,
    prompt_version_add,
    relation_delete,
    relation_save,
)
from apps.inventory.tasks import inventory_daily_check_task
from config.celery import app as celery_app


def history(asset) -> list[str]:
    events = AuditEvent.objects.filter(object_type=AUDIT_OBJECT_TYPE, object_id=str(asset.pk)).order_by("seq")
    return list(events.values_list("action", flat=True))


def test_every_write_is_audited_with_before_and_after(in_alpha):
    agent = asset_save(kind="agent", name="Audit me", spend_cap=Decimal("10.00"))
    asset_save(kind="agent", asset=agent, spend_cap=Decimal("20.00"))
    tool = agent_tool_save(agent=agent, name="Pay", powers=["move_money"])
    agent_tool_save(agent=agent, tool=tool, powers=["read_data"])
    assert history(agent) == ["agent.create", "agent.update", "agent.tool_add", "agent.tool_update"]
    update = AuditEvent.objects.filter(action="agent.update").latest("seq")
    assert update.before["spend_cap"] == "10.00" and update.after["spend_cap"] == "20.00"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"risk_tier": "high"}, "annex_iii_area", "needs its Annex III area"),
        ({"lifecycle": "live"}, "lifecycle", "is not a valid choice"),
        ({"owner_email": "who@nowhere.test"}, "owner_email", "is not a member of this client"),
        ({"cost_tags": "app claims"}, "cost_tags", "key=value"),
        ({"kill_switch_url": "not a url"}, "kill_switch_url", "valid URL"),
    ],
)
def test_bad_input_is_explained(in_alpha, fields, field, message):
    with pytest.raises(ValidationError) as caught:
        asset_save(kind="agent", name="Bad", **fields)
    assert message in " ".join(caught.value.message_dict[field])


def test_names_are_unique_per_kind_case_insensitively(in_alpha):
    asset_save(kind="agent", name="Claims bot")
    with pytest.raises(ValidationError, match="already registered"):
        asset_save(kind="agent", name="CLAIMS BOT")
    asset_save(kind="integration", name="Claims bot")  # another kind may share the name


def test_annex_area_is_dropped_when_not_high(in_alpha):
    model = asset_save(
        kind="model", name="Scorer", provider="self-hosted", model_id="s", risk_tier="high", annex_iii_area="III.5"
    )
    asset_save(kind="model", asset=model, risk_tier="limited")
    model.refresh_from_db()
    assert model.annex_iii_area == ""


def test_owner_may_be_a_member_admin_or_department_owner(in_alpha, alpha, msp_admin):
    from apps.inventory.services import department_save

    department_save(name="Claims", code="claims", owner_email="Lead@Alpha.test")
    agent = asset_save(kind="agent", name="Owned", owner_email=msp_admin.email)
    assert agent.owner_email == msp_admin.email
    assert assets_assign_owner(assets=[agent], owner_email="lead@alpha.test") == 1
    with pytest.raises(ValidationError):
        assets_assign_owner(assets=[agent], owner_email="nobody@alpha.test")


def test_prompt_versions_are_numbered_hashed_and_used_by_version(in_alpha):
    prompt = asset_save(kind="prompt", name="Summarise claim")
    v1 = prompt_version_add(prompt=prompt, template="Summarise.", change_note="First", author_email="a@x.test")
    v2 = prompt_version_add(prompt=prompt, template="Summarise as JSON.", change_note="JSON", author_email="a@x.test")
    assert (
        (v1.number, v2.number) == (1, 2) and len(v2.template_sha256) == 64 and v1.template_sha256 != v2.template_sha256
    )
    assert prompt.current_version == v2
    with pytest.raises(ValidationError) as caught:
        prompt_version_add(prompt=prompt, template=" ", change_note="", author_email="a@x.test")
    assert set(caught.value.message_dict) == {"template", "change_note"}
    agent = asset_save(kind="agent", name="Summariser")
    relation = relation_save(source=agent, kind="uses_prompt", target=prompt, prompt_version=v1)
    assert list(v1.used_by.all()) == [relation]
    other = asset_save(kind="prompt", name="Other prompt")
    with pytest.raises(ValidationError, match="must belong to the prompt"):
        relation_save(source=agent, kind="uses_prompt", target=other, prompt_version=v1)
    assert PromptVersion.objects.filter(prompt=prompt).count() == 2


def test_relations_check_their_target_and_duplicates(in_alpha):
    agent = asset_save(kind="agent", name="Router")
    model = asset_save(kind="model", name="Small model", provider="self-hosted", model_id="small")
    crm = asset_save(kind="integration", name="CRM")
    relation = relation_save(source=agent, kind="uses_model", target=model)
    with pytest.raises(ValidationError, match="already uses model"):
        relation_save(source=agent, kind="uses_model", target=model)
    with pytest.raises(ValidationError, match="needs a model"):
        relation_save(source=agent, kind="uses_model", target=crm)
    with pytest.raises(ValidationError, match="cannot depend on itself"):
        relation_save(source=agent, kind="depends_on", target=agent)
    relation_save(source=agent, kind="depends_on", target=crm)  # free-form relation, any target
    relation_delete(relation=relation)
    assert not AssetRelation.objects.filter(pk=relation.pk).exists()
    assert history(agent)[-1] == "relation.remove"


def test_nightly_check_is_scheduled_and_moves_with_the_calendar(in_alpha):
    entry = celery_app.conf.beat_schedule["inventory-daily-check"]
    assert entry["task"] == "inventory.daily_check" and "tenant_schemas" not in entry  # every client schema
    model = asset_save(
        kind="model", name="Old model", provider="self-hosted", model_id="old", deprecation_date=dt.date(2027, 1, 10)
    )
    with freeze_time("2026-09-01"):
        assert inventory_daily_check_task.delay().get()["opened"] == 0
    with freeze_time("2026-11-01"):
        result = inventory_daily_check_task.delay().get()
    assert result["opened"] == 1
    assert GuardrailFinding.objects.get(asset_id=model.pk, status="open").rule == "model-deprecation-soon"
    assert TaskRun.objects.filter(task_name="inventory.daily_check", status="succeeded").count() == 2
