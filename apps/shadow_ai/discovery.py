"""Discovery: AI spend that no registered asset accounts for, grouped by a stable identity. Set-based: one grouped
query over the ledger window and one over the usage events, whatever their size.

(a) Ledger rows charged in the scan window (35 UTC days) that are AI spend (apps.shadow_ai.known), Usage or
    Purchase, carry no asset after allocation (asset_id is NULL: no rule, cost tag or agent name routed them to a
    registered asset) and are not spread by a shared-cost rule (a person decided where those go). Rows booked from
    the usage events are left to (b), which sees each call. Identity, the first that the row has:
      resource id (or name) → the row's api_key tag → its agent tag → sub-account (else billing account) × service.
(b) Usage events in the window whose agent and API key match no registered asset: no Agent asset of that name,
    no asset whose cost-allocation tags name the agent or key, no enabled allocation rule that sends that agent,
    key or resource (usage rows carry the key as their resource id) to an asset. Identity: the agent, else the key.

Money is Decimal: EffectiveCost for ledger rows, the events' own cost (reported or priced from the catalog) for
usage events, each in its own currency; an identity seen in several currencies keeps the largest as its figure.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from apps.finops.allocation import glob_to_like
from apps.finops.focus import AI_CATEGORY
from apps.finops.models import AllocationRule, BillingSource, CostRecord, SourceKind, UsageEvent
from apps.inventory.models import Asset

from .known import MODEL_SKU_PATTERNS, service_patterns

WINDOW_DAYS = 35  # scanned; the figures are the last 30 days and the current month
MONTH_DAYS = 30
CHARGE_CATEGORIES = ("Usage", "Purchase")  # credits, taxes and adjustments are not somebody's AI
TAG_KEYS = ("department", "team", "app", "owner", "env", "cost_center", "project", "agent", "api_key")

LEDGER = CostRecord._meta.db_table
SOURCES = BillingSource._meta.db_table
RULES = AllocationRule._meta.db_table
EVENTS = UsageEvent._meta.db_table
ASSETS = Asset._meta.db_table


@dataclass(frozen=True)
class Window:
    today: dt.date

    @property
    def first_day(self) -> dt.date:
        return self.today - dt.timedelta(days=WINDOW_DAYS - 1)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time(), dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.today + dt.timedelta(days=1), dt.time(), dt.UTC)

    @property
    def last_30_start(self) -> dt.datetime:
        return dt.datetime.combine(self.today - dt.timedelta(days=MONTH_DAYS - 1), dt.time(), dt.UTC)

    @property
    def month_start(self) -> dt.datetime:
        return dt.datetime.combine(self.today.replace(day=1), dt.time(), dt.UTC)


@dataclass
class Found:
    """One identity's unregistered spend in one currency (merged per identity by `merge_currencies`)."""

    origin: str
    kind: str
    value: str
    service_key: str  # the service, for account identities (an account is one identity per service)
    currency: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    cost_30d: Decimal
    cost_month: Decimal
    count: int
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    providers: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    accounts: list[dict] = field(default_factory=list)
    tags: dict[str, list[str]] = field(default_factory=dict)
    resource_name: str = ""
    resource_types: list[str] = field(default_factory=list)
    department_id: int | None = None
    current_rules: list[int] = field(default_factory=list)
    unpriced: int = 0
    other_currencies: dict[str, dict] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.origin, self.kind, self.value, self.service_key)


def fingerprint(origin: str, kind: str, value: str, service_key: str = "") -> str:
    raw = "\x1f".join([origin, kind, value.strip().lower(), service_key.strip().lower()])
    return hashlib.sha256(raw.encode()).hexdigest()


# --- (a) the ledger ---------------------------------------------------------------------------------------

_TAG_ARRAYS = ", ".join(
    f"array_agg(DISTINCT tags ->> '{key}') FILTER (WHERE COALESCE(tags ->> '{key}', '') <> '') AS tag_{key}"
    for key in TAG_KEYS
)

