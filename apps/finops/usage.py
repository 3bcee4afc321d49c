"""Live usage events: the fast ingestion path, pricing from the model catalog, booking as estimates, and
reconciliation against the provider's daily cost.

Ingestion (usage_events_ingest) is built for throughput: events are validated in plain Python (no serializer
per event), priced with one catalog lookup per distinct (provider, model) of the batch, COPied into a temporary
table and moved into UsageEvent by one INSERT … SELECT … ON CONFLICT (request_id) DO NOTHING. A batch costs the
same handful of queries whether it holds 10 events or 5,000.

Pricing rule (docs/usage-events.md): input_tokens include the cached tokens, as OpenAI and the OpenTelemetry
GenAI conventions report them, so

    cost = (input − cached) × input price + cached × cache-read price + output × output price

with the catalog's USD per-token prices; no cache-read price means cached tokens cost the input price. An event
whose model is not in the catalog (or lacks a price it needs) is stored with no cost and counted as unpriced.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.db import connection, transaction
from django.utils import timezone

from apps.core.batch import BatchErrors, parse_rfc3339

from .focus import AI_CATEGORY, GENAI_SUBCATEGORY, day_bounds, ledger_row, month_bounds
from .models import BillingSource, CostRecord, IngestionRun, SourceKind, UsageEvent, UsageReconciliation

MAX_EVENTS = 5000
MAX_TOKENS = 10**12  # per call; far above any real request, and keeps every estimate exact in Decimal
MAX_COST = Decimal(10) ** 15
MAX_ATTRIBUTES_BYTES = 4096
FUTURE_SLACK = dt.timedelta(days=1)  # clocks drift; a day ahead is a wrong clock or a wrong unit
ESTIMATE_CURRENCY = "USD"  # the catalog's prices are USD
# Providers whose own daily cost, once booked by their billing source, replaces the events' estimates.
RECONCILED_KINDS = {SourceKind.OPENAI.value: "openai", SourceKind.ANTHROPIC.value: "anthropic"}
# Models resold by a cloud are on that cloud's bill: a day with such rows there replaces the estimates too.
# provider of the events → (the cloud's source kinds, SQL ILIKE patterns of the service on its bill)
CLOUD_RESOLD = {
    "azure": (("azure_cost_query", "azure_export"), ("%openai%", "azure ai services%", "%cognitive services%")),
    "azure_ai": (("azure_cost_query", "azure_export"), ("%ai foundry%", "azure ai services%", "%machine learning%")),
    "bedrock": (("aws_cost_explorer", "aws_data_export"), ("%bedrock%",)),
    "vertex_ai": (("gcp_bigquery",), ("vertex ai%", "%gemini%")),
}

USAGE_TABLE = UsageEvent._meta.db_table
COST_TABLE = CostRecord._meta.db_table
SOURCE_TABLE = BillingSource._meta.db_table
STAGE_TABLE = "keel_usage_stage"
STAGE_COLUMNS = (
    "request_id",
    "occurred_at",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "agent",
    "api_key_id",
    "department",
    "prompt_hash",
    "cost",
    "currency",
    "cost_source",
    "attributes",
)
_PROVIDER, _MODEL, _INPUT, _OUTPUT, _CACHED, _COST = (
    STAGE_COLUMNS.index(name)
    for name in ("provider", "model", "input_tokens", "output_tokens", "cached_tokens", "cost")
)
_STAGE_DDL = (
    "request_id text, occurred_at timestamptz, provider text, model text, input_tokens bigint, "
    "output_tokens bigint, cached_tokens bigint, agent text, api_key_id text, department text, "
    "prompt_hash text, cost numeric, currency text, cost_source text, attributes jsonb"
)

# --- field names: native first, then the OpenTelemetry GenAI names (current, then deprecated) ----------------

MODEL_KEYS = ("model", "gen_ai.response.model", "gen_ai.request.model")  # the served model is what is billed
PROVIDER_KEYS = ("provider", "gen_ai.provider.name", "gen_ai.system")
INPUT_KEYS = ("input_tokens", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT_KEYS = ("output_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHED_KEYS = ("cached_tokens", "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
REQUEST_ID_KEYS = ("request_id", "gen_ai.response.id")
AGENT_KEYS = ("agent", "gen_ai.agent.name")
KNOWN_KEYS = frozenset(
    {"timestamp", "cost", "currency", "attributes", "api_key_id", "department", "prompt_hash"}
    | set(MODEL_KEYS + PROVIDER_KEYS + INPUT_KEYS + OUTPUT_KEYS + CACHED_KEYS + REQUEST_ID_KEYS + AGENT_KEYS)
)

# OpenTelemetry gen_ai.provider.name / gen_ai.system values → the catalog's provider names.
OTEL_PROVIDERS = {
    "aws.bedrock": "bedrock",
    "azure.ai.openai": "azure",
    "az.ai.openai": "azure",
    "azure.ai.inference": "azure_ai",
    "az.ai.inference": "azure_ai",
    "gcp.vertex_ai": "vertex_ai",
    "gcp.gemini": "gemini",
    "gcp.gen_ai": "gemini",
    "ibm.watsonx.ai": "watsonx",
    "x_ai": "xai",
    "mistral_ai": "mistral",
}
# Model-name prefixes of the big providers, for models the catalog does not know (yet).
_MODEL_HINTS = (
    (re.compile(r"^(gpt-|chatgpt|o[1-9](-|$)|text-embedding|davinci|babbage|whisper|dall-e|tts-)"), "openai"),
    (re.compile(r"^claude"), "anthropic"),
    (re.compile(r"^gemini"), "gemini"),
    (re.compile(r"^(mistral|mixtral|codestral|magistral|ministral|pixtral)"), "mistral"),
    (re.compile(r"^command"), "cohere"),
    (re.compile(r"^grok"), "xai"),
    (re.compile(r"^deepseek"), "deepseek"),
)
_CURRENCY = re.compile(r"[A-Z]{3}\Z")


class BatchTooLarge(ValueError):
    """More events than one batch may hold; nothing was stored."""


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    unpriced: int = 0
    errors: list[dict] = field(default_factory=list)
    errors_omitted: int = 0

    def as_dict(self) -> dict:
        body = {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "unpriced": self.unpriced,
            "errors": self.errors,
        }
        if self.errors_omitted:
            body["errors_omitted"] = self.errors_omitted
        return body


# --- validation (plain Python: this loop runs for every event) -------------------------------------------------


def _pick(event: dict, keys: tuple[str, ...]) -> tuple[str, object]:
    """(key, value) of the first of `keys` present with a non-null value; (keys[0], None) when none is."""
    for key in keys:
        value = event.get(key)
        if value is not None:
            return key, value
    return keys[0], None


def _bad_text(value: str) -> str | None:
    """Why a string cannot be stored as PostgreSQL text (NUL, unpaired surrogates), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode text"
    return None


