"""The six generators: each reads the client's own data over the last 30 UTC days and the price catalog, and
returns findings with their estimated monthly saving and the arithmetic behind it, step by step.

A month is the 30-day window itself: every "per month" figure is what the window's data add up to. Token
prices come from the catalog (USD per token), so token-based savings are in USD; compute and endpoint savings
are in the bill's currency. docs/recommendations.md states every formula.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from apps.finops.focus import AI_CATEGORY

from . import data
from . import text as words
from .models import Kind, Method, Origin, RecommendationSettings, ScopeKind
from .rules import (
    GPU,
    ROUTING_TIERS,
    SMALL_MODELS,
    TIME_PRICED,
    commitment_program,
    routing_rule,
    successor_candidates,
)

WINDOW_DAYS = 30
ZERO = Decimal(0)
HUNDRED = Decimal(100)
CATALOG_CURRENCY = "USD"
PROVIDER_CACHE_MINIMUM = 1024  # OpenAI and Anthropic cache only prompts of at least 1,024 tokens


@dataclass
class Finding:
    kind: str
    key: tuple
    title: str
    summary: str
    scope_kind: str
    scope_label: str
    saving: Decimal
    currency: str
    steps: list[dict]
    evidence: list[dict]
    measure: dict
    window_start: dt.date
    window_end: dt.date  # inclusive
    asset_id: int | None = None
    provider: str = ""
    model: str = ""
    service: str = ""
    account: str = ""
    parameters: dict = field(default_factory=dict)
    origin: str = Origin.GENERATED

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.kind, *self.key)


def fingerprint(kind: str, *key) -> str:
    raw = "|".join([kind, *("" if part is None else str(part).lower() for part in key)])
    return hashlib.sha256(raw.encode()).hexdigest()


def step(label: str, formula: str, value: str = "") -> dict:
    return {"label": label, "formula": formula, "value": value}


def evidence(label: str, value: str, *, ledger: dict | None = None) -> dict:
    item = {"label": label, "value": value}
    if ledger is not None:
        item["ledger"] = ledger
    return item


@dataclass
class Context:
    """One refresh: the window, the client's settings, and the catalog."""

    as_of: dt.date
    settings: RecommendationSettings
    catalog: data.Catalog = field(default_factory=data.Catalog)
    _workloads: list | None = None
    _agents: dict | None = None
    _events: list | None = None
    _units: dict | None = None

    @property
    def start(self) -> dt.date:
        return self.as_of - dt.timedelta(days=WINDOW_DAYS)

    @property
    def end(self) -> dt.date:
        return self.as_of

    @property
    def last_day(self) -> dt.date:
        return self.as_of - dt.timedelta(days=1)

    @property
    def horizon(self) -> dt.date:
        return self.as_of + dt.timedelta(days=self.settings.deprecation_horizon_days)

    @property
    def window_text(self) -> str:
        return f"the 30 days {words.day(self.start)} – {words.day(self.last_day)} (UTC)"

    def ledger_link(self, **filters) -> dict:
        return {"from": self.start.isoformat(), "to": self.last_day.isoformat(), "filters": filters}

    def workloads(self) -> list[data.Workload]:
        if self._workloads is None:
            self._workloads = data.ledger_workloads(self.start, self.end)
            self.catalog.load((w.provider, w.model) for w in self._workloads)
        return self._workloads

    def events(self) -> list[data.EventGroup]:
        if self._events is None:
            self._events = data.event_groups(self.start, self.end, short_below=self.settings.routing_max_input_tokens)
            self.catalog.load((g.provider, g.model) for g in self._events)
        return self._events

    def business_units(self) -> dict[int, data.BusinessUnitRef]:
        if self._units is None:
            self._units = data.business_units_by_asset()
        return self._units

    def agent_asset(self, agent: str) -> int | None:
        if self._agents is None:
            self._agents = data.agent_assets()
        return self._agents.get((agent or "").lower())

    def worth_listing(self, saving: Decimal) -> bool:
        return saving >= self.settings.min_monthly_saving

    def usable(self, price: data.Price | None) -> bool:
        """Priced, and not retiring within the horizon (no one should be moved onto a retiring model)."""
        if price is None or price.input is None or price.output is None:
            return False
        return price.deprecation_date is None or price.deprecation_date > self.horizon

    def cheapest(self, provider: str, keys, *, uncached: int, cached: int, output: int) -> data.Price | None:
        self.catalog.load((provider, key) for key in keys)
        best, best_cost = None, None
        for key in keys:
            price = self.catalog.get(provider, key)
            if not self.usable(price):
                continue
            cost = price.cost(uncached=uncached, cached=cached, output=output)
            if cost is not None and (best_cost is None or cost < best_cost):
                best, best_cost = price, cost
        return best


# --- shared arithmetic ----------------------------------------------------------------------------------------


@dataclass
class Switch:
    saving: Decimal
    steps: list[dict]
    current: Decimal
    new: Decimal


def model_switch(
    *,
    tokens: tuple[int, int, int],
    source: data.Price,
    target: data.Price,
    source_name: str,
    target_name: str,
    qualifier: str = "",
    share: Decimal = Decimal(1),
    summarise: bool = True,
) -> Switch:
    """Σ tokens × (source price − target price), input, cache reads and output separately, per month."""
    uncached, cached, output = tokens
    pieces = (
        ("Uncached input", "input tokens", uncached, source.input, target.input),
        ("Cache reads", "cached input tokens", cached, source.cached, target.cached),
        ("Output", "output tokens", output, source.output, target.output),
    )
    steps, parts, current, new = [], [], ZERO, ZERO
    for label, noun, count, price_from, price_to in pieces:
        if not count:
            continue
        moved = Decimal(count) * share
        value = moved * (price_from - price_to)
        current += moved * price_from
        new += moved * price_to
        parts.append(value)
        shared = f" × {words.percent(share * HUNDRED)} routed" if share != 1 else ""
        steps.append(
            step(
                label,
                f"{words.count(count)} {noun}/month{qualifier}{shared} × ({words.price_per_million(price_from)} "
                f"− {words.price_per_million(price_to)}) per 1 M ({source_name} → {target_name})",
                words.money(value, CATALOG_CURRENCY),
            )
        )
    saving = sum(parts, ZERO)
    if not summarise:
        return Switch(saving=saving, steps=steps, current=current, new=new)
    if len(parts) > 1:
        steps.append(
            step(
                "Estimated saving",
                " + ".join(words.money(p, CATALOG_CURRENCY) for p in parts),
                f"{words.money(saving, CATALOG_CURRENCY)}/month",
            )
        )
    elif steps:
        steps[-1]["value"] += "/month"
    return Switch(saving=saving, steps=steps, current=current, new=new)


