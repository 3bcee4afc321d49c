"""Google Cloud: the Cloud Billing export to BigQuery (standard, detailed or FOCUS table), read with
parameterised SQL over a trailing window.

Google has no cost API: Cloud Billing exports line items (hourly, late rows for days) to a BigQuery dataset
in the client's project. Each run re-reads the window by `usage_start_time` (and `_PARTITIONTIME` for
partition pruning), sums the line items per day in Python and replaces the window in the ledger, so late
rows replace rather than duplicate. Credits (sustained-use, committed-use, promotions, free tier…) become
their own Credit rows, as FOCUS books them; BilledCost + credits = Google's net cost.

The BigQuery client sits behind a tiny interface (`query(sql, params) -> iterable of dict rows`): tests
feed dict rows shaped like the export schema; production wraps google-cloud-bigquery.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from ..focus import (
    BIGINT,
    COLUMN_BY_FIELD,
    JSON,
    NUMERIC,
    TEXT,
    TIMESTAMP,
    day_bounds,
    header_lookup,
    ledger_row,
    month_bounds,
    parse_tags,
    to_decimal,
    to_utc,
)
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
PROVIDER = "Google Cloud"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

# --- mapping -------------------------------------------------------------------------------------------
TABLE_KINDS = (
    ("standard", "Standard usage cost (gcp_billing_export_v1_…)"),
    ("detailed", "Detailed usage cost, per resource (gcp_billing_export_resource_v1_…)"),
    ("focus", "FOCUS (…focus…)"),
)
COST_TYPES = {"regular": "Usage", "tax": "Tax", "adjustment": "Adjustment", "rounding_error": "Adjustment"}
# Export columns read (nested records kept whole: the rows look like the export schema).
STANDARD_COLUMNS = (
    "billing_account_id",
    "service",  # {id, description} — description → ServiceName
    "sku",  # {id, description}
    "usage_start_time",
    "usage_end_time",
    "project",  # {id, name, labels, …} → SubAccount, project labels → Tags
    "labels",  # [{key, value}] → Tags (resource labels win over project labels)
    "location",  # {location, country, region, zone}
    "cost",  # FLOAT → Decimal through repr
    "currency",
    "cost_type",  # regular | tax | adjustment | rounding_error
    "usage",  # {amount, unit, amount_in_pricing_units, pricing_unit}
    "credits",  # [{name, amount (< 0), full_name, id, type}] → Credit rows
    "invoice",  # {month: "YYYYMM" in Pacific time} → BillingPeriod (that calendar month, UTC)
    "cost_at_list",  # → ListCost
)
DETAILED_COLUMNS = (*STANDARD_COLUMNS, "resource")  # {name, global_name} → ResourceName / ResourceId
# service.description → (ServiceCategory, ServiceSubcategory), before gcp_category_mapping.csv.
SERVICE_OVERRIDES = {
    "gemini api": ("AI and Machine Learning", "Generative AI"),
    "generative language api": ("AI and Machine Learning", "Generative AI"),
    "gemini for google cloud": ("AI and Machine Learning", "Generative AI"),
    "gemini code assist": ("AI and Machine Learning", "Generative AI"),
    "vertex ai": ("AI and Machine Learning", "AI Platforms"),  # Generative AI when the SKU is a model (below)
    "cloud storage": ("Storage", "Object Storage"),
    "compute engine": ("Compute", "Virtual Machines"),
    "kubernetes engine": ("Compute", "Containers"),
    "cloud run": ("Compute", "Serverless Compute"),
    "cloud functions": ("Compute", "Serverless Compute"),
}
# Vertex AI SKUs that are model calls (tokens, characters, images) rather than training or notebooks.
GENAI_SKU = re.compile(
    r"gemini|claude|llama|mistral|imagen|veo|palm|bison|gecko|gemma|token|character|embedding|generative",
    re.IGNORECASE,
)
THROTTLE_REASONS = {"quotaExceeded": 600.0, "rateLimitExceeded": 60.0, "usageQuotaExceeded": 3600.0}
TRAILING_PARTITION_SLACK = dt.timedelta(days=1)  # partitions are dated in Pacific time
_PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9.:-]{0,127}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,1024}$")


@lru_cache(maxsize=1)
def _categories() -> dict[str, str]:
    with open(DATA_DIR / "gcp_category_mapping.csv", encoding="utf-8-sig", newline="") as fh:
        return {row["ConsumedService"].strip().lower(): row["ServiceCategory"] for row in csv.DictReader(fh)}


def service_category(service: str, sku: str = "") -> tuple[str, str]:
    """(ServiceCategory, ServiceSubcategory) of a GCP service description, the SKU deciding for Vertex AI."""
    key = service.strip().lower()
    if key == "vertex ai" and GENAI_SKU.search(sku or ""):
        return "AI and Machine Learning", "Generative AI"
    if key in SERVICE_OVERRIDES:
        return SERVICE_OVERRIDES[key]
    if "gemini" in key:
        return "AI and Machine Learning", "Generative AI"
    return _categories().get(key, "Other"), ""


def detect_table_kind(table: str) -> str:
    name = table.lower()
    if "focus" in name:
        return "focus"
    if name.startswith("gcp_billing_export_resource_"):
        return "detailed"
    return "standard"


def invoice_period(month: str, fallback: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """invoice.month "202409" (a Pacific-time month) → the UTC calendar month [2024-09-01Z, 2024-10-01Z)."""
    if month and re.fullmatch(r"\d{6}", str(month)):
        return month_bounds(dt.datetime(int(month[:4]), int(month[4:]), 1, tzinfo=dt.UTC))
    return month_bounds(fallback)


# --- the BigQuery seam ---------------------------------------------------------------------------------


class BigQueryRunner:
    """What the connector needs from BigQuery: run parameterised SQL, get plain dict rows back."""

    def __init__(self, client, *, location: str = "", maximum_bytes_billed: int | None = None):
        self.client = client
        self.location = location or None
        self.maximum_bytes_billed = maximum_bytes_billed

    def query(self, sql: str, params: list) -> Iterator[dict]:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(query_parameters=list(params), use_legacy_sql=False)
        if self.maximum_bytes_billed:
            config.maximum_bytes_billed = self.maximum_bytes_billed
        job = self.client.query(sql, job_config=config, location=self.location)
        for row in job.result(page_size=20_000):
            yield dict(row.items())


def _params(**values) -> list:
    """ScalarQueryParameters, typed from the Python value (datetimes as TIMESTAMP)."""
    from google.cloud.bigquery import ScalarQueryParameter

    types = {dt.datetime: "TIMESTAMP", str: "STRING", int: "INT64"}
    return [ScalarQueryParameter(name, types[type(value)], value) for name, value in values.items()]


# --- errors ---------------------------------------------------------------------------------------------


def _reasons(exc) -> set[str]:
    reasons = {str(e.get("reason")) for e in (getattr(exc, "errors", None) or []) if isinstance(e, dict)}
    if getattr(exc, "reason", None):
        reasons.add(str(exc.reason))
    return reasons - {"", "None"}


def _message(exc) -> str:
    return " ".join(str(getattr(exc, "message", "") or exc).split())[:400]


@contextmanager
def _translate_google_errors(what: str):
    """Map google-api-core / google-auth exceptions raised inside the block to connector errors."""
    import requests
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    try:
        yield
    except auth_exc.RefreshError as exc:  # a deleted key, a disabled service account
        raise CredentialsRejected(f"Google refused the service account key: {_message(exc)}") from exc
    except auth_exc.TransportError as exc:
        raise ProviderUnavailable(f"Google's token service could not be reached: {_message(exc)}") from exc
    except auth_exc.GoogleAuthError as exc:
        raise CredentialsRejected(f"The service account key cannot be used: {_message(exc)}") from exc
    except gexc.GoogleAPICallError as exc:
        reasons, said = _reasons(exc), _message(exc)
        throttle = [THROTTLE_REASONS[r] for r in reasons if r in THROTTLE_REASONS]
        if throttle or isinstance(exc, gexc.TooManyRequests | gexc.ResourceExhausted):
            wait = max(throttle) if throttle else 60.0
            raise Throttled(f"{what} is over a quota or rate limit ({said}).", retry_after=wait) from exc
        if isinstance(exc, gexc.Unauthorized | gexc.Unauthenticated):
            raise CredentialsRejected(f"{what} did not accept the service account ({said}).") from exc
        if isinstance(exc, gexc.Forbidden | gexc.PermissionDenied):
            if reasons - {"accessDenied", "forbidden", "IAM_PERMISSION_DENIED"}:
                raise ConnectorError(f"{what} refused the query ({said}).") from exc  # e.g. billingNotEnabled
            raise CredentialsRejected(
                f"{what} denied access ({said}). The service account needs BigQuery Job User on the job project "
                "and BigQuery Data Viewer on the billing dataset."
            ) from exc
        if "bytesBilledLimitExceeded" in reasons:
            raise ConnectorError(
                f"The query would scan more than the 'Max GB billed' limit ({said}). Raise the limit or shorten "
                "the lookback."
            ) from exc
        if isinstance(exc, gexc.NotFound):
            raise ConnectorError(
                f"{what} cannot find it ({said}). Check project, dataset and table: a new billing export creates "
                "its table only after the first export, a few hours after it is enabled."
            ) from exc
        if isinstance(exc, gexc.ServerError | gexc.DeadlineExceeded | gexc.ServiceUnavailable):
            raise ProviderUnavailable(f"{what} is unavailable ({said}).") from exc
        raise ConnectorError(f"{what} refused the request ({said}).") from exc
    except gexc.RetryError as exc:
        raise ProviderUnavailable(f"{what} kept failing and the client gave up: {_message(exc)}") from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ProviderUnavailable(f"{what} could not be reached: {_message(exc)}") from exc


# --- rows ----------------------------------------------------------------------------------------------


def _get(record: dict | None, *path: str):
    value = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value) -> str:
    return "" if value is None else str(value)


def _add(total: Decimal | None, value) -> Decimal | None:
    amount = to_decimal(value)
    if amount is None:
        return total
    return amount if total is None else total + amount


@dataclass
class _Group:
    """The line items of one day × project × service × SKU × location × cost type × labels (× resource)."""

    first: dict
    cost: Decimal = Decimal(0)
    cost_at_list: Decimal | None = None
    usage: Decimal | None = None
    pricing: Decimal | None = None
    credits: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    line_items: int = 0


def _tags(record: dict) -> dict:
    tags = parse_tags(_get(record, "project", "labels") or [])
    tags.update(parse_tags(record.get("labels") or []))  # resource labels win over project labels
    return tags


def _group_key(record: dict, day: dt.date, tags: dict) -> tuple:
    return (
        day,
        _text(_get(record, "invoice", "month")),
        _text(record.get("billing_account_id")),
        _text(_get(record, "project", "id")),
        _text(_get(record, "service", "id")),
        _text(_get(record, "sku", "id")),
        _text(_get(record, "location", "region") or _get(record, "location", "location")),
        _text(_get(record, "location", "zone")),
        _text(record.get("cost_type")).lower(),
        _text(record.get("currency")),
        json.dumps(tags, sort_keys=True),
        _text(_get(record, "resource", "global_name")),
        _text(_get(record, "resource", "name")),
        _text(_get(record, "usage", "unit")),
        _text(_get(record, "usage", "pricing_unit")),
    )


def aggregate_export_rows(records: Iterable[dict], window: Window, stats: dict | None = None) -> dict[tuple, _Group]:
    """Σ line items per day group, streaming (only the groups stay in memory). Rows whose usage starts
    outside the window are left out; `stats` counts line items read and left out."""
    groups: dict[tuple, _Group] = {}
    stats = stats if stats is not None else {}
    stats.setdefault("line_items", 0)
    for record in records:
        stats["line_items"] += 1
        start = to_utc(record.get("usage_start_time"))
        if start is None or not window.start_at <= start < window.end_at:
            stats["skipped_outside_window"] = stats.get("skipped_outside_window", 0) + 1
            continue
        tags = _tags(record)
        key = _group_key(record, start.date(), tags)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(first={**record, "_tags": tags})
        group.line_items += 1
        group.cost += to_decimal(record.get("cost")) or Decimal(0)
        group.cost_at_list = _add(group.cost_at_list, record.get("cost_at_list"))
        group.usage = _add(group.usage, _get(record, "usage", "amount"))
        group.pricing = _add(group.pricing, _get(record, "usage", "amount_in_pricing_units"))
        for credit in record.get("credits") or []:
            amount = to_decimal(credit.get("amount"))
            if amount:
                credit_key = (_text(credit.get("type")), _text(credit.get("name") or credit.get("full_name")))
                group.credits[credit_key] = group.credits.get(credit_key, Decimal(0)) + amount
    return groups


def export_ledger_rows(groups: dict[tuple, _Group], *, invoice_issuer: str = PROVIDER) -> Iterator[dict]:
    """One charge row per group (Usage, Tax or Adjustment by cost_type) and one Credit row per credit type."""
    for key, group in groups.items():
        day, invoice_month, account, project_id, service_id, sku_id, region, zone, cost_type, currency, *_ = key
        record = group.first
        charge_start, charge_end = day_bounds(day)
        period_start, period_end = invoice_period(invoice_month, charge_start)
        service = _text(_get(record, "service", "description")) or "Unknown service"
        sku = _text(_get(record, "sku", "description"))
        category, subcategory = service_category(service, sku)
        charge_category = COST_TYPES.get(cost_type, "Adjustment" if cost_type else "Usage")
        extra = {"x_ServiceId": service_id, "x_CostType": cost_type, "x_InvoiceMonth": invoice_month}
        common = {
            "billing_account_id": account,
            "billing_currency": currency,
            "billing_period_start": period_start,
            "billing_period_end": period_end,
            "charge_period_start": charge_start,
            "charge_period_end": charge_end,
            "provider_name": PROVIDER,
            "publisher_name": PROVIDER,
            "host_provider_name": PROVIDER,
            "invoice_issuer_name": invoice_issuer or PROVIDER,
            "service_name": service,
            "service_category": category,
            "service_subcategory": subcategory,
            "region_id": region,
            "region_name": region,
            "availability_zone": zone,
            "resource_id": _text(_get(record, "resource", "global_name")),
            "resource_name": _text(_get(record, "resource", "name")),
            "sku_id": sku_id,
            "sub_account_id": project_id,
            "sub_account_name": _text(_get(record, "project", "name")),
            "sub_account_type": "Project" if project_id else "",
            "tags": record["_tags"],
        }
        usage = charge_category == "Usage"
        yield ledger_row(
            **common,
            charge_category=charge_category,
            charge_description=sku,
            charge_frequency="Usage-Based" if usage else "",
            billed_cost=group.cost,
            effective_cost=group.cost,  # credits are their own rows, as FOCUS books them
            list_cost=group.cost_at_list,
            pricing_quantity=group.pricing,
            pricing_unit=_text(_get(record, "usage", "pricing_unit")),
            consumed_quantity=group.usage if usage else None,
            consumed_unit=_text(_get(record, "usage", "unit")) if usage else "",
            x_extra={**extra, "x_LineItems": str(group.line_items)},
        )
        for (credit_type, credit_name), amount in sorted(group.credits.items()):
            yield ledger_row(
                **common,
                charge_category="Credit",
                charge_description=credit_name or credit_type or "Credit",
                billed_cost=amount,
                effective_cost=amount,
                list_cost=Decimal(0),
                x_extra={**extra, "x_CreditType": credit_type, "x_CreditName": credit_name},
            )


def _json_safe(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def focus_table_row(record: dict, mapped: dict[str, str], *, invoice_issuer: str = "") -> dict:
    """A row of Google's FOCUS table, column for column through focus.LEDGER_COLUMNS."""
    values: dict = {}
    for field_name, column in mapped.items():
        raw, kind = record.get(column), COLUMN_BY_FIELD[field_name].type
        if kind == NUMERIC:
            values[field_name] = to_decimal(raw)
        elif kind == TIMESTAMP:
            values[field_name] = to_utc(raw)
        elif kind == JSON:
            values[field_name] = parse_tags(raw)
        elif kind == BIGINT:
            values[field_name] = None if raw in (None, "") else int(raw)
        elif kind == TEXT:
            values[field_name] = _text(raw)
    if values.get("x_cost_source", "").lower() != "estimate":
        values["x_cost_source"] = "actual"
    if not values.get("provider_name"):
        values["provider_name"] = PROVIDER
    if not values.get("invoice_issuer_name"):
        values["invoice_issuer_name"] = invoice_issuer or PROVIDER
    used = set(mapped.values())
    values["x_extra"] = {
        k: _json_safe(v) for k, v in record.items() if k not in used and k.lower().startswith("x_") and v is not None
    }
    return ledger_row(**values)


