"""Azure: Cost Management queries (daily totals) and Cost Management exports read from a storage container.

- CostQueryConnector (azure_cost_query) POSTs `{scope}/providers/Microsoft.CostManagement/query` for daily
  costs grouped by two dimensions, once as ActualCost (→ BilledCost) and once as AmortizedCost
  (→ EffectiveCost), follows every `nextLink` and books one Usage row per day × group × currency. Good for a
  quick start and daily trends; it cannot tell purchases from usage (the API allows two groupings only).
- ExportConnector (azure_export) reads the runs a scheduled Cost Management export wrote to a container:
  FocusCost files go to the FOCUS file loader unchanged; ActualCost ("cost details", EA and MCA) files are
  mapped here, row by row (`actual_cost_rows`), with Microsoft's open data for services and pricing units.

Both replace what they booked before: the query a charge-period window, the exports whole billing months.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from ..focus import day_bounds, ledger_row, month_bounds, parse_tags, to_decimal
from .base import (
    ConnectionResult,
    Connector,
    ConnectorError,
    CredentialsRejected,
    FetchResult,
    FieldSpec,
    ProviderUnavailable,
    Throttled,
    Window,
)

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PROVIDER = "Microsoft"

# --- mapping: Cost Management query ---------------------------------------------------------------------
# The query answers with positional rows; `properties.columns` names them. Column (lower-case) → meaning.
QUERY_COLUMNS = {
    "usagedate": "day",  # 20250101 (a number) with Daily granularity
    "cost": "cost",  # EA / MCA
    "pretaxcost": "cost",  # pay-as-you-go and older offers
    "totalcost": "cost",  # the aggregation's alias, should a version echo it
    "currency": "currency",
    "servicename": "service_name",  # Cost Management's ServiceName is the meter category ("Storage", …)
    "resourcegroupname": "resource_group",
    "resourcegroup": "resource_group",
    "subscriptionid": "subscription_id",
    "subscriptionname": "subscription_name",
}
QUERY_GROUPINGS = {  # setting → the two Dimension groupings sent (the API allows at most two)
    "SubscriptionId": ("SubscriptionId", "ServiceName"),
    "ResourceGroupName": ("ResourceGroupName", "ServiceName"),
}
QPU_RETRY_AFTER = "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after"
QPU_REMAINING = "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining"
MAX_QUERY_DAYS = 365  # a Custom time period may not span more than a year: longer windows are split
MAX_PAGES = 1000  # a nextLink chain longer than this is a provider bug, not data

# Cost Management's ServiceName values (meter categories) that Services.csv names differently or not at all.
METER_CATEGORY_ALIASES = {
    "storage": "storage accounts",
    "azure data factory v2": "azure data factory",
    "redis cache": "azure cache for redis",
    "container registry": "azure container registry",
    "sql database": "azure sql database",
    "azure cosmos db": "cosmos db",
    "backup": "azure backup",
    "azure database for postgresql": "azure db for postgresql",
    "azure database for mysql": "azure db for mysql",
}
METER_CATEGORY_FALLBACK = {  # (ServiceCategory, ServiceSubcategory)
    "bandwidth": ("Networking", "Network Connectivity"),
    "log analytics": ("Management and Governance", "Observability"),
    "insight and analytics": ("Management and Governance", "Observability"),
    "advanced threat protection": ("Security", "Threat Detection and Response"),
    "sentinel": ("Security", "Threat Detection and Response"),
    "cognitive services": ("AI and Machine Learning", "AI Platforms"),
    "foundry tools": ("AI and Machine Learning", "AI Platforms"),
    "foundry models": ("AI and Machine Learning", "Generative AI"),
    "azure openai": ("AI and Machine Learning", "Generative AI"),
    "azure openai service": ("AI and Machine Learning", "Generative AI"),
}
# Meter text that marks model (token) spend inside Azure AI services: FOCUS's Generative AI subcategory.
GENAI_MARKERS = re.compile(r"openai|gpt|foundry models|llama|mistral|phi-\d|deepseek|grok", re.IGNORECASE)

# --- mapping: ActualCost / cost-details export files ----------------------------------------------------
# Ledger input → header names, first present wins (case-insensitive: MCA files use camelCase).
ACTUAL_COST_COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("Date", "UsageDate", "UsageDateTime"),
    "cost": ("CostInBillingCurrency", "Cost", "PreTaxCost"),
    "currency": ("BillingCurrencyCode", "BillingCurrency", "Currency"),
    # MCA invoices per billing profile, EA per enrollment (there both ids are the enrollment number).
    "billing_account_id": ("BillingProfileId", "BillingAccountId"),
    "billing_account_name": ("BillingProfileName", "BillingAccountName"),
    "billing_period_start": ("BillingPeriodStartDate",),
    "billing_period_end": ("BillingPeriodEndDate",),  # inclusive last day
    "subscription_id": ("SubscriptionId", "SubscriptionGuid"),
    "subscription_name": ("SubscriptionName",),
    "resource_group": ("ResourceGroup", "ResourceGroupName"),
    "location": ("ResourceLocation",),
    "meter_category": ("MeterCategory",),
    "meter_subcategory": ("MeterSubCategory",),
    "meter_name": ("MeterName",),
    "meter_id": ("MeterId",),
    "consumed_service": ("ConsumedService",),
    "resource_id": ("ResourceId", "InstanceId"),
    "resource_name": ("ResourceName",),
    "unit_of_measure": ("UnitOfMeasure",),
    "quantity": ("Quantity", "UsageQuantity"),
    "unit_price": ("UnitPrice",),
    "effective_price": ("EffectivePrice",),
    "payg_price": ("PayGPrice",),
    "tags": ("Tags",),
    "charge_type": ("ChargeType",),
    "frequency": ("Frequency",),
    "pricing_model": ("PricingModel",),
    "publisher_type": ("PublisherType",),
    "publisher_name": ("PublisherName",),
    "product_name": ("ProductName", "Product"),
    "part_number": ("PartNumber", "ProductId"),
    "invoice_id": ("InvoiceId",),
    "invoice_section": ("InvoiceSectionName",),
    "cost_center": ("CostCenter",),
    "availability_zone": ("AvailabilityZone",),
    "benefit_id": ("BenefitId", "ReservationId"),
    "benefit_name": ("BenefitName", "ReservationName"),
}
ACTUAL_COST_REQUIRED = ("date", "cost", "currency")
CHARGE_TYPES = {  # ChargeType (lower-case) → (ChargeCategory, ChargeClass)
    "": ("Usage", ""),
    "usage": ("Usage", ""),
    "unusedreservation": ("Usage", ""),
    "unusedsavingsplan": ("Usage", ""),
    "purchase": ("Purchase", ""),
    "refund": ("Purchase", "Correction"),  # FOCUS: a refund corrects an earlier purchase
    "tax": ("Tax", ""),
    "roundingadjustment": ("Adjustment", ""),
    "adjustment": ("Adjustment", ""),
    "credit": ("Credit", ""),
}
FREQUENCIES = {"usagebased": "Usage-Based", "onetime": "One-Time", "recurring": "Recurring"}
PRICING_MODELS = {"ondemand": "Standard", "spot": "Dynamic", "reservation": "Committed", "savingsplan": "Committed"}
COMMITMENT_CATEGORIES = {"reservation": "Usage", "savingsplan": "Spend"}
EXPORT_DATASETS = (("FocusCost", "FocusCost (FOCUS 1.0/1.2, recommended)"), ("ActualCost", "ActualCost (cost details)"))
EXPORT_RANGE = re.compile(r"^(\d{8})-(\d{8})$")  # the billing-month folder: 20250101-20250131
DATA_SUFFIXES = (".csv", ".csv.gz", ".gz", ".parquet")


# --- Microsoft open data: services and pricing units ----------------------------------------------------


@dataclass(frozen=True)
class AzureService:
    name: str
    category: str
    subcategory: str = ""
    publisher: str = PROVIDER


@dataclass
class _ServiceTable:
    by_pair: dict[tuple[str, str], AzureService] = field(default_factory=dict)
    by_name: dict[str, AzureService] = field(default_factory=dict)
    by_consumed: dict[str, set[str]] = field(default_factory=dict)
    category_by_consumed: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _services() -> _ServiceTable:
    table = _ServiceTable()
    with open(DATA_DIR / "Services.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            service = AzureService(
                row["ServiceName"], row["ServiceCategory"], row["ServiceSubcategory"], row["PublisherName"] or PROVIDER
            )
            consumed, rtype = row["ConsumedService"].strip().lower(), row["ResourceType"].strip().lower()
            table.by_pair.setdefault((consumed, rtype), service)
            table.by_name.setdefault(service.name.lower(), service)
            if consumed:
                table.by_consumed.setdefault(consumed, set()).add(service.name)
    with open(DATA_DIR / "azure_category_mapping.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            table.category_by_consumed[row["ConsumedService"].strip().lower()] = row["ServiceCategory"]
    return table


def resolve_service(*, consumed_service: str = "", resource_type: str = "", meter_category: str = "") -> AzureService:
    """FOCUS service for an Azure charge, most specific first: (ConsumedService, ResourceType) in Services.csv;
    the meter category as a Services.csv name; the only service of that ConsumedService; the meter category
    with the category of azure_category_mapping.csv."""
    table = _services()
    consumed, rtype, meter = consumed_service.strip().lower(), resource_type.strip().lower(), meter_category.strip()
    if (consumed, rtype) in table.by_pair and rtype:
        return table.by_pair[(consumed, rtype)]
    name = METER_CATEGORY_ALIASES.get(meter.lower(), meter.lower())
    if name in table.by_name:
        return table.by_name[name]
    if meter.lower() in METER_CATEGORY_FALLBACK:
        category, subcategory = METER_CATEGORY_FALLBACK[meter.lower()]
        return AzureService(meter, category, subcategory)
    names = table.by_consumed.get(consumed, set())
    if len(names) == 1:
        return table.by_name[next(iter(names)).lower()]
    category = table.category_by_consumed.get(consumed, "Other")
    return AzureService(meter or consumed_service or "Unassigned", category)


def _with_genai(service: AzureService, *texts: str) -> tuple[str, str]:
    """Model spend inside Azure AI services is Generative AI (FOCUS: LLM spend is AI/GenAI Usage)."""
    if service.category == "AI and Machine Learning" and any(GENAI_MARKERS.search(t or "") for t in texts):
        return service.category, "Generative AI"
    return service.category, service.subcategory


@lru_cache(maxsize=1)
def _pricing_units() -> dict[str, tuple[Decimal, str]]:
    units: dict[str, tuple[Decimal, str]] = {}
    with open(DATA_DIR / "PricingUnits.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            units.setdefault(row["UnitOfMeasure"], (Decimal(row["PricingBlockSize"]), row["DistinctUnits"]))
    return units


def pricing_unit(unit_of_measure: str) -> tuple[Decimal, str]:
    """UnitOfMeasure ("10K", "1 Hour", "100 Hours") → (block size, distinct unit); unknown → (1, as written)."""
    units = _pricing_units()
    found = units.get(unit_of_measure) or units.get(unit_of_measure.strip())
    return found if found else (Decimal(1), unit_of_measure.strip())


def resource_type_of(resource_id: str) -> str:
    """`/subscriptions/…/providers/Microsoft.Compute/virtualMachines/vm1` → `microsoft.compute/virtualmachines`."""
    parts = [p for p in resource_id.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return ""
    i = len(lowered) - 1 - lowered[::-1].index("providers")
    rest = parts[i + 1 :]
    if not rest or "." not in rest[0]:
        return ""
    types = [rest[0], *rest[1::2]]
    return "/".join(types).lower()


# --- errors ---------------------------------------------------------------------------------------------


def _retry_after(headers) -> float | None:
    for name in (QPU_RETRY_AFTER, "Retry-After", "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after"):
        value = headers.get(name) if headers is not None else None
        if value:
            try:
                return max(float(value), 0.0)
            except ValueError:
                continue
    return None


def _error_text(body: str) -> tuple[str, str]:
    try:
        error = json.loads(body or "{}").get("error") or {}
    except (ValueError, AttributeError):
        return "", (body or "")[:300]
    if not isinstance(error, dict):
        return "", str(error)[:300]
    return str(error.get("code") or ""), str(error.get("message") or "")[:500]


def azure_status_error(status: int, headers, body: str, *, what: str) -> Exception | None:
    """Keel's connector error for an Azure HTTP answer (None for 2xx)."""
    if 200 <= status < 300:
        return None
    code, message = _error_text(body)
    said = f"{status}{f' {code}' if code else ''}{f': {message}' if message else ''}"
    if status == 429:
        retry_after = _retry_after(headers)
        wait = f" Retry after {retry_after:g} s." if retry_after is not None else ""
        return Throttled(f"{what} is throttling requests ({said}).{wait}", retry_after=retry_after)
    if status in (401, 403):
        return CredentialsRejected(f"{what} refused access ({said}).")
    if status == 408 or status >= 500:
        return ProviderUnavailable(f"{what} is unavailable ({said}).", retry_after=_retry_after(headers))
    if status == 404:
        return ConnectorError(f"{what} does not know this scope or resource ({said}). Check the settings.")
    return ConnectorError(f"{what} refused the request ({said}).")