def _workload_scope(ctx: Context, workload: data.Workload, names: dict, accounts: dict) -> tuple[str, str]:
    """(scope kind, scope label "<who> · <model>")."""
    kind, where = _workload_where(workload, names, accounts)
    return kind, f"{where} · {workload.model}" if where else workload.model


def _workload_where(workload: data.Workload, names: dict, accounts: dict) -> tuple[str, str]:
    """Who uses the model, in words: the asset, else the project or workspace, else nobody in particular."""
    if workload.asset_id and workload.asset_id in names:
        return ScopeKind.ASSET, names[workload.asset_id]
    if workload.sub_account_id:
        return ScopeKind.ACCOUNT, accounts.get(workload.sub_account_id) or workload.sub_account_id
    return ScopeKind.MODEL, ""


def _workload_names(ctx: Context, workloads: list[data.Workload]) -> tuple[dict, dict]:
    names = data.asset_names({w.asset_id for w in workloads})
    accounts = data.sub_account_names({w.sub_account_id for w in workloads}, ctx.start, ctx.end)
    return names, accounts


def _unit_measure(ctx: Context, asset_id: int | None, currency: str) -> dict | None:
    """Per business unit when the client counts one for this asset (cost per claim)."""
    unit = ctx.business_units().get(asset_id) if asset_id else None
    if unit is None:
        return None
    return {
        "table": "unit",
        "unit": unit.code,
        "method": Method.PER_UNIT,
        "currency": currency,
        "unit_label": unit.label,
        "unit_plural": unit.plural,
        "label": f"{unit.name}: the cost of its scope per {unit.label} (unit economics)",
    }


def _workload_measure(workload: data.Workload, ctx: Context | None = None) -> dict:
    if ctx is not None:
        per_unit = _unit_measure(ctx, workload.asset_id, workload.currency)
        if per_unit is not None:
            return per_unit
    method = Method.PER_REQUEST if workload.requests else Method.PER_1M_TOKENS
    return {
        "table": "daily",
        "filters": workload.measure_filters(),
        "method": method,
        "currency": workload.currency,
        "label": "every call of this workload to "
        f"{workload.provider_name} ({'cost per request' if workload.requests else 'cost per 1 M tokens'})",
    }


def _event_measure(ctx: Context, group: data.EventGroup) -> dict:
    per_unit = _unit_measure(ctx, ctx.agent_asset(group.agent), group.currency)
    if per_unit is not None:
        return per_unit
    return {
        "table": "events",
        "filters": {"provider": group.provider, "agent": group.agent, "currency": group.currency},
        "method": Method.PER_REQUEST,
        "currency": group.currency,
        "label": f"every call {group.agent or 'without an agent'} reports to {group.provider} (cost per request)",
    }


def _event_scope(ctx: Context, group: data.EventGroup) -> tuple[str, str, int | None]:
    asset_id = ctx.agent_asset(group.agent)
    if group.agent:
        return (ScopeKind.ASSET if asset_id else ScopeKind.MODEL), f"{group.agent} · {group.model}", asset_id
    return ScopeKind.MODEL, group.model, None


# --- 1. model routing -----------------------------------------------------------------------------------------