def _text(value, name: str, limit: int, index: int, errors: BatchErrors) -> str | None:
    # The common case in one test: a short ASCII string without NUL.
    if type(value) is str and len(value) <= limit and value.isascii() and "\x00" not in value:
        return value.strip()
    if not isinstance(value, str):
        errors.add(index, name, f"{name} must be a string.")
        return None
    value = value.strip()
    if len(value) > limit:
        errors.add(index, name, f"{name} is longer than {limit} characters.")
        return None
    problem = _bad_text(value)
    if problem:
        errors.add(index, name, f"{name} {problem}.")
        return None
    return value


def _count(value, name: str, index: int, errors: BatchErrors) -> int | None:
    if type(value) is int:  # the common case first; bool is an int subclass and is refused below
        if 0 <= value <= MAX_TOKENS:
            return value
        number = value
    elif isinstance(value, Decimal | float) and _integral(value):
        number = int(value)  # 12.0 from exporters that write every number as a double
    else:
        errors.add(index, name, f"{name} must be a non-negative integer.")
        return None
    if number < 0:
        errors.add(index, name, f"{name} must be a non-negative integer, not {number}.")
        return None
    if number > MAX_TOKENS:
        errors.add(index, name, f"{name} is more than {MAX_TOKENS:,} tokens for one call.")
        return None
    return number


