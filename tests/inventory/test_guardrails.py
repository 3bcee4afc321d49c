"""Each guardrail rule on its own: breaks → open finding + alert; fixed → finding and alert resolved."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.alerts.models import Alert
from apps.inventory.guardrails import RULES, RULES_BY_CODE, active_rules, guardrails_evaluate
from apps.inventory.models import GuardrailFinding, Lifecycle, Power
from apps.inventory.services import agent_tool_save, asset_delete, asset_save, assets_retire

SAFE_AGENT = {"spend_cap": Decimal("50.00"), "kill_switch_url": "https://agents.example/kill"}


def open_rules(asset) -> set[str]:
    return set(GuardrailFinding.objects.filter(asset_id=asset.pk, status="open").values_list("rule", flat=True))


def open_alert(asset, rule):
    return Alert.objects.filter(dedup_key=f"guardrail:{rule}:{asset.pk}").exclude(state="resolved").first()


@pytest.mark.parametrize(
    ("power", "rule", "severity"),
    [
        (Power.MOVE_MONEY, "agent-moves-money-without-approval", "critical"),
        (Power.DELETE_DATA, "agent-deletes-data-without-approval", "high"),
    ],
)
def test_dangerous_power_without_approval(in_alpha, power, rule, severity):
    agent = asset_save(kind="agent", name="Payout agent", **SAFE_AGENT)
    assert open_rules(agent) == set()
    agent_tool_save(agent=agent, name="Bank transfer", powers=[Power.READ_DATA, power])
    assert open_rules(agent) == {rule}
    finding = GuardrailFinding.objects.get(asset_id=agent.pk, status="open")
    assert finding.severity == severity and "Bank transfer" in finding.explanation and finding.fix
    alert = open_alert(agent, rule)
    assert alert is not None and alert.kind == "guardrail" and alert.severity == severity
    assert alert.link == f"/inventory/assets/{agent.pk}/"

    asset_save(kind="agent", asset=agent, approval_required_for=[power])
    assert open_rules(agent) == set()
    assert GuardrailFinding.objects.get(pk=finding.pk).status == "resolved"
    assert open_alert(agent, rule) is None


def test_read_only_tools_need_no_approval(in_alpha):
    agent = asset_save(kind="agent", name="Researcher", **SAFE_AGENT)
    agent_tool_save(agent=agent, name="Search", powers=[Power.READ_DATA, Power.WRITE_DATA])
    assert open_rules(agent) == set()


def test_spend_cap_and_kill_switch(in_alpha):
    agent = asset_save(kind="agent", name="Underwriter")
    assert open_rules(agent) == {"agent-without-spend-cap", "agent-without-kill-switch"}
    asset_save(kind="agent", asset=agent, spend_cap=Decimal("200"))
    assert open_rules(agent) == {"agent-without-kill-switch"}
    asset_save(kind="agent", asset=agent, kill_switch_url="https://agents.example/stop")
    assert open_rules(agent) == set()


def test_personal_data_pipeline_needs_residency(in_alpha):
    pipeline = asset_save(kind="pipeline", name="Claims RAG", personal_data=True)
    assert open_rules(pipeline) == {"pipeline-personal-data-without-residency"}
    asset_save(kind="pipeline", asset=pipeline, residency_region="ca-central-1")
    assert open_rules(pipeline) == set()
    no_personal = asset_save(kind="pipeline", name="Product docs RAG", personal_data=False)
    assert open_rules(no_personal) == set()


def test_model_deprecation_past_and_within_90_days(in_alpha):
    today = dt.date(2026, 11, 23)
    model = asset_save(kind="model", name="Legacy", provider="self-hosted", model_id="legacy-x")
    model.deprecation_date = today + dt.timedelta(days=120)
    model.save()
    guardrails_evaluate(today=today)
    assert open_rules(model) == set()
    guardrails_evaluate(today=today + dt.timedelta(days=31))  # 89 days left
    assert open_rules(model) == {"model-deprecation-soon"}
    guardrails_evaluate(today=today + dt.timedelta(days=120))
    assert open_rules(model) == {"model-past-deprecation"}
    finding = GuardrailFinding.objects.get(asset_id=model.pk, status="open")
    assert finding.severity == "high" and "2027-03-23" in finding.explanation


def test_retired_and_removed_assets_close_their_findings(in_alpha):
    agent = asset_save(kind="agent", name="Old bot")
    other = asset_save(kind="agent", name="Other bot")
    assert open_rules(agent) and open_rules(other)
    assets_retire(assets=[agent])
    assert open_rules(agent) == set() and open_alert(agent, "agent-without-spend-cap") is None
    asset_delete(asset=other)
    assert not Alert.objects.filter(dedup_key__startswith=f"guardrail:agent-without-spend-cap:{other.pk}").exclude(
        state="resolved"
    )


def test_daily_run_keeps_one_finding_and_one_alert(in_alpha):
    agent = asset_save(kind="agent", name="Looping bot")
    guardrails_evaluate()
    guardrails_evaluate()
    assert GuardrailFinding.objects.filter(asset_id=agent.pk, rule="agent-without-spend-cap").count() == 1
    assert Alert.objects.filter(dedup_key=f"guardrail:agent-without-spend-cap:{agent.pk}").count() == 1


def test_rules_waiting_for_other_capabilities_are_inactive_not_faked(in_alpha):
    waiting = {rule.code for rule in RULES if not rule.active}
    assert waiting == {"production-without-slo", "high-risk-without-evidence"}
    assert all(RULES_BY_CODE[code].inactive_reason for code in waiting)
    model = asset_save(
        kind="model", name="Scorer", provider="self-hosted", model_id="scorer", lifecycle=Lifecycle.PRODUCTION
    )
    assert open_rules(model) == set()
    assert {rule.code for rule in active_rules()} == {rule.code for rule in RULES} - waiting
