"""FOCUS ⇄ ledger: which FOCUS column lands in which CostRecord field, with which type.

This table is the one truth for the file loader (SQL transform of a raw upload), the Python-row path used
by API connectors, and the FOCUS export. Names follow FOCUS 1.2, with the 1.3 provider columns and the
older names (0.5 / 1.0-preview) as aliases so files of every version since 1.0 load.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

TEXT, NUMERIC, TIMESTAMP, JSON, BIGINT = "text", "numeric", "timestamptz", "jsonb", "bigint"


@dataclass(frozen=True)
class LedgerColumn:
    field: str  # CostRecord field / SQL column
    focus: str  # FOCUS column written on export
    type: str
    aliases: tuple[str, ...] = ()  # other names accepted on import, in order of preference after `focus`


# Order matters only for export; each FOCUS name appears once.
LEDGER_COLUMNS: tuple[LedgerColumn, ...] = (
    LedgerColumn("availability_zone", "AvailabilityZone", TEXT),
    LedgerColumn("billed_cost", "BilledCost", NUMERIC),
    LedgerColumn("billing_account_id", "BillingAccountId", TEXT),
    LedgerColumn("billing_account_name", "BillingAccountName", TEXT),
    LedgerColumn("billing_account_type", "BillingAccountType", TEXT),
    LedgerColumn("billing_currency", "BillingCurrency", TEXT),
    LedgerColumn("billing_period_end", "BillingPeriodEnd", TIMESTAMP),
    LedgerColumn("billing_period_start", "BillingPeriodStart", TIMESTAMP),
    LedgerColumn("charge_category", "ChargeCategory", TEXT, ("ChargeType",)),
    LedgerColumn("charge_class", "ChargeClass", TEXT),
    LedgerColumn("charge_description", "ChargeDescription", TEXT),
    LedgerColumn("charge_frequency", "ChargeFrequency", TEXT),
    LedgerColumn("charge_period_end", "ChargePeriodEnd", TIMESTAMP),
    LedgerColumn("charge_period_start", "ChargePeriodStart", TIMESTAMP),
    LedgerColumn("commitment_discount_category", "CommitmentDiscountCategory", TEXT),
    LedgerColumn("commitment_discount_id", "CommitmentDiscountId", TEXT),
    LedgerColumn("commitment_discount_status", "CommitmentDiscountStatus", TEXT),
    LedgerColumn("consumed_quantity", "ConsumedQuantity", NUMERIC, ("UsageQuantity",)),
    LedgerColumn("consumed_unit", "ConsumedUnit", TEXT, ("UsageUnit",)),
    LedgerColumn("contracted_cost", "ContractedCost", NUMERIC),
    LedgerColumn("contracted_unit_price", "ContractedUnitPrice", NUMERIC),
    LedgerColumn("effective_cost", "EffectiveCost", NUMERIC, ("AmortizedCost",)),
    LedgerColumn("host_provider_name", "HostProviderName", TEXT),
    LedgerColumn("invoice_id", "InvoiceId", TEXT),
    LedgerColumn("invoice_issuer_name", "InvoiceIssuerName", TEXT, ("InvoiceIssuer",)),
    LedgerColumn("list_cost", "ListCost", NUMERIC),
    LedgerColumn("list_unit_price", "ListUnitPrice", NUMERIC),
    LedgerColumn("pricing_category", "PricingCategory", TEXT),
    LedgerColumn("pricing_currency", "PricingCurrency", TEXT),
    LedgerColumn("pricing_currency_effective_cost", "PricingCurrencyEffectiveCost", NUMERIC),
    LedgerColumn("pricing_quantity", "PricingQuantity", NUMERIC),
    LedgerColumn("pricing_unit", "PricingUnit", TEXT),
    # 1.3 names the seller ServiceProviderName and deprecates ProviderName; older files only have the latter.
    LedgerColumn("provider_name", "ServiceProviderName", TEXT, ("ProviderName", "Provider")),
    LedgerColumn("publisher_name", "PublisherName", TEXT, ("Publisher",)),
    LedgerColumn("region_id", "RegionId", TEXT, ("Region",)),
    LedgerColumn("region_name", "RegionName", TEXT),
    LedgerColumn("resource_id", "ResourceId", TEXT),
    LedgerColumn("resource_name", "ResourceName", TEXT),
    LedgerColumn("resource_type", "ResourceType", TEXT),
    LedgerColumn("service_category", "ServiceCategory", TEXT),
    LedgerColumn("service_name", "ServiceName", TEXT),
    LedgerColumn("service_subcategory", "ServiceSubcategory", TEXT),
    LedgerColumn("sku_id", "SkuId", TEXT),
    LedgerColumn("sku_meter", "SkuMeter", TEXT),
    LedgerColumn("sku_price_id", "SkuPriceId", TEXT),
    LedgerColumn("sub_account_id", "SubAccountId", TEXT),
    LedgerColumn("sub_account_name", "SubAccountName", TEXT),
    LedgerColumn("sub_account_type", "SubAccountType", TEXT),
    LedgerColumn("tags", "Tags", JSON),
    LedgerColumn("x_model", "x_Model", TEXT, ("x_ModelName", "x_ModelId")),
    LedgerColumn("x_token_type", "x_TokenType", TEXT),
    LedgerColumn("x_input_tokens", "x_InputTokens", BIGINT),
    LedgerColumn("x_output_tokens", "x_OutputTokens", BIGINT),
    LedgerColumn("x_cached_tokens", "x_CacheReadTokens", BIGINT, ("x_CachedTokens",)),
    LedgerColumn("x_requests", "x_Requests", BIGINT),
    LedgerColumn("x_cost_source", "x_CostSource", TEXT),
)

COLUMN_BY_FIELD = {c.field: c for c in LEDGER_COLUMNS}
LEDGER_FIELDS = tuple(c.field for c in LEDGER_COLUMNS) + ("x_extra",)
# What a file must carry for Keel to book it (FOCUS mandatory columns that the ledger cannot do without).
REQUIRED_FIELDS = (
    "billed_cost",
    "effective_cost",
    "billing_currency",
    "billing_period_start",
    "billing_period_end",
    "charge_period_start",
    "charge_period_end",
    "charge_category",
    "service_name",
    "provider_name",
)
NOT_NULL_TEXT_FIELDS = ("billing_currency", "charge_category", "service_name", "provider_name", "service_category")

SERVICE_CATEGORIES = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)
CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
AI_CATEGORY, GENAI_SUBCATEGORY = "AI and Machine Learning", "Generative AI"


def header_lookup(headers: list[str]) -> dict[str, str]:
    """Map ledger fields to the file's header names (case-insensitive, first of focus name then aliases)."""
    folded = {h.strip().lower(): h for h in headers}
    found: dict[str, str] = {}
    for column in LEDGER_COLUMNS:
        for name in (column.focus, *column.aliases):
            if name.lower() in folded:
                found[column.field] = folded[name.lower()]
                break
    return found


