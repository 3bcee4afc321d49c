"""What the OpenAI and Anthropic connectors share: a JSON-over-HTTPS client, and the daily LLM ledger rows.

HTTP (ApiClient):
- the requests Session comes from the connector's `client_factory(source)` (tests inject one), else a fresh
  one that is closed afterwards; every call has a connect and a read timeout;
- bodies are parsed with `parse_float=Decimal`, so an amount is never a float, not even for a moment;
- `pages()` follows `has_more` / `next_page` (the cursor goes back as `page`), refusing a missing or repeated
  cursor rather than silently booking half a window;
- errors become the connector contract's: 429 → Throttled(retry_after from `retry-after`, in seconds or as
  an HTTP date), 401/403 → CredentialsRejected, 5xx / 408 / timeouts / connection errors →
  ProviderUnavailable, any other 4xx → ConnectorError. Each carries the provider's own error message, with
  the secret scrubbed out of it.

LLM rows (llm_row, UsageGroup, attach_usage, apply_list_prices): both providers report money in a daily
cost API and tokens in a separate usage API. Money only ever comes from cost buckets; token counts are then
laid onto the cost row they explain when exactly one cost row matches (same day, sub-account, model and
meter), and otherwise onto a zero-cost Usage row of their own. Every token is counted once, and no usage
figure ever adds money. See the connector modules for the two mappings.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import requests

from ..focus import AI_CATEGORY, GENAI_SUBCATEGORY, ledger_row, month_bounds, to_decimal
from .base import ConnectorError, CredentialsRejected, FetchResult, ProviderUnavailable, Throttled

TIMEOUT = (10, 60)  # seconds to connect, seconds between bytes: a cost report is small but can be slow
MAX_PAGES = 400  # a 400-day backfill at one bucket a page; more means a cursor that never ends
MILLION = Decimal(1_000_000)
LEDGER_DECIMALS = 12  # CostRecord amounts are NUMERIC(30, 12)


# --- HTTP ------------------------------------------------------------------------------------------------


def retry_after_seconds(headers, *, now: dt.datetime | None = None) -> float | None:
    """`retry-after` as seconds (RFC 9110: delay-seconds or an HTTP date), else `retry-after-ms`."""
    value = (headers.get("retry-after") or "").strip()
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            return max((moment - (now or dt.datetime.now(dt.UTC))).total_seconds(), 0.0)
    millis = (headers.get("retry-after-ms") or "").strip()
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            return None
    return None


class ApiClient:
    """GET JSON from one provider's admin API, with Keel's error classes. Use as a context manager."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        headers: dict[str, str],
        session: requests.Session | None = None,
        secret: str = "",
        credentials_hint: str = "",
        timeout=TIMEOUT,
    ):
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.owns_session = session is None
        self.session = session if session is not None else requests.Session()
        self.secret = secret
        self.credentials_hint = credentials_hint  # appended when the provider refuses the key
        self.timeout = timeout
        self.requests_made = 0

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.owns_session:
            self.session.close()

    def get(self, path: str, params: dict) -> dict:
        """One GET; the parsed JSON object, or one of the connector errors."""
        url = f"{self.base_url}{path}"
        try:
            response = self.session.get(url, params=params, headers=self.headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise ProviderUnavailable(f"{self.provider} did not answer in time ({path}).") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise ProviderUnavailable(
                f"{self.provider} could not be reached ({path}): {exc.__class__.__name__}."
            ) from exc
        except requests.RequestException as exc:
            raise ConnectorError(f"The request to {self.provider} could not be made: {self._scrub(str(exc))}") from exc
        self.requests_made += 1
        self._raise_for_status(response, path)
        try:
            body = json.loads(response.content, parse_float=Decimal, parse_constant=_no_constants)
        except ValueError as exc:
            raise ConnectorError(f"{self.provider} answered {path} with something that is not JSON.") from exc
        if not isinstance(body, dict):
            raise ConnectorError(f"{self.provider} answered {path} with JSON that is not an object.")
        return body

    def pages(self, path: str, params: dict) -> Iterator[dict]:
        """Every page of a paged report: `page` = the previous `next_page` while `has_more` is true."""
        cursor, seen = None, set()
        for _ in range(MAX_PAGES):
            body = self.get(path, {**params, "page": cursor} if cursor else params)
            yield body
            if not body.get("has_more"):
                return
            cursor = body.get("next_page")
            if not cursor:
                raise ConnectorError(f"{self.provider} said more pages of {path} follow but sent no next_page.")
            if cursor in seen:
                raise ConnectorError(f"{self.provider} sent the same next_page twice for {path}; stopping.")
            seen.add(cursor)
        raise ConnectorError(f"{self.provider} sent more than {MAX_PAGES} pages for {path}; stopping.")

    def _raise_for_status(self, response: requests.Response, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        said = f"{self.provider} answered HTTP {status} to {path}: {self._error_message(response)}"
        if status == 429:
            raise Throttled(said, retry_after=retry_after_seconds(response.headers))
        if status in (401, 403):
            raise CredentialsRejected(said + (f" {self.credentials_hint}" if self.credentials_hint else ""))
        if status >= 500 or status == 408:
            raise ProviderUnavailable(said, retry_after=retry_after_seconds(response.headers))
        raise ConnectorError(said)

    def _error_message(self, response: requests.Response) -> str:
        """The provider's own words: OpenAI and Anthropic both send {"error": {"message": …}}."""
        message = ""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict):
                message = str(error.get("message") or error.get("type") or "")
            elif isinstance(error, str):
                message = error
            message = message or str(body.get("message") or "")
        if not message:
            message = " ".join(response.text.split())[:300] or response.reason or "no details"
        return self._scrub(message)

    def _scrub(self, text: str) -> str:
        return text.replace(self.secret, "…") if self.secret else text


def _no_constants(name: str):
    # NaN / Infinity are not JSON numbers; as amounts they would poison every total they touch.
    raise ValueError(f"{name} is not a number")


def open_client(connector, source, **kwargs) -> ApiClient:
    """An ApiClient on the connector's injected Session (tests) or a new one."""
    session = connector.client_factory(source) if connector.client_factory else None
    return ApiClient(session=session, **kwargs)


# --- LLM ledger rows -------------------------------------------------------------------------------------

# SkuMeter values, shared by both providers: the key a usage count is matched on.
INPUT = "Input Tokens"  # input not read from a cache
CACHE_READ = "Cache Read Tokens"
CACHE_WRITE = "Cache Write Tokens"
CACHE_WRITE_5M = "Cache Write Tokens (5m)"
CACHE_WRITE_1H = "Cache Write Tokens (1h)"
OUTPUT = "Output Tokens"
AUDIO_INPUT = "Audio Input Tokens"
AUDIO_OUTPUT = "Audio Output Tokens"
WEB_SEARCH = "Web Search Requests"
REQUESTS = "Requests"

# meter -> (ConsumedUnit, x_ token column or None). The token columns never overlap: x_input_tokens is input
# not read from a cache (cache writes included), x_cached_tokens the cache reads, x_output_tokens the output,
# so a sum over any set of rows counts each token once; all input = x_input_tokens + x_cached_tokens.
METERS: dict[str, tuple[str, str | None]] = {
    INPUT: ("Tokens", "x_input_tokens"),
    CACHE_WRITE: ("Tokens", "x_input_tokens"),
    CACHE_WRITE_5M: ("Tokens", "x_input_tokens"),
    CACHE_WRITE_1H: ("Tokens", "x_input_tokens"),
    AUDIO_INPUT: ("Tokens", "x_input_tokens"),
    CACHE_READ: ("Tokens", "x_cached_tokens"),
    OUTPUT: ("Tokens", "x_output_tokens"),
    AUDIO_OUTPUT: ("Tokens", "x_output_tokens"),
    WEB_SEARCH: ("Requests", None),
    REQUESTS: ("Requests", None),
}
CACHE_WRITE_METERS = (CACHE_WRITE, CACHE_WRITE_5M, CACHE_WRITE_1H)
# Order in which a usage group's counts are laid out; model requests go with the first row that gets tokens.
METER_ORDER = (INPUT, CACHE_READ, CACHE_WRITE, CACHE_WRITE_5M, CACHE_WRITE_1H, OUTPUT, AUDIO_INPUT, AUDIO_OUTPUT)


@dataclass(frozen=True)
class Provider:
    """The fixed FOCUS names of one LLM provider's rows."""

    name: str  # ServiceProviderName, PublisherName, HostProviderName, InvoiceIssuerName
    service: str  # ServiceName
    catalog: str  # provider name for apps.catalog
    sub_account_type: str  # SubAccountType: "Project", "Workspace"


def charge_category(amount: Decimal) -> str:
    # A negative daily amount is money given back (promotional credit, refund), not usage.
    return "Credit" if amount < 0 else "Usage"


def llm_row(
    provider: Provider,
    *,
    start: dt.datetime,
    end: dt.datetime,
    amount: Decimal,
    currency: str,
    billing_account_id: str,
    billing_account_name: str,
    sub_account_id: str,
    sub_account_name: str = "",
    description: str = "",
    sku_meter: str = "",
    model: str = "",
    token_type: str = "",
    extra: dict | None = None,
) -> dict:
    """One FOCUS row of LLM spend for one day. Amount is the provider's figure; ListCost is set later."""
    period_start, period_end = month_bounds(start)
    return ledger_row(
        billing_account_id=billing_account_id,
        billing_account_name=billing_account_name,
        billing_currency=currency,
        billing_period_start=period_start,
        billing_period_end=period_end,
        charge_period_start=start,
        charge_period_end=end,
        charge_category=charge_category(amount),
        charge_frequency="Usage-Based",
        charge_description=description,
        billed_cost=amount,
        effective_cost=amount,
        contracted_cost=amount,  # pay-as-you-go: the provider's price is the contracted price
        list_cost=amount,  # replaced by catalog price × tokens where the catalog knows the meter
        provider_name=provider.name,
        publisher_name=provider.name,
        host_provider_name=provider.name,
        invoice_issuer_name=provider.name,
        service_name=provider.service,
        service_category=AI_CATEGORY,
        service_subcategory=GENAI_SUBCATEGORY,
        sub_account_id=sub_account_id,
        sub_account_name=sub_account_name,
        sub_account_type=provider.sub_account_type if sub_account_id else "",
        sku_meter=sku_meter,
        x_model=model,
        x_token_type=token_type,
        x_cost_source="actual",
        x_extra=dict(extra or {}),
    )


def match_key(day: dt.date, sub_account_id: str, model: str, meter: str) -> tuple:
    return (day, sub_account_id, (model or "").lower(), meter)


@dataclass
class UsageGroup:
    """What a usage API reported for one day, sub-account and model: counts per meter, model requests."""

    day: dt.date
    start: dt.datetime
    end: dt.datetime
    sub_account_id: str
    model: str
    counts: dict[str, int] = field(default_factory=dict)
    requests: int | None = None

    def add(self, meter: str, count) -> None:
        count = int(count or 0)
        if count:
            self.counts[meter] = self.counts.get(meter, 0) + count


class UsageGroups:
    """Usage results summed by (day, sub-account, model): a key reported twice is counted once."""

    def __init__(self):
        self.groups: dict[tuple, UsageGroup] = {}

    def group(self, *, start: dt.datetime, end: dt.datetime, sub_account_id: str, model: str) -> UsageGroup:
        key = (start.date(), sub_account_id, (model or "").lower())
        if key not in self.groups:
            self.groups[key] = UsageGroup(start.date(), start, end, sub_account_id, model or "")
        return self.groups[key]

    def __iter__(self):
        return iter(self.groups.values())


def _put_count(row: dict, meter: str, count: int) -> None:
    unit, column = METERS[meter]
    row["consumed_quantity"] = Decimal(count)
    row["consumed_unit"] = unit
    if unit == "Tokens":
        row["pricing_quantity"] = Decimal(count) / MILLION  # exact: a power of ten
        row["pricing_unit"] = "1000000 Tokens"
    else:
        row["pricing_quantity"] = Decimal(count)
        row["pricing_unit"] = unit
    if column:
        row[column] = (row[column] or 0) + count
    if meter in CACHE_WRITE_METERS:
        row["x_extra"]["x_CacheWriteTokens"] = row["x_extra"].get("x_CacheWriteTokens", 0) + count


def attach_usage(
    cost_rows: list[tuple[tuple | None, dict]],
    usage: UsageGroups,
    usage_row: Callable[[UsageGroup, str], dict],
) -> tuple[list[dict], dict]:
    """Lay usage counts onto cost rows without ever adding money. Returns (all rows, counters).

    cost_rows: (match_key or None, row) per cost result. A count goes onto the cost row with the same key when
    exactly one has it; two (e.g. standard and batch lines of one model and token type) would make any split a
    guess, so then — and when there is none — the count gets a zero-cost row from `usage_row(group, meter)`.
    """
    index: dict[tuple, list[dict]] = {}
    for key, row in cost_rows:
        if key is not None:
            index.setdefault(key, []).append(row)
    rows = [row for _, row in cost_rows]
    stats = {"counts_on_cost_rows": 0, "usage_only_rows": 0}
    order = {meter: i for i, meter in enumerate((*METER_ORDER, WEB_SEARCH))}
    for group in usage:
        requests_row = None
        for meter in sorted(group.counts, key=lambda m: order.get(m, len(order))):
            matches = index.get(match_key(group.day, group.sub_account_id, group.model, meter), [])
            if len(matches) == 1 and matches[0]["consumed_quantity"] is None:
                target = matches[0]
                stats["counts_on_cost_rows"] += 1
            else:
                target = usage_row(group, meter)
                rows.append(target)
                stats["usage_only_rows"] += 1
            _put_count(target, meter, group.counts[meter])
            if requests_row is None and METERS[meter][1]:
                requests_row = target
        if group.requests:
            if requests_row is None:
                requests_row = usage_row(group, REQUESTS)
                _put_count(requests_row, REQUESTS, group.requests)
                rows.append(requests_row)
                stats["usage_only_rows"] += 1
            requests_row["x_requests"] = (requests_row["x_requests"] or 0) + group.requests
    return rows, stats


# Catalog price field per meter (USD per token); raw keys are LiteLLM's own names.
_PRICE_FIELDS = {
    INPUT: "input_cost_per_token",
    OUTPUT: "output_cost_per_token",
    CACHE_READ: "cache_read_input_token_cost",
    CACHE_WRITE: "cache_creation_input_token_cost",
    CACHE_WRITE_5M: "cache_creation_input_token_cost",
}
_RAW_PRICE_KEYS = {
    CACHE_WRITE_1H: "cache_creation_input_token_cost_above_1hr",
    AUDIO_INPUT: "input_cost_per_audio_token",
    AUDIO_OUTPUT: "output_cost_per_audio_token",
}


def _catalog_price(entry, meter: str) -> Decimal | None:
    if meter in _PRICE_FIELDS:
        value = getattr(entry, _PRICE_FIELDS[meter], None)
    else:
        value = (entry.raw or {}).get(_RAW_PRICE_KEYS.get(meter, ""))
    try:
        return None if value in (None, "") else Decimal(str(value))
    except ArithmeticError:
        return None


def apply_list_prices(rows: list[dict], provider: Provider, *, priceable: Callable[[dict], bool]) -> int:
    """ListUnitPrice (per 1M tokens) and ListCost = list price × tokens from the model catalog, on cost rows
    that carry their tokens and are billed at the standard rate (`priceable`); elsewhere ListCost stays equal
    to BilledCost. Catalog prices are USD, so only USD rows are priced. Returns how many rows were priced."""
    wanted = [
        row
        for row in rows
        if row["x_model"]
        and row["consumed_unit"] == "Tokens"
        and row["billed_cost"] is not None
        and row["billed_cost"] > 0
        and row["billing_currency"] == "USD"
        and priceable(row)
    ]
    if not wanted:
        return 0
    from apps.catalog.selectors import catalog_entries_for

    entries = catalog_entries_for({(provider.catalog, row["x_model"]) for row in wanted})
    priced = 0
    for row in wanted:
        entry = entries.get((provider.catalog, row["x_model"]))
        price = _catalog_price(entry, row["sku_meter"]) if entry is not None else None
        if price is None:
            continue
        row["list_unit_price"] = price * MILLION
        row["list_cost"] = price * row["consumed_quantity"]
        priced += 1
    return priced


def amount_of(value) -> Decimal | None:
    """focus.to_decimal, refusing NaN and Infinity (a string "NaN" is a valid Decimal and PostgreSQL numeric)."""
    amount = to_decimal(value)
    if amount is not None and not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return amount


def too_precise(amount: Decimal) -> bool:
    """More decimals than the ledger keeps: PostgreSQL would round it, so the run says so."""
    exponent = amount.as_tuple().exponent
    return isinstance(exponent, int) and -exponent > LEDGER_DECIMALS


def cost_and_usage_result(
    cost_rows: list,
    usage,
    *,
    provider: str,
    priceable,
    account_id: str,
    account_name: str,
    usage_description: str,
    usage_token_types: dict[str, str],
    sub_account_name: Callable[[str], str] = lambda _id: "",
    pages: tuple[int, int],
    requests_made: int,
    notes,
) -> FetchResult:
    """The fetch result both LLM connectors return: cost rows with their tokens attached, list-priced; tokens
    no cost row can take go on zero-cost usage rows (never priced here: money comes from the cost API)."""
    currencies = {row["billing_currency"] for _, row in cost_rows}
    usage_currency = currencies.pop() if len(currencies) == 1 else "USD"

    def usage_row(group: UsageGroup, meter: str) -> dict:
        return llm_row(
            provider,
            start=group.start,
            end=group.end,
            amount=Decimal(0),
            currency=usage_currency,
            billing_account_id=account_id,
            billing_account_name=account_name,
            sub_account_id=group.sub_account_id,
            sub_account_name=sub_account_name(group.sub_account_id),
            description=usage_description,
            sku_meter=meter,
            model=group.model,
            token_type=usage_token_types.get(meter, ""),
            extra={"x_UsageOnly": True},
        )

    rows, stats = attach_usage(cost_rows, usage, usage_row)
    priced = apply_list_prices(rows, provider, priceable=priceable)
    return FetchResult(
        rows=rows,
        scope="window",
        details={
            "pages": pages[0] + pages[1],
            "pages_costs": pages[0],
            "pages_usage": pages[1],
            "requests": requests_made,
            "cost_rows": len(cost_rows),
            "list_priced_rows": priced,
            **stats,
            "notes": notes,
        },
    )