_LEDGER_SQL = f"""
WITH rows AS (
    SELECT c.*,
        CASE WHEN COALESCE(NULLIF(c.resource_id, ''), NULLIF(c.resource_name, '')) IS NOT NULL THEN 'resource'
             WHEN COALESCE(c.tags ->> 'api_key', '') <> '' THEN 'api_key'
             WHEN COALESCE(c.tags ->> 'agent', '') <> '' THEN 'agent'
             ELSE 'account' END AS identity_kind,
        CASE WHEN COALESCE(NULLIF(c.resource_id, ''), NULLIF(c.resource_name, '')) IS NOT NULL
                 THEN COALESCE(NULLIF(c.resource_id, ''), c.resource_name)
             WHEN COALESCE(c.tags ->> 'api_key', '') <> '' THEN c.tags ->> 'api_key'
             WHEN COALESCE(c.tags ->> 'agent', '') <> '' THEN c.tags ->> 'agent'
             ELSE COALESCE(NULLIF(c.sub_account_id, ''), NULLIF(c.billing_account_id, ''), '(no account)') END
            AS identity_value
    FROM {LEDGER} c
    JOIN {SOURCES} s ON s.id = c.source_id
    LEFT JOIN {RULES} r ON r.id = c.allocation_rule_id
    WHERE c.charge_period_start >= %(start)s AND c.charge_period_start < %(end)s
      AND s.kind <> %(usage_kind)s
      AND c.asset_id IS NULL
      AND (r.id IS NULL OR r.split = 'none')
      AND c.charge_category = ANY(%(charge_categories)s)
      AND (c.service_category = %(ai_category)s
           OR c.service_name ILIKE ANY(%(service_patterns)s)
           OR c.x_model <> ''
           OR c.sku_meter ILIKE ANY(%(sku_patterns)s)
           OR c.charge_description ILIKE ANY(%(sku_patterns)s))
)
SELECT identity_kind, min(identity_value),
       CASE WHEN identity_kind = 'account' THEN service_name ELSE '' END AS service_key,
       billing_currency,
       min(charge_period_start), max(charge_period_start),
       COALESCE(sum(effective_cost) FILTER (WHERE charge_period_start >= %(last_30)s), 0),
       COALESCE(sum(effective_cost) FILTER (WHERE charge_period_start >= %(month)s), 0),
       count(*), COALESCE(sum(x_requests), 0), COALESCE(sum(x_input_tokens), 0), COALESCE(sum(x_output_tokens), 0),
       array_agg(DISTINCT provider_name) FILTER (WHERE provider_name <> ''),
       array_agg(DISTINCT service_name) FILTER (WHERE service_name <> ''),
       array_agg(DISTINCT x_model) FILTER (WHERE x_model <> ''),
       array_agg(DISTINCT region_id) FILTER (WHERE region_id <> ''),
       jsonb_agg(DISTINCT jsonb_build_object(
           'billing_account', billing_account_id, 'billing_account_name', billing_account_name,
           'sub_account', sub_account_id, 'sub_account_name', sub_account_name)),
       max(resource_name),
       array_agg(DISTINCT resource_type) FILTER (WHERE resource_type <> ''),
       mode() WITHIN GROUP (ORDER BY department_id),
       array_agg(DISTINCT allocation_rule_id) FILTER (WHERE allocation_rule_id IS NOT NULL),
       {_TAG_ARRAYS}
FROM rows
GROUP BY identity_kind, lower(identity_value), 3, billing_currency
"""  # noqa: S608 — table names are constants, values go as parameters