def model_routing(ctx: Context) -> list[Finding]:
    """Short prompts on a premium model → the cheapest model of the next tier down of the same provider.

    Where a model's calls arrive as usage events, each call's own prompt size counts (calls under the
    threshold); for models known only from bills, a project's average prompt (input tokens ÷ requests) must be
    under it. A model found through its events is not counted again from the bills."""
    threshold = ctx.settings.routing_max_input_tokens
    findings: list[Finding] = []
    covered: set[tuple[str, str]] = set()
    for group in ctx.events():
        rule = routing_rule(group.provider, group.model)
        source = ctx.catalog.get(group.provider, group.model)
        if rule is None or source is None or not group.short_calls:
            continue
        tokens = (group.short_uncached, group.short_cached, group.short_output)
        target = ctx.cheapest(group.provider, rule.candidates, uncached=tokens[0], cached=tokens[1], output=tokens[2])
        if target is None:
            continue
        qualifier = f" on {group.model} with prompts under {threshold:,} tokens"
        switch = model_switch(
            tokens=tokens,
            source=source,
            target=target,
            source_name=group.model,
            target_name=target.key,
            qualifier=qualifier,
        )
        if switch.saving <= 0 or not ctx.worth_listing(switch.saving):
            continue
        covered.add((group.provider, group.model))
        scope_kind, scope_label, asset_id = _event_scope(ctx, group)
        who = group.agent or "calls without an agent"
        findings.append(
            Finding(
                kind=Kind.MODEL_ROUTING,
                key=("events", group.provider, group.model, group.agent, target.key),
                title=f"Route the short {group.model} prompts of {who} to {target.key}",
                summary=(
                    f"In {ctx.window_text}, {group.short_calls:,} of {who}'s {group.calls:,} calls to {group.model} "
                    f"had prompts under {threshold:,} tokens. Short prompts are usually simple enough for "
                    f"{target.key}, the cheaper tier of the same provider ({rule.family}); send them there and keep "
                    f"longer prompts on {group.model}."
                ),
                scope_kind=scope_kind,
                scope_label=scope_label,
                asset_id=asset_id,
                provider=group.provider,
                model=group.model,
                saving=switch.saving,
                currency=CATALOG_CURRENCY,
                steps=[
                    step(
                        "Short prompts",
                        f"{group.short_calls:,} calls under {threshold:,} input tokens "
                        f"(usage events, {ctx.window_text})",
                        f"{group.short_calls:,} calls",
                    ),
                    *switch.steps,
                ],
                evidence=[
                    evidence("Calls in 30 days", f"{group.calls:,}"),
                    evidence("Calls with prompts under the threshold", f"{group.short_calls:,}"),
                    evidence(
                        "Reported cost of the short calls",
                        words.money(group.short_cost, group.currency),
                        ledger=ctx.ledger_link(model=group.model, ai="yes"),
                    ),
                    evidence("Target model", f"{target.key} (catalog)"),
                ],
                measure=_event_measure(ctx, group),
                window_start=ctx.start,
                window_end=ctx.last_day,
                parameters={"target": target.key, "threshold": threshold},
            )
        )
    workloads = [w for w in ctx.workloads() if (w.provider, w.model) not in covered]
    eligible = []
    for workload in workloads:
        rule = routing_rule(workload.provider, workload.model)
        if rule is None or workload.requests <= 0 or Decimal(workload.input) / workload.requests >= threshold:
            continue
        eligible.append((workload, rule))
    names, accounts = _workload_names(ctx, [w for w, _ in eligible])
    for workload, rule in eligible:
        source = ctx.catalog.get(workload.provider, workload.model)
        tokens = (workload.uncached, workload.cached, workload.output)
        target = ctx.cheapest(
            workload.provider, rule.candidates, uncached=tokens[0], cached=tokens[1], output=tokens[2]
        )
        if source is None or target is None:
            continue
        average = Decimal(workload.input) / workload.requests
        switch = model_switch(
            tokens=tokens,
            source=source,
            target=target,
            source_name=workload.model,
            target_name=target.key,
            qualifier=f" on {workload.model} (prompts of {words.count(average)} tokens on average)",
        )
        if switch.saving <= 0 or not ctx.worth_listing(switch.saving):
            continue
        scope_kind, scope_label = _workload_scope(ctx, workload, names, accounts)
        where = _workload_where(workload, names, accounts)[1] or workload.provider_name
        findings.append(
            Finding(
                kind=Kind.MODEL_ROUTING,
                key=(
                    "ledger",
                    workload.provider_name,
                    workload.model,
                    workload.sub_account_id,
                    workload.asset_id,
                    target.key,
                ),
                title=f"Route the short {workload.model} prompts of {where} to {target.key}",
                summary=(
                    f"In {ctx.window_text}, {workload.requests:,} calls of {where} to {workload.model} averaged "
                    f"{words.count(average)} input tokens, under the {threshold:,}-token threshold for a short "
                    f"prompt. {target.key} is the cheaper tier of the same provider ({rule.family})."
                ),
                scope_kind=scope_kind,
                scope_label=scope_label,
                asset_id=workload.asset_id,
                provider=workload.provider_name,
                model=workload.model,
                account=workload.sub_account_id,
                saving=switch.saving,
                currency=CATALOG_CURRENCY,
                steps=[
                    step(
                        "Average prompt",
                        f"{words.count(workload.input)} input tokens ÷ {workload.requests:,} requests",
                        f"{words.count(average)} tokens (< {threshold:,})",
                    ),
                    *switch.steps,
                ],
                evidence=[
                    evidence("Requests in 30 days", f"{workload.requests:,}"),
                    evidence(
                        "Billed cost in 30 days",
                        words.money(workload.cost, workload.currency),
                        ledger=ctx.ledger_link(**workload.ledger_filters()),
                    ),
                    evidence("Target model", f"{target.key} (catalog)"),
                ],
                measure=_workload_measure(workload, ctx),
                window_start=ctx.start,
                window_end=ctx.last_day,
                parameters={"target": target.key, "threshold": threshold},
            )
        )
    return findings


# --- 2. prompt caching ----------------------------------------------------------------------------------------


