"""Guardrail rules over the inventory, and the one function that turns their verdicts into findings and alerts.

Rules are data: each names the asset kinds it looks at, its severity, the words a person reads, the check
(a small function from the asset to "breaks it" + specifics) and its parameters. A rule that needs a
capability Keel does not have yet (SLOs, compliance evidence) is listed as inactive rather than faked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps as django_apps
from django.db import transaction
from django.utils import timezone

from .models import (
    KIND_MODEL,
    Agent,
    AIModel,
    Asset,
    AssetKind,
    GuardrailFinding,
    KnowledgePipeline,
    Lifecycle,
    Power,
    RiskTier,
)

Verdict = dict | None  # None: the asset passes; a dict: it breaks the rule, with the specifics for the text


@dataclass(frozen=True)
class Rule:
    code: str
    kinds: tuple[str, ...]
    severity: str
    title: str
    explanation: str  # formatted with the asset and the verdict's specifics
    fix: str
    check: Callable[..., Verdict]
    params: dict = field(default_factory=dict)
    requires_app: str = ""  # app label that must be installed for the rule to mean anything
    inactive_reason: str = ""

    @property
    def active(self) -> bool:
        return not self.requires_app or django_apps.is_installed(self.requires_app)


# --- checks: each gets the kind-specific asset, today's date and the rule's params ----------------------------


def power_without_approval(agent: Agent, today: dt.date, *, power: str) -> Verdict:
    tools = [tool.name for tool in agent.tools.all() if power in tool.powers]
    if tools and power not in agent.approval_required_for:
        return {"tools": ", ".join(sorted(tools)), "power": Power(power).label.lower()}
    return None


def agent_without_spend_cap(agent: Agent, today: dt.date) -> Verdict:
    return {} if agent.spend_cap is None else None


def agent_without_kill_switch(agent: Agent, today: dt.date) -> Verdict:
    return {} if not agent.kill_switch_url else None


def personal_data_without_residency(pipeline: KnowledgePipeline, today: dt.date) -> Verdict:
    return {} if pipeline.personal_data and not pipeline.residency_region else None


def model_deprecation(model: AIModel, today: dt.date, *, within_days: int, past: bool) -> Verdict:
    date = model.effective_deprecation_date
    if date is None:
        return None
    days = (date - today).days
    if past and days <= 0:
        return {"date": date.isoformat(), "days": -days}
    if not past and 0 < days <= within_days:
        return {"date": date.isoformat(), "days": days}
    return None


def production_without_slo(asset: Asset, today: dt.date) -> Verdict:
    from apps.service_levels.selectors import asset_has_slo  # noqa: PLC0415 - exists once SLOs ship

    return {} if asset.lifecycle == Lifecycle.PRODUCTION and not asset_has_slo(asset_id=asset.pk) else None


def high_risk_without_evidence(asset: Asset, today: dt.date) -> Verdict:
    from apps.compliance.selectors import asset_has_evidence  # noqa: PLC0415 - exists once evidence ships

    return {} if asset.risk_tier == RiskTier.HIGH and not asset_has_evidence(asset_id=asset.pk) else None


RULES: tuple[Rule, ...] = (
    Rule(
        code="agent-moves-money-without-approval",
        kinds=(AssetKind.AGENT,),
        severity="critical",
        title="Agent can move money without human approval",
        explanation="{asset} can move money through {tools}, and no person has to approve those actions first.",
        fix="Require human approval for “move money” on this agent, or remove the power from the tool.",
        check=power_without_approval,
        params={"power": Power.MOVE_MONEY},
    ),
    Rule(
        code="agent-deletes-data-without-approval",
        kinds=(AssetKind.AGENT,),
        severity="high",
        title="Agent can delete data without human approval",
        explanation="{asset} can delete data through {tools}, and no person has to approve those actions first.",
        fix="Require human approval for “delete data” on this agent, or remove the power from the tool.",
        check=power_without_approval,
        params={"power": Power.DELETE_DATA},
    ),
    Rule(
        code="agent-without-spend-cap",
        kinds=(AssetKind.AGENT,),
        severity="high",
        title="Agent has no spend cap",
        explanation="Nothing limits what {asset} may spend: a loop can run up costs until someone notices.",
        fix="Set a daily or monthly spend cap on the agent.",
        check=agent_without_spend_cap,
    ),
    Rule(
        code="agent-without-kill-switch",
        kinds=(AssetKind.AGENT,),
        severity="high",
        title="Agent has no kill switch",
        explanation="Keel has no way to stop {asset} if it runs away: no kill-switch webhook is registered.",
        fix="Register the agent's kill-switch webhook URL so it can be stopped at once.",
        check=agent_without_kill_switch,
    ),
    Rule(
        code="pipeline-personal-data-without-residency",
        kinds=(AssetKind.PIPELINE,),
        severity="high",
        title="Personal data in a pipeline with no residency region",
        explanation="{asset} processes personal data but does not say where that data must stay.",
        fix="Set the data-residency region the client's privacy law requires (e.g. ca-central-1 for PIPEDA/PHIPA).",
        check=personal_data_without_residency,
    ),
    Rule(
        code="model-past-deprecation",
        kinds=(AssetKind.MODEL,),
        severity="high",
        title="Model is past its deprecation date",
        explanation="{asset} was deprecated on {date}; calls may fail or be rerouted at any time.",
        fix="Move its users to a supported model, then retire this one.",
        check=model_deprecation,
        params={"within_days": 90, "past": True},
    ),
    Rule(
        code="model-deprecation-soon",
        kinds=(AssetKind.MODEL,),
        severity="medium",
        title="Model is deprecated within 90 days",
        explanation="{asset} will be deprecated on {date} ({days} days from now).",
        fix="Plan and test the move to its successor before the date.",
        check=model_deprecation,
        params={"within_days": 90, "past": False},
    ),
    Rule(
        code="production-without-slo",
        kinds=(AssetKind.MODEL, AssetKind.ENDPOINT),
        severity="medium",
        title="Production asset without an SLO",
        explanation="{asset} is in production but no service-level objective measures it.",
        fix="Define an SLO (availability, latency or quality) for it.",
        check=production_without_slo,
        requires_app="service_levels",
        inactive_reason="Checks start once service levels (SLOs) are part of Keel.",
    ),
    Rule(
        code="high-risk-without-evidence",
        kinds=tuple(KIND_MODEL),
        severity="high",
        title="High-risk asset without compliance evidence",
        explanation="{asset} is high risk under the EU AI Act but no compliance evidence is linked to it.",
        fix="Link the evidence (risk assessment, FRIA, logs, oversight design) in the evidence register.",
        check=high_risk_without_evidence,
        requires_app="compliance",
        inactive_reason="Checks start once the compliance evidence register is part of Keel.",
    ),
)
RULES_BY_CODE = {rule.code: rule for rule in RULES}


def active_rules() -> list[Rule]:
    return [rule for rule in RULES if rule.active]


def _assets_to_check(asset_ids: list[int] | None):
    """Kind-specific rows of every asset under check, with what the checks read prefetched."""
    by_kind: dict[str, list] = {}
    for kind, model in KIND_MODEL.items():
        qs = model.objects.exclude(lifecycle=Lifecycle.RETIRED)
        if asset_ids is not None:
            qs = qs.filter(pk__in=asset_ids)
        if model is Agent:
            qs = qs.prefetch_related("tools")
        by_kind[kind] = list(qs)
    return by_kind


def guardrails_evaluate(*, asset_ids: list[int] | None = None, today: dt.date | None = None) -> dict[str, int]:
    """Recompute findings for the given assets (all when None): open new ones, refresh, resolve cleared ones.

    Each open finding holds one alert (dedup key guardrail:<rule>:<asset>); resolving the finding resolves it.
    Retired and removed assets have no open findings.
    """
    from apps.alerts.services import alert_raise, alert_resolve_condition

    now = timezone.now()
    today = today or timezone.localdate()
    rules = active_rules()
    breaking: dict[tuple[str, int], tuple[Rule, Asset, dict]] = {}
    for kind, assets in _assets_to_check(asset_ids).items():
        for rule in rules:
            if kind not in rule.kinds:
                continue
            for asset in assets:
                verdict = rule.check(asset, today, **rule.params)
                if verdict is not None:
                    breaking[(rule.code, asset.pk)] = (rule, asset, verdict)

    counts = {"opened": 0, "still_open": 0, "resolved": 0}
    with transaction.atomic():
        open_findings = GuardrailFinding.objects.select_for_update().filter(status=GuardrailFinding.Status.OPEN)
        if asset_ids is not None:
            open_findings = open_findings.filter(asset_id__in=asset_ids)
        existing = {(f.rule, f.asset_id): f for f in open_findings.select_related("asset")}

        for key, finding in existing.items():
            if key in breaking:
                continue
            finding.status, finding.resolved_at = GuardrailFinding.Status.RESOLVED, now
            finding.save(update_fields=["status", "resolved_at"])
            alert_resolve_condition(dedup_key=finding.dedup_key, note="The guardrail is met now.")
            counts["resolved"] += 1

        for key, (rule, asset, verdict) in breaking.items():
            explanation = rule.explanation.format(asset=asset.name, **verdict)
            finding = existing.get(key)
            if finding is None:
                finding = GuardrailFinding.objects.create(
                    rule=rule.code,
                    asset_id=asset.pk,
                    severity=rule.severity,
                    title=rule.title,
                    explanation=explanation,
                    fix=rule.fix,
                    first_seen_at=now,
                    last_seen_at=now,
                )
                counts["opened"] += 1
            else:
                finding.explanation, finding.severity, finding.last_seen_at = explanation, rule.severity, now
                finding.save(update_fields=["explanation", "severity", "last_seen_at"])
                counts["still_open"] += 1
                if asset_ids is not None:
                    continue  # already alerted; the daily full run refreshes the alert's last-seen time
            alert_raise(
                kind="guardrail",
                severity=rule.severity,
                subject=f"{asset.name}: {rule.title}",
                dedup_key=finding.dedup_key,
                body=f"{explanation}\n\nFix: {rule.fix}",
                link=f"/inventory/assets/{asset.pk}/",
                data={"rule": rule.code, "asset_id": asset.pk, "asset_kind": asset.kind},
            )
    return counts
