"""OpenAI organisation costs and usage → FOCUS ledger rows.

Keel calls, with an admin key (`Authorization: Bearer sk-admin-…`):
- GET /v1/organization/costs             bucket_width=1d, group_by=project_id&group_by=line_item, limit ≤ 180
- GET /v1/organization/usage/completions bucket_width=1d, group_by=model&group_by=project_id, limit ≤ 31
both for the run's whole UTC days [start_time, end_time), following `next_page` while `has_more`.

Mapping (costs API field → ledger field):

| OpenAI                                  | Ledger (FOCUS)                                                         |
|-----------------------------------------|------------------------------------------------------------------------|
| bucket.start_time / end_time (unix s)   | charge_period_start / _end (one UTC day); billing period = its month    |
| result.amount.value (JSON number)       | billed_cost = effective_cost = contracted_cost, Decimal (parse_float)   |
| result.amount.currency ("usd")          | billing_currency, upper-cased ("USD"); a missing currency fails the run |
| result.project_id                       | sub_account_id (sub_account_type "Project"); null → ""                 |
| result.line_item "gpt-4o-2024-08-06, …" | charge_description and x_extra.x_LineItem, verbatim                     |
|   model before the first comma          | x_model ("gpt-4o-2024-08-06"; "gpt-audio-… audio" → model + modality)  |
|   piece after it                        | x_token_type ("input", "cached input", "output", "audio input", …)     |
|   that piece as a FOCUS meter           | sku_meter ("Input Tokens", "Cache Read Tokens", "Output Tokens", …);     |
|                                         | a line item naming no token type ("web search tool calls") → itself    |
|   "priority | …" prefix, ", long context"| x_extra.x_ServiceTier, x_extra.x_LineItemQualifiers                    |
| amount < 0                              | charge_category "Credit" (else "Usage"); charge_frequency Usage-Based   |
| settings.organisation                   | billing_account_id (else "openai"); billing_account_name = source name  |
| —                                       | service_name "OpenAI API", provider/publisher/host/issuer "OpenAI",     |
|                                         | AI and Machine Learning / Generative AI, x_cost_source "actual"         |

Usage API field → ledger field (see "Tokens and money" below for which row):

| usage/completions result                   | Ledger                                                              |
|--------------------------------------------|---------------------------------------------------------------------|
| input_tokens − input_cached_tokens         | x_input_tokens, consumed_quantity of the "Input Tokens" row          |
| input_cached_tokens                        | x_cached_tokens, consumed_quantity of the "Cache Read Tokens" row    |
| output_tokens                              | x_output_tokens, consumed_quantity of the "Output Tokens" row        |
| input_audio_tokens / output_audio_tokens   | x_input_tokens / x_output_tokens of the audio input / output rows    |
| num_model_requests                         | x_requests, once per (day, project, model), on its first token row   |
| consumed_unit / pricing_unit / quantity    | "Tokens" / "1000000 Tokens" / tokens ÷ 1,000,000                     |

Tokens and money: money comes only from the costs API, never from usage. The usage API is a separate,
finer count that OpenAI itself says may not reconcile exactly with costs, so it is never priced here.
A usage count (day, project, model, meter) is written onto the one cost row whose line item names the same
model and token type; when no cost row matches, or more than one does (a model billed both as standard and
"priority | …", or with a "long context" line beside the plain one), the count goes on a zero-cost Usage row
of its own (BilledCost = EffectiveCost = 0, x_extra.x_UsageOnly). So Σ BilledCost of a run is exactly Σ of
the cost buckets, and every token is counted once. Where the model catalog prices a standard-rate cost row
that carries its tokens, list_unit_price (per 1M tokens) and list_cost = catalog price × tokens are set;
otherwise list_cost = billed_cost. Scope "window": a run replaces the source's rows for the window's days.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from ..focus import to_utc
from . import http
from .base import ConnectionResult, Connector, ConnectorError, FetchResult, FieldSpec, Window

BASE_URL = "https://api.openai.com"
COSTS_PATH = "/v1/organization/costs"
USAGE_PATH = "/v1/organization/usage/completions"
COSTS_LIMIT, USAGE_LIMIT = 180, 31  # buckets per page, the APIs' maxima for 1d
PROVIDER = http.Provider(name="OpenAI", service="OpenAI API", catalog="openai", sub_account_type="Project")
ADMIN_KEY_HINT = (
    "Keel needs an OpenAI admin key (it starts with sk-admin-), created by an organisation owner under "
    "Settings → Organization → Admin keys; a project API key cannot read costs."
)

# The token piece of a line item → (ledger meter, x_token_type). Audio variants are built from these.
TOKEN_PIECES = {
    "input": http.INPUT,
    "cached input": http.CACHE_READ,
    "output": http.OUTPUT,
    "cache writes": http.CACHE_WRITE,
}
MODALITY_METERS = {("audio", http.INPUT): http.AUDIO_INPUT, ("audio", http.OUTPUT): http.AUDIO_OUTPUT}
USAGE_TOKEN_TYPES = {
    http.INPUT: "input",
    http.CACHE_READ: "cached input",
    http.OUTPUT: "output",
    http.AUDIO_INPUT: "audio input",
    http.AUDIO_OUTPUT: "audio output",
}
_TIER = re.compile(r"^\s*(?P<tier>[a-z_]+)\s*\|\s*(?P<rest>.+)$", re.IGNORECASE)
_MODALITY = re.compile(r"^(?P<model>\S+)\s+(?P<modality>audio|image|text)$", re.IGNORECASE)


@dataclass(frozen=True)
class LineItem:
    model: str = ""
    token_type: str = ""
    meter: str = ""  # "" when the line item names no token type
    tier: str = ""
    qualifiers: tuple[str, ...] = ()


def parse_line_item(text: str | None) -> LineItem:
    """'gpt-4o-2024-08-06, cached input' → model + token type; 'priority | gpt-5, output, long context' keeps
    the tier and qualifier; 'web search tool calls' names neither. The string is OpenAI's display text, not a
    documented format: anything unrecognised is left unparsed rather than guessed."""
    text = (text or "").strip()
    tier = ""
    if found := _TIER.match(text):
        tier, text = found["tier"].lower(), found["rest"].strip()
    parts = [part.strip() for part in text.split(",")]
    if len(parts) < 2 or not parts[0]:
        return LineItem(tier=tier)
    head, piece, *qualifiers = parts
    model, modality = head, ""
    if found := _MODALITY.match(head):
        model, modality = found["model"], found["modality"].lower()
    base = TOKEN_PIECES.get(piece.lower())
    if base is None:
        return LineItem(model=head, tier=tier)  # e.g. 'dall-e 3, standard, 1024x1024': a model, no tokens
    if modality in ("", "text"):
        meter, token_type = base, piece.lower()
    else:
        meter = MODALITY_METERS.get((modality, base), f"{modality.title()} {base}")
        token_type = f"{modality} {piece.lower()}"
    return LineItem(model=model, token_type=token_type, meter=meter, tier=tier, qualifiers=tuple(qualifiers))


def _split(value) -> list[str]:
    return [part.strip() for part in str(value or "").replace("\n", ",").split(",") if part.strip()]


def _bucket_times(bucket: dict, window: Window | None = None):
    start, end = to_utc(bucket.get("start_time")), to_utc(bucket.get("end_time"))
    if start is None or end is None:
        raise ConnectorError("OpenAI sent a bucket without start_time or end_time.")
    inside = window is None or window.start_at <= start < window.end_at
    return start, end, inside


class OpenAIConnector(Connector):
    kind = "openai"
    label = "OpenAI organisation usage and costs"
    settings_fields = (
        FieldSpec(
            "organisation",
            "Organisation ID",
            help="org-… — optional; sent as OpenAI-Organization and used as the billing account.",
            required=False,
        ),
        FieldSpec(
            "projects",
            "Projects",
            help="Optional: only these project IDs (proj_…), comma-separated. Empty = the whole organisation.",
            required=False,
        ),
    )
    secret_fields = (FieldSpec("api_key", "Admin key", help="sk-admin-…", secret=True),)
    default_interval_minutes = 5  # token burn matters within minutes; one small page per API per run
    default_lookback_days = 3
    default_backfill_days = 90

    # --- plumbing ---

    def _client(self, source, secrets: dict) -> http.ApiClient:
        key = (secrets.get("api_key") or "").strip()
        if not key:
            raise ConnectorError("No OpenAI admin key is stored on this source.")
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        organisation = (source.settings or {}).get("organisation", "")
        if organisation:
            headers["OpenAI-Organization"] = organisation
        return http.open_client(
            self,
            source,
            provider="OpenAI",
            base_url=BASE_URL,
            headers=headers,
            secret=key,
            credentials_hint="" if key.startswith("sk-admin-") else ADMIN_KEY_HINT,
        )

    @staticmethod
    def _params(source, window: Window) -> dict:
        params = {
            "start_time": int(window.start_at.timestamp()),
            "end_time": int(window.end_at.timestamp()),
            "bucket_width": "1d",
        }
        if projects := _split((source.settings or {}).get("projects")):
            params["project_ids"] = projects
        return params

    # --- the contract ---

    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        today = timezone.now().astimezone(dt.UTC).date()
        window = Window(today - dt.timedelta(days=1), today)
        params = {**self._params(source, window), "group_by": ["project_id"], "limit": 1}
        projects, totals = set(), {}
        with self._client(source, secrets) as client:
            for page in client.pages(COSTS_PATH, params):
                for bucket in page.get("data") or []:
                    for result in bucket.get("results") or []:
                        amount = http.amount_of((result.get("amount") or {}).get("value")) or Decimal(0)
                        currency = str((result.get("amount") or {}).get("currency") or "").upper()
                        if amount:
                            projects.add(result.get("project_id") or "")
                            totals[currency] = totals.get(currency, Decimal(0)) + amount
        organisation = (source.settings or {}).get("organisation", "")
        where = f"Connected to OpenAI organisation{' ' + organisation if organisation else ''}"
        if not projects:
            return ConnectionResult(True, f"{where}; nothing was billed yesterday.")
        spent = ", ".join(f"{c} {v:.2f}" for c, v in sorted(totals.items()))
        count = len(projects)
        return ConnectionResult(
            True, f"{where}; {count} project{'s' if count != 1 else ''} billed yesterday ({spent})."
        )

    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        days = max((window.end - window.start).days, 1)
        base = self._params(source, window)
        with self._client(source, secrets) as client:
            cost_pages = list(
                client.pages(
                    COSTS_PATH, {**base, "group_by": ["project_id", "line_item"], "limit": min(days, COSTS_LIMIT)}
                )
            )
            usage_pages = list(
                client.pages(USAGE_PATH, {**base, "group_by": ["model", "project_id"], "limit": min(days, USAGE_LIMIT)})
            )
            requests_made = client.requests_made
        notes: list[str] = []
        account_id = (source.settings or {}).get("organisation") or "openai"
        cost_rows = self._cost_rows(cost_pages, window, account_id, source.name, notes)
        usage = self._usage_groups(usage_pages, window, notes)
        return http.cost_and_usage_result(
            cost_rows,
            usage,
            provider=PROVIDER,
            priceable=_standard_rate,
            account_id=account_id,
            account_name=source.name,
            usage_description="Tokens reported by the OpenAI usage API (no money: cost comes from the costs API).",
            usage_token_types=USAGE_TOKEN_TYPES,
            pages=(len(cost_pages), len(usage_pages)),
            requests_made=requests_made,
            notes=notes,
        )

    # --- mapping ---

    @staticmethod
    def _cost_rows(pages, window: Window, account_id: str, account_name: str, notes: list) -> list:
        rows = []
        skipped = 0
        for page in pages:
            for bucket in page.get("data") or []:
                start, end, inside = _bucket_times(bucket, window)
                if not inside:
                    skipped += 1
                    continue
                for result in bucket.get("results") or []:
                    amount_obj = result.get("amount") or {}
                    try:
                        amount = http.amount_of(amount_obj.get("value"))
                    except ValueError as exc:
                        raise ConnectorError(
                            f"OpenAI sent a cost amount that is not a number on {start:%Y-%m-%d}."
                        ) from exc
                    if amount is None:
                        continue  # a result without an amount carries no money to book
                    currency = str(amount_obj.get("currency") or "").strip().upper()
                    if not currency:
                        raise ConnectorError(f"OpenAI sent a cost without a currency on {start:%Y-%m-%d}.")
                    if http.too_precise(amount):
                        notes.append(f"{start:%Y-%m-%d}: {amount} has more decimals than the ledger keeps (12).")
                    text = result.get("line_item") or ""
                    item = parse_line_item(text)
                    project = result.get("project_id") or ""
                    extra = {"x_LineItem": text} if text else {}
                    if item.tier:
                        extra["x_ServiceTier"] = item.tier
                    if item.qualifiers:
                        extra["x_LineItemQualifiers"] = ", ".join(item.qualifiers)
                    if result.get("quantity") is not None:  # newer responses may carry one; kept, not interpreted
                        extra["x_Quantity"] = str(result["quantity"])
                    row = http.llm_row(
                        PROVIDER,
                        start=start,
                        end=end,
                        amount=amount,
                        currency=currency,
                        billing_account_id=account_id,
                        billing_account_name=account_name,
                        sub_account_id=project,
                        description=text or "OpenAI API",
                        sku_meter=item.meter or text,
                        model=item.model,
                        token_type=item.token_type,
                        extra=extra,
                    )
                    key = http.match_key(start.date(), project, item.model, item.meter) if item.meter else None
                    rows.append((key, row))
        if skipped:
            notes.append(f"{skipped} cost bucket(s) outside the window were ignored.")
        return rows

    @staticmethod
    def _usage_groups(pages, window: Window, notes: list) -> http.UsageGroups:
        groups = http.UsageGroups()
        skipped = 0
        for page in pages:
            for bucket in page.get("data") or []:
                start, end, inside = _bucket_times(bucket, window)
                if not inside:
                    skipped += 1
                    continue
                for result in bucket.get("results") or []:
                    group = groups.group(
                        start=start, end=end, sub_account_id=result.get("project_id") or "", model=result.get("model")
                    )
                    input_tokens = int(result.get("input_tokens") or 0)
                    cached = int(result.get("input_cached_tokens") or 0)
                    group.add(http.INPUT, max(input_tokens - cached, 0))  # input_tokens includes the cached ones
                    group.add(http.CACHE_READ, cached)
                    group.add(http.OUTPUT, result.get("output_tokens"))
                    group.add(http.AUDIO_INPUT, result.get("input_audio_tokens"))
                    group.add(http.AUDIO_OUTPUT, result.get("output_audio_tokens"))
                    if result.get("num_model_requests"):
                        group.requests = (group.requests or 0) + int(result["num_model_requests"])
        if skipped:
            notes.append(f"{skipped} usage bucket(s) outside the window were ignored.")
        return groups


def _standard_rate(row: dict) -> bool:
    # The catalog's list price is the standard rate; tiered ("priority | …") or long-context lines differ.
    extra = row["x_extra"]
    return not extra.get("x_ServiceTier") and not extra.get("x_LineItemQualifiers")