def prompt_caching(ctx: Context) -> list[Finding]:
    """(a) Prompt hashes that come back ≥ N times on ≥ D days (usage events): every repeat after a prompt's first
    call could be read from the cache. (b) Workloads on a model with a cache price whose cache-read share of
    input is under the low share: raising it to the target share. Saving = eligible input tokens × (input price −
    cache-read price)."""
    s = ctx.settings
    findings: list[Finding] = []
    covered: set[tuple[str, str]] = set()
    groups = data.repeated_prompts(ctx.start, ctx.end, min_calls=s.caching_min_repeats, min_days=s.caching_min_days)
    ctx.catalog.load((g.provider, g.model) for g in groups)
    for group in groups:
        price = ctx.catalog.get(group.provider, group.model)
        if price is None or not price.supports_caching or not group.repeat_uncached:
            continue
        saving = Decimal(group.repeat_uncached) * (price.input - price.cache_read)
        if not ctx.worth_listing(saving):
            continue
        covered.add((group.provider, group.model))
        asset_id = ctx.agent_asset(group.agent)
        who = group.agent or "calls without an agent"
        findings.append(
            Finding(
                kind=Kind.PROMPT_CACHING,
                key=("repeats", group.provider, group.model, group.agent),
                title=f"Cache the repeated prompts of {who} on {group.model}",
                summary=(
                    f"In {ctx.window_text}, {group.hashes:,} prompt{'s' if group.hashes != 1 else ''} of {who} came "
                    f"back {s.caching_min_repeats:,} times or more on {s.caching_min_days}+ days "
                    f"({group.calls:,} calls in all). With prompt caching, every repeat after the first is read "
                    "from the cache at "
                    f"{words.price_per_million(price.cache_read)} instead of {words.price_per_million(price.input)} "
                    "per 1 M input tokens."
                ),
                scope_kind=ScopeKind.ASSET if asset_id else ScopeKind.MODEL,
                scope_label=f"{group.agent} · {group.model}" if group.agent else group.model,
                asset_id=asset_id,
                provider=group.provider,
                model=group.model,
                saving=saving,
                currency=CATALOG_CURRENCY,
                steps=[
                    step(
                        "Repeated prompts",
                        f"{group.hashes:,} prompt hashes seen ≥ {s.caching_min_repeats:,} times on ≥ "
                        f"{s.caching_min_days} days: {group.calls:,} calls",
                        f"{group.hashes:,} prompts",
                    ),
                    step(
                        "Eligible input",
                        "uncached input tokens of every call after each prompt's first",
                        f"{words.count(group.repeat_uncached)} tokens/month",
                    ),
                    step(
                        "Estimated saving",
                        f"{words.count(group.repeat_uncached)} tokens × ({words.price_per_million(price.input)} − "
                        f"{words.price_per_million(price.cache_read)}) per 1 M",
                        f"{words.money(saving, CATALOG_CURRENCY)}/month",
                    ),
                ],
                evidence=[
                    evidence("Prompts repeated", f"{group.hashes:,}"),
                    evidence("Calls with those prompts", f"{group.calls:,}", ledger=ctx.ledger_link(model=group.model)),
                ],
                measure={
                    "table": "events",
                    "filters": {
                        "provider": group.provider,
                        "model": group.model,
                        "agent": group.agent,
                        "currency": group.currency,
                    },
                    "method": Method.PER_1M_TOKENS,
                    "currency": group.currency,
                    "label": f"{who}'s calls to {group.model} (cost per 1 M tokens)",
                },
                window_start=ctx.start,
                window_end=ctx.last_day,
            )
        )
    low, target = s.caching_low_share_percent / HUNDRED, s.caching_target_share_percent / HUNDRED
    candidates = []
    for workload in ctx.workloads():
        if (workload.provider, workload.model) in covered or not workload.input:
            continue
        price = ctx.catalog.get(workload.provider, workload.model)
        if price is None or not price.supports_caching:
            continue
        if workload.requests and Decimal(workload.input) / workload.requests < PROVIDER_CACHE_MINIMUM:
            continue  # prompts too short for the provider to cache
        share = Decimal(workload.cached) / workload.input
        eligible = target * workload.input - workload.cached
        if share >= low or eligible <= 0:
            continue
        candidates.append((workload, price, share, eligible))
    names, accounts = _workload_names(ctx, [c[0] for c in candidates])
    for workload, price, share, eligible in candidates:
        saving = eligible * (price.input - price.cache_read)
        if not ctx.worth_listing(saving):
            continue
        scope_kind, scope_label = _workload_scope(ctx, workload, names, accounts)
        where = _workload_where(workload, names, accounts)[1] or workload.provider_name
        findings.append(
            Finding(
                kind=Kind.PROMPT_CACHING,
                key=("share", workload.provider_name, workload.model, workload.sub_account_id, workload.asset_id),
                title=f"Turn on prompt caching for {where} on {workload.model}",
                summary=(
                    f"Only {words.percent(share * HUNDRED, 1)} of the input tokens {where} sent to {workload.model} "
                    f"were read from the cache in {ctx.window_text}. {workload.model} reads cached input at "
                    f"{words.price_per_million(price.cache_read)} instead of {words.price_per_million(price.input)} "
                    f"per 1 M; putting the stable part of the prompt first (system prompt, policies, examples) "
                    f"typically lets {words.percent(target * HUNDRED)} of input come from the cache."
                ),
                scope_kind=scope_kind,
                scope_label=scope_label,
                asset_id=workload.asset_id,
                provider=workload.provider_name,
                model=workload.model,
                account=workload.sub_account_id,
                saving=saving,
                currency=CATALOG_CURRENCY,
                steps=[
                    step(
                        "Cache-read share now",
                        f"{words.count(workload.cached)} cached ÷ {words.count(workload.input)} input tokens",
                        f"{words.percent(share * HUNDRED, 1)} (< {words.percent(low * HUNDRED)})",
                    ),
                    step(
                        "Eligible input",
                        f"{words.percent(target * HUNDRED)} assumed cacheable (setting) × "
                        f"{words.count(workload.input)} − {words.count(workload.cached)} already cached",
                        f"{words.count(eligible)} tokens/month",
                    ),
                    step(
                        "Estimated saving",
                        f"{words.count(eligible)} tokens × ({words.price_per_million(price.input)} − "
                        f"{words.price_per_million(price.cache_read)}) per 1 M",
                        f"{words.money(saving, CATALOG_CURRENCY)}/month",
                    ),
                ],
                evidence=[
                    evidence("Input tokens in 30 days", words.count(workload.input)),
                    evidence("Of which read from the cache", words.count(workload.cached)),
                    evidence(
                        "Billed cost in 30 days",
                        words.money(workload.cost, workload.currency),
                        ledger=ctx.ledger_link(**workload.ledger_filters()),
                    ),
                ],
                measure={
                    **_workload_measure(workload),
                    "method": Method.PER_1M_TOKENS,
                    "label": f"{scope_label} (cost per 1 M tokens)",
                    "filters": {**workload.measure_filters(), "x_model": workload.model},
                },
                window_start=ctx.start,
                window_end=ctx.last_day,
            )
        )
    return findings


# --- 3. smaller / open-weight models ----------------------------------------------------------------------------