def raise_for_azure_status(status: int, headers, body: str, *, what: str) -> None:
    error = azure_status_error(status, headers, body, what=what)
    if error is not None:
        raise error


@contextmanager
def _translate_azure_errors(what: str):
    """Map azure-core exceptions raised inside the block to connector errors."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    try:
        yield
    except ClientAuthenticationError as exc:  # also what azure-identity raises for a bad secret
        raise CredentialsRejected(f"{what} refused the credentials: {_short(exc)}") from exc
    except HttpResponseError as exc:
        response = getattr(exc, "response", None)
        status = getattr(exc, "status_code", None) or getattr(response, "status_code", None) or 0
        try:
            body = response.text() if response is not None else ""
        except Exception:  # a streamed body that was already consumed
            body = ""
        if not body.lstrip().startswith("{"):  # Storage answers in XML: its error code is on the exception
            first_line = (getattr(exc, "message", "") or str(exc)).splitlines()[0] if str(exc) else ""
            body = json.dumps({"error": {"code": getattr(exc, "error_code", "") or "", "message": first_line}})
        error = azure_status_error(int(status), getattr(response, "headers", None), body, what=what)
        raise (error or ConnectorError(f"{what} failed: {_short(exc)}")) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:  # DNS, connection resets, timeouts
        raise ProviderUnavailable(f"{what} could not be reached: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:400]


# --- Cost Management query ------------------------------------------------------------------------------


def _normalise_scope(scope: str) -> str:
    scope = scope.strip().rstrip("/")
    return scope if scope.startswith("/") else "/" + scope


def _usage_day(value) -> dt.date:
    text = str(value).strip()
    if re.fullmatch(r"\d{8}", text):  # 20250101 (a number in JSON)
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return dt.date.fromisoformat(text[:10])


def _chunks(window: Window, days: int) -> list[tuple[dt.date, dt.date]]:
    chunks, start = [], window.start
    while start < window.end:
        end = min(start + dt.timedelta(days=days), window.end)
        chunks.append((start, end))
        start = end
    return chunks


def _raw_response(pipeline_response, deserialized, headers):
    """`cls` for query.usage: keep the raw response so amounts are parsed as Decimal, never float."""
    return pipeline_response.http_response


def _json_body(response, what: str) -> dict:
    if response.status_code == 204:
        return {}
    try:
        return json.loads(response.text() or "{}", parse_float=Decimal)
    except ValueError as exc:
        raise ConnectorError(f"{what} answered with something that is not JSON.") from exc


class CostQueryConnector(Connector):
    kind = "azure_cost_query"
    label = "Azure Cost Management query"
    settings_fields = (
        FieldSpec(
            "scope",
            "Scope",
            "/subscriptions/<id>, /providers/Microsoft.Billing/billingAccounts/<id>[/billingProfiles/<id>], "
            "/providers/Microsoft.Management/managementGroups/<id>, or a CSP …/customers/<id>.",
        ),
        FieldSpec("tenant_id", "Directory (tenant) ID"),
        FieldSpec("client_id", "Application (client) ID"),
        FieldSpec(
            "cost_type",
            "Cost type",
            "Both: ActualCost fills BilledCost and AmortizedCost fills EffectiveCost (two queries per run).",
            required=False,
            choices=(
                ("both", "Actual and amortized"),
                ("ActualCost", "Actual only"),
                ("AmortizedCost", "Amortized only"),
            ),
            default="both",
        ),
        FieldSpec(
            "group_by",
            "Group by",
            "The second grouping is always ServiceName.",
            required=False,
            choices=(
                ("SubscriptionId", "Subscription and service"),
                ("ResourceGroupName", "Resource group and service"),
            ),
            default="SubscriptionId",
        ),
        FieldSpec(
            "cost_column",
            "Cost column",
            "Cost for EA and MCA; PreTaxCost for pay-as-you-go subscriptions.",
            required=False,
            choices=(("Cost", "Cost"), ("PreTaxCost", "PreTaxCost")),
            default="Cost",
        ),
        FieldSpec("billing_account_id", "Billing account ID", "Booked as BillingAccountId; the scope if empty.", False),
        FieldSpec("invoice_issuer", "Invoice issuer", "Who invoices this spend (Microsoft, or the CSP).", False),
    )
    secret_fields = (FieldSpec("client_secret", "Client secret", secret=True),)
    default_interval_minutes = 360  # Cost Management refreshes about every 4 hours; QPU quota is per tenant
    default_lookback_days = 3
    default_backfill_days = 90

    # -- clients

    def _client(self, source, secrets: dict):
        if self.client_factory is not None:
            return self.client_factory(source)
        from azure.identity import ClientSecretCredential
        from azure.mgmt.costmanagement import CostManagementClient

        settings = source.settings
        secret = secrets.get("client_secret", "")
        if not secret:
            raise CredentialsRejected("No client secret is stored for this source.")
        credential = ClientSecretCredential(settings["tenant_id"], settings["client_id"], secret)
        # retry_status=0: a 429 must reach Keel with its QPU retry-after, not be slept on inside a worker.
        return CostManagementClient(credential, retry_total=3, retry_status=0, connection_timeout=30, read_timeout=180)

    # -- queries

    def _definition(self, cost_type: str, start: dt.date, end: dt.date, settings: dict, *, grouped: bool = True):
        from azure.mgmt.costmanagement.models import (
            QueryAggregation,
            QueryDataset,
            QueryDefinition,
            QueryGrouping,
            QueryTimePeriod,
        )

        first, last = Window(start, end).start_at, Window(start, end).end_at - dt.timedelta(seconds=1)
        groups = QUERY_GROUPINGS[settings.get("group_by") or "SubscriptionId"] if grouped else ()
        return QueryDefinition(
            type=cost_type,
            timeframe="Custom",
            time_period=QueryTimePeriod(from_property=first, to=last),  # `to` is inclusive
            dataset=QueryDataset(
                granularity="Daily",
                aggregation={"totalCost": QueryAggregation(name=settings.get("cost_column") or "Cost", function="Sum")},
                grouping=[QueryGrouping(type="Dimension", name=g) for g in groups] or None,
            ),
        )

    def _pages(self, client, scope: str, definition, details: dict) -> Iterator[tuple[list[str], list]]:
        """Every page of one query: the first through query.usage, the rest by POSTing the same body to the
        nextLink (the SDK returns one page; the service pages with $skiptoken)."""
        from azure.core.rest import HttpRequest

        what = "Azure Cost Management"
        with _translate_azure_errors(what):
            response = client.query.usage(scope, definition, cls=_raw_response)
        body = _json_body(response, what)
        self._note_quota(response, details)
        seen: set[str] = set()
        expected_host = urllib.parse.urlsplit(getattr(client._config, "base_url", "") or "").netloc
        payload = definition.as_dict()
        while True:
            details["pages"] = details.get("pages", 0) + 1
            props = body.get("properties") or {}
            columns = [str(c.get("name") or "") for c in props.get("columns") or []]
            yield columns, props.get("rows") or []
            next_link = props.get("nextLink")
            if not next_link:
                return
            host = urllib.parse.urlsplit(next_link).netloc
            if expected_host and host.lower() != expected_host.lower():
                # Never send the bearer token anywhere but Azure Resource Manager.
                raise ConnectorError(f"{what} answered with a nextLink to another host ({host}); stopped.")
            if next_link in seen or len(seen) >= MAX_PAGES:
                raise ConnectorError(f"{what} kept answering with the same next page; stopped after {len(seen)}.")
            seen.add(next_link)
            with _translate_azure_errors(what):
                response = client.send_request(HttpRequest("POST", next_link, json=payload))
            raise_for_azure_status(response.status_code, response.headers, response.text(), what=what)
            body = _json_body(response, what)
            self._note_quota(response, details)

    @staticmethod
    def _note_quota(response, details: dict) -> None:
        remaining = response.headers.get(QPU_REMAINING) if response is not None else None
        if remaining:
            details["qpu_remaining"] = remaining

    def _costs(self, client, scope: str, cost_type: str, window: Window, settings: dict, details: dict) -> dict:
        """(day, currency, group values) → Σ cost, for one cost type over the window."""
        totals: dict[tuple, Decimal] = {}
        for start, end in _chunks(window, MAX_QUERY_DAYS):
            definition = self._definition(cost_type, start, end, settings)
            for columns, rows in self._pages(client, scope, definition, details):
                index = {QUERY_COLUMNS.get(name.lower(), name.lower()): i for i, name in enumerate(columns)}
                if rows and ("day" not in index or "cost" not in index):
                    raise ConnectorError(
                        f"The {cost_type} query answered without UsageDate or a cost column "
                        f"(columns: {', '.join(columns) or 'none'}). Try the other cost column setting."
                    )
                for values in rows:
                    day = _usage_day(values[index["day"]])
                    if not window.start <= day < window.end:
                        continue  # outside what was asked: never booked into the window
                    key = (
                        day,
                        str(values[index["currency"]]) if "currency" in index else "",
                        *(str(values[index[g]] or "") if g in index else "" for g in _group_keys(settings)),
                    )
                    totals[key] = totals.get(key, Decimal(0)) + (to_decimal(values[index["cost"]]) or Decimal(0))
                    details["provider_rows"] = details.get("provider_rows", 0) + 1
        return totals

    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        settings = source.settings
        scope = _normalise_scope(settings["scope"])
        client = self._client(source, secrets)
        cost_type = settings.get("cost_type") or "both"
        details: dict = {"scope": scope, "cost_types": [], "pages": 0}
        actual = amortized = None
        if cost_type in ("both", "ActualCost"):
            actual = self._costs(client, scope, "ActualCost", window, settings, details)
            details["cost_types"].append("ActualCost")
        if cost_type in ("both", "AmortizedCost"):
            amortized = self._costs(client, scope, "AmortizedCost", window, settings, details)
            details["cost_types"].append("AmortizedCost")
        # One cost type only: the other column repeats it (documented: no amortization / not the invoice).
        actual = actual if actual is not None else amortized
        amortized = amortized if amortized is not None else actual
        keys = sorted(set(actual) | set(amortized))
        rows = [
            self._row(key, actual.get(key, Decimal(0)), amortized.get(key, Decimal(0)), scope, settings) for key in keys
        ]
        details["rows"] = len(rows)
        return FetchResult(rows=rows, scope="window", details=details)

    def _row(self, key: tuple, billed: Decimal, effective: Decimal, scope: str, settings: dict) -> dict:
        day, currency, *groups = key
        values = dict(zip(_group_keys(settings), groups, strict=True))
        start, end = day_bounds(day)
        period_start, period_end = month_bounds(start)
        service_name = values.get("service_name") or "Unassigned"
        service = resolve_service(meter_category=service_name)
        category, subcategory = _with_genai(service, service_name)
        subscription = values.get("subscription_id") or _subscription_of(scope)
        extra = {"x_ResourceGroupName": values["resource_group"]} if values.get("resource_group") else {}
        return ledger_row(
            billing_account_id=settings.get("billing_account_id") or scope,
            billing_currency=currency,
            billing_period_start=period_start,
            billing_period_end=period_end,
            charge_period_start=start,
            charge_period_end=end,
            charge_category="Usage",
            charge_description=f"{service_name}, daily total",
            billed_cost=billed,
            effective_cost=effective,
            provider_name=PROVIDER,
            publisher_name=service.publisher,
            host_provider_name=PROVIDER,
            invoice_issuer_name=settings.get("invoice_issuer") or PROVIDER,
            service_name=service_name,
            service_category=category,
            service_subcategory=subcategory,
            sub_account_id=subscription,
            sub_account_type="Subscription" if subscription else "",
            x_extra=extra,
        )

    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        settings = source.settings
        scope = _normalise_scope(settings["scope"])
        client = self._client(source, secrets)
        today = dt.datetime.now(dt.UTC).date()
        window = Window(today - dt.timedelta(days=7), today + dt.timedelta(days=1))
        definition = self._definition("ActualCost", window.start, window.end, settings, grouped=False)
        details: dict = {}
        total, currencies, days = Decimal(0), set(), 0
        for columns, rows in self._pages(client, scope, definition, details):
            index = {QUERY_COLUMNS.get(name.lower(), name.lower()): i for i, name in enumerate(columns)}
            for values in rows:
                days += 1
                if "cost" in index:
                    total += to_decimal(values[index["cost"]]) or Decimal(0)
                if "currency" in index:
                    currencies.add(str(values[index["currency"]]))
        if not days:
            return ConnectionResult(True, f"Connected to {scope}; no costs in the last 7 days yet.")
        spent = ", ".join(f"{total:.2f} {c}" for c in sorted(currencies)) if len(currencies) == 1 else f"{total:.2f}"
        return ConnectionResult(True, f"Connected to {scope}: {spent} actual cost over the last 7 days ({days} days).")


def _group_keys(settings: dict) -> tuple[str, ...]:
    dimensions = QUERY_GROUPINGS[settings.get("group_by") or "SubscriptionId"]
    return tuple(QUERY_COLUMNS[d.lower()] for d in dimensions)


def _subscription_of(scope: str) -> str:
    match = re.match(r"^/subscriptions/([^/]+)", scope, re.IGNORECASE)
    return match.group(1) if match else ""


# --- ActualCost / cost details files --------------------------------------------------------------------


def _parse_day(text: str) -> dt.date:
    """Azure exports write M/D/YYYY (EA), MM/DD/YYYY (MCA) or ISO dates; all are days."""
    text = text.strip()
    if "/" in text:
        month, day, year = (int(p) for p in text.split(" ")[0].split("/"))
        return dt.date(year, month, day)
    return dt.date.fromisoformat(text[:10])


def _open_rows(path: Path) -> tuple[list[str], Iterator[dict]]:
    """Header and dict rows of a CSV, CSV.gz or Parquet file."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        headers = list(parquet.schema_arrow.names)

        def parquet_rows() -> Iterator[dict]:
            for batch in parquet.iter_batches(batch_size=10_000):
                yield from batch.to_pylist()

        return headers, parquet_rows()
    binary = gzip.open(path, "rb") if magic[:2] == b"\x1f\x8b" else open(path, "rb")  # noqa: SIM115
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    headers = [h.strip() for h in (reader.fieldnames or [])]

    def csv_rows() -> Iterator[dict]:
        with text:
            yield from reader

    return headers, csv_rows()


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def actual_cost_rows(
    path: Path | str, *, billing_account_id: str = "", invoice_issuer_name: str = PROVIDER
) -> Iterator[dict]:
    """Ledger rows from an Azure ActualCost / cost-details export file (EA or MCA schema, CSV/CSV.gz/Parquet).

    One ledger row per file row: BilledCost = EffectiveCost = CostInBillingCurrency (actual cost is not
    amortized); PricingQuantity = Quantity in blocks of UnitOfMeasure, ConsumedQuantity = Quantity × block.
    `billing_account_id` is used when the file has no billing account or profile column."""
    path = Path(path)
    headers, records = _open_rows(path)
    folded = {h.lower(): h for h in headers}
    columns = {
        key: next((folded[n.lower()] for n in names if n.lower() in folded), None)
        for key, names in ACTUAL_COST_COLUMNS.items()
    }
    missing = [ACTUAL_COST_COLUMNS[k][0] for k in ACTUAL_COST_REQUIRED if columns[k] is None]
    if missing:
        raise ConnectorError(
            f"{path.name} is not an Azure cost details (ActualCost) file: it has no {', '.join(missing)} column "
            f"(columns: {', '.join(headers[:12])}{'…' if len(headers) > 12 else ''})."
        )
    for number, record in enumerate(records, start=2):  # the header is row 1
        try:
            row = _actual_cost_row(record, columns, billing_account_id, invoice_issuer_name)
        except (ValueError, ArithmeticError) as exc:
            raise ConnectorError(f"{path.name}, row {number}: {exc}") from exc
        row["x_extra"]["x_SourceFile"] = path.name
        yield row