def _integral(value: Decimal | float) -> bool:
    try:
        return value == value // 1
    except (ArithmeticError, ValueError):  # NaN, infinities
        return False


def _timestamp(value, index: int, errors: BatchErrors, latest: dt.datetime) -> dt.datetime | None:
    if value is None:
        errors.add(index, "timestamp", "timestamp is required (RFC 3339, e.g. 2025-06-01T12:00:00Z).")
        return None
    moment = parse_rfc3339(value)
    if isinstance(moment, str):
        errors.add(index, "timestamp", f"timestamp {moment}")
        return None
    if moment > latest:
        errors.add(index, "timestamp", "timestamp is more than a day in the future: check the clock and the format.")
        return None
    return moment


def _cost(value, index: int, errors: BatchErrors) -> Decimal | None:
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, bool) or not isinstance(value, int | float | str):
        errors.add(index, "cost", "cost must be a decimal number or a string holding one.")
        return None
    else:
        try:
            amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation:
            errors.add(index, "cost", "cost must be a decimal number or a string holding one.")
            return None
    if not amount.is_finite() or amount < 0 or amount >= MAX_COST:
        errors.add(index, "cost", "cost must be a finite amount, zero or more.")
        return None
    return amount


def _json_number(value):
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if as_float not in (float("inf"), float("-inf")) else str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _attributes(event: dict, extra: Iterable[str], index: int, errors: BatchErrors) -> str | None:
    """The event's other attributes (unknown keys and `attributes`) as JSON text for the jsonb column."""
    attributes: dict = {}
    given = event.get("attributes")
    if given is not None:
        if not isinstance(given, dict):
            errors.add(index, "attributes", "attributes must be an object.")
            return None
        attributes.update(given)
    for key in extra:
        attributes[key] = event[key]
    try:
        text = json.dumps(attributes, ensure_ascii=False, separators=(",", ":"), default=_json_number)
    except (TypeError, ValueError):
        errors.add(index, "attributes", "attributes must be JSON values.")
        return None
    if len(text) > MAX_ATTRIBUTES_BYTES:
        errors.add(index, "attributes", f"the other attributes take more than {MAX_ATTRIBUTES_BYTES} characters.")
        return None
    if "\\u0000" in text or _bad_text(text):
        errors.add(index, "attributes", "attributes must be valid Unicode text without NUL characters.")
        return None
    return text