def smaller_models(ctx: Context, *, routed: set[tuple] | None = None) -> list[Finding]:
    """High-volume simple tasks (≥ N calls in 30 days, small prompts and small outputs on average) → the cheapest
    smaller model of the same provider, or the open-weight model of the settings when that is cheaper. The other
    option is shown as evidence. Workloads already given a routing recommendation are left to it."""
    s = ctx.settings
    routed = routed or set()
    open_weight = None
    if s.open_weight_model:
        provider, _, model = s.open_weight_model.partition("/")
        open_weight = ctx.catalog.get(provider, model) if model else None
        if open_weight is None:
            open_weight = ctx.catalog.get("", s.open_weight_model)
        if not ctx.usable(open_weight):
            open_weight = None
    candidates = []
    for workload in ctx.workloads():
        if (workload.provider_name, workload.model, workload.sub_account_id, workload.asset_id) in routed:
            continue
        if workload.requests < s.small_min_requests:
            continue
        avg_in = Decimal(workload.input) / workload.requests
        avg_out = Decimal(workload.output) / workload.requests
        if avg_in > s.small_max_input_tokens or avg_out > s.small_max_output_tokens:
            continue
        candidates.append((workload, avg_in, avg_out))
    names, accounts = _workload_names(ctx, [c[0] for c in candidates])
    findings = []
    for workload, avg_in, avg_out in candidates:
        source = ctx.catalog.get(workload.provider, workload.model)
        if source is None:
            continue
        tokens = (workload.uncached, workload.cached, workload.output)
        small = ctx.cheapest(
            workload.provider,
            [k for k in SMALL_MODELS.get(workload.provider, ()) if k.lower() != workload.model.lower()],
            uncached=tokens[0],
            cached=tokens[1],
            output=tokens[2],
        )
        options = []
        for target, label in ((small, "smaller model"), (open_weight, "open-weight model")):
            if target is None:
                continue
            switch = model_switch(
                tokens=tokens, source=source, target=target, source_name=workload.model, target_name=target.key
            )
            if switch.saving > 0:
                options.append((switch.saving, target, label, switch))
        if not options:
            continue
        options.sort(key=lambda option: -option[0])
        saving, target, label, switch = options[0]
        if not ctx.worth_listing(saving):
            continue
        scope_kind, scope_label = _workload_scope(ctx, workload, names, accounts)
        where = _workload_where(workload, names, accounts)[1] or workload.provider_name
        others = [
            evidence(
                f"Alternative: {other_label}", f"{other.key} saves {words.money(other_saving, CATALOG_CURRENCY)}/month"
            )
            for other_saving, other, other_label, _ in options[1:]
        ]
        findings.append(
            Finding(
                kind=Kind.SMALLER_MODEL,
                key=(workload.provider_name, workload.model, workload.sub_account_id, workload.asset_id),
                title=f"Move {where} from {workload.model} to the {label} {target.key}",
                summary=(
                    f"{where} made {workload.requests:,} calls to {workload.model} in {ctx.window_text}, averaging "
                    f"{words.count(avg_in)} input and {words.count(avg_out)} output tokens: a high-volume simple task "
                    f"(classification, extraction, short answers). {target.key} is the cheapest {label} that does "
                    "not retire soon; check its quality on a sample before switching."
                ),
                scope_kind=scope_kind,
                scope_label=scope_label,
                asset_id=workload.asset_id,
                provider=workload.provider_name,
                model=workload.model,
                account=workload.sub_account_id,
                saving=saving,
                currency=CATALOG_CURRENCY,
                steps=[
                    step(
                        "High volume, small calls",
                        f"{workload.requests:,} calls (≥ {s.small_min_requests:,}); {words.count(avg_in)} in / "
                        f"{words.count(avg_out)} out tokens per call (≤ {s.small_max_input_tokens:,} / "
                        f"≤ {s.small_max_output_tokens:,})",
                        f"{workload.requests:,} calls",
                    ),
                    *switch.steps,
                ],
                evidence=[
                    evidence(
                        "Billed cost in 30 days",
                        words.money(workload.cost, workload.currency),
                        ledger=ctx.ledger_link(**workload.ledger_filters()),
                    ),
                    evidence(
                        "Catalog cost now → after",
                        f"{words.money(switch.current, CATALOG_CURRENCY)} → "
                        f"{words.money(switch.new, CATALOG_CURRENCY)} per month",
                    ),
                    *others,
                ],
                measure=_workload_measure(workload, ctx),
                window_start=ctx.start,
                window_end=ctx.last_day,
                parameters={"target": target.key, "option": label},
            )
        )
    return findings


# --- 4. commitments -------------------------------------------------------------------------------------------


def commitments(ctx: Context) -> list[Finding]:
    """Steady on-demand compute: every one of the 30 days had on-demand, time-priced usage of a service a
    commitment covers; the lowest day (the floor) is what a commitment can safely cover.
    Saving = floor × 30 days × the assumed commitment discount (a setting)."""
    discount = ctx.settings.commitment_discount_percent / HUNDRED
    rows = data.on_demand_usage(ctx.start, ctx.end).filter(pricing_unit__iregex=TIME_PRICED.pattern)
    group = ("provider_name", "service_name", "billing_account_id", "sub_account_id", "region_id", "billing_currency")
    daily = data.daily_cost_by_group(rows, group)
    gpu_rows = rows.filter(sku_meter__iregex=GPU.pattern) | rows.filter(charge_description__iregex=GPU.pattern)
    gpu = data.daily_cost_by_group(gpu_rows, group)
    names = data.sub_account_names({key[3] for key in daily}, ctx.start, ctx.end)
    findings = []
    for key, days in daily.items():
        provider, service, account, sub_account, region, currency = key
        program = commitment_program(service)
        if not program or len(days) < WINDOW_DAYS or min(days.values()) <= 0:
            continue
        floor = min(days.values())
        total = sum(days.values(), ZERO)
        committed = floor * WINDOW_DAYS
        saving = committed * discount
        if not ctx.worth_listing(saving):
            continue
        gpu_cost = sum(gpu.get(key, {}).values(), ZERO)
        gpu_share = gpu_cost / total if total else ZERO
        where = " · ".join(p for p in (names.get(sub_account) or sub_account, region) if p)
        label = f"{service} · {where}" if where else service
        kind_words = "GPU and compute" if gpu_share >= Decimal("0.1") else "compute"
        findings.append(
            Finding(
                kind=Kind.COMMITMENT,
                key=key,
                title=f"Commit to the steady {kind_words} floor of {label}",
                summary=(
                    f"{label} ran on demand every day of {ctx.window_text} and never cost less than "
                    f"{words.money(floor, currency)} a day. Covering that floor with {program} keeps flexibility for "
                    f"everything above it; Keel assumes a {words.percent(discount * HUNDRED)} discount "
                    "(change it in the settings to the rate you were quoted)."
                    + (" Interruptible GPU work above the floor could run on spot capacity." if gpu_share else "")
                ),
                scope_kind=ScopeKind.SERVICE,
                scope_label=label,
                provider=provider,
                service=service,
                account=sub_account,
                saving=saving,
                currency=currency,
                steps=[
                    step(
                        "Daily on-demand floor",
                        f"lowest of 30 daily totals of time-priced on-demand usage ({ctx.window_text})",
                        words.money(floor, currency),
                    ),
                    step(
                        "Spend a commitment covers",
                        f"{words.money(floor, currency)}/day × {WINDOW_DAYS} days",
                        f"{words.money(committed, currency)}/month",
                    ),
                    step(
                        "Estimated saving",
                        f"{words.money(committed, currency)} × {words.percent(discount * HUNDRED)} assumed commitment "
                        "discount (setting)",
                        f"{words.money(saving, currency)}/month",
                    ),
                ],
                evidence=[
                    evidence(
                        "On-demand spend in 30 days",
                        words.money(total, currency),
                        ledger=ctx.ledger_link(
                            provider=provider,
                            service=service,
                            sub_account=sub_account,
                            region=region,
                            charge_category="Usage",
                            currency=currency,
                        ),
                    ),
                    evidence("Average day", words.money(total / WINDOW_DAYS, currency)),
                    evidence("Highest day", words.money(max(days.values()), currency)),
                    evidence("GPU share", words.percent(gpu_share * HUNDRED, 1)),
                    evidence("Commitment", program),
                ],
                measure={
                    "table": "daily",
                    "filters": {
                        "provider_name": provider,
                        "service_name": service,
                        "sub_account_id": sub_account,
                        "region_id": region,
                        "charge_category": "Usage",
                        "billing_currency": currency,
                    },
                    "method": Method.PER_LIST_DOLLAR,
                    "currency": currency,
                    "label": f"{label}: effective cost per unit of list cost",
                },
                window_start=ctx.start,
                window_end=ctx.last_day,
                parameters={"discount_percent": str(ctx.settings.commitment_discount_percent), "program": program},
            )
        )
    return findings


