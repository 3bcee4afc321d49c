"""From a discovered identity to what the review queue shows and pre-fills: a readable label, the provider and
service, the asset kind Keel suggests with the form's starting values, the department it guesses from the rows'
allocation or tags, the ledger rows behind it, and the allocation rule that would route its spend.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.db.models import Q, Sum

from apps.finops.allocation import MATCH_COLUMNS
from apps.finops.models import AllocationRule, CostDaily
from apps.inventory.models import Department

from .discovery import Found, Window
from .known import AGENT, ENDPOINT, INTEGRATION, MODEL, known_service

Match = AllocationRule.Match
_BEDROCK_MODEL = re.compile(r":(?:foundation-model|inference-profile|custom-model|provisioned-model)/(.+)$")
ENVIRONMENTS = {"prod": "production", "production": "production", "staging": "staging", "stage": "staging"} | {
    "dev": "development",
    "development": "development",
    "test": "development",
}
SELF_HOSTED = {"self-hosted", "hosted_vllm"}


def short_resource(value: str) -> str:
    """The readable end of a resource id: an ARN's or a path's last part."""
    tail = value.rstrip("/").rsplit("/", 1)[-1]
    return tail or value


def account_label(found: Found) -> str:
    """The account an account × service identity is: the sub-account's name or id, else the billing account's."""
    account = found.accounts[0] if found.accounts else {}
    if account.get("sub_account"):
        return account.get("sub_account_name") or account["sub_account"]
    return account.get("billing_account_name") or found.value


def label_for(found: Found) -> str:
    service = found.services[0] if found.services else (found.providers[0] if found.providers else "")
    if found.kind == "resource":
        name = found.resource_name or short_resource(found.value)
        return f"{name} ({service})" if service else name
    if found.kind == "api_key":
        return f"API key {found.value}"
    if found.kind == "agent":
        return found.value
    return f"{found.service_key} · {account_label(found)}"


def provider_for(found: Found) -> str:
    for service in found.services or [found.service_key]:
        known = known_service(service)
        if known:
            return known.provider
    if found.providers:
        return found.providers[0].lower().replace(" ", "_")
    return ""


def model_for(found: Found) -> str:
    if found.models:
        return found.models[0]
    match = _BEDROCK_MODEL.search(found.value) if found.kind == "resource" else None
    return match.group(1) if match else ""


def suggested_kind(found: Found) -> str:
    if found.kind in ("agent", "api_key"):
        return AGENT
    if found.kind == "account":
        return MODEL
    if "endpoint" in found.value.lower():
        return ENDPOINT
    for service in found.services:
        known = known_service(service)
        if known:
            return known.kind
    return MODEL if found.models else ENDPOINT


def department_guess(found: Found, departments: list[Department]) -> Department | None:
    """The department the rows are already allocated to, else one named by a department/team/cost_center tag."""
    by_id = {d.pk: d for d in departments}
    if found.department_id in by_id:
        return by_id[found.department_id]
    names = {}
    for department in departments:
        names[department.code.lower()] = department
        names[department.name.lower()] = department
    for key in ("department", "team", "cost_center"):
        for value in found.tags.get(key, []):
            if value.lower() in names:
                return names[value.lower()]
    return None


def prefill_for(found: Found, kind: str, department: Department | None) -> dict:
    """The register form's starting values (inventory field names) for an asset of `kind`."""
    service = found.services[0] if found.services else found.service_key
    provider = provider_for(found)
    model = model_for(found)
    region = found.regions[0] if len(found.regions) == 1 else ""
    where = {"resource": "resource", "api_key": "API key", "agent": "agent", "account": "account"}[found.kind]
    fields: dict = {
        "purpose": f"Found by the shadow AI review: spend on {service or provider or 'an AI service'} under the "
        f"{where} {found.value}.",
    }
    if department is not None:
        fields["department"] = department.pk
    if kind == AGENT:
        fields["name"] = found.value if found.kind == "agent" else f"App using {found.value}"
        fields["spend_cap_currency"] = found.currency
    elif kind == MODEL:
        base = model or service or found.value
        context = short_resource(found.value) if found.kind == "resource" else account_label(found)
        fields["name"] = base if not context or context == base else f"{base} ({context})"
        fields.update(
            provider=provider or "unknown",
            model_id=model,
            hosting="private_cloud" if provider in SELF_HOSTED else "provider_api",
            region=region,
        )
    elif kind == ENDPOINT:
        fields["name"] = found.resource_name or short_resource(found.value)
        fields["region"] = region
        envs = [ENVIRONMENTS[v.lower()] for v in found.tags.get("env", []) if v.lower() in ENVIRONMENTS]
        if len(set(envs)) == 1:
            fields["environment"] = envs[0]
        if found.value.startswith("https://"):
            fields["url"] = found.value
    elif kind == INTEGRATION:
        fields["name"] = label_for(found)
        fields["system_name"] = service
    fields["name"] = fields["name"][:200]
    return fields


