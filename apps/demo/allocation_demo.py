"""Demo allocation rules: the shared costs and the one gateway whose agent name differs from the register.

Most demo costs already allocate themselves (their department tags are department codes, and the agents'
names or cost tags match the register); these rules cover what tags cannot say.
"""

from __future__ import annotations

from django_tenants.utils import tenant_context

from apps.core.context import acting_as

from .fixtures_finops import ACME_PROJECTS, HARBOR_CLAIMS_WORKSPACE, HARBOR_WORKSPACES

# The LLM providers' cost reports name only a project or workspace id: one rule per id, as an MSP would write.
PROJECT_ASSETS = {"underwriter-7": "underwriter-7", "loan-file-rag": "Loan file RAG"}
WORKSPACE_ASSETS = {HARBOR_CLAIMS_WORKSPACE: "Claims processing agent"}


# Left without a rule on purpose: the demo shows unallocated spend (and shadow AI) to act on.
UNMAPPED = {"it-ops-assistant", "default"}


def _sub_account_rules(projects: dict, assets: dict, *, provider: str) -> list[dict]:
    rules = []
    for project_id, (name, department) in projects.items():
        if name in UNMAPPED:
            continue
        rule = dict(
            name=f"{provider} {name}",
            match_field="sub_account",
            match_value=project_id,
            description=f"The {provider} cost report names the {name} project only by its id.",
        )
        asset = assets.get(name) or assets.get(project_id)
        rule.update(asset=asset) if asset else rule.update(department=department)
        rules.append(rule)
    return rules


RULES = {
    "acme": [
        *_sub_account_rules(ACME_PROJECTS, PROJECT_ASSETS, provider="OpenAI"),
        dict(
            name="Shared cloud platform",
            match_field="tag",
            match_key="team",
            match_value="cloud-ops",
            split="proportional",
            targets=[{"department": "underwriting"}, {"department": "risk"}],
            description="The cloud-ops platform serves underwriting and risk; split by their own spend each month.",
        ),
    ],
    "maple": [
        dict(
            name="Clinic shared platform",
            match_field="tag",
            match_key="app",
            match_value="platform",
            split="fixed",
            targets=[{"department": "intake", "percent": "60"}, {"department": "clinical-ops", "percent": "40"}],
            description="Agreed with Maple's CFO: 60 % intake, 40 % clinical operations.",
        ),
    ],
    "harbor": [
        *_sub_account_rules(HARBOR_WORKSPACES, WORKSPACE_ASSETS, provider="Anthropic"),
        dict(
            name="Claims triage gateway",
            match_field="agent",
            match_value="claims-triage",
            asset="Claims processing agent",
            description="The gateway reports the claims processing agent under its old name, claims-triage.",
        ),
    ],
}


def demo_allocation(clients) -> None:
    """Create the rules (once) and allocate the ledger now, so the next demo steps read allocated rollups."""
    from apps.finops.allocation import allocation_recompute_all, allocation_rule_save
    from apps.finops.models import AllocationRule
    from apps.inventory.models import Asset, Department

    for slug, rules in RULES.items():
        client = clients.get(slug)
        if client is None:
            continue
        with tenant_context(client), acting_as(source="command", user_email="demo-loader"):
            for spec in rules:
                if AllocationRule.objects.filter(name=spec["name"]).exists():
                    continue
                fields = dict(spec)
                if "department" in spec:
                    fields["department"] = Department.objects.get(code=spec["department"])
                fields["targets"] = [
                    {
                        "department": Department.objects.get(code=t["department"]),
                        "percent": t.get("percent"),
                    }
                    for t in spec.get("targets", [])
                ]
                if "asset" in spec:
                    fields["asset"] = Asset.objects.get(name=spec["asset"])
                allocation_rule_save(**fields, recompute=False)
            allocation_recompute_all()