# --- 5. idle endpoints ------------------------------------------------------------------------------------------


def idle_endpoints(ctx: Context) -> list[Finding]:
    """Endpoints that cost money but served nothing in 30 days: registered Endpoint assets whose allocated cost
    has no tokens or requests and which no usage event names; and AI endpoint resources in the bills (Vertex AI,
    SageMaker, Azure ML) with no requests or tokens that no usage event names. Saving = their 30-day cost."""
    from apps.inventory.selectors import assets_list, relations_of

    findings = []
    endpoints = list(assets_list(kind="endpoint").exclude(lifecycle="retired"))
    if endpoints:
        costs = data.asset_costs({e.pk for e in endpoints}, ctx.start, ctx.end)
        named = data.events_naming({e.name for e in endpoints}, ctx.start, ctx.end)
        for endpoint in endpoints:
            row = costs.get(endpoint.pk)
            if row is None or (row["cost"] or ZERO) <= 0 or row["tokens"] or row["calls"]:
                continue
            if endpoint.name.lower() in named:
                continue
            # An agent that goes through it and reports calls is using it.
            incoming, _ = relations_of(asset=endpoint)
            agents = {r.source.name.lower() for r in incoming if r.kind == "via_endpoint"}
            if agents & {g.agent.lower() for g in ctx.events() if g.calls}:
                continue
            findings.append(
                _idle(
                    ctx,
                    key=("asset", endpoint.pk),
                    name=endpoint.name,
                    cost=row["cost"],
                    currency=row["billing_currency"],
                    asset_id=endpoint.pk,
                    ledger={"asset": endpoint.pk, "currency": row["billing_currency"]},
                    measure_filters={"asset_id": endpoint.pk, "billing_currency": row["billing_currency"]},
                    table="daily",
                    where="the inventory",
                )
            )
    resources = data.endpoint_resources(ctx.start, ctx.end)
    named = data.events_naming(
        {r["resource_id"] for r in resources} | {r["name"] or "" for r in resources}, ctx.start, ctx.end
    )
    recent = data.day_start(ctx.end - dt.timedelta(days=3))
    for row in resources:
        if (row["cost"] or ZERO) <= 0 or row["requests"] or row["tokens"] or row["last_day"] < recent:
            continue  # used, free, or already gone
        if row["resource_id"].lower() in named or (row["name"] or "").lower() in named:
            continue
        name = row["name"] or row["resource_id"].rsplit("/", 1)[-1]
        findings.append(
            _idle(
                ctx,
                key=("resource", row["resource_id"]),
                name=name,
                cost=row["cost"],
                currency=row["billing_currency"],
                provider=row["provider_name"],
                service=row["service_name"],
                account=row["sub_account_id"],
                ledger={
                    "provider": row["provider_name"],
                    "service": row["service_name"],
                    "sub_account": row["sub_account_id"],
                    "region": row["region_id"],
                    "currency": row["billing_currency"],
                },
                measure_filters={"resource_id": row["resource_id"], "billing_currency": row["billing_currency"]},
                table="ledger",
                where=f"the {row['service_name']} bill",
                resource=row["resource_id"],
            )
        )
    return [f for f in findings if ctx.worth_listing(f.saving)]


def _idle(
    ctx: Context,
    *,
    key,
    name,
    cost,
    currency,
    ledger,
    measure_filters,
    table,
    where,
    asset_id=None,
    provider="",
    service="",
    account="",
    resource="",
) -> Finding:
    daily = cost / WINDOW_DAYS
    return Finding(
        kind=Kind.IDLE_ENDPOINT,
        key=key,
        title=f"Shut down the idle endpoint {name}",
        summary=(
            f"{name} ({where}) cost {words.money(cost, currency)} in {ctx.window_text} but Keel saw no request or "
            "token through it: no request counts in the bill, no usage event naming it, no reporting agent using "
            "it. If it is still needed, scale it to zero when idle; if not, delete it."
        ),
        scope_kind=ScopeKind.ENDPOINT,
        scope_label=name,
        asset_id=asset_id,
        provider=provider,
        service=service,
        account=account,
        saving=cost,
        currency=currency,
        steps=[
            step("Requests and tokens in 30 days", "bill, allocated rollup and usage events", "0"),
            step(
                "Cost in 30 days",
                f"{words.money(daily, currency)}/day on average × {WINDOW_DAYS} days",
                words.money(cost, currency),
            ),
            step("Estimated saving", "its whole monthly cost", f"{words.money(cost, currency)}/month"),
        ],
        evidence=[
            evidence("Cost in 30 days", words.money(cost, currency), ledger=ctx.ledger_link(**ledger)),
            *([evidence("Resource", resource)] if resource else []),
        ],
        measure={
            "table": table,
            "filters": measure_filters,
            "method": Method.PER_DAY,
            "currency": currency,
            "label": f"{name}: cost per day",
        },
        window_start=ctx.start,
        window_end=ctx.last_day,
    )


# --- 6. deprecated models ---------------------------------------------------------------------------------------


