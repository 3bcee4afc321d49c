"""Anthropic cost and usage reports → FOCUS ledger rows.

Keel calls, with an Admin API key (`x-api-key: sk-ant-admin…`, `anthropic-version: 2023-06-01`):
- GET /v1/organizations/cost_report           bucket_width=1d, group_by[]=workspace_id&group_by[]=description
- GET /v1/organizations/usage_report/messages bucket_width=1d, group_by[]=model&group_by[]=workspace_id
both for the run's whole UTC days [starting_at, ending_at), limit ≤ 31 buckets, following `next_page` (sent
back as `page`) while `has_more`.

Mapping (cost_report field → ledger field):

| Anthropic                                  | Ledger (FOCUS)                                                       |
|--------------------------------------------|----------------------------------------------------------------------|
| bucket.starting_at / ending_at (RFC 3339)  | charge_period_start / _end (one UTC day); billing period = its month  |
| result.amount — DECIMAL STRING IN CENTS    | billed_cost = effective_cost = contracted_cost = amount ÷ 100, as an  |
|                                            | exact Decimal ("123.45" → 1.2345 USD); the string in x_AmountCents    |
| result.currency ("USD")                    | billing_currency; a missing currency fails the run                   |
| result.workspace_id (null = default)       | sub_account_id ("default" → sub_account_name "Default workspace")    |
| result.description                         | charge_description ("Claude Sonnet 4 Usage - Input Tokens")          |
| result.cost_type + token_type              | sku_meter: tokens → "Input Tokens", "Output Tokens", "Cache Read       |
|                                            | Tokens", "Cache Write Tokens (5m)" / "(1h)"; web_search → "Web Search |
|                                            | Requests"; other cost types → their name ("Code Execution")          |
| result.token_type                          | x_token_type, verbatim ("uncached_input_tokens", …)                  |
| result.model                               | x_model                                                              |
| cost_type, service_tier, context_window,   | x_extra.x_CostType, x_ServiceTier, x_ContextWindow, x_InferenceGeo,   |
| inference_geo, speed                       | x_Speed                                                              |
| amount < 0                                 | charge_category "Credit" (else "Usage"); charge_frequency Usage-Based |
| settings.organisation                      | billing_account_id (else "anthropic"); billing_account_name = source  |
| —                                          | service_name "Claude API", provider/publisher/host/issuer "Anthropic",|
|                                            | AI and Machine Learning / Generative AI, x_cost_source "actual"       |

Usage report field → ledger field (see "Tokens and money" below for which row):

| usage_report/messages result               | Ledger                                                               |
|--------------------------------------------|----------------------------------------------------------------------|
| uncached_input_tokens                      | x_input_tokens of the "Input Tokens" row                              |
| cache_creation.ephemeral_5m/1h_input_tokens| x_input_tokens + x_extra.x_CacheWriteTokens of the cache-write rows   |
| cache_read_input_tokens                    | x_cached_tokens of the "Cache Read Tokens" row                        |
| output_tokens                              | x_output_tokens of the "Output Tokens" row                             |
| server_tool_use.web_search_requests        | consumed_quantity (Requests) of the day's web search row (per workspace)|
| —                                          | the report has no request count: x_requests stays empty               |

Tokens and money: money comes only from cost_report, never from usage. A usage count (day, workspace, model,
meter) is written onto the one cost row of the same workspace, model and token type (consumed_quantity,
"Tokens", pricing_quantity per 1M); when there is none, or several (one model billed at standard and batch
rates, or in both context windows), it goes on a zero-cost Usage row of its own (BilledCost = EffectiveCost
= 0, x_extra.x_UsageOnly). Σ BilledCost of a run therefore equals Σ of the cost report's amounts ÷ 100
exactly, and each token is counted once. Known gaps of the APIs themselves: priority-tier spend is not in
the cost report (its tokens arrive as zero-cost rows) and code execution is not in the usage report.
Catalog list prices (list_unit_price, list_cost) are set on standard-tier, 0-200k rows that carry tokens.
Scope "window": a run replaces the source's rows for the window's days.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from ..focus import to_utc
from . import http
from .base import ConnectionResult, Connector, ConnectorError, FetchResult, FieldSpec, Window

BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
COST_PATH = "/v1/organizations/cost_report"
USAGE_PATH = "/v1/organizations/usage_report/messages"
LIMIT = 31  # buckets per page, the maximum for 1d
DEFAULT_WORKSPACE = "default"
PROVIDER = http.Provider(name="Anthropic", service="Claude API", catalog="anthropic", sub_account_type="Workspace")
ADMIN_KEY_HINT = (
    "Keel needs an Anthropic Admin API key (it starts with sk-ant-admin), created by an organisation admin "
    "in the Claude Console under Settings → Admin keys; a workspace API key cannot read cost reports."
)

TOKEN_METERS = {
    "uncached_input_tokens": http.INPUT,
    "output_tokens": http.OUTPUT,
    "cache_read_input_tokens": http.CACHE_READ,
    "cache_creation.ephemeral_5m_input_tokens": http.CACHE_WRITE_5M,
    "cache_creation.ephemeral_1h_input_tokens": http.CACHE_WRITE_1H,
}
USAGE_TOKEN_TYPES = {meter: token_type for token_type, meter in TOKEN_METERS.items()}
COST_TYPE_METERS = {"web_search": http.WEB_SEARCH, "code_execution": "Code Execution", "session_usage": "Session Usage"}
# Amounts come in the currency's lowest unit: cents for USD (the only currency today), whole yen for JPY.
MINOR_UNIT_DIGITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3}


def from_minor_units(amount, currency: str) -> Decimal:
    """'123.45' cents → Decimal('1.2345'): a decimal shift, exact, never through a float."""
    value = http.amount_of(amount)
    if value is None:
        raise ValueError("no amount")
    return value.scaleb(-MINOR_UNIT_DIGITS.get(currency, 2))


def _split(value) -> list[str]:
    return [part.strip() for part in str(value or "").replace("\n", ",").split(",") if part.strip()]


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bucket_times(bucket: dict, window: Window | None = None):
    start, end = to_utc(bucket.get("starting_at")), to_utc(bucket.get("ending_at"))
    if start is None or end is None:
        raise ConnectorError("Anthropic sent a bucket without starting_at or ending_at.")
    inside = window is None or window.start_at <= start < window.end_at
    return start, end, inside


class AnthropicConnector(Connector):
    kind = "anthropic"
    label = "Anthropic usage and cost reports"
    settings_fields = (
        FieldSpec(
            "organisation",
            "Organisation ID",
            help="Optional: the Anthropic organisation's ID, used as the billing account.",
            required=False,
        ),
        FieldSpec(
            "workspaces",
            "Workspaces",
            help="Optional: only these workspace IDs (wrkspc_…, or 'default'), comma-separated. Empty = all.",
            required=False,
        ),
    )
    secret_fields = (FieldSpec("api_key", "Admin API key", help="sk-ant-admin…", secret=True),)
    default_interval_minutes = 5  # token burn matters within minutes; one small page per API per run
    default_lookback_days = 3
    default_backfill_days = 90

    # --- plumbing ---

    def _client(self, source, secrets: dict) -> http.ApiClient:
        key = (secrets.get("api_key") or "").strip()
        if not key:
            raise ConnectorError("No Anthropic Admin API key is stored on this source.")
        return http.open_client(
            self,
            source,
            provider="Anthropic",
            base_url=BASE_URL,
            headers={"x-api-key": key, "anthropic-version": API_VERSION, "Accept": "application/json"},
            secret=key,
            credentials_hint="" if key.startswith("sk-ant-admin") else ADMIN_KEY_HINT,
        )

    @staticmethod
    def _params(window: Window, days: int) -> dict:
        return {
            "starting_at": _iso(window.start_at),
            "ending_at": _iso(window.end_at),
            "bucket_width": "1d",
            "limit": min(max(days, 1), LIMIT),
        }

    @staticmethod
    def _wanted(source):
        # The filter is applied to what comes back, so it works whatever the API accepts as a filter.
        wanted = set(_split((source.settings or {}).get("workspaces")))
        return (lambda workspace: workspace in wanted) if wanted else (lambda workspace: True)

    # --- the contract ---

    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        today = timezone.now().astimezone(dt.UTC).date()
        window = Window(today - dt.timedelta(days=1), today)
        params = {**self._params(window, 1), "group_by[]": ["workspace_id"]}
        wanted = self._wanted(source)
        workspaces, totals = set(), {}
        with self._client(source, secrets) as client:
            for page in client.pages(COST_PATH, params):
                for bucket in page.get("data") or []:
                    for result in bucket.get("results") or []:
                        workspace = result.get("workspace_id") or DEFAULT_WORKSPACE
                        currency = str(result.get("currency") or "USD").upper()
                        amount = from_minor_units(result.get("amount") or "0", currency)
                        if amount and wanted(workspace):
                            workspaces.add(workspace)
                            totals[currency] = totals.get(currency, Decimal(0)) + amount
        organisation = (source.settings or {}).get("organisation", "")
        where = f"Connected to Anthropic organisation{' ' + organisation if organisation else ''}"
        if not workspaces:
            return ConnectionResult(True, f"{where}; nothing was billed yesterday.")
        spent = ", ".join(f"{c} {v:.2f}" for c, v in sorted(totals.items()))
        count = len(workspaces)
        return ConnectionResult(
            True, f"{where}; {count} workspace{'s' if count != 1 else ''} billed yesterday ({spent})."
        )

    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        params = self._params(window, (window.end - window.start).days)
        with self._client(source, secrets) as client:
            cost_pages = list(client.pages(COST_PATH, {**params, "group_by[]": ["workspace_id", "description"]}))
            usage_pages = list(client.pages(USAGE_PATH, {**params, "group_by[]": ["model", "workspace_id"]}))
            requests_made = client.requests_made
        notes: list[str] = []
        wanted = self._wanted(source)
        account_id = (source.settings or {}).get("organisation") or "anthropic"
        cost_rows = self._cost_rows(cost_pages, window, account_id, source.name, wanted, notes)
        usage = self._usage_groups(usage_pages, window, wanted, notes)
        return http.cost_and_usage_result(
            cost_rows,
            usage,
            provider=PROVIDER,
            priceable=_standard_rate,
            account_id=account_id,
            account_name=source.name,
            usage_description="Usage reported by the Anthropic usage report "
            "(no money: cost comes from the cost report).",
            usage_token_types=USAGE_TOKEN_TYPES,
            sub_account_name=_workspace_name,
            pages=(len(cost_pages), len(usage_pages)),
            requests_made=requests_made,
            notes=notes,
        )

    # --- mapping ---

    @staticmethod
    def _cost_rows(pages, window: Window, account_id: str, account_name: str, wanted, notes: list) -> list:
        rows = []
        skipped = 0
        for page in pages:
            for bucket in page.get("data") or []:
                start, end, inside = _bucket_times(bucket, window)
                if not inside:
                    skipped += 1
                    continue
                for result in bucket.get("results") or []:
                    workspace = result.get("workspace_id") or DEFAULT_WORKSPACE
                    if not wanted(workspace):
                        continue
                    currency = str(result.get("currency") or "").strip().upper()
                    if not currency:
                        raise ConnectorError(f"Anthropic sent a cost without a currency on {start:%Y-%m-%d}.")
                    cents = result.get("amount")
                    try:
                        amount = from_minor_units(cents, currency)
                    except ValueError as exc:
                        raise ConnectorError(
                            f"Anthropic sent a cost amount that is not a number ({cents!r}) on {start:%Y-%m-%d}."
                        ) from exc
                    if http.too_precise(amount):
                        notes.append(f"{start:%Y-%m-%d}: {amount} has more decimals than the ledger keeps (12).")
                    cost_type = result.get("cost_type") or ""
                    token_type = result.get("token_type") or ""
                    model = result.get("model") or ""
                    if cost_type == "tokens" or (not cost_type and token_type):
                        meter = TOKEN_METERS.get(token_type, token_type)
                    else:
                        meter = COST_TYPE_METERS.get(cost_type, cost_type.replace("_", " ").title())
                    extra = {"x_AmountCents": str(cents)}
                    for key, name in (
                        ("cost_type", "x_CostType"),
                        ("service_tier", "x_ServiceTier"),
                        ("context_window", "x_ContextWindow"),
                        ("inference_geo", "x_InferenceGeo"),
                        ("speed", "x_Speed"),
                    ):
                        if result.get(key):
                            extra[name] = str(result[key])
                    row = http.llm_row(
                        PROVIDER,
                        start=start,
                        end=end,
                        amount=amount,
                        currency=currency,
                        billing_account_id=account_id,
                        billing_account_name=account_name,
                        sub_account_id=workspace,
                        sub_account_name=_workspace_name(workspace),
                        description=result.get("description") or "Claude API",
                        sku_meter=meter,
                        model=model,
                        token_type=token_type,
                        extra=extra,
                    )
                    matchable = meter in http.METERS
                    key = http.match_key(start.date(), workspace, model, meter) if matchable else None
                    rows.append((key, row))
        if skipped:
            notes.append(f"{skipped} cost bucket(s) outside the window were ignored.")
        return rows

    @staticmethod
    def _usage_groups(pages, window: Window, wanted, notes: list) -> http.UsageGroups:
        groups = http.UsageGroups()
        skipped = 0
        for page in pages:
            for bucket in page.get("data") or []:
                start, end, inside = _bucket_times(bucket, window)
                if not inside:
                    skipped += 1
                    continue
                for result in bucket.get("results") or []:
                    workspace = result.get("workspace_id") or DEFAULT_WORKSPACE
                    if not wanted(workspace):
                        continue
                    group = groups.group(start=start, end=end, sub_account_id=workspace, model=result.get("model"))
                    creation = result.get("cache_creation") or {}
                    group.add(http.INPUT, result.get("uncached_input_tokens"))
                    group.add(http.CACHE_READ, result.get("cache_read_input_tokens"))
                    group.add(http.CACHE_WRITE_5M, creation.get("ephemeral_5m_input_tokens"))
                    group.add(http.CACHE_WRITE_1H, creation.get("ephemeral_1h_input_tokens"))
                    group.add(http.OUTPUT, result.get("output_tokens"))
                    # Web search is billed per workspace and day, not per model: its cost row has no model.
                    searches = (result.get("server_tool_use") or {}).get("web_search_requests")
                    if searches:
                        groups.group(start=start, end=end, sub_account_id=workspace, model="").add(
                            http.WEB_SEARCH, searches
                        )
        if skipped:
            notes.append(f"{skipped} usage bucket(s) outside the window were ignored.")
        return groups


def _workspace_name(workspace: str) -> str:
    return "Default workspace" if workspace == DEFAULT_WORKSPACE else ""


def _standard_rate(row: dict) -> bool:
    # The catalog's list price is the standard tier's, for prompts under 200k tokens, at normal speed.
    extra = row["x_extra"]
    return (
        extra.get("x_ServiceTier", "standard") == "standard"
        and extra.get("x_ContextWindow", "0-200k") == "0-200k"
        and extra.get("x_Speed", "standard") == "standard"
    )