def _validate(index: int, event, errors: BatchErrors, latest: dt.datetime) -> list | None:
    """One event → a stage row (provider may still be '' and cost None), or None with its errors recorded.

    Written flat on purpose: it runs for every event of every batch."""
    if type(event) is not dict:
        errors.add(index, "", "Each event must be a JSON object.")
        return None
    before = errors.count
    occurred_at = _timestamp(event.get("timestamp"), index, errors, latest)

    name, value = _pick(event, MODEL_KEYS)
    model = None
    if value is None:
        errors.add(index, "model", "model is required (or gen_ai.response.model / gen_ai.request.model).")
    else:
        model = _text(value, name, 200, index, errors)
        if model == "":
            errors.add(index, name, f"{name} must not be empty.")

    name, value = _pick(event, REQUEST_ID_KEYS)
    request_id = None
    if value is None:
        errors.add(index, "request_id", "request_id is required (or gen_ai.response.id): it makes retries safe.")
    else:
        request_id = _text(value, name, 200, index, errors)
        if request_id == "":
            errors.add(index, name, f"{name} must not be empty.")

    name, value = _pick(event, PROVIDER_KEYS)
    provider = "" if value is None else _text(value, name, 60, index, errors)
    provider = canonical_provider(provider) if provider else ""

    name, value = _pick(event, INPUT_KEYS)
    input_tokens = 0 if value is None else _count(value, name, index, errors)
    name, value = _pick(event, OUTPUT_KEYS)
    output_tokens = 0 if value is None else _count(value, name, index, errors)
    name, value = _pick(event, CACHED_KEYS)
    cached_tokens = 0 if value is None else _count(value, name, index, errors)
    if cached_tokens and input_tokens is not None and cached_tokens > input_tokens:
        errors.add(index, name, f"{name} are part of the input tokens, so they cannot be more than those.")

    name, value = _pick(event, AGENT_KEYS)
    agent = "" if value is None else _text(value, name, 200, index, errors)
    value = event.get("api_key_id")
    api_key_id = "" if value is None else _text(value, "api_key_id", 200, index, errors)
    value = event.get("department")
    department = "" if value is None else _text(value, "department", 120, index, errors)
    value = event.get("prompt_hash")
    prompt_hash = "" if value is None else _text(value, "prompt_hash", 128, index, errors)

    cost, currency, cost_source = None, ESTIMATE_CURRENCY, "estimate"
    value = event.get("cost")
    if value is not None:
        cost = _cost(value, index, errors)
        cost_source = "actual"
        given = event.get("currency")
        if given is not None:
            if isinstance(given, str) and _CURRENCY.match(given.strip().upper()):
                currency = given.strip().upper()
            else:
                errors.add(index, "currency", "currency must be an ISO 4217 code such as USD or EUR.")

    extra = event.keys() - KNOWN_KEYS
    attributes = _attributes(event, extra, index, errors) if extra or "attributes" in event else "{}"

    if errors.count != before:
        return None
    return [
        request_id,
        occurred_at,
        provider,
        model,
        input_tokens,
        output_tokens,
        cached_tokens,
        agent,
        api_key_id,
        department,
        prompt_hash,
        cost,
        currency,
        cost_source,
        attributes,
    ]


# --- providers and prices ----------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def canonical_provider(written: str) -> str:
    """A provider as callers write it ("OpenAI", "aws.bedrock", "Azure OpenAI") → the catalog's name."""
    from apps.catalog.selectors import provider_names

    folded = " ".join(written.lower().split())
    if folded in OTEL_PROVIDERS:
        return OTEL_PROVIDERS[folded]
    names = provider_names(folded)
    return names[0] if names else ""


def _family(litellm_provider: str) -> str:
    """The catalog's provider of an entry, without its variant suffix (vertex_ai-language-models → vertex_ai)."""
    from apps.catalog.selectors import PROVIDER_VARIANTS

    for name, variants in PROVIDER_VARIANTS.items():
        if litellm_provider in variants:
            return name
    return litellm_provider.split("-", 1)[0]


def _guess_provider(model: str, entry) -> str:
    if entry is not None and entry.litellm_provider:
        return _family(entry.litellm_provider)
    folded = model.lower()
    prefix, slash, _rest = folded.partition("/")
    if slash:
        return canonical_provider(prefix)
    for pattern, provider in _MODEL_HINTS:
        if pattern.match(folded):
            return provider
    return ""


def _prices(entry) -> tuple | None:
    if entry is None:
        return None
    return entry.input_cost_per_token, entry.output_cost_per_token, entry.cache_read_input_token_cost


def _estimate(prices: tuple | None, input_tokens: int, output_tokens: int, cached_tokens: int) -> Decimal | None:
    """The catalog price of one call (see the module docstring), or None when a price it needs is missing."""
    if prices is None:
        return None
    input_price, output_price, cache_price = prices
    if cache_price is None:
        cache_price = input_price
    uncached = input_tokens - cached_tokens
    cost = Decimal(0)
    if uncached:
        if input_price is None:
            return None
        cost += uncached * input_price
    if cached_tokens:
        if cache_price is None:
            return None
        cost += cached_tokens * cache_price
    if output_tokens:
        if output_price is None:
            return None
        cost += output_tokens * output_price
    return cost