def deprecated_models(ctx: Context) -> list[Finding]:
    """Models in use (the ledger, usage events, registered AI models) that the catalog (or the model's own
    record) says retire before the horizon: move to the successor. The saving is the price difference on the last
    30 days' tokens when the successor is cheaper, else 0 — the recommendation is about the risk."""
    from apps.inventory.models import AIModel

    used: dict[tuple[str, str], dict] = {}
    for w in ctx.workloads():
        entry = used.setdefault(
            (w.provider, w.model.lower()),
            {"provider": w.provider, "model": w.model, "workloads": [], "asset": None, "own_date": None},
        )
        entry["workloads"].append(w)
    for g in ctx.events():
        used.setdefault(
            (g.provider, g.model.lower()),
            {"provider": g.provider, "model": g.model, "workloads": [], "asset": None, "own_date": None, "events": []},
        )
        used[(g.provider, g.model.lower())].setdefault("events", []).append(g)
    registered = list(
        AIModel.objects.exclude(lifecycle="retired").only("pk", "name", "provider", "model_id", "deprecation_date")
    )
    for model in registered:
        provider = data.catalog_provider(model.provider)
        entry = used.setdefault(
            (provider, model.model_id.lower()),
            {"provider": provider, "model": model.model_id, "workloads": [], "asset": None, "own_date": None},
        )
        entry["asset"] = entry["asset"] or model
        entry["own_date"] = entry["own_date"] or model.deprecation_date
    ctx.catalog.load((e["provider"], e["model"]) for e in used.values())
    findings = []
    for entry in used.values():
        provider, model = entry["provider"], entry["model"]
        price = ctx.catalog.get(provider, model)
        retires = entry["own_date"] or (price.deprecation_date if price else None)
        if retires is None or retires > ctx.horizon:
            continue
        successor = None
        keys = successor_candidates(provider, price.key if price else model)
        ctx.catalog.load((provider, key) for key in keys)
        for key in keys:
            candidate = ctx.catalog.get(provider, key)
            if ctx.usable(candidate):
                successor = candidate
                break
        findings.append(_deprecation(ctx, entry, price, retires, successor))
    return findings


def _deprecation(ctx: Context, entry: dict, price, retires: dt.date, successor) -> Finding:
    provider, model, asset = entry["provider"], entry["model"], entry["asset"]
    workloads, events = entry["workloads"], entry.get("events", [])
    if workloads:
        tokens = (
            sum(w.uncached for w in workloads),
            sum(w.cached for w in workloads),
            sum(w.output for w in workloads),
        )
    else:
        tokens = (sum(g.uncached for g in events), sum(g.cached for g in events), sum(g.output for g in events))
    days = (retires - ctx.as_of).days
    when = f"retired on {words.day(retires)}" if days < 0 else f"retires on {words.day(retires)} (in {days} days)"
    source_of_date = "its inventory record" if entry["own_date"] else "the model catalog"
    steps = [step("Retirement", f"{model} {when}, according to {source_of_date}", words.day(retires))]
    saving = ZERO
    if successor is not None:
        steps.append(
            step(
                "Successor",
                "the first successor of the rule that does not retire within "
                f"{ctx.settings.deprecation_horizon_days} days",
                successor.key,
            )
        )
        if any(tokens) and price is not None:
            switch = model_switch(
                tokens=tokens,
                source=price,
                target=successor,
                source_name=model,
                target_name=successor.key,
                summarise=False,
            )
            steps.extend(switch.steps)
            saving = max(switch.saving, ZERO)
            if switch.saving < 0:
                steps.append(
                    step(
                        "Estimated saving",
                        f"the successor costs {words.money(-switch.saving, 'USD')} "
                        "more per month: no saving, the move is about the risk",
                        "$0.00/month",
                    )
                )
            else:
                steps.append(
                    step(
                        "Estimated saving",
                        " + ".join(s["value"] for s in switch.steps) or "—",
                        f"{words.money(saving, CATALOG_CURRENCY)}/month",
                    )
                )
        else:
            steps.append(step("Estimated saving", "no tokens on it in the last 30 days", "$0.00/month"))
    else:
        steps.append(step("Successor", "no successor rule or undated alias in the catalog: choose a replacement", "—"))
    if workloads:
        measure = {
            "table": "daily",
            "filters": {
                "provider_name": workloads[0].provider_name,
                "sub_account_id": sorted({w.sub_account_id for w in workloads}),
                "service_category": AI_CATEGORY,
                "charge_category": "Usage",
                "billing_currency": workloads[0].currency,
            },
            "method": Method.PER_1M_TOKENS,
            "currency": workloads[0].currency,
            "label": f"the projects that used {model} (cost per 1 M tokens)",
        }
        cost = sum((w.cost for w in workloads), ZERO)
        usage = [
            evidence(
                "Billed cost in 30 days",
                words.money(cost, workloads[0].currency),
                ledger=ctx.ledger_link(model=model, currency=workloads[0].currency),
            )
        ]
    elif events:
        measure = {
            "table": "events",
            "filters": {"provider": provider, "model": model},
            "method": Method.PER_1M_TOKENS,
            "currency": events[0].currency,
            "label": f"calls to {model} (cost per 1 M tokens)",
        }
        usage = [evidence("Calls in 30 days (usage events)", f"{sum(g.calls for g in events):,}")]
    else:
        measure, usage = {}, [evidence("Usage in 30 days", "none recorded: registered in the inventory")]
    target = f" to {successor.key}" if successor else ""
    return Finding(
        kind=Kind.DEPRECATED_MODEL,
        key=(provider, model),
        title=f"{model} {when.split(' (')[0]}: move{target}",
        summary=(
            f"{model} {when}. Calls to a retired model fail, so move its workloads{target} before that day and "
            "re-run your evaluations on the successor."
            + ("" if saving else " There is no saving to expect; this is about keeping the service running.")
        ),
        scope_kind=ScopeKind.ASSET if asset else ScopeKind.MODEL,
        scope_label=f"{asset.name} · {model}" if asset else model,
        asset_id=asset.pk if asset else None,
        provider=workloads[0].provider_name if workloads else provider,
        model=model,
        saving=saving,
        currency=CATALOG_CURRENCY,
        steps=steps,
        evidence=[
            evidence("Retirement date", words.day(retires)),
            evidence(
                "Token mix in 30 days",
                f"{words.count(tokens[0])} input, {words.count(tokens[1])} cached, {words.count(tokens[2])} output",
            ),
            *usage,
        ],
        measure=measure,
        window_start=ctx.start,
        window_end=ctx.last_day,
        parameters={"retires": retires.isoformat(), "successor": successor.key if successor else ""},
    )