def _actual_cost_row(record: dict, columns: dict, default_account: str, issuer: str) -> dict:
    def get(key: str) -> str:
        header = columns.get(key)
        return _text(record.get(header)) if header else ""

    cost = to_decimal(get("cost"))
    if cost is None:
        raise ValueError(f"{columns['cost']} is empty")
    currency = get("currency")
    if not currency:
        raise ValueError(f"{columns['currency']} is empty")
    day = _parse_day(get("date"))
    charge_start, charge_end = day_bounds(day)
    period_start, period_end = _billing_period(get("billing_period_start"), get("billing_period_end"), charge_start)

    charge_type = get("charge_type").replace(" ", "").lower()
    category, charge_class = CHARGE_TYPES.get(charge_type, ("Usage", ""))
    pricing_model = get("pricing_model").replace(" ", "").lower()
    resource_id = get("resource_id")
    resource_type = resource_type_of(resource_id)
    service = resolve_service(
        consumed_service=get("consumed_service"), resource_type=resource_type, meter_category=get("meter_category")
    )
    service_category, subcategory = _with_genai(
        service, get("meter_subcategory"), get("meter_name"), get("product_name"), get("meter_category")
    )

    quantity = to_decimal(get("quantity"))
    block, distinct_unit = pricing_unit(get("unit_of_measure")) if get("unit_of_measure") else (Decimal(1), "")
    payg, unit_price = to_decimal(get("payg_price")), to_decimal(get("unit_price"))
    usage_like = category == "Usage"
    unused = charge_type in ("unusedreservation", "unusedsavingsplan")
    benefit = get("benefit_id")

    tags_raw = get("tags")
    extra = {
        k: v
        for k, v in {
            "x_ResourceGroupName": get("resource_group"),
            "x_ChargeType": get("charge_type"),
            "x_MeterCategory": get("meter_category"),
            "x_MeterSubCategory": get("meter_subcategory"),
            "x_PricingUnitDescription": get("unit_of_measure"),
            "x_PricingBlockSize": str(block) if get("unit_of_measure") else "",
            "x_EffectivePrice": get("effective_price"),
            "x_InvoiceSectionName": get("invoice_section"),
            "x_CostCenter": get("cost_center"),
        }.items()
        if v
    }
    try:
        tags = parse_tags(tags_raw)
    except ValueError:
        tags = {}
        extra["x_TagsUnparsed"] = tags_raw[:500]

    subscription = get("subscription_id")
    publisher = get("publisher_name") or (
        PROVIDER if get("publisher_type").lower() in ("", "azure", "microsoft") else service.publisher
    )
    location = get("location")
    return ledger_row(
        billing_account_id=get("billing_account_id") or default_account or subscription,
        billing_account_name=get("billing_account_name"),
        billing_currency=currency,
        billing_period_start=period_start,
        billing_period_end=period_end,
        charge_period_start=charge_start,
        charge_period_end=charge_end,
        charge_category=category,
        charge_class=charge_class,
        charge_description=get("product_name") or get("meter_name"),
        charge_frequency=FREQUENCIES.get(get("frequency").replace(" ", "").lower(), ""),
        billed_cost=cost,
        effective_cost=cost,  # actual cost: the invoice view, not amortized
        list_cost=payg * quantity if payg is not None and quantity is not None else None,
        list_unit_price=payg,
        contracted_cost=unit_price * quantity if unit_price is not None and quantity is not None else None,
        contracted_unit_price=unit_price,
        pricing_quantity=quantity,
        pricing_unit=(f"{block:g} {distinct_unit}" if block != 1 else distinct_unit) if distinct_unit else "",
        pricing_category=PRICING_MODELS.get(pricing_model, ""),
        consumed_quantity=quantity * block if usage_like and quantity is not None else None,
        consumed_unit=distinct_unit if usage_like else "",
        commitment_discount_id=benefit,
        commitment_discount_category=COMMITMENT_CATEGORIES.get(pricing_model, "") if benefit else "",
        commitment_discount_status=("Unused" if unused else "Used") if benefit and usage_like else "",
        provider_name=PROVIDER,
        publisher_name=publisher,
        host_provider_name=PROVIDER,
        invoice_issuer_name=issuer or PROVIDER,
        invoice_id=get("invoice_id"),
        service_name=service.name,
        service_category=service_category,
        service_subcategory=subcategory,
        region_id=location.lower().replace(" ", ""),
        region_name=location,
        availability_zone=get("availability_zone"),
        resource_id=resource_id,
        resource_name=get("resource_name"),
        resource_type=resource_type,
        sku_id=get("part_number"),
        sku_price_id=get("meter_id"),
        sku_meter=get("meter_name"),
        sub_account_id=subscription,
        sub_account_name=get("subscription_name"),
        sub_account_type="Subscription" if subscription else "",
        tags=tags,
        x_extra=extra,
    )