def _price_rows(rows: list[list]) -> None:
    """Fill in missing providers and catalog estimates of stage rows, in place."""
    from apps.catalog.selectors import catalog_entries_for

    wanted = {(row[_PROVIDER], row[_MODEL]) for row in rows if not row[_PROVIDER] or row[_COST] is None}
    entries = catalog_entries_for(wanted) if wanted else {}
    resolved: dict[tuple[str, str], tuple[str, tuple | None]] = {}  # (provider, model) → (provider, prices)
    for row in rows:
        pair = (row[_PROVIDER], row[_MODEL])
        known = resolved.get(pair)
        if known is None:
            entry = entries.get(pair)
            known = resolved[pair] = (pair[0] or _guess_provider(pair[1], entry), _prices(entry))
        row[_PROVIDER] = known[0]
        if row[_COST] is None:
            row[_COST] = _estimate(known[1], row[_INPUT], row[_OUTPUT], row[_CACHED])


# --- ingestion ---------------------------------------------------------------------------------------------


def usage_events_ingest(*, events: list, now: dt.datetime | None = None) -> IngestResult:
    """Validate, price and store a batch of usage events; valid events are stored even when others are not.

    Duplicates (by request_id, within the batch or with events stored before) are counted, never stored twice.
    Raises BatchTooLarge for more than MAX_EVENTS events (nothing is stored)."""
    if len(events) > MAX_EVENTS:
        raise BatchTooLarge(f"A batch holds at most {MAX_EVENTS:,} events; this one has {len(events):,}.")
    now = now or timezone.now()
    latest = now + FUTURE_SLACK
    errors = BatchErrors()
    result = IngestResult()
    rows: dict[str, list] = {}
    for index, event in enumerate(events):
        row = _validate(index, event, errors, latest)
        if row is None:
            result.rejected += 1
        elif row[0] in rows:
            result.duplicates += 1  # the first of the batch wins, as the database does across batches
        else:
            rows[row[0]] = row
    result.errors, result.errors_omitted = errors.items, errors.omitted
    if not rows:
        return result
    batch = list(rows.values())
    _price_rows(batch)
    inserted, unpriced = _store(batch, now)
    result.accepted, result.unpriced = inserted, unpriced
    result.duplicates += len(batch) - inserted
    from apps.runaway.services import after_usage_ingest

    after_usage_ingest(accepted=inserted)  # asks for a runaway scan soon: one cache add per batch, no query
    return result


def _store(rows: list[list], now: dt.datetime) -> tuple[int, int]:
    """COPY into a temporary table, then one INSERT … ON CONFLICT DO NOTHING: (inserted, inserted unpriced)."""
    columns = ", ".join(STAGE_COLUMNS)
    with transaction.atomic(), connection.cursor() as cur:
        # Dropped first: ON COMMIT DROP only fires at the outermost commit, and a caller may hold a transaction.
        cur.execute(
            f"DROP TABLE IF EXISTS pg_temp.{STAGE_TABLE}; CREATE TEMP TABLE {STAGE_TABLE} ({_STAGE_DDL}) ON COMMIT DROP"
        )
        with cur.copy(f"COPY {STAGE_TABLE} ({columns}) FROM STDIN") as copy:
            write = copy.write_row
            for row in rows:
                write(row)
        cur.execute(
            f"""WITH inserted AS (
                    INSERT INTO {USAGE_TABLE} (received_at, {columns})
                    SELECT %s, {columns} FROM {STAGE_TABLE}
                    ON CONFLICT (request_id) DO NOTHING
                    RETURNING cost
                )
                SELECT count(*), count(*) FILTER (WHERE cost IS NULL) FROM inserted""",  # noqa: S608 — names are constants
            [now],
        )
        inserted, unpriced = cur.fetchone()
    return inserted, unpriced