# --- the connector -------------------------------------------------------------------------------------


class BigQueryConnector(Connector):
    kind = "gcp_bigquery"
    label = "Google Cloud billing export in BigQuery"
    settings_fields = (
        FieldSpec("project_id", "Project ID", "The project that holds the billing export dataset."),
        FieldSpec("dataset", "Dataset", "The billing export dataset, e.g. billing_export."),
        FieldSpec("table", "Table", "gcp_billing_export_v1_<ACCOUNT>, gcp_billing_export_resource_v1_<ACCOUNT>, …"),
        FieldSpec(
            "table_kind",
            "Table kind",
            "Detected from the table name when empty.",
            required=False,
            choices=TABLE_KINDS,
        ),
        FieldSpec("billing_account_id", "Billing account ID", "012345-6789AB-CDEF01: filters rows, names it.", False),
        FieldSpec("job_project_id", "Job project", "Where queries run and are billed; the project ID if empty.", False),
        FieldSpec("location", "Dataset location", "US, EU, europe-west1…; detected when empty.", required=False),
        FieldSpec("max_gb_billed", "Max GB billed per query", "Refuse queries that would scan more.", False),
        FieldSpec(
            "invoice_issuer", "Invoice issuer", "Who invoices this spend (Google Cloud, or the reseller).", False
        ),
    )
    secret_fields = (
        FieldSpec(
            "service_account_json",
            "Service account key (JSON)",
            "BigQuery Job User + BigQuery Data Viewer on the export dataset.",
            secret=True,
        ),
    )
    default_interval_minutes = 360
    default_lookback_days = 5  # late line items keep arriving for up to ~5 days
    default_backfill_days = 90
    billing_client_factory = None  # tests: (source) -> object with get_billing_account / get_project_billing_info

    def credentials_hint(self, secrets: dict) -> str:
        """The service account's e-mail identifies the key without revealing any of it."""
        try:
            email = json.loads(secrets.get("service_account_json") or "{}").get("client_email", "")
        except (ValueError, AttributeError):
            email = ""
        return email or super().credentials_hint(secrets)

    # -- clients

    @staticmethod
    def _credentials(secrets: dict):
        raw = (secrets.get("service_account_json") or "").strip()
        if not raw:
            raise CredentialsRejected("No service account key is stored for this source.")
        try:
            info = json.loads(raw)
        except ValueError as exc:
            raise CredentialsRejected("The service account key is not JSON: paste the whole key file.") from exc
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise CredentialsRejected('The key is not a service account key (its "type" is not service_account).')
        from google.oauth2 import service_account

        try:
            return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
        except (ValueError, KeyError) as exc:
            raise CredentialsRejected(f"The service account key cannot be used: {exc}") from exc

    def _runner(self, source, secrets: dict):
        if self.client_factory is not None:
            return self.client_factory(source)
        from google.cloud import bigquery

        settings = source.settings
        limit = None
        if settings.get("max_gb_billed"):
            try:
                limit = int(Decimal(str(settings["max_gb_billed"])) * 1024**3)
            except ArithmeticError as exc:
                raise ConnectorError("'Max GB billed per query' must be a number.") from exc
        project = settings.get("job_project_id") or settings["project_id"]
        client = bigquery.Client(project=project, credentials=self._credentials(secrets))
        return BigQueryRunner(client, location=settings.get("location") or "", maximum_bytes_billed=limit)

    def _billing(self, source, secrets: dict):
        if self.billing_client_factory is not None:
            return self.billing_client_factory(source)
        from google.cloud import billing_v1

        return billing_v1.CloudBillingClient(credentials=self._credentials(secrets))

    # -- SQL

    @staticmethod
    def _table(settings: dict) -> tuple[str, str]:
        """The backtick-quoted table and its kind; identifiers cannot be parameters, so they are checked."""
        project, dataset, table = (str(settings.get(k) or "").strip() for k in ("project_id", "dataset", "table"))
        if not _PROJECT_RE.match(project):
            raise ConnectorError(f"'{project}' is not a Google Cloud project ID.")
        if not _NAME_RE.match(dataset) or not _NAME_RE.match(table):
            raise ConnectorError("Dataset and table names may use letters, digits and underscores only.")
        kind = settings.get("table_kind") or detect_table_kind(table)
        return f"`{project}.{dataset}.{table}`", kind

    def _sql(self, settings: dict, window: Window) -> tuple[str, list, str]:
        table, kind = self._table(settings)
        account = (settings.get("billing_account_id") or "").strip()
        values: dict = {"start": window.start_at, "end": window.end_at}
        if kind == "focus":
            where = "ChargePeriodStart >= @start AND ChargePeriodStart < @end"
            if account:
                where += " AND BillingAccountId = @billing_account_id"
            sql = f"SELECT * FROM {table} WHERE {where}"  # noqa: S608 — identifiers checked, values parameters
        else:
            columns = ", ".join(DETAILED_COLUMNS if kind == "detailed" else STANDARD_COLUMNS)
            # Late rows land in later partitions: only a lower bound on _PARTITIONTIME, never an upper one.
            where = "_PARTITIONTIME >= @partition_start AND usage_start_time >= @start AND usage_start_time < @end"
            values["partition_start"] = window.start_at - TRAILING_PARTITION_SLACK
            if account:
                where += " AND billing_account_id = @billing_account_id"
            sql = f"SELECT {columns} FROM {table} WHERE {where}"  # noqa: S608 — identifiers checked, values params
        if account:
            values["billing_account_id"] = account
        return sql, _params(**values), kind

    # -- the connector

    def fetch(self, source, secrets: dict, window: Window) -> FetchResult:
        settings = source.settings
        sql, params, kind = self._sql(settings, window)
        runner = self._runner(source, secrets)
        issuer = settings.get("invoice_issuer") or PROVIDER
        details: dict = {"table_kind": kind, "table": settings.get("table"), "line_items": 0}
        # Consumed here, inside the translation: job and paging errors surface as connector errors.
        with _translate_google_errors("BigQuery"):
            if kind == "focus":
                rows = self._focus_rows(runner.query(sql, params), window, issuer, details)
            else:
                groups = aggregate_export_rows(runner.query(sql, params), window, details)
                rows = list(export_ledger_rows(groups, invoice_issuer=issuer))
        details["rows"] = len(rows)
        return FetchResult(rows=rows, scope="window", details=details)

    @staticmethod
    def _focus_rows(records: Iterable[dict], window: Window, issuer: str, details: dict) -> list[dict]:
        rows, mapped = [], None
        for record in records:
            details["line_items"] += 1
            mapped = mapped if mapped is not None else header_lookup(list(record))  # one SELECT, one set of keys
            row = focus_table_row(record, mapped, invoice_issuer=issuer)
            start = row["charge_period_start"]
            if start is None or not window.start_at <= start < window.end_at:
                details["skipped_outside_window"] = details.get("skipped_outside_window", 0) + 1
                continue
            rows.append(row)
        return rows

    def test_connection(self, source, secrets: dict) -> ConnectionResult:
        settings = source.settings
        table, kind = self._table(settings)
        runner = self._runner(source, secrets)
        since = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=3)
        latest_column, since_column = (
            ("ChargePeriodEnd", "ChargePeriodStart") if kind == "focus" else ("export_time", "_PARTITIONTIME")
        )
        sql = (
            f"SELECT MAX({latest_column}) AS latest, COUNT(1) AS line_items "  # noqa: S608 — identifiers checked
            f"FROM {table} WHERE {since_column} >= @since"
        )
        with _translate_google_errors("BigQuery"):
            answer = next(iter(runner.query(sql, _params(since=since))), {}) or {}
        latest, count = to_utc(answer.get("latest")), int(answer.get("line_items") or 0)
        parts = [f"Connected to {table.strip('`')} ({kind} export)."]
        parts.append(
            f"Last export {latest:%Y-%m-%d %H:%M} UTC; {count:,} line items in the last 3 days."
            if latest
            else "No line items in the last 3 days yet: a new export backfills within a day."
        )
        parts.append(self._billing_note(source, secrets))
        return ConnectionResult(True, " ".join(p for p in parts if p))

    def _billing_note(self, source, secrets: dict) -> str:
        """Billing account and project metadata from Cloud Billing; useful, never required."""
        settings = source.settings
        account = (settings.get("billing_account_id") or "").strip()
        notes = []
        try:
            with _translate_google_errors("Cloud Billing"):
                client = self._billing(source, secrets)
                if account:
                    info = client.get_billing_account(name=f"billingAccounts/{account}")
                    is_open = getattr(info, "open_", getattr(info, "open", None))
                    notes.append(
                        f"Billing account '{info.display_name}' ({account}) is {'open' if is_open else 'closed'}."
                    )
                project = client.get_project_billing_info(name=f"projects/{settings['project_id']}")
                if not project.billing_enabled:
                    notes.append(f"Billing is disabled on project {settings['project_id']}.")
                elif account and not project.billing_account_name.endswith(account):
                    notes.append(f"Project {settings['project_id']} is billed to {project.billing_account_name}.")
        except (ConnectorError, Throttled, ProviderUnavailable) as exc:
            notes.append(f"Cloud Billing details are not readable ({exc}); not needed for ingestion.")
        return " ".join(notes)