def ledger_filters_for(found: Found) -> dict:
    """Filters of the ledger-rows page that select this identity's rows (as closely as the page can)."""
    filters: dict = {"currency": found.currency} if not found.other_currencies else {}
    if found.origin == "usage" or found.kind in ("agent", "api_key"):
        filters["tag"] = f"{found.kind}={found.value}"
        return filters
    if found.kind == "resource":
        filters["resource"] = found.value
        if len(found.services) == 1:
            filters["service"] = found.services[0]
        subs = {a.get("sub_account") for a in found.accounts if a.get("sub_account")}
        if len(subs) == 1:
            filters["sub_account"] = subs.pop()
        if len(found.regions) == 1:
            filters["region"] = found.regions[0]
        return filters
    filters["service"] = found.service_key
    subs = {a.get("sub_account") for a in found.accounts if a.get("sub_account")}
    if subs:
        filters["sub_account"] = found.value
    else:
        filters["account"] = found.value
    return filters


# --- the allocation rule a decision creates -----------------------------------------------------------------


def rule_candidates(found: Found, window: Window) -> list[dict]:
    """Rules that would route this identity's spend: [{field, key, value, label, other_spend}], best first.

    Resource, key and agent identities have one exact rule. An account × service cannot be matched by one rule
    field, so both halves are offered with the other spend (last 30 days, same currency) each would also catch;
    the one that catches less comes first."""
    if found.kind == "resource":
        return [_candidate(Match.RESOURCE, found.value)]
    if found.kind == "api_key":
        return [_candidate(Match.API_KEY, found.value)]
    if found.kind == "agent":
        return [_candidate(Match.AGENT, found.value)]
    has_sub = any(a.get("sub_account") for a in found.accounts)
    account_field = Match.SUB_ACCOUNT if has_sub else Match.BILLING_ACCOUNT
    column = "sub_account_id" if has_sub else "billing_account_id"
    # What each rule would match in total (allocated or not: a new rule goes before the rules that take these rows
    # today), less this item's own spend, is what it would also catch.
    totals = CostDaily.objects.filter(
        day__gte=window.last_30_start.date(), day__lte=window.today, billing_currency=found.currency
    ).aggregate(
        account=Sum("effective_cost", filter=Q(**{column: found.value})),
        service=Sum("effective_cost", filter=Q(service_name=found.service_key)),
    )
    candidates = [
        _candidate(account_field, found.value, other=_other(totals["account"], found.cost_30d)),
        _candidate(Match.SERVICE, found.service_key, other=_other(totals["service"], found.cost_30d)),
    ]
    return sorted(candidates, key=lambda c: (Decimal(c["other_spend"]), c["field"] != account_field))


def _other(total: Decimal | None, own: Decimal) -> Decimal:
    return max((total or Decimal(0)) - own, Decimal(0)).quantize(Decimal("0.01"))


def _candidate(field_name: str, value: str, *, key: str = "", other: Decimal = Decimal(0)) -> dict:
    label = AllocationRule.Match(field_name).label
    return {
        "field": str(field_name),
        "key": key,
        "value": value,
        "label": f"{label} is {value}",
        "other_spend": str(other),
    }


def rule_matches_sql(match: dict) -> tuple[str, list]:
    """The ledger condition of a candidate rule, as apps.finops.allocation applies it (for finding the rules that
    take the rows today, which the new rule must come before)."""
    from apps.finops.allocation import glob_to_like

    like = glob_to_like(match["value"].strip())
    if match["field"] == Match.TAG:
        return "(c.tags ->> %s) ILIKE %s", [match["key"], like]
    columns = MATCH_COLUMNS[match["field"]]
    return "(" + " OR ".join(f"c.{col} ILIKE %s" for col in columns) + ")", [like] * len(columns)


def item_prefill(item, kind: str) -> dict:
    """The register form's starting values for a stored item: its own prefill for the suggested kind, rebuilt
    from its evidence for another kind."""
    if kind == item.suggested_kind:
        return dict(item.prefill or {})
    details = item.details or {}
    found = Found(
        origin=item.origin,
        kind=item.identity_kind,
        value=item.identity_value,
        service_key=item.service if item.identity_kind == "account" else "",
        currency=item.currency,
        first_seen=item.first_seen_at,
        last_seen=item.last_seen_at,
        cost_30d=item.cost_30d,
        cost_month=item.cost_month,
        count=item.row_count,
        providers=list(details.get("providers", [])),
        services=list(details.get("services", [])),
        models=list(item.models_seen),
        regions=list(item.regions),
        accounts=list(item.accounts),
        tags=dict(item.tags),
    )
    return prefill_for(found, kind, item.department)