# --- booking into the ledger -------------------------------------------------------------------------------

# provider → (ServiceName, ServiceProviderName, HostProviderName)
SERVICES = {
    "openai": ("OpenAI API", "OpenAI", "OpenAI"),
    "anthropic": ("Claude API", "Anthropic", "Anthropic"),
    "azure": ("Azure OpenAI", "Microsoft", "Microsoft"),
    "azure_ai": ("Azure AI Foundry Models", "Microsoft", "Microsoft"),
    "bedrock": ("Amazon Bedrock", "AWS", "AWS"),
    "vertex_ai": ("Vertex AI", "Google Cloud", "Google Cloud"),
    "gemini": ("Gemini API", "Google", "Google"),
    "mistral": ("Mistral AI API", "Mistral AI", "Mistral AI"),
    "cohere": ("Cohere API", "Cohere", "Cohere"),
    "groq": ("GroqCloud", "Groq", "Groq"),
    "deepseek": ("DeepSeek API", "DeepSeek", "DeepSeek"),
    "xai": ("xAI API", "xAI", "xAI"),
    "watsonx": ("IBM watsonx.ai", "IBM", "IBM"),
    "together_ai": ("Together AI", "Together AI", "Together AI"),
    "fireworks_ai": ("Fireworks AI", "Fireworks AI", "Fireworks AI"),
    "perplexity": ("Perplexity API", "Perplexity", "Perplexity"),
    "hosted_vllm": ("Self-hosted model (vLLM)", "Self-hosted", "Self-hosted"),
    "openrouter": ("OpenRouter", "OpenRouter", "OpenRouter"),
}
UNKNOWN_SERVICE = ("Generative AI (provider not reported)", "Unknown", "Unknown")
# Who made the model (PublisherName), when it is not the seller: Claude on Bedrock is published by Anthropic.
_PUBLISHERS = (
    (re.compile(r"(^|[./])claude"), "Anthropic"),
    (re.compile(r"(^|[./])(gpt-|o[1-9](-|$)|text-embedding)"), "OpenAI"),
    (re.compile(r"(^|[./])gemini"), "Google"),
    (re.compile(r"(^|[./])(meta\.)?llama"), "Meta"),
    (re.compile(r"(^|[./])(mistral|mixtral|codestral)"), "Mistral AI"),
    (re.compile(r"(^|[./])(cohere\.)?command"), "Cohere"),
)


def service_for(provider: str) -> tuple[str, str, str]:
    if not provider:
        return UNKNOWN_SERVICE
    if provider in SERVICES:
        return SERVICES[provider]
    title = provider.replace("_", " ").title()
    return f"{title} API", title, title


def _publisher(model: str, seller: str) -> str:
    folded = model.lower()
    for pattern, publisher in _PUBLISHERS:
        if pattern.search(folded):
            return publisher
    return seller


_LEDGER_SQL = f"""
WITH resold(provider, kind, pattern) AS (
    SELECT * FROM unnest(%(resold_providers)s::text[], %(resold_kinds)s::text[], %(resold_patterns)s::text[])
), billed AS (
    -- (provider, UTC day) whose own daily cost is in the ledger: estimates for them would count money twice
    SELECT DISTINCT s.kind AS provider, (c.charge_period_start AT TIME ZONE 'UTC')::date AS day
    FROM {COST_TABLE} c JOIN {SOURCE_TABLE} s ON s.id = c.source_id
    WHERE s.kind = ANY(%(kinds)s) AND c.charge_period_start >= %(start)s AND c.charge_period_start < %(end)s
    UNION
    SELECT DISTINCT r.provider, (c.charge_period_start AT TIME ZONE 'UTC')::date
    FROM {COST_TABLE} c JOIN {SOURCE_TABLE} s ON s.id = c.source_id
    JOIN resold r ON r.kind = s.kind AND c.service_name ILIKE r.pattern
    WHERE c.charge_period_start >= %(start)s AND c.charge_period_start < %(end)s AND c.effective_cost <> 0
)
SELECT (e.occurred_at AT TIME ZONE 'UTC')::date AS day, e.provider, e.model, e.agent, e.department, e.api_key_id,
       e.currency, count(*), sum(e.input_tokens)::bigint, sum(e.output_tokens)::bigint, sum(e.cached_tokens)::bigint,
       COALESCE(sum(e.cost), 0), count(*) FILTER (WHERE e.cost IS NULL), bool_and(e.cost_source = 'actual'),
       bool_and(e.cost_source = 'estimate')
FROM {USAGE_TABLE} e
WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
  AND NOT EXISTS (
      SELECT 1 FROM billed b WHERE b.provider = e.provider AND b.day = (e.occurred_at AT TIME ZONE 'UTC')::date
  )
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 1, 2, 3, 4, 5, 6, 7
"""  # noqa: S608 — table names are constants, values go as parameters