def _billing_period(start_text: str, end_text: str, charge_start: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    if start_text and end_text:
        first, last = _parse_day(start_text), _parse_day(end_text)
        if last >= first:
            return day_bounds(first)[0], day_bounds(last)[1]  # the file's end date is inclusive
    return month_bounds(charge_start)


# --- Cost Management exports in storage -----------------------------------------------------------------


@dataclass
class ExportRun:
    """One run of one export for one billing month: its data blobs and, for partitioned exports, its manifest."""

    export_path: str
    range_start: dt.date
    range_end: dt.date  # inclusive, as the folder name says
    key: str
    blobs: list = field(default_factory=list)
    manifest: object | None = None
    manifest_type: str = ""  # exportConfig.type of the manifest, once read

    @property
    def modified(self) -> dt.datetime:
        stamps = [b.last_modified for b in [*self.blobs, self.manifest] if b is not None and b.last_modified]
        return max(stamps) if stamps else dt.datetime.min.replace(tzinfo=dt.UTC)

    @property
    def month(self) -> str:
        return f"{self.range_start:%Y-%m}"

    @property
    def partitioned(self) -> bool:
        return any(b.name.rsplit("/", 1)[-1].lower().startswith("part_") for b in self.blobs)


def _range_of(segment: str) -> tuple[dt.date, dt.date] | None:
    match = EXPORT_RANGE.match(segment)
    if not match:
        return None
    try:
        first, last = (dt.datetime.strptime(g, "%Y%m%d").date() for g in match.groups())
    except ValueError:
        return None
    return first, last


def export_runs(blobs: Iterable) -> tuple[list[ExportRun], list[str]]:
    """Group listed blobs into export runs: <dir>/<export>/<YYYYMMDD-YYYYMMDD>/[<stamp>/<run id>/]<file>.

    Legacy exports without run folders make each file its own run. Returns (runs, warnings)."""
    runs: dict[tuple[str, str, str], ExportRun] = {}
    warnings: list[str] = []
    for blob in blobs:
        parts = blob.name.split("/")
        positions = [i for i, part in enumerate(parts[:-1]) if _range_of(part)]
        if not positions:
            continue
        i = positions[-1]
        first, last = _range_of(parts[i])
        filename = parts[-1]
        lowered = filename.lower()
        is_manifest = lowered.endswith("manifest.json")
        if not is_manifest and not lowered.endswith(DATA_SUFFIXES):
            continue
        run_key = "/".join(parts[i + 1 : -1]) or filename  # unpartitioned: one file per run
        export_path = "/".join(parts[:i])
        run = runs.setdefault(
            (export_path, parts[i], run_key),
            ExportRun(export_path=export_path, range_start=first, range_end=last, key=run_key),
        )
        if is_manifest:
            run.manifest = blob
        else:
            run.blobs.append(blob)
    kept = []
    for run in runs.values():
        if (run.range_start.year, run.range_start.month) != (run.range_end.year, run.range_end.month):
            warnings.append(
                f"Skipped {run.export_path}/{run.range_start:%Y%m%d}-{run.range_end:%Y%m%d}: it spans more than one "
                "month. Export history one calendar month per run so months replace cleanly."
            )
            continue
        kept.append(run)
    return kept, sorted(set(warnings))


def _overlaps(run: ExportRun, window: Window) -> bool:
    return run.range_start < window.end and run.range_end >= window.start


class ExportConnector(Connector):
    kind = "azure_export"
    label = "Azure Cost Management export (storage)"
    settings_fields = (
        FieldSpec(
            "account_url",
            "Storage account URL",
            "https://<account>.blob.core.windows.net (not needed with a connection string).",
            required=False,
        ),
        FieldSpec("container", "Container", "The export's container, e.g. cost-exports."),
        FieldSpec(
            "directory",
            "Directory",
            "The export's folder inside the container: <directory>/<export name> as set on the export.",
            required=False,
        ),
        FieldSpec("dataset", "Dataset", "What the export writes.", choices=EXPORT_DATASETS, default="FocusCost"),
        FieldSpec("tenant_id", "Directory (tenant) ID", "Only with a client secret.", required=False),
        FieldSpec("client_id", "Application (client) ID", "Only with a client secret.", required=False),
        FieldSpec("billing_account_id", "Billing account ID", "ActualCost files without BillingAccountId.", False),
        FieldSpec("invoice_issuer", "Invoice issuer", "Who invoices this spend (Microsoft, or the CSP).", False),
    )
    secret_fields = (
        FieldSpec("connection_string", "Connection string", "One of the three credentials.", False, True),
        FieldSpec("sas_token", "SAS token", "Container SAS with read and list.", False, True),
        FieldSpec("client_secret", "Client secret", "App registration with Storage Blob Data Reader.", False, True),
    )
    default_interval_minutes = 360
    # Exports restate the closed month for a few days after it ends: a week reaches back into it.
    default_lookback_days = 7
    default_backfill_days = 90

    # -- storage

    def _container(self, source, secrets: dict):
        if self.client_factory is not None:
            return self.client_factory(source)
        from azure.storage.blob import ContainerClient

        settings = source.settings
        container = settings["container"]
        if secrets.get("connection_string"):
            return ContainerClient.from_connection_string(secrets["connection_string"], container)
        account_url = (settings.get("account_url") or "").rstrip("/")
        if not account_url.startswith("https://"):
            raise ConnectorError("Set the storage account URL (https://<account>.blob.core.windows.net).")
        if secrets.get("sas_token"):
            return ContainerClient(account_url, container, credential=secrets["sas_token"].lstrip("?"))
        if secrets.get("client_secret"):
            from azure.identity import ClientSecretCredential

            if not settings.get("tenant_id") or not settings.get("client_id"):
                raise ConnectorError("A client secret needs the tenant ID and client ID settings.")
            credential = ClientSecretCredential(settings["tenant_id"], settings["client_id"], secrets["client_secret"])
            return ContainerClient(account_url, container, credential=credential)
        raise CredentialsRejected("Store a connection string, a SAS token or a client secret for this source.")

    @staticmethod
    def _prefix(settings: dict) -> str:
        directory = (settings.get("directory") or "").strip().strip("/")
        return f"{directory}/" if directory else ""

    def _list(self, client, prefix: str) -> list:
        with _translate_azure_errors("Azure Storage"):
            return list(client.list_blobs(name_starts_with=prefix or None))

    def _download(self, client, name: str, dest: Path) -> int:
        with _translate_azure_errors("Azure Storage"), open(dest, "wb") as fh:
            client.download_blob(name).readinto(fh)
        return dest.stat().st_size

    def _manifest(self, client, run: ExportRun) -> dict:
        with _translate_azure_errors("Azure Storage"):
            raw = client.download_blob(run.manifest.name).readall()
        try:
            manifest = json.loads(raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConnectorError(f"{run.manifest.name} is not valid JSON.") from exc
        if not isinstance(manifest, dict):
            raise ConnectorError(f"{run.manifest.name} is not an export manifest.")
        return manifest

    def _choose(
        self, client, runs: list[ExportRun], container: str
    ) -> tuple[ExportRun, list[tuple[str, int | None]]] | None:
        """The newest complete run of one month, or None while its only run is still being written.

        Partitioned exports (part_* files) write `_manifest.json` last: a run without one is in progress.
        A run whose manifest lists blobs that are not (yet) there is passed over for the one before it."""
        complete = [r for r in runs if r.manifest is not None or not r.partitioned]
        if not complete:
            return None
        with_manifest = [r for r in complete if r.manifest is not None]
        candidates = sorted(with_manifest or complete, key=lambda r: (r.modified, r.key), reverse=True)
        problems = []
        for run in candidates:
            if run.manifest is None:
                return run, [(b.name, None) for b in sorted(run.blobs, key=lambda b: b.name)]
            manifest = self._manifest(client, run)
            run.manifest_type = str((manifest.get("exportConfig") or {}).get("type") or "")
            listed = {b.name for b in run.blobs}
            wanted: list[tuple[str, int | None]] = []
            for entry in manifest.get("blobs") or []:
                name = str(entry.get("blobName") or "")
                if name not in listed and name.startswith(f"{container}/"):
                    name = name[len(container) + 1 :]
                byte_count = entry.get("byteCount")
                wanted.append((name, int(byte_count) if isinstance(byte_count, int | float) else None))
            absent = [n for n, _ in wanted if n not in listed]
            if wanted and not absent:
                return run, wanted
            problems.append(f"{run.manifest.name} lists {len(absent) or 'no'} missing blob(s)")
        raise ConnectorError(f"No complete export run for {runs[0].month}: {'; '.join(problems)}.")

    def _cache_dir(self, source) -> Path:
        from django.db import connection

        schema = getattr(connection, "schema_name", "public")
        path = Path(tempfile.gettempdir()) / "keel-azure-exports" / f"{schema}-{source.pk}"
        shutil.rmtree(path, ignore_errors=True)  # one run's files at a time per source
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- the connector

    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        settings = source.settings
        dataset = settings.get("dataset") or "FocusCost"
        client = self._container(source, secrets)
        prefix = self._prefix(settings)
        runs, warnings = export_runs(self._list(client, prefix))
        by_month: dict[str, list[ExportRun]] = {}
        for run in runs:
            if _overlaps(run, window):
                by_month.setdefault(run.month, []).append(run)
        details: dict = {"dataset": dataset, "prefix": prefix, "runs": [], "files": [], "warnings": warnings}
        if not by_month:
            details["warnings"].append(f"No export run under '{prefix}' covers {window.start}–{window.end}.")
            return FetchResult(rows=(), scope="billing_periods", details=details)
        cache = self._cache_dir(source)
        paths: list[Path] = []
        for month in sorted(by_month):
            month_runs = by_month[month]
            exports = sorted({r.export_path for r in month_runs})
            if len(exports) > 1:
                raise ConnectorError(
                    f"'{prefix or '/'}' holds more than one export for {month} ({', '.join(exports)}): set the "
                    "directory to one export's folder so a month is never booked twice."
                )
            chosen = self._choose(client, month_runs, settings["container"])
            if chosen is None:
                details["warnings"].append(f"The {month} export run is still being written; read next time.")
                continue
            run, wanted = chosen
            kind = run.manifest_type
            if kind and kind.lower() != dataset.lower():
                raise ConnectorError(
                    f"The export in {run.export_path} writes {kind} but this source expects {dataset}. "
                    "Change the dataset setting or point the directory at the right export."
                )
            for name, byte_count in wanted:
                dest = cache / f"{len(paths):03d}-{Path(name).name}"
                size = self._download(client, name, dest)
                if byte_count is not None and size != byte_count:
                    raise ConnectorError(f"{name} is {size} bytes, its manifest says {byte_count}: download again.")
                paths.append(dest)
                details["files"].append(name)
            details["runs"].append(
                {"month": month, "run": run.key, "manifest": run.manifest is not None, "files": len(wanted)}
            )

        def cleanup() -> None:  # the downloads are only needed until they are booked
            shutil.rmtree(cache, ignore_errors=True)

        if dataset == "FocusCost":
            return FetchResult(files=paths, scope="billing_periods", details=details, cleanup=cleanup)
        rows = _chain_rows(
            paths,
            billing_account_id=settings.get("billing_account_id") or "",
            invoice_issuer_name=settings.get("invoice_issuer") or PROVIDER,
        )
        return FetchResult(rows=rows, scope="billing_periods", details=details, cleanup=cleanup)

    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        settings = source.settings
        client = self._container(source, secrets)
        prefix = self._prefix(settings)
        runs, _ = export_runs(self._list(client, prefix))
        if not runs:
            return ConnectionResult(
                False,
                f"Connected to container '{settings['container']}', but found no Cost Management export runs under "
                f"'{prefix or '/'}'. Check the directory, or run the export once (Run now) and test again.",
            )
        latest = max(runs, key=lambda r: (r.range_start, r.modified))
        exports = sorted({r.export_path for r in runs})
        return ConnectionResult(
            True,
            f"Connected: {len(runs)} export run(s) of {', '.join(exports)}; latest month {latest.month}, "
            f"written {latest.modified:%Y-%m-%d %H:%M} UTC.",
        )


def _chain_rows(paths: list[Path], **kwargs) -> Iterator[dict]:
    for path in paths:
        yield from actual_cost_rows(path, **kwargs)


__all__ = [
    "ACTUAL_COST_COLUMNS",
    "CostQueryConnector",
    "ExportConnector",
    "actual_cost_rows",
    "export_runs",
    "pricing_unit",
    "resolve_service",
]