def ledger_unregistered(window: Window) -> list[Found]:
    with connection.cursor() as cur:
        cur.execute(
            _LEDGER_SQL,
            {
                "start": window.start,
                "end": window.end,
                "last_30": window.last_30_start,
                "month": window.month_start,
                "usage_kind": SourceKind.USAGE_EVENTS.value,
                "charge_categories": list(CHARGE_CATEGORIES),
                "ai_category": AI_CATEGORY,
                "service_patterns": service_patterns(),
                "sku_patterns": list(MODEL_SKU_PATTERNS),
            },
        )
        rows = cur.fetchall()
    found = []
    for row in rows:
        (kind, value, service_key, currency, first, last, cost_30d, cost_month, count, requests, inp, out) = row[:12]
        (providers, services, models, regions, accounts, resource_name, types, department_id, rules) = row[12:21]
        tag_values = row[21:]
        found.append(
            Found(
                origin="ledger",
                kind=kind,
                value=value,
                service_key=service_key,
                currency=currency,
                first_seen=first,
                last_seen=last,
                cost_30d=cost_30d,
                cost_month=cost_month,
                count=count,
                requests=requests,
                input_tokens=inp,
                output_tokens=out,
                providers=sorted(providers or []),
                services=sorted(services or []),
                models=sorted(models or []),
                regions=sorted(regions or []),
                accounts=_accounts(accounts),
                tags={key: sorted(values) for key, values in zip(TAG_KEYS, tag_values, strict=True) if values},
                resource_name=resource_name or "",
                resource_types=sorted(types or []),
                department_id=department_id,
                current_rules=sorted(rules or []),
            )
        )
    return merge_currencies(found)


def _accounts(raw) -> list[dict]:
    if isinstance(raw, str):  # Django leaves jsonb as text on raw cursors
        raw = json.loads(raw)
    accounts = [dict(a) for a in raw or [] if a.get("billing_account") or a.get("sub_account")]
    return sorted(accounts, key=lambda a: (a.get("billing_account") or "", a.get("sub_account") or ""))[:20]


# --- (b) usage events --------------------------------------------------------------------------------------

_USAGE_SQL = f"""
WITH rules(field, key, pattern) AS (
    SELECT * FROM unnest(%(rule_fields)s::text[], %(rule_keys)s::text[], %(rule_patterns)s::text[])
), events AS (
    SELECT e.*,
        CASE WHEN e.agent <> '' THEN 'agent' ELSE 'api_key' END AS identity_kind,
        CASE WHEN e.agent <> '' THEN e.agent ELSE e.api_key_id END AS identity_value
    FROM {EVENTS} e
    WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s AND (e.agent <> '' OR e.api_key_id <> '')
      AND NOT EXISTS (
          SELECT 1 FROM {ASSETS} a
          WHERE (e.agent <> '' AND ((a.kind = 'agent' AND lower(a.name) = lower(e.agent))
                                    OR lower(a.cost_tags ->> 'agent') = lower(e.agent)))
             OR (e.api_key_id <> '' AND a.cost_tags ->> 'api_key' = e.api_key_id))
      AND NOT EXISTS (
          SELECT 1 FROM rules r
          WHERE (e.agent <> '' AND e.agent ILIKE r.pattern
                 AND (r.field = 'agent' OR (r.field = 'tag' AND r.key = 'agent')))
             OR (e.api_key_id <> '' AND e.api_key_id ILIKE r.pattern
                 AND (r.field IN ('api_key', 'resource') OR (r.field = 'tag' AND r.key = 'api_key'))))
)
SELECT identity_kind, min(identity_value), currency, min(occurred_at), max(occurred_at),
       COALESCE(sum(cost) FILTER (WHERE occurred_at >= %(last_30)s), 0),
       COALESCE(sum(cost) FILTER (WHERE occurred_at >= %(month)s), 0),
       count(*), COALESCE(sum(input_tokens), 0), COALESCE(sum(output_tokens), 0),
       array_agg(DISTINCT provider) FILTER (WHERE provider <> ''),
       array_agg(DISTINCT model) FILTER (WHERE model <> ''),
       array_agg(DISTINCT department) FILTER (WHERE department <> ''),
       array_agg(DISTINCT api_key_id) FILTER (WHERE api_key_id <> ''),
       array_agg(DISTINCT agent) FILTER (WHERE agent <> ''),
       count(*) FILTER (WHERE cost IS NULL)
FROM events
GROUP BY identity_kind, lower(identity_value), currency
"""  # noqa: S608 — table names are constants, values go as parameters