def usage_ledger_rows(*, window) -> list[dict]:
    """Ledger rows for the usage events in the window: one per UTC day × provider × model × agent × department
    × API key × currency, leaving out the days whose provider's own daily cost is already in the ledger."""
    with connection.cursor() as cur:
        resold = [
            (provider, kind, pattern)
            for provider, (kinds, patterns) in CLOUD_RESOLD.items()
            for kind in kinds
            for pattern in patterns
        ]
        cur.execute(
            _LEDGER_SQL,
            {
                "kinds": list(RECONCILED_KINDS),
                "start": window.start_at,
                "end": window.end_at,
                "resold_providers": [r[0] for r in resold],
                "resold_kinds": [r[1] for r in resold],
                "resold_patterns": [r[2] for r in resold],
            },
        )
        groups = cur.fetchall()
    rows = []
    for (
        day,
        provider,
        model,
        agent,
        department,
        api_key,
        currency,
        requests,
        inp,
        out,
        cached,
        cost,
        unpriced,
        actual,
        catalog_only,
    ) in groups:
        service, seller, host = service_for(provider)
        charge_start, charge_end = day_bounds(day)
        period_start, period_end = month_bounds(charge_start)
        tags = {k: v for k, v in (("agent", agent), ("department", department), ("api_key", api_key)) if v}
        estimate = not actual
        rows.append(
            ledger_row(
                billing_currency=currency,
                billing_period_start=period_start,
                billing_period_end=period_end,
                charge_period_start=charge_start,
                charge_period_end=charge_end,
                charge_category="Usage",
                charge_frequency="Usage-Based",
                charge_description=f"{model} calls reported as usage events"
                + (" (priced from the model catalog)" if estimate else ""),
                billed_cost=cost,
                effective_cost=cost,
                # ListCost is list price × quantity: known when the catalog priced every call of the row.
                list_cost=cost if catalog_only and not unpriced and currency == ESTIMATE_CURRENCY else None,
                consumed_quantity=Decimal(inp + out),  # tokens: integers, kept as the NUMERIC FOCUS asks for
                consumed_unit="Tokens",
                provider_name=seller,
                publisher_name=_publisher(model, seller),
                host_provider_name=host,
                invoice_issuer_name=seller,
                service_name=service,
                service_category=AI_CATEGORY,
                service_subcategory=GENAI_SUBCATEGORY,
                resource_id=api_key,
                tags=tags,
                x_model=model,
                x_input_tokens=inp,
                x_output_tokens=out,
                x_cached_tokens=cached,
                x_requests=requests,
                x_cost_source="estimate" if estimate else "actual",
                x_extra={"x_UnpricedRequests": unpriced} if unpriced else {},
            )
        )
    return rows


# --- reconciliation ----------------------------------------------------------------------------------------