def extension_headers(headers: list[str], mapped: dict[str, str]) -> list[str]:
    """Every column no ledger field takes (x_ columns, FOCUS columns Keel has no field for, a provider's own
    extras): kept in x_extra under the file's header, so nothing a file carries is lost and exports give it back."""
    used = set(mapped.values())
    # A deprecated twin of a mapped column (ProviderName beside ServiceProviderName) is the ledger field's
    # fallback, not an extra: storing it again in x_extra would double every 1.3 row.
    twins = {
        name.lower() for field in mapped for name in (COLUMN_BY_FIELD[field].focus, *COLUMN_BY_FIELD[field].aliases)
    }
    return [h for h in headers if h not in used and h.strip() and h.strip().lower() not in twins]


def detect_version(headers: list[str]) -> str:
    names = {h.strip().lower() for h in headers}
    if "serviceprovidername" in names or "hostprovidername" in names:
        return "1.3"
    if "invoiceid" in names or "pricingcurrency" in names or "billingaccounttype" in names:
        return "1.2"
    if "skumeter" in names or "servicesubcategory" in names:
        return "1.1"
    if "chargeclass" in names or "regionid" in names or "consumedquantity" in names:
        return "1.0"
    if "amortizedcost" in names or "chargetype" in names:
        return "0.5"
    return "unknown"


# --- Python values for the connector path -----------------------------------------------------------


def to_decimal(value) -> Decimal | None:
    """Provider amounts arrive as strings, ints or (BigQuery, OpenAI) floats; floats go through repr."""
    if value is None or value == "" or value == "NULL":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a number") from exc
    if not number.is_finite():  # PostgreSQL would store NaN, and one NaN poisons every total
        raise ValueError(f"{value!r} is not a finite number")
    return number


def to_utc(value) -> dt.datetime | None:
    """ISO 8601 with or without T/Z, a date, epoch seconds, or an aware/naive datetime → aware UTC."""
    if value is None or value == "" or value == "NULL":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, int) and 19000101 <= value <= 29991231:  # Azure's UsageDate arrives as 20250101
        return to_utc(str(value))
    elif isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    else:
        text = str(value).strip().replace("Z", "+00:00")
        if len(text) == 8 and text.isdigit():  # Azure's 20250101
            text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
        moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def month_bounds(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The UTC calendar month containing `moment`: FOCUS billing periods are [1st 00:00Z, next 1st)."""
    start = dt.datetime(moment.year, moment.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(moment.year + (moment.month == 12), moment.month % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def parse_tags(value) -> dict:
    """Tags as a dict: JSON text, Azure's legacy fragment without braces, or already a dict/list of pairs."""
    if value in (None, "", "NULL"):
        return {}
    if isinstance(value, dict):
        return {str(k): ("true" if v is None else str(v)) for k, v in value.items()}
    if isinstance(value, list):  # [{"key": k, "value": v}] as GCP labels
        return {str(item.get("key")): str(item.get("value", "true")) for item in value if isinstance(item, dict)}
    text = str(value).strip()
    if not text.startswith("{"):
        text = "{" + text + "}"
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"tags {str(value)[:80]!r} are not JSON") from exc
    return parse_tags(parsed) if isinstance(parsed, dict) else {}


def blank_row() -> dict:
    """A ledger row with every field absent: text '', numbers None, tags {}."""
    row: dict = {}
    for column in LEDGER_COLUMNS:
        row[column.field] = "" if column.type == TEXT else ({} if column.type == JSON else None)
    row["x_cost_source"] = "actual"
    row["x_extra"] = {}
    return row


def ledger_row(**values) -> dict:
    """Build a ledger row from keyword values, filling defaults; unknown keys are a programming error."""
    row = blank_row()
    unknown = set(values) - set(row)
    if unknown:
        raise KeyError(f"Not ledger fields: {sorted(unknown)}")
    for key, value in values.items():
        column = COLUMN_BY_FIELD.get(key)
        row[key] = "" if value is None and column is not None and column.type == TEXT else value
    if not row["service_category"]:
        row["service_category"] = "Other"
    return row