IDENTITY_RULE_FIELDS = (AllocationRule.Match.AGENT, AllocationRule.Match.API_KEY, AllocationRule.Match.RESOURCE)


def asset_rules() -> list[tuple[str, str, str]]:
    """(field, tag key, ILIKE pattern) of the enabled rules that send an agent, key or resource to an asset."""
    rules = AllocationRule.objects.filter(enabled=True, split=AllocationRule.Split.NONE, asset__isnull=False)
    out = []
    for field_name, key, value in rules.values_list("match_field", "match_key", "match_value"):
        tag_rule = field_name == AllocationRule.Match.TAG and key in ("agent", "api_key")
        if field_name in IDENTITY_RULE_FIELDS or tag_rule:
            out.append((field_name, key, glob_to_like(value.strip())))
    return out


def usage_unregistered(window: Window) -> list[Found]:
    rules = asset_rules()
    with connection.cursor() as cur:
        cur.execute(
            _USAGE_SQL,
            {
                "start": window.start,
                "end": window.end,
                "last_30": window.last_30_start,
                "month": window.month_start,
                "rule_fields": [r[0] for r in rules],
                "rule_keys": [r[1] for r in rules],
                "rule_patterns": [r[2] for r in rules],
            },
        )
        rows = cur.fetchall()
    found = []
    for row in rows:
        kind, value, currency, first, last, cost_30d, cost_month, count, inp, out = row[:10]
        providers, models, departments, keys, agents, unpriced = row[10:]
        tags = {"department": sorted(departments or [])}
        tags["api_key" if kind == "agent" else "agent"] = sorted((keys if kind == "agent" else agents) or [])
        found.append(
            Found(
                origin="usage",
                kind=kind,
                value=value,
                service_key="",
                currency=currency,
                first_seen=first,
                last_seen=last,
                cost_30d=cost_30d,
                cost_month=cost_month,
                count=count,
                requests=count,
                input_tokens=inp,
                output_tokens=out,
                providers=sorted(providers or []),
                models=sorted(models or []),
                tags={key: values for key, values in tags.items() if values},
                unpriced=unpriced,
            )
        )
    return merge_currencies(found)


# --- both --------------------------------------------------------------------------------------------------


def merge_currencies(found: Iterable[Found]) -> list[Found]:
    """One Found per identity: the currency with the most spend leads, the others go to other_currencies."""
    by_identity: dict[str, list[Found]] = {}
    for item in found:
        by_identity.setdefault(item.fingerprint, []).append(item)
    merged = []
    for parts in by_identity.values():
        parts.sort(key=lambda f: (-f.cost_30d, -f.count, f.currency))
        lead = parts[0]
        for other in parts[1:]:
            lead.other_currencies[other.currency] = {
                "cost_30d": str(other.cost_30d),
                "cost_month": str(other.cost_month),
            }
            lead.first_seen = min(lead.first_seen, other.first_seen)
            lead.last_seen = max(lead.last_seen, other.last_seen)
            lead.count += other.count
            lead.requests += other.requests
            lead.input_tokens += other.input_tokens
            lead.output_tokens += other.output_tokens
            lead.unpriced += other.unpriced
            for name in ("providers", "services", "models", "regions", "resource_types", "current_rules"):
                setattr(lead, name, sorted(set(getattr(lead, name)) | set(getattr(other, name))))
            for key, values in other.tags.items():
                lead.tags[key] = sorted(set(lead.tags.get(key, [])) | set(values))
            seen = {tuple(sorted(a.items())) for a in lead.accounts}
            lead.accounts += [a for a in other.accounts if tuple(sorted(a.items())) not in seen]
        merged.append(lead)
    return merged


def discover(window: Window) -> list[Found]:
    return ledger_unregistered(window) + usage_unregistered(window)