_RECONCILE_SQL = f"""
WITH estimated AS (
    SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, currency, COALESCE(sum(cost), 0) AS cost, count(*) AS events
    FROM {USAGE_TABLE}
    WHERE provider = %(provider)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
    GROUP BY 1, 2
), billed AS (
    SELECT (c.charge_period_start AT TIME ZONE 'UTC')::date AS day, c.billing_currency AS currency,
           COALESCE(sum(c.effective_cost), 0) AS cost
    FROM {COST_TABLE} c JOIN {SOURCE_TABLE} s ON s.id = c.source_id
    WHERE s.kind = %(kind)s AND c.charge_period_start >= %(start)s AND c.charge_period_start < %(end)s
    GROUP BY 1, 2
)
SELECT COALESCE(e.day, b.day), COALESCE(e.currency, b.currency), COALESCE(e.cost, 0), COALESCE(e.events, 0), b.cost
FROM estimated e FULL OUTER JOIN billed b ON b.day = e.day AND b.currency = e.currency
ORDER BY 1, 2
"""  # noqa: S608 — table names are constants, values go as parameters


_RUN_DAYS_SQL = f"""
SELECT min(charge_period_start AT TIME ZONE 'UTC')::date, max(charge_period_start AT TIME ZONE 'UTC')::date
FROM {COST_TABLE} WHERE run_id = %s
"""  # noqa: S608 — the table name is a constant


def _covered_days(run: IngestionRun) -> tuple[dt.date, dt.date] | None:
    """[first, last + 1) UTC days of the run: its window, or the charge days of what it booked."""
    if run.window_start and run.window_end and run.window_end > run.window_start:
        return run.window_start, run.window_end
    with connection.cursor() as cur:
        cur.execute(
            _RUN_DAYS_SQL,
            [run.pk],
        )
        first, last = cur.fetchone()
    return (first, last + dt.timedelta(days=1)) if first else None


def reconcile_after_booking(*, source, run) -> None:
    """After an OpenAI/Anthropic cost run: compare estimates with the bill for the days it covered, then book
    the usage events again for those days, so their estimates give way to the bill."""
    provider = RECONCILED_KINDS.get(source.kind)
    if provider is None or (not run.rows_loaded and not run.rows_replaced):
        return
    days = _covered_days(run)
    if days is None:
        return
    from .connectors.base import Window

    window = Window(start=days[0], end=days[1])
    with connection.cursor() as cur:
        cur.execute(
            _RECONCILE_SQL, {"provider": provider, "kind": source.kind, "start": window.start_at, "end": window.end_at}
        )
        figures = cur.fetchall()
    now = timezone.now()
    with transaction.atomic():
        # Replaced as a whole: a (day, currency) that no longer has events or costs must not linger.
        UsageReconciliation.objects.filter(provider=provider, day__gte=window.start, day__lt=window.end).delete()
        UsageReconciliation.objects.bulk_create(
            [
                UsageReconciliation(
                    day=day,
                    provider=provider,
                    currency=currency,
                    estimated_cost=estimated,
                    actual_cost=actual,
                    events=events,
                    reconciled_at=now if actual is not None else None,
                )
                for day, currency, estimated, events, actual in figures
            ]
        )
    _rebook_usage(window, trigger=run.trigger)


def _rebook_usage(window, *, trigger: str) -> None:
    from .services import ingestion_run_execute, usage_events_source

    # Checked before usage_events_source(), which creates the source: clients without events get none.
    in_window = {"charge_period_start__gte": window.start_at, "charge_period_start__lt": window.end_at}
    has_events = UsageEvent.objects.filter(occurred_at__gte=window.start_at, occurred_at__lt=window.end_at).exists()
    if not has_events and not CostRecord.objects.filter(source__kind=SourceKind.USAGE_EVENTS, **in_window).exists():
        return
    if trigger not in (IngestionRun.Trigger.SCHEDULE, IngestionRun.Trigger.MANUAL):
        trigger = IngestionRun.Trigger.MANUAL
    # Waits for a usage run already in progress instead of being skipped: the estimates must give way now.
    ingestion_run_execute(source=usage_events_source(), trigger=trigger, window=window, wait=True)