# --- a person's routing proposal ------------------------------------------------------------------------------


class ProposalError(ValueError):
    """The proposal cannot be priced; the message says why in words."""


def routing_proposal(ctx: Context, parameters: dict) -> Finding:
    """A routing change a person proposes for one workload (provider, model, project, asset) to a target model
    of the same provider, for a share of its calls. Same arithmetic as the generator, on the window's tokens."""
    provider_name, model = parameters["provider_name"], parameters["model"]
    sub_account, asset_id = parameters.get("sub_account_id", ""), parameters.get("asset_id")
    share = Decimal(str(parameters.get("share_percent", "100"))) / HUNDRED
    workload = next(
        (
            w
            for w in ctx.workloads()
            if (w.provider_name, w.model, w.sub_account_id, w.asset_id) == (provider_name, model, sub_account, asset_id)
        ),
        None,
    )
    if workload is None:
        raise ProposalError(f"{model} has no usage in this workload in {ctx.window_text}.")
    source = ctx.catalog.get(workload.provider, model)
    target = ctx.catalog.get(workload.provider, parameters["target"])
    if source is None:
        raise ProposalError(f"The model catalog has no price for {model}.")
    if target is None or target.input is None or target.output is None:
        raise ProposalError(f"The model catalog has no price for {parameters['target']} at {provider_name}.")
    tokens = (workload.uncached, workload.cached, workload.output)
    switch = model_switch(
        tokens=tokens, source=source, target=target, source_name=model, target_name=target.key, share=share
    )
    if switch.saving <= 0:
        raise ProposalError(f"{target.key} is not cheaper than {model} for this workload's tokens.")
    names, accounts = _workload_names(ctx, [workload])
    scope_kind, scope_label = _workload_scope(ctx, workload, names, accounts)
    where = _workload_where(workload, names, accounts)[1] or provider_name
    retiring = []
    if target.deprecation_date and target.deprecation_date <= ctx.horizon:
        retiring = [evidence("Note", f"{target.key} retires on {words.day(target.deprecation_date)}")]
    return Finding(
        kind=Kind.MODEL_ROUTING,
        origin=Origin.PROPOSED,
        key=("proposal", provider_name, model, sub_account, asset_id, target.key),
        title=f"Route {words.percent(share * HUNDRED)} of {where}'s {model} calls to {target.key}",
        summary=(
            f"Proposed: send {words.percent(share * HUNDRED)} of the calls {where} makes to {model} to {target.key}, "
            f"the rest staying on {model}. Priced on the workload's own tokens in {ctx.window_text}."
        ),
        scope_kind=scope_kind,
        scope_label=scope_label,
        asset_id=asset_id,
        provider=provider_name,
        model=model,
        account=sub_account,
        saving=switch.saving,
        currency=CATALOG_CURRENCY,
        steps=[step("Share routed", "proposed by a person", words.percent(share * HUNDRED)), *switch.steps],
        evidence=[
            evidence(
                "Billed cost in 30 days",
                words.money(workload.cost, workload.currency),
                ledger=ctx.ledger_link(**workload.ledger_filters()),
            ),
            evidence(
                "Catalog cost now → after",
                f"{words.money(switch.current / share, CATALOG_CURRENCY)} → "
                f"{words.money(switch.current / share - switch.saving, CATALOG_CURRENCY)} per month",
            ),
            *retiring,
        ],
        measure=_workload_measure(workload, ctx),
        window_start=ctx.start,
        window_end=ctx.last_day,
        parameters=dict(parameters),
    )


def workload_choices(ctx: Context) -> tuple[list[tuple[str, str, data.Workload]], list[str]]:
    """The AI workloads of the window a person can propose routing for, largest cost first, as (key, label,
    workload), and the catalog models the rules name for their providers (suggestions for the target)."""
    import json

    workloads = sorted(ctx.workloads(), key=lambda w: -w.cost)
    names, accounts = _workload_names(ctx, workloads)
    choices = []
    for w in workloads:
        _, label = _workload_scope(ctx, w, names, accounts)
        key = json.dumps(
            {
                "provider_name": w.provider_name,
                "model": w.model,
                "sub_account_id": w.sub_account_id,
                "asset_id": w.asset_id,
            },
            sort_keys=True,
        )
        choices.append((key, f"{label} — {words.money(w.cost, w.currency)} in 30 days", w))
    providers = {w.provider for w in workloads}
    targets = sorted(
        {c for r in ROUTING_TIERS if r.provider in providers for c in r.candidates}
        | {c for p in providers for c in SMALL_MODELS.get(p, ())}
        | {c for r in ROUTING_TIERS if r.provider in providers for c in r.models if "*" not in c}
    )
    return choices, targets


GENERATORS: tuple[tuple[str, Callable[[Context], list[Finding]]], ...] = (
    (Kind.MODEL_ROUTING, model_routing),
    (Kind.PROMPT_CACHING, prompt_caching),
    (Kind.SMALLER_MODEL, smaller_models),
    (Kind.COMMITMENT, commitments),
    (Kind.IDLE_ENDPOINT, idle_endpoints),
    (Kind.DEPRECATED_MODEL, deprecated_models),
)


def run_all(ctx: Context) -> tuple[list[Finding], list[str]]:
    """Every generator's findings, and one line per generator that failed (the others still count)."""
    import logging

    findings: list[Finding] = []
    errors: list[str] = []
    routed: set[tuple] = set()
    for kind, generator in GENERATORS:
        try:
            found = smaller_models(ctx, routed=routed) if generator is smaller_models else generator(ctx)
        except Exception as exc:  # one broken generator must not hide the others' findings
            logging.getLogger(__name__).exception("recommendation generator %s failed", kind)
            errors.append(f"{Kind(kind).label}: {exc}")
            continue
        if kind == Kind.MODEL_ROUTING:
            routed |= {(f.provider, f.model, f.account, f.asset_id) for f in found}
        findings.extend(found)
    return findings, errors
