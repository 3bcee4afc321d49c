"""The provider side of the demo's FinOps data: billing data in each provider's own format, and local stand-ins
for the provider clients that serve it to the real connectors.

Nothing here touches Keel's database or the network. Every figure is generated from a seeded `random.Random`
(same `today`, same bytes), relative to `today` so the demo always looks current: twelve whole calendar months
before today's month plus the current month to date, one line per day and resource, weekday seasonality and
growth. Amounts are exact Decimals (token counts × the model catalog's prices, quantities × list rates).

- AWS: a CUR 2.0 Data Export (gzip CSV per billing period + the Data Exports manifest) in a local "bucket";
  `LocalS3` answers exactly the S3 calls the DataExportConnector makes (get_object, head_object, list_objects_v2).
- OpenAI / Anthropic: the Admin APIs' cost and usage pages in their JSON shapes, served to the connectors'
  requests Session by `ProviderApi`, a requests adapter that answers by URL path and query (paging included).
- Azure: ActualCost (EA cost details) export runs, partitioned with `_manifest.json`, in a local "container";
  `LocalContainer` implements the two ContainerClient calls the ExportConnector makes.
- GCP: dict rows shaped like the detailed (resource-level) BigQuery billing export, behind `LocalBigQuery`
  (the connector's `query(sql, params)` seam), which honours the query's columns and parameters.
- Live usage events: the bodies a client's gateway would POST to /usage-events.
"""

from __future__ import annotations

import base64
import calendar
import csv
import datetime as dt
import functools
import gzip
import hashlib
import io
import json
import os
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

DAYS_PER_MONTH = Decimal("30.4375")
ONE = Decimal(1)


# --- shared helpers ------------------------------------------------------------------------------------------


def demo_start(today: dt.date) -> dt.date:
    """First day of the twelfth whole month before today's month (today 2026-12-01 → 2025-12-01)."""
    return dt.date(today.year - 1, today.month, 1)


def demo_days(today: dt.date) -> list[dt.date]:
    """Every day with data: from demo_start to yesterday (today's bills are not out yet)."""
    start = demo_start(today)
    return [start + dt.timedelta(days=i) for i in range((today - start).days)]


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def days_in_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def rng_for(*parts) -> random.Random:
    # A str seed is hashed with SHA-512: the same on every machine and Python run.
    return random.Random("keel-demo/" + "/".join(str(p) for p in parts))


def jitter(rng: random.Random, permille: int) -> Decimal:
    """1 ± up to permille/1000, drawn as an integer so no float ever reaches an amount."""
    return ONE + Decimal(rng.randint(-permille, permille)) / 1000 if permille else ONE


@functools.lru_cache(maxsize=8192)  # a fractional Decimal power is slow, and every table line asks again
def growth(day: dt.date, today: dt.date, monthly: Decimal) -> Decimal:
    """Volume relative to today's: (1 + monthly rate) per month, so older days are smaller."""
    return (ONE + monthly) ** (Decimal((day - today).days) / DAYS_PER_MONTH)


def whole(value: Decimal) -> int:
    return int(value.to_integral_value())


def utc(day: dt.date, seconds: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


def rfc3339(moment: dt.datetime) -> str:
    text = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z" if moment.microsecond else f"{text}Z"


def short_hash(*parts, length: int = 16) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()[:length]


def json_text(value) -> str:
    """JSON with Decimals as plain JSON numbers: providers send exact decimals, and no float sits in between."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    return json.dumps(value)


def write_gzip_csv(path: Path, header: list[str], rows: Iterable[list]) -> None:
    """CSV in a gzip with mtime 0: the same rows give the same bytes (and ETag) on every generation."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))


def _business_seconds(rng: random.Random, first_hour: int, last_hour: int) -> int:
    """A second of the day inside office hours (UTC), busier mid-window, a few calls outside it."""
    if rng.randint(1, 20) == 1:
        return rng.randint(0, 86_399)
    middle = (first_hour + last_hour) * 1800
    spread = (last_hour - first_hour) * 1800
    second = middle + rng.randint(-spread, spread) // 2 + rng.randint(-spread, spread) // 2
    return max(0, min(86_399, second))


# --- token usage shared by the LLM providers -----------------------------------------------------------------


@dataclass
class TokenUsage:
    """One day's calls of one model in one project/workspace: what the usage API counts."""

    scope: str  # OpenAI project id / Anthropic workspace id ("" = Anthropic's default workspace)
    model: str
    uncached: int = 0  # input tokens not read from the prompt cache
    cached: int = 0
    output: int = 0
    requests: int = 0

    def add(self, *, uncached: int, cached: int, output: int, requests: int = 1) -> None:
        self.uncached += uncached
        self.cached += cached
        self.output += output
        self.requests += requests


@dataclass(frozen=True)
class CallProfile:
    """The average call of one workload at today's volume, per weekday (Monday first)."""

    scope: str
    model: str
    calls: tuple[int, ...]  # calls per day, Monday … Sunday
    uncached: int
    cached: int
    output: int
    monthly_growth: Decimal = Decimal("0.015")
    day_jitter: int = 80  # permille


def profile_usage(profile: CallProfile, day: dt.date, today: dt.date, rng: random.Random) -> TokenUsage:
    """Aggregate usage of a profile on one day (tokens scale with the day's calls, each count ± its own noise)."""
    calls = whole(profile.calls[day.weekday()] * growth(day, today, profile.monthly_growth) * jitter(rng, 120))
    usage = TokenUsage(profile.scope, profile.model)
    if calls > 0:
        usage.add(
            uncached=whole(calls * profile.uncached * jitter(rng, profile.day_jitter)),
            cached=whole(calls * profile.cached * jitter(rng, profile.day_jitter)),
            output=whole(calls * profile.output * jitter(rng, profile.day_jitter)),
            requests=calls,
        )
    return usage


# --- AWS: a CUR 2.0 Data Export for Acme Underwriting ---------------------------------------------------------

ACME_PAYER = ("731245906182", "Acme Underwriting (management)")
ACME_PROD = ("482913507764", "acme-underwriting-prod")
ACME_DATA = ("739105284416", "acme-data-platform")
ACME_SHARED = ("305562918873", "acme-shared-services")
AWS_ENTITY = "Amazon Web Services EMEA SARL"
AWS_REGIONS = {"eu-central-1": ("EUC1", "EU (Frankfurt)"), "eu-west-1": ("EU", "EU (Ireland)")}
ACME_EXPORT = {"bucket": "acme-billing-exports", "prefix": "cur2", "export_name": "acme-cur2-daily"}
AWS_PRODUCTS = {
    "AmazonEC2": ("Amazon Elastic Compute Cloud", "Compute Instance"),
    "AmazonEKS": ("Amazon Elastic Container Service for Kubernetes", "Compute"),
    "AmazonRDS": ("Amazon Relational Database Service", "Database Instance"),
    "AmazonS3": ("Amazon Simple Storage Service", "Storage"),
    "AmazonCloudWatch": ("AmazonCloudWatch", "Metric"),
    "AmazonBedrock": ("Amazon Bedrock", "Generative AI"),
    "AWSDataTransfer": ("AWS Data Transfer", "Data Transfer"),
    "AWSELB": ("Elastic Load Balancing", "Load Balancer-Application"),
    "awskms": ("AWS Key Management Service", "Encryption Key"),
    "AWSCloudTrail": ("AWS CloudTrail", "Management Tools - AWS CloudTrail Paid Events Recorded"),
}
# CUR 2.0 columns this export selects (Data Exports lets a query pick any subset of the table).
CUR2_COLUMNS = [
    "identity_line_item_id",
    "identity_time_interval",
    "bill_bill_type",
    "bill_billing_entity",
    "bill_billing_period_end_date",
    "bill_billing_period_start_date",
    "bill_invoice_id",
    "bill_invoicing_entity",
    "bill_payer_account_id",
    "bill_payer_account_name",
    "line_item_availability_zone",
    "line_item_currency_code",
    "line_item_legal_entity",
    "line_item_line_item_description",
    "line_item_line_item_type",
    "line_item_operation",
    "line_item_product_code",
    "line_item_resource_id",
    "line_item_unblended_cost",
    "line_item_unblended_rate",
    "line_item_usage_account_id",
    "line_item_usage_account_name",
    "line_item_usage_amount",
    "line_item_usage_end_date",
    "line_item_usage_start_date",
    "line_item_usage_type",
    "pricing_public_on_demand_cost",
    "pricing_public_on_demand_rate",
    "pricing_term",
    "pricing_unit",
    "product",
    "product_location",
    "product_product_family",
    "product_region_code",
    "product_servicecode",
    "product_sku",
    "resource_tags",
]


@dataclass(frozen=True)
class Shape:
    """How a resource's daily quantity moves, written compactly in the tables below as e.g. "m w0.5 n120 g0 s5":
    m = the quantity is per month (GB-months, disks): a day carries 1/days-in-month of it; wX = Saturday and
    Sunday volume relative to a weekday; nX = day-to-day noise in permille; gX = monthly growth (g0 = fixed
    capacity); sX = months before today the resource appeared; cX = a sustained-use credit of X × cost."""

    monthly: bool = False
    weekend: Decimal = ONE
    noise: int = 0
    growth: Decimal = Decimal("0.012")
    since: int = 13
    credit: Decimal = Decimal(0)


def shape(text: str = "") -> Shape:
    values: dict = {}
    for option in text.split():
        key, value = option[0], option[1:]
        if key == "m":
            values["monthly"] = True
        else:
            name = {"w": "weekend", "n": "noise", "g": "growth", "s": "since", "c": "credit"}[key]
            values[name] = int(value) if key in "ns" else Decimal(value)
    return Shape(**values)


def daily_quantity(weekday_quantity: str, how: Shape, day: dt.date, today: dt.date, rng, places: str):
    """The resource's quantity on `day` (None before it appeared): weekday level × weekend × growth × noise."""
    if day < today - dt.timedelta(days=int(how.since * DAYS_PER_MONTH)):
        return None
    quantity = Decimal(weekday_quantity) * (how.weekend if day.weekday() >= 5 else ONE)
    quantity *= growth(day, today, how.growth) * jitter(rng, how.noise)
    if how.monthly:
        quantity /= days_in_month(day)
    return quantity.quantize(Decimal(places))


# One-day incidents the anomaly demo finds open (client, resource or project, meter/SKU) → (days ago, extra
# quantity that day): Maple's debug logging left on after a release (+140 GB into Log Analytics, ≈ CAD 560) and
# an ad-hoc full scan of Harbor's claims warehouse (+72 TiB analysed in BigQuery, ≈ USD 450).
ONE_DAY_INCIDENTS = {
    ("maple", "log-maple-prod", "logs"): (4, Decimal(140)),
    ("harbor", "harbor-data-warehouse", "bq-analysis"): (5, Decimal(72)),
}


def incident_extra(client: str, where: str, meter: str, day: dt.date, today: dt.date) -> Decimal:
    days_ago, extra = ONE_DAY_INCIDENTS.get((client, where, meter), (None, Decimal(0)))
    return extra if days_ago is not None and day == today - dt.timedelta(days=days_ago) else Decimal(0)


def _tags(team: str, app: str, department: str, **more) -> tuple[tuple[str, str], ...]:
    return (("team", team), ("app", app), ("department", department), ("env", "prod"), *more.items())


# Tags of Acme's resources (department = the codes of inventory_demo.DEPARTMENTS["acme"]).
UW = _tags("uw-platform", "underwriting", "underwriting")
UW7 = _tags("uw-platform", "underwriting", "underwriting", agent="underwriter-7")
RAG = _tags("uw-platform", "loan-file-rag", "underwriting")
DOC = _tags("uw-platform", "document-intake", "underwriting")
RISK = _tags("risk-analytics", "credit-score", "risk")
RWH = _tags("risk-analytics", "risk-warehouse", "risk")
LAKE = _tags("data-eng", "data-lake", "risk")
OPS = _tags("cloud-ops", "platform", "it-ops")
P, D, S = ACME_PROD, ACME_DATA, ACME_SHARED
FRA, DUB = "eu-central-1", "eu-west-1"
RAG_DB = "arn:aws:rds:eu-central-1:482913507764:cluster:loan-file-rag"
RISK_DB = "arn:aws:rds:eu-west-1:739105284416:db:risk-warehouse"
EKS = "arn:aws:eks:eu-central-1:482913507764:cluster/uw-agents"
ALB = "arn:aws:elasticloadbalancing:eu-central-1:482913507764:loadbalancer/app/uw-api/5e1c0a7d"
SONNET_BR = "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
TITAN_BR = "arn:aws:bedrock:eu-central-1::foundation-model/amazon.titan-embed-text-v2:0"


def _nodes(account, region, family: str, rate: str, first_id: int, count: int, tags, how: str, later: str = ""):
    """EC2 instances of one group, 24 h a day each; `later` shapes the second half (scale-in, added later)."""
    return [
        (account, region, "AmazonEC2", f"BoxUsage:{family}", "RunInstances", f"i-0{first_id + n:016x}", "Hrs", rate,
         "24", tags, how if n < (count + 1) // 2 or not later else later)
        for n in range(count)
    ]  # fmt: skip


# Acme's AWS estate: underwriting agents on EKS in Frankfurt, risk analytics in Ireland, shared services.
# (account, region, product code, usage type, operation, resource, pricing unit, USD rate, weekday quantity, tags,
#  shape)
ACME_CUR_TABLE = [
    # underwriter-7 has its own node group (a third node added five months ago); other services share one that
    # scales in at weekends
    *_nodes(P, FRA, "m7i.8xlarge", "1.9352", 0xA7C3E5B1D9F2A00, 3, UW7, "g0", later="g0 s5"),
    *_nodes(P, FRA, "m7i.8xlarge", "1.9352", 0xB31C8E2A7D4F100, 2, UW, "g0", later="g0 w0.5"),
    *_nodes(P, FRA, "c7i.2xlarge", "0.4074", 0xC5D17A9E2B4F600, 2, UW, "g0"),
    (P, FRA, "AmazonEC2", "EBS:VolumeUsage.gp3", "CreateVolume-Gp3", "vol-0e1f2a3b4c5d6e7f8", "GB-Mo", "0.0952",
     "22000", UW, "m"),
    (P, FRA, "AmazonEKS", "AmazonEKS-Hours:perCluster", "CreateOperation", EKS, "Hours", "0.10", "24", UW, "g0"),
    (P, FRA, "AmazonRDS", "InstanceUsage:db.r7g.2xl", "CreateDBInstance:0021", RAG_DB, "Hrs", "1.2856", "72", RAG,
     "g0"),
    (P, FRA, "AmazonRDS", "Aurora:StorageUsage", "CreateDBInstance:0021", RAG_DB, "GB-Mo", "0.11", "2600", RAG,
     "m g0.02"),
    (P, FRA, "AmazonRDS", "Aurora:StorageIOUsage", "CreateDBInstance:0021", RAG_DB, "IOs", "0.00000022", "62000000",
     RAG, "w0.4 n120"),
    (P, FRA, "AmazonS3", "TimedStorage-ByteHrs", "StandardStorage", "acme-uw-memos", "GB-Mo", "0.0245", "27000", UW,
     "m g0.025"),
    (P, FRA, "AmazonS3", "Requests-Tier1", "PutObject", "acme-uw-memos", "Requests", "0.0000054", "950000", UW,
     "w0.3 n150"),
    (P, FRA, "AmazonCloudWatch", "DataProcessing-Bytes", "PutLogEvents", "", "GB", "0.63", "58", UW, "w0.6 n100"),
    (P, FRA, "AmazonCloudWatch", "CW:MetricMonitorUsage", "MetricStorage", "", "Metrics", "0.30", "2700", UW, "m"),
    # Claude Sonnet 4.5 on Bedrock reads applicants' documents for the underwriting agents: ≈ $3–5k a month
    (P, FRA, "AmazonBedrock", "Claude4.5Sonnet-input-tokens", "InvokeModelInference", SONNET_BR, "Tokens",
     "0.000003", "44000000", DOC, "w0.35 g0.01 n150"),
    (P, FRA, "AmazonBedrock", "Claude4.5Sonnet-output-tokens", "InvokeModelInference", SONNET_BR, "Tokens",
     "0.000015", "3100000", DOC, "w0.35 g0.01 n150"),
    (P, FRA, "AmazonBedrock", "TitanEmbedTextV2-input-tokens", "InvokeModelInference", TITAN_BR, "Tokens",
     "0.00000002", "140000000", RAG, "n100"),
    (P, FRA, "AWSDataTransfer", "DataTransfer-Out-Bytes", "", "", "GB", "0.09", "270", UW, "w0.5 n120"),
    (P, FRA, "AWSELB", "LoadBalancerUsage", "LoadBalancing:Application", ALB, "Hrs", "0.027", "72", UW, "g0"),
    (P, FRA, "AWSELB", "LCUUsage", "LoadBalancing:Application", ALB, "LCU-Hrs", "0.008", "640", UW, "w0.5 n100"),
    # risk analytics (credit score model v3) in Ireland
    *_nodes(D, DUB, "r7i.8xlarge", "2.3520", 0xD42A1C3E5F70000, 3, RISK, "g0", later="g0 w0.5"),
    *_nodes(D, DUB, "g5.2xlarge", "1.3620", 0xE9A3C5D7F1B2D00, 2, RISK, "g0 w0.25"),
    (D, DUB, "AmazonEC2", "EBS:VolumeUsage.gp3", "CreateVolume-Gp3", "vol-0f9e8d7c6b5a49382", "GB-Mo", "0.088",
     "15000", RISK, "m"),
    (D, DUB, "AmazonRDS", "Multi-AZUsage:db.r6g.4xl", "CreateDBInstance:0014", RISK_DB, "Hrs", "3.56", "24", RWH,
     "g0"),
    (D, DUB, "AmazonRDS", "RDS:Multi-AZ-GP3-Storage", "CreateDBInstance:0014", RISK_DB, "GB-Mo", "0.264", "4200",
     RWH, "m"),
    (D, DUB, "AmazonS3", "TimedStorage-ByteHrs", "StandardStorage", "acme-risk-datalake", "GB-Mo", "0.023",
     "140000", LAKE, "m g0.02"),
    (D, DUB, "AmazonS3", "Requests-Tier1", "PutObject", "acme-risk-datalake", "Requests", "0.000005", "2500000",
     LAKE, "n150"),
    (D, DUB, "AmazonS3", "Requests-Tier2", "GetObject", "acme-risk-datalake", "Requests", "0.0000004", "9500000",
     LAKE, "n150"),
    (D, DUB, "AmazonCloudWatch", "DataProcessing-Bytes", "PutLogEvents", "", "GB", "0.57", "19", RISK, "n100"),
    (D, DUB, "AWSDataTransfer", "DataTransfer-Out-Bytes", "", "", "GB", "0.09", "85", RISK, "n150"),
    (D, DUB, "AWSDataTransfer", "EUC1-AWS-Out-Bytes", "", "", "GB", "0.02", "160", RISK, "n150"),
    # shared services: CI runners and bastion, the observability stack, audit logs, keys
    *_nodes(S, FRA, "t3.xlarge", "0.192", 0x1A2B3C4D5E6F700, 2, OPS, "g0"),
    *_nodes(S, FRA, "m7i.xlarge", "0.2419", 0x2B3C4D5E6F70800, 2, OPS, "g0"),
    (S, FRA, "AmazonS3", "TimedStorage-SIA-ByteHrs", "StandardIAStorage", "acme-audit-logs", "GB-Mo", "0.0135",
     "64000", OPS, "m g0.03"),
    (S, FRA, "AmazonCloudWatch", "DataProcessing-Bytes", "PutLogEvents", "", "GB", "0.63", "26", OPS, "n100"),
    (S, FRA, "AmazonCloudWatch", "CW:MetricMonitorUsage", "MetricStorage", "", "Metrics", "0.30", "1250", OPS, "m"),
    (S, FRA, "AWSCloudTrail", "PaidEventsRecorded", "None", "", "Events", "0.000002", "2100000", OPS, "n100"),
    (S, FRA, "awskms", "KMS-Requests", "Decrypt", "", "Requests", "0.000003", "3200000", OPS, "w0.6 n100"),
]  # fmt: skip


def _line_item_id(*parts) -> str:
    return base64.b32encode(hashlib.sha256("/".join(parts).encode()).digest()).decode().lower()[:52]


def _line_item_description(usage_type: str, rate: str, unit: str, region: str) -> str:
    if usage_type.startswith("BoxUsage:"):
        return f"${rate} per On Demand Linux {usage_type.split(':', 1)[1]} Instance Hour"
    return f"${rate} per {unit} for {usage_type} in {AWS_REGIONS[region][1]}"


def acme_cur_rows(today: dt.date, month: dt.date) -> list[list]:
    """The CUR 2.0 rows of one billing period (days before today only), one per resource and day."""
    rng = rng_for("acme", "aws", month.isoformat())
    period_start, period_end = month_start(month), next_month(month)
    closed = period_end <= today.replace(day=1)
    invoice = f"EUINDE{period_start:%y}-{(period_start.month * 7919 + period_start.year) % 1_000_000:06d}"
    # the maps are the same every day: JSON once per line
    table = [
        (*line[:9], json.dumps({f"user_{k}": v for k, v in line[9]}), shape(line[10]),
         json.dumps({"product_name": AWS_PRODUCTS[line[2]][0], "region": line[1]}))
        for line in ACME_CUR_TABLE
    ]  # fmt: skip
    rows = []
    day = period_start
    while day < min(period_end, today):
        start, end = utc(day), utc(day + dt.timedelta(days=1))
        for account, region, code, usage, operation, resource, unit, rate, weekday, tags, how, product in table:
            quantity = daily_quantity(weekday, how, day, today, rng, "0.0000000001")
            if quantity is None:
                continue
            cost = (quantity * Decimal(rate)).quantize(Decimal("0.0000000001"))
            family = AWS_PRODUCTS[code][1]
            usage_type = f"{AWS_REGIONS[region][0]}-{usage}"
            row = {
                "identity_line_item_id": _line_item_id(account[0], usage_type, operation, resource, day.isoformat()),
                "identity_time_interval": f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}",
                "bill_bill_type": "Anniversary",
                "bill_billing_entity": "AWS",
                "bill_billing_period_end_date": f"{period_end:%Y-%m-%d}T00:00:00.000Z",
                "bill_billing_period_start_date": f"{period_start:%Y-%m-%d}T00:00:00.000Z",
                "bill_invoice_id": invoice if closed else "",  # the invoice exists once the month is closed
                "bill_invoicing_entity": AWS_ENTITY,
                "bill_payer_account_id": ACME_PAYER[0],
                "bill_payer_account_name": ACME_PAYER[1],
                "line_item_availability_zone": f"{region}a" if usage.startswith("BoxUsage") else "",
                "line_item_currency_code": "USD",
                "line_item_legal_entity": AWS_ENTITY,
                "line_item_line_item_description": _line_item_description(usage, rate, unit, region),
                "line_item_line_item_type": "Usage",
                "line_item_operation": operation,
                "line_item_product_code": code,
                "line_item_resource_id": resource,  # S3: the bucket; EC2: the instance id
                "line_item_unblended_cost": format(cost, "f"),
                "line_item_unblended_rate": rate,
                "line_item_usage_account_id": account[0],
                "line_item_usage_account_name": account[1],
                "line_item_usage_amount": format(quantity, "f"),
                "line_item_usage_end_date": f"{end:%Y-%m-%dT%H:%M:%S}.000Z",
                "line_item_usage_start_date": f"{start:%Y-%m-%dT%H:%M:%S}.000Z",
                "line_item_usage_type": usage_type,
                "pricing_public_on_demand_cost": format(cost, "f"),
                "pricing_public_on_demand_rate": rate,
                "pricing_term": "OnDemand" if code in ("AmazonEC2", "AmazonRDS") else "",
                "pricing_unit": unit,
                "product": product,
                "product_location": AWS_REGIONS[region][1],
                "product_product_family": family,
                "product_region_code": region,
                "product_servicecode": code,
                "product_sku": short_hash(code, usage_type, operation).upper(),
                "resource_tags": tags,  # CUR 2.0's map: user_<tag key>
            }
            rows.append([row[column] for column in CUR2_COLUMNS])
        day += dt.timedelta(days=1)
    return rows


def write_acme_cur_export(root: Path, today: dt.date) -> dict:
    """The Data Export in `root/<bucket>/`: per billing period a gzip CSV and the manifest that lists it.

    Returns the source settings that point at it."""
    bucket, prefix, name = ACME_EXPORT["bucket"], ACME_EXPORT["prefix"], ACME_EXPORT["export_name"]
    base = f"{prefix}/{name}"
    month = demo_start(today)
    while month < today:
        period = f"{month:%Y-%m}"
        rows = acme_cur_rows(today, month)
        key = f"{base}/data/BILLING_PERIOD={period}/{name}-00001.csv.gz"
        write_gzip_csv(root / bucket / key, CUR2_COLUMNS, rows)
        manifest = {
            "executionId": f"{short_hash('acme-cur', period, length=8)}-{short_hash(period, length=4)}-4c1e-9d2a-"
            f"{short_hash('run', period, length=12)}",
            "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{ACME_PAYER[0]}:export/{name}-5c2f1d3e",
            "exportName": name,
            "billingPeriod": {
                "start": f"{month:%Y-%m-%d}T00:00:00.000Z",
                "end": f"{next_month(month):%Y-%m-%d}T00:00:00.000Z",
            },
            "columns": [
                {"name": c, "type": "map" if c in ("product", "resource_tags") else "string"} for c in CUR2_COLUMNS
            ],
            "dataFileCount": 1,
            "dataFiles": [f"s3://{bucket}/{key}"],
            "totalRowCount": len(rows),
        }
        manifest_key = f"{base}/metadata/BILLING_PERIOD={period}/{name}-Manifest.json"
        (root / bucket / manifest_key).parent.mkdir(parents=True, exist_ok=True)
        (root / bucket / manifest_key).write_text(json.dumps(manifest, indent=2))
        month = next_month(month)
    return {**ACME_EXPORT, "region": "eu-central-1", "export_format": "cur2"}


class LocalS3:
    """The S3 client calls AWS's DataExportConnector makes, answered from a local directory laid out as
    <root>/<bucket>/<key>: get_object (Body is botocore's StreamingBody, so read() and iter_chunks() are the
    real ones), head_object and list_objects_v2, with S3's error codes for missing keys and buckets."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.calls: list[tuple[str, str]] = []

    def _path(self, operation: str, bucket: str, key: str) -> Path:
        if not (self.root / bucket).is_dir():
            raise self._error(operation, "NoSuchBucket", "The specified bucket does not exist", 404)
        return self.root / bucket / key

    @staticmethod
    def _error(operation: str, code: str, message: str, status: int):
        from botocore.exceptions import ClientError

        return ClientError(
            {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
        )

    @staticmethod
    def _meta(path: Path) -> dict:
        data = path.read_bytes()
        modified = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC).replace(microsecond=0)
        return {
            "ETag": f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"',
            "ContentLength": len(data),
            "LastModified": modified,
        }

    def get_object(self, *, Bucket: str, Key: str, **_):  # noqa: N803 — boto3's parameter names
        from botocore.response import StreamingBody

        self.calls.append(("get_object", Key))
        path = self._path("GetObject", Bucket, Key)
        if not path.is_file():
            raise self._error("GetObject", "NoSuchKey", "The specified key does not exist.", 404)
        data = path.read_bytes()
        return {**self._meta(path), "Body": StreamingBody(io.BytesIO(data), len(data))}

    def head_object(self, *, Bucket: str, Key: str, **_):  # noqa: N803
        self.calls.append(("head_object", Key))
        path = self._path("HeadObject", Bucket, Key)
        if not path.is_file():
            raise self._error("HeadObject", "404", "Not Found", 404)  # HEAD has no body: S3 sends just the status
        return self._meta(path)

    def list_objects_v2(self, *, Bucket: str, Prefix: str = "", MaxKeys: int = 1000, Delimiter: str = "", **_):  # noqa: N803
        self.calls.append(("list_objects_v2", Prefix))
        base = self._path("ListObjectsV2", Bucket, "")
        keys = sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
        keys = [k for k in keys if k.startswith(Prefix)]
        contents, prefixes = [], []
        for key in keys:
            rest = key[len(Prefix) :]
            if Delimiter and Delimiter in rest:
                common = Prefix + rest.split(Delimiter, 1)[0] + Delimiter
                if {"Prefix": common} not in prefixes:
                    prefixes.append({"Prefix": common})
                continue
            meta = self._meta(base / key)
            contents.append(
                {
                    "Key": key,
                    "LastModified": meta["LastModified"],
                    "ETag": meta["ETag"],
                    "Size": meta["ContentLength"],
                    "StorageClass": "STANDARD",
                }
            )
        answer = {
            "Name": Bucket,
            "Prefix": Prefix,
            "MaxKeys": MaxKeys,
            "IsTruncated": False,
            "KeyCount": len(contents[:MaxKeys]) + len(prefixes),
        }
        if contents:
            answer["Contents"] = contents[:MaxKeys]
        if prefixes:
            answer["CommonPrefixes"] = prefixes
        return answer


# --- OpenAI: Acme's organisation -------------------------------------------------------------------------------

GPT_4O, GPT_4O_MINI, EMBED_LARGE = "gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "text-embedding-3-large"
# USD per token: the bundled model catalog's prices (LiteLLM 1.109.1), so usage events price to the bill.
OPENAI_PRICES = {
    GPT_4O: (Decimal("0.0000025"), Decimal("0.00000125"), Decimal("0.00001")),
    GPT_4O_MINI: (Decimal("0.00000015"), Decimal("0.000000075"), Decimal("0.0000006")),
    EMBED_LARGE: (Decimal("0.00000013"), None, None),
}
ACME_ORG = "org-AcmeUnderwritingDemo"
ACME_PROJECTS = {  # project id → (name, department code in inventory_demo.DEPARTMENTS); the costs API sends ids
    "proj_uW7kP2mQ9xTz4LbN": ("underwriter-7", "underwriting"),
    "proj_Uw2Hn5Zr8cLq1VsD": ("underwriting-copilot", "underwriting"),
    "proj_Dt6Gf3Ka8wNp2XcJ": ("document-triage", "underwriting"),
    "proj_Kb6Tq1Vx9aNw2HpL": ("loan-file-rag", "underwriting"),
    "proj_Rk3sV8nC1dYh6QwE": ("risk-review", "risk"),
    "proj_It4Jd7Wk0eMs3RyF": ("it-ops-assistant", "it-ops"),
}
UW7_PROJECT = "proj_uW7kP2mQ9xTz4LbN"
UW7_PROFILE = CallProfile(UW7_PROJECT, GPT_4O, (1200, 1250, 1200, 1150, 1050, 480, 300), 18_000, 12_000, 2_000)
ACME_PROFILES = (
    CallProfile("proj_Uw2Hn5Zr8cLq1VsD", GPT_4O, (3900, 4000, 3900, 3800, 3300, 180, 90), 5_000, 3_000, 600),
    CallProfile(
        "proj_Dt6Gf3Ka8wNp2XcJ", GPT_4O_MINI, (31000, 32000, 31000, 30000, 27000, 9000, 6000), 5_000, 1_000, 500
    ),
    CallProfile(
        "proj_Rk3sV8nC1dYh6QwE",
        GPT_4O,
        (600, 600, 600, 600, 600, 600, 600),
        35_000,
        5_000,
        3_000,
        monthly_growth=Decimal("0.01"),
    ),
    CallProfile("proj_It4Jd7Wk0eMs3RyF", GPT_4O_MINI, (2100, 2100, 2000, 2000, 1800, 200, 150), 2_000, 0, 300),
)
EMBED_TOKENS_PER_NIGHT = 31_000_000  # the loan-file RAG's nightly re-embedding
UW7_EVENT_DAYS = 14  # underwriter-7's gateway has reported every call for the last two weeks
# The runaway loop 3 days ago: 100 calls a minute at $0.226 each (84,400 input + 1,500 output tokens of gpt-4o) is
# $22.60 a minute — the $65,000-in-48-hours pace — for 40 minutes, the same prompt over and over, then killed.
RUNAWAY_DAYS_AGO, RUNAWAY_START, RUNAWAY_MINUTES, RUNAWAY_PER_MINUTE = 3, (13, 12), 40, 100
RUNAWAY_INPUT, RUNAWAY_OUTPUT = 84_400, 1_500
RUNAWAY_PROMPT_HASH = hashlib.sha256(b"acme/underwriter-7/decision-memo/LF-2026-118834/retry").hexdigest()


@dataclass
class LlmOrg:
    """An LLM provider organisation's history: per day, the token usage of every (scope, model), plus the
    money-only line items (embeddings) and the usage events the client's gateway reported."""

    days: list[dt.date]
    usage: dict[dt.date, list[TokenUsage]] = field(default_factory=dict)
    extra_costs: dict[dt.date, list[tuple[str, str, Decimal]]] = field(default_factory=dict)  # (scope, item, $)
    events: list[dict] = field(default_factory=list)


def _uw7_events(day: dt.date, today: dt.date) -> list[dict]:
    """Every gpt-4o call underwriter-7 made on `day`, as its gateway reported them."""
    rng = rng_for("acme", "uw7-events", day.isoformat())
    calls = whole(UW7_PROFILE.calls[day.weekday()] * growth(day, today, UW7_PROFILE.monthly_growth) * jitter(rng, 80))
    events = []
    for n in range(calls):
        uncached = whole(Decimal(UW7_PROFILE.uncached) * Decimal(rng.randint(60, 140)) / 100)
        cached = whole(Decimal(UW7_PROFILE.cached) * Decimal(rng.randint(50, 150)) / 100)
        output = whole(Decimal(UW7_PROFILE.output) * Decimal(rng.randint(50, 150)) / 100)
        loan_file = f"LF-{day:%Y}-{day.timetuple().tm_yday:03d}{n:04d}"  # one loan file per call
        moment = utc(day, _business_seconds(rng, 6, 17))  # Frankfurt office hours in UTC
        events.append(
            {
                "timestamp": rfc3339(moment),
                "request_id": f"chatcmpl-uw7-{day:%Y%m%d}-{n:05d}",
                "provider": "openai",
                "model": GPT_4O,
                "input_tokens": uncached + cached,  # OpenAI counts cached tokens inside the input
                "cached_tokens": cached,
                "output_tokens": output,
                "agent": "underwriter-7",
                "department": "underwriting",
                "api_key_id": "key_uw7_prod_eu",
                "prompt_hash": hashlib.sha256(f"decision-memo/{loan_file}".encode()).hexdigest(),
                "attributes": {"loan_file": loan_file, "prompt_version": 2},
            }
        )
    return events


def runaway_events(today: dt.date) -> list[dict]:
    """underwriter-7's recursive loop: the same decision-memo prompt re-sent 100 times a minute for 40 minutes."""
    day = today - dt.timedelta(days=RUNAWAY_DAYS_AGO)
    start = utc(day, RUNAWAY_START[0] * 3600 + RUNAWAY_START[1] * 60)
    events = []
    for n in range(RUNAWAY_MINUTES * RUNAWAY_PER_MINUTE):
        moment = start + dt.timedelta(milliseconds=n * 60_000 // RUNAWAY_PER_MINUTE)
        events.append(
            {
                "timestamp": rfc3339(moment),
                "request_id": f"chatcmpl-uw7-loop-{day:%Y%m%d}-{n:05d}",
                "provider": "openai",
                "model": GPT_4O,
                "input_tokens": RUNAWAY_INPUT,
                "cached_tokens": 0,
                "output_tokens": RUNAWAY_OUTPUT,
                "agent": "underwriter-7",
                "department": "underwriting",
                "api_key_id": "key_uw7_prod_eu",
                "prompt_hash": RUNAWAY_PROMPT_HASH,
                "attributes": {"loan_file": "LF-2026-118834", "prompt_version": 2, "loop_iteration": n + 1},
            }
        )
    return events


def _sum_events(scope: str, model: str, events: list[dict]) -> TokenUsage:
    usage = TokenUsage(scope, model)
    for event in events:
        usage.add(
            uncached=event["input_tokens"] - event["cached_tokens"],
            cached=event["cached_tokens"],
            output=event["output_tokens"],
        )
    return usage


def acme_openai(today: dt.date) -> LlmOrg:
    """Acme's OpenAI organisation. underwriter-7's last two weeks are the sum of its reported calls (runaway
    included), so the bill and the usage events agree; older days and the other projects are aggregates."""
    org = LlmOrg(days=demo_days(today))
    runaway = runaway_events(today)
    runaway_day = today - dt.timedelta(days=RUNAWAY_DAYS_AGO)
    for day in org.days:
        rng = rng_for("acme", "openai", day.isoformat())
        usages = [profile_usage(p, day, today, rng) for p in ACME_PROFILES]
        if (today - day).days <= UW7_EVENT_DAYS:
            events = _uw7_events(day, today) + (runaway if day == runaway_day else [])
            org.events.extend(events)
            usages.append(_sum_events(UW7_PROJECT, GPT_4O, events))
        else:
            usages.append(profile_usage(UW7_PROFILE, day, today, rng))
        org.usage[day] = [u for u in usages if u.requests]
        embedded = whole(EMBED_TOKENS_PER_NIGHT * growth(day, today, Decimal("0.02")) * jitter(rng, 60))
        org.extra_costs[day] = [
            ("proj_Kb6Tq1Vx9aNw2HpL", f"{EMBED_LARGE}, input", embedded * OPENAI_PRICES[EMBED_LARGE][0])
        ]
    return org


def openai_cost_results(org: LlmOrg, day: dt.date) -> list[dict]:
    """/v1/organization/costs results of one day, grouped by project_id and line_item."""
    results = []
    for usage in org.usage.get(day, []):
        price_in, price_cached, price_out = OPENAI_PRICES[usage.model]
        for piece, tokens, price in (
            ("input", usage.uncached, price_in),
            ("cached input", usage.cached, price_cached),
            ("output", usage.output, price_out),
        ):
            if tokens:
                results.append(_openai_cost(usage.scope, f"{usage.model}, {piece}", tokens * price))
    results += [_openai_cost(scope, item, amount) for scope, item, amount in org.extra_costs.get(day, [])]
    return results


def _openai_cost(project: str, line_item: str, amount: Decimal) -> dict:
    return {
        "object": "organization.costs.result",
        "amount": {"value": amount, "currency": "usd"},
        "line_item": line_item,
        "project_id": project,
        "organization_id": ACME_ORG,
    }


def openai_usage_results(org: LlmOrg, day: dt.date) -> list[dict]:
    """/v1/organization/usage/completions results of one day, grouped by model and project_id."""
    return [
        {
            "object": "organization.usage.completions.result",
            "input_tokens": u.uncached + u.cached,
            "output_tokens": u.output,
            "input_cached_tokens": u.cached,
            "input_audio_tokens": 0,
            "output_audio_tokens": 0,
            "num_model_requests": u.requests,
            "project_id": u.scope,
            "user_id": None,
            "api_key_id": None,
            "model": u.model,
            "batch": None,
            "service_tier": None,
        }
        for u in org.usage.get(day, [])
    ]


# --- Anthropic: Harbor Insurance's organisation -------------------------------------------------------------

OPUS, SONNET, HAIKU = "claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"
ANTHROPIC_PRICES = {  # USD per token (input, cache read, output): the bundled catalog's
    OPUS: (Decimal("0.000005"), Decimal("0.0000005"), Decimal("0.000025")),
    SONNET: (Decimal("0.000003"), Decimal("0.0000003"), Decimal("0.000015")),
    HAIKU: (Decimal("0.000001"), Decimal("0.0000001"), Decimal("0.000005")),
}
ANTHROPIC_NAMES = {OPUS: "Claude Opus 4.5", SONNET: "Claude Sonnet 4.5", HAIKU: "Claude Haiku 4.5"}
HARBOR_CLAIMS_WORKSPACE = "wrkspc_01K2Q8HBR7CLMSP1PE4X9ZT3VW"
HARBOR_WORKSPACES = {  # workspace id → (name, department code): the cost report names neither
    HARBOR_CLAIMS_WORKSPACE: ("claims-pipeline", "claims-ops"),
    "wrkspc_01K2Q8HBRC5T0MERSVC6D2NY4M": ("customer-service", "customer-service"),
    "wrkspc_01K2Q8HBRDATA7ANLYT1C5QJ8R": ("data-analytics", "data"),
    "": ("default", "data"),  # the default workspace (the API sends null)
}
# The claims pipeline: Haiku routes every claim; the assessment ran on Opus until the routing change 3 months ago,
# then Sonnet takes 78% of claims. Per claim: 48k uncached + 36k cache-read input, 13,960 output tokens, so
# ≈ $0.61 a claim before ($0.607 Opus + $0.003 routing) and ≈ $0.42 after (0.78 × $0.364 + 0.22 × $0.607 + $0.003).
CLAIM_TOKENS = (48_000, 36_000, 13_960)
ROUTING_TOKENS = (2_400, 150)
SONNET_SHARE_AFTER = Decimal("0.78")
CLAIMS_PER_WEEKDAY = (1340, 1240, 1180, 1130, 1070, 540, 480)  # ≈ 30,000 claims a month
CLAIMS_GROWTH = Decimal("0.01")
CLAIM_EVENT_DAYS = 30
HARBOR_OTHER_PROFILES = (
    CallProfile(
        "wrkspc_01K2Q8HBRC5T0MERSVC6D2NY4M", HAIKU, (6300, 6100, 6000, 5900, 5600, 3600, 3300), 2_000, 1_000, 350
    ),
    CallProfile("wrkspc_01K2Q8HBRDATA7ANLYT1C5QJ8R", SONNET, (420, 420, 410, 400, 380, 40, 30), 20_000, 0, 2_000),
    CallProfile("", SONNET, (70, 70, 70, 70, 60, 5, 5), 10_000, 0, 1_000),
)


def routing_change_day(today: dt.date) -> dt.date:
    """Three months before today (same day of the month, clamped): the day most claims moved to Sonnet."""
    month = today.month - 3
    year = today.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return dt.date(year, month, min(today.day, calendar.monthrange(year, month)[1]))


def harbor_claims(today: dt.date) -> dict[dt.date, int]:
    """Claims processed per day: the business unit behind Harbor's cost per claim."""
    middle = demo_start(today) + (today - demo_start(today)) / 2  # ≈ 30,000 a month on average over the year
    claims = {}
    for day in demo_days(today):
        rng = rng_for("harbor", "claims", day.isoformat())
        level = CLAIMS_PER_WEEKDAY[day.weekday()] * growth(day, middle, CLAIMS_GROWTH) * jitter(rng, 60)
        claims[day] = whole(level)
    return claims


def _claim_event(day: dt.date, n: int, rng: random.Random, model: str) -> dict:
    uncached = whole(Decimal(CLAIM_TOKENS[0]) * Decimal(rng.randint(70, 130)) / 100)
    cached = whole(Decimal(CLAIM_TOKENS[1]) * Decimal(rng.randint(80, 120)) / 100)
    output = whole(Decimal(CLAIM_TOKENS[2]) * Decimal(rng.randint(70, 130)) / 100)
    claim = f"CLM-{day:%y%m%d}-{n:05d}"
    return {
        "timestamp": rfc3339(utc(day, _business_seconds(rng, 13, 23))),  # New York office hours in UTC
        "request_id": f"msg_harbor_{day:%Y%m%d}_{n:05d}",
        "provider": "anthropic",
        "model": model,
        "input_tokens": uncached + cached,  # Keel's rule: cached tokens are part of the input
        "cached_tokens": cached,
        "output_tokens": output,
        "agent": "claims-triage",
        "department": "claims-ops",
        "api_key_id": "apikey_01HarborClaimsProd",
        "prompt_hash": hashlib.sha256(f"claim-summary-v3/{claim}".encode()).hexdigest(),
        "attributes": {"claim_id": claim, "route": "sonnet" if model == SONNET else "opus", "prompt_version": 3},
    }


def harbor_anthropic(today: dt.date) -> LlmOrg:
    """Harbor's Anthropic organisation. The claims workspace's last 30 days are the sum of the claims-triage
    agent's reported calls (one assessment call per claim) plus Haiku's routing; everything older is aggregate."""
    org = LlmOrg(days=demo_days(today))
    change = routing_change_day(today)
    for day, claims in harbor_claims(today).items():
        rng = rng_for("harbor", "anthropic", day.isoformat())
        sonnet_share = SONNET_SHARE_AFTER if day >= change else Decimal(0)
        usages = [profile_usage(p, day, today, rng) for p in HARBOR_OTHER_PROFILES]
        routing = TokenUsage(HARBOR_CLAIMS_WORKSPACE, HAIKU)
        routing.add(uncached=claims * ROUTING_TOKENS[0], cached=0, output=claims * ROUTING_TOKENS[1], requests=claims)
        usages.append(routing)
        if (today - day).days <= CLAIM_EVENT_DAYS:
            events = []
            for n in range(claims):
                model = SONNET if rng.randint(1, 10_000) <= sonnet_share * 10_000 else OPUS
                events.append(_claim_event(day, n, rng, model))
            org.events.extend(events)
            for model in (OPUS, SONNET):
                usages.append(_sum_events(HARBOR_CLAIMS_WORKSPACE, model, [e for e in events if e["model"] == model]))
        else:
            on_sonnet = whole(claims * sonnet_share)
            for model, count in ((SONNET, on_sonnet), (OPUS, claims - on_sonnet)):
                usage = TokenUsage(HARBOR_CLAIMS_WORKSPACE, model)
                if count:
                    usage.add(
                        uncached=whole(count * CLAIM_TOKENS[0] * jitter(rng, 30)),
                        cached=whole(count * CLAIM_TOKENS[1] * jitter(rng, 30)),
                        output=whole(count * CLAIM_TOKENS[2] * jitter(rng, 30)),
                        requests=count,
                    )
                usages.append(usage)
        org.usage[day] = [u for u in usages if u.requests]
    return org


def anthropic_cost_results(org: LlmOrg, day: dt.date) -> list[dict]:
    """/v1/organizations/cost_report results of one day, grouped by workspace_id and description: amounts
    are decimal strings in cents, as the API sends them."""
    results = []
    for usage in org.usage.get(day, []):
        price_in, price_cached, price_out = ANTHROPIC_PRICES[usage.model]
        name = ANTHROPIC_NAMES[usage.model]
        for token_type, label, tokens, price in (
            ("uncached_input_tokens", "Input Tokens", usage.uncached, price_in),
            ("cache_read_input_tokens", "Cache Read", usage.cached, price_cached),
            ("output_tokens", "Output Tokens", usage.output, price_out),
        ):
            if not tokens:
                continue
            cents = (tokens * price * 100).normalize()
            results.append(
                {
                    "currency": "USD",
                    "amount": format(cents, "f"),
                    "workspace_id": usage.scope or None,
                    "description": f"{name} Usage - {label}",
                    "cost_type": "tokens",
                    "context_window": "0-200k",
                    "model": usage.model,
                    "service_tier": "standard",
                    "token_type": token_type,
                    "inference_geo": None,
                }
            )
    return results


def anthropic_usage_results(org: LlmOrg, day: dt.date) -> list[dict]:
    """/v1/organizations/usage_report/messages results of one day, grouped by model and workspace_id."""
    return [
        {
            "uncached_input_tokens": u.uncached,
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
            "cache_read_input_tokens": u.cached,
            "output_tokens": u.output,
            "server_tool_use": {"web_search_requests": 0},
            "api_key_id": None,
            "workspace_id": u.scope or None,
            "model": u.model,
            "service_tier": None,
            "context_window": None,
        }
        for u in org.usage.get(day, [])
    ]


# --- the Admin APIs over a requests adapter ----------------------------------------------------------------------


def _cursor(offset: int) -> str:
    return "page_" + base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    text = cursor.removeprefix("page_")
    return int(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode().split(":", 1)[1])


def daily_pages(
    query: dict[str, list[str]],
    *,
    start: dt.datetime,
    end: dt.datetime,
    max_limit: int,
    bucket: Callable[[dt.date], dict],
    envelope: dict | None = None,
) -> dict:
    """One page of daily buckets for [start, end): `limit` buckets from the `page` cursor, as both Admin APIs
    page (has_more + next_page). Days without usage still get a bucket, with no results."""
    limit = min(int((query.get("limit") or [max_limit])[0]), max_limit)
    days = [start.date() + dt.timedelta(days=i) for i in range((end - start).days)]
    offset = _offset((query.get("page") or [None])[0])
    chunk = days[offset : offset + limit]
    more = offset + limit < len(days)
    return {
        **(envelope or {}),
        "data": [bucket(day) for day in chunk],
        "has_more": more,
        "next_page": _cursor(offset + limit) if more else None,
    }


def openai_routes(org: LlmOrg) -> dict[str, Callable]:
    def window(query):
        return (
            dt.datetime.fromtimestamp(int(query["start_time"][0]), tz=dt.UTC),
            dt.datetime.fromtimestamp(int(query["end_time"][0]), tz=dt.UTC),
        )

    def page(query, max_limit, results):
        start, end = window(query)
        return daily_pages(
            query,
            start=start,
            end=end,
            max_limit=max_limit,
            envelope={"object": "page"},
            bucket=lambda day: {
                "object": "bucket",
                "start_time": int(utc(day).timestamp()),
                "end_time": int(utc(day + dt.timedelta(days=1)).timestamp()),
                "results": results(org, day),
            },
        )

    return {
        "/v1/organization/costs": lambda query: page(query, 180, openai_cost_results),
        "/v1/organization/usage/completions": lambda query: page(query, 31, openai_usage_results),
    }


def anthropic_routes(org: LlmOrg) -> dict[str, Callable]:
    def page(query, results):
        start = dt.datetime.fromisoformat(query["starting_at"][0].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(query["ending_at"][0].replace("Z", "+00:00"))
        return daily_pages(
            query,
            start=start,
            end=end,
            max_limit=31,
            bucket=lambda day: {
                "starting_at": f"{day:%Y-%m-%d}T00:00:00Z",
                "ending_at": f"{day + dt.timedelta(days=1):%Y-%m-%d}T00:00:00Z",
                "results": results(org, day),
            },
        )

    return {
        "/v1/organizations/cost_report": lambda query: page(query, anthropic_cost_results),
        "/v1/organizations/usage_report/messages": lambda query: page(query, anthropic_usage_results),
    }


class ProviderApi(requests.adapters.BaseAdapter):
    """A requests transport that answers GETs by URL path: `routes[path](query) -> JSON object`.
    Unknown paths get the providers' 404 error shape; every request is kept in `sent`."""

    def __init__(self, routes: dict[str, Callable[[dict[str, list[str]]], dict]]):
        super().__init__()
        self.routes = routes
        self.sent: list[str] = []

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        self.sent.append(request.url)
        handler = self.routes.get(url.path)
        if request.method != "GET" or handler is None:
            status, body = 404, {"error": {"type": "not_found_error", "message": f"No route for {url.path}"}}
        else:
            status, body = 200, handler(parse_qs(url.query))
        response = requests.Response()
        response.status_code, response.url, response.request = status, request.url, request
        response.reason = "OK" if status == 200 else "Not Found"
        response.headers.update({"Content-Type": "application/json", "request-id": f"req_{short_hash(request.url)}"})
        response.raw = io.BytesIO(json_text(body).encode())
        response.encoding = "utf-8"
        return response

    def close(self):
        pass


def api_session(base_url: str, routes: dict[str, Callable]) -> requests.Session:
    session = requests.Session()
    session.mount(base_url, ProviderApi(routes))
    return session


# --- Azure: Maple Health's ActualCost export --------------------------------------------------------------------

MAPLE_ENROLLMENT = ("87654321", "Maple Health Clinics Inc.")
MAPLE_PROD = ("5f2c9a41-7d3e-4b8a-9c61-2e8d4f7a1b03", "maple-prod-ai")
MAPLE_APPS = ("a81d3e77-0c4b-4f25-8e9a-6b7c2d1f9e54", "maple-clinic-apps")
MAPLE_EXPORT = {"container": "cost-exports", "directory": "maple/maple-actualcost"}
# The EA cost-details (ActualCost) header, exactly as Cost Management writes it.
EA_COLUMNS = (  # noqa: SIM905 — kept as the header line itself
    "InvoiceSectionName,AccountName,AccountOwnerId,SubscriptionId,SubscriptionName,ResourceGroup,ResourceLocation,"
    "Date,ProductName,MeterCategory,MeterSubCategory,MeterId,MeterName,MeterRegion,UnitOfMeasure,Quantity,"
    "EffectivePrice,CostInBillingCurrency,CostCenter,ConsumedService,ResourceId,Tags,OfferId,AdditionalInfo,"
    "ServiceInfo1,ServiceInfo2,ResourceName,ReservationId,ReservationName,UnitPrice,ProductOrderId,ProductOrderName,"
    "Term,PublisherType,PublisherName,ChargeType,Frequency,PricingModel,AvailabilityZone,BillingAccountId,"
    "BillingAccountName,BillingCurrencyCode,BillingPeriodStartDate,BillingPeriodEndDate,BillingProfileId,"
    "BillingProfileName,InvoiceSectionId,IsAzureCreditEligible,PartNumber,PayGPrice,PlanName,ServiceFamily,"
    "CostAllocationRuleName,benefitId,benefitName"
).split(",")


def _maple_tags(team: str, app: str, department: str, **more) -> tuple[tuple[str, str], ...]:
    return (("team", team), ("app", app), ("department", department), ("env", "prod"), *more.items())


# Meters Maple uses: key → (resource type, meter category, meter subcategory, meter name, unit of measure,
# CAD price per unit, service family). The consumed service is the resource type's namespace.
AZURE_METERS = {
    "a100": ("Microsoft.Compute/virtualMachines", "Virtual Machines", "NCads A100 v4 Series", "NC48ads A100 v4",
             "1 Hour", "11.0960", "Compute"),
    "t4": ("Microsoft.Compute/virtualMachines", "Virtual Machines", "NCasT4 v3 Series", "NC4as T4 v3", "1 Hour",
           "0.7310", "Compute"),
    "d4s": ("Microsoft.Compute/virtualMachines", "Virtual Machines", "Dsv5 Series", "D4s v5", "1 Hour", "0.2640",
            "Compute"),
    "p30": ("Microsoft.Compute/disks", "Storage", "Premium SSD Managed Disks", "P30 LRS Disk", "1/Month",
            "186.1300", "Storage"),
    "hot": ("Microsoft.Storage/storageAccounts", "Storage", "General Block Blob v2", "Hot LRS Data Stored",
            "1 GB/Month", "0.0255", "Storage"),
    "mini-in": ("Microsoft.CognitiveServices/accounts", "Cognitive Services", "Azure OpenAI",
                "gpt-4o-mini-0718-Inp-regnl Tokens", "1K", "0.000231", "AI + Machine Learning"),
    "mini-out": ("Microsoft.CognitiveServices/accounts", "Cognitive Services", "Azure OpenAI",
                 "gpt-4o-mini-0718-Outp-regnl Tokens", "1K", "0.000924", "AI + Machine Learning"),
    "pg": ("Microsoft.DBforPostgreSQL/flexibleServers", "Azure Database for PostgreSQL",
           "Flexible Server General Purpose Dsv5 Series Compute", "4 vCore", "1 Hour", "0.5520", "Databases"),
    "pg-disk": ("Microsoft.DBforPostgreSQL/flexibleServers", "Azure Database for PostgreSQL",
                "Flexible Server Storage", "Storage Data Stored", "1 GB/Month", "0.1570", "Databases"),
    "p1v3": ("Microsoft.Web/serverfarms", "Azure App Service", "Premium v3 Plan", "P1 v3 App", "1 Hour", "0.3380",
             "Compute"),
    "logs": ("Microsoft.OperationalInsights/workspaces", "Log Analytics", "Analytics Logs", "Data Ingestion", "1 GB",
             "3.9900", "Management and Governance"),
    "egress": ("Microsoft.Network/publicIPAddresses", "Bandwidth", "Rtn Preference: MGN",
               "Standard Data Transfer Out", "1 GB", "0.1180", "Networking"),
    "kv": ("Microsoft.KeyVault/vaults", "Key Vault", "Standard", "Operations", "10K", "0.0410", "Security"),
    "backup": ("Microsoft.RecoveryServices/vaults", "Backup", "Azure VM Protected Instances", "Protected Instances",
               "1/Month", "13.6000", "Management and Governance"),
}  # fmt: skip
LLM = _maple_tags("intake-ai", "intake-assistant", "intake", model="llama-3.1-70b")
TRIAGE = _maple_tags("intake-ai", "triage", "clinical-ops")
PORTAL = _maple_tags("clinic-apps", "intake-portal", "intake")
CLINIC_OPS = _maple_tags("clinic-apps", "platform", "clinical-ops")
PROD_SUB, APPS_SUB, CC, CE = MAPLE_PROD, MAPLE_APPS, "CanadaCentral", "CanadaEast"
# Maple's Azure estate in Canada: Llama 3.1 70B on two A100 VMs (the second runs half days at weekends), its
# data, gpt-4o-mini triage in Azure OpenAI (small), and the intake portal around it; ≈ CAD 18–24k a month.
# (subscription, resource group, location, resource, meter, weekday quantity, tags, shape — see Shape)
MAPLE_AZURE_TABLE = [
    (PROD_SUB, "rg-llm-canada", CC, "vm-llama70b-01", "a100", "24", LLM, "g0"),
    (PROD_SUB, "rg-llm-canada", CC, "vm-llama70b-02", "a100", "24", LLM, "g0 w0.5"),
    (PROD_SUB, "rg-intake-ai", CC, "vm-whisper-voicemail-01", "t4", "24", LLM, "g0"),
    (PROD_SUB, "rg-llm-canada", CC, "disk-llama70b-weights", "p30", "4", LLM, "m g0"),
    (PROD_SUB, "rg-llm-canada", CC, "vm-llm-gateway-01", "d4s", "48", LLM, "g0"),
    (PROD_SUB, "rg-intake-data", CC, "stmapleintake", "hot", "14000", LLM, "m g0.03"),
    (PROD_SUB, "rg-intake-ai", CE, "aoai-maple-triage", "mini-in", "13500", TRIAGE, "w0.4 g0.02 n120"),
    (PROD_SUB, "rg-intake-ai", CE, "aoai-maple-triage", "mini-out", "1600", TRIAGE, "w0.4 g0.02 n120"),
    (APPS_SUB, "rg-intake-portal", CC, "psql-intake-prod", "pg", "24", PORTAL, "g0"),
    (APPS_SUB, "rg-intake-portal", CC, "psql-intake-prod", "pg-disk", "512", PORTAL, "m g0"),
    (APPS_SUB, "rg-intake-portal", CC, "asp-intake-portal", "p1v3", "72", PORTAL, "g0 w0.5"),
    (APPS_SUB, "rg-monitoring", CC, "log-maple-prod", "logs", "9", CLINIC_OPS, "w0.6 n100"),
    (APPS_SUB, "rg-intake-portal", CC, "pip-intake-portal", "egress", "42", PORTAL, "w0.5 n150"),
    (APPS_SUB, "rg-security", CC, "kv-maple-prod", "kv", "52", CLINIC_OPS, "n100"),
    (APPS_SUB, "rg-backup", CE, "rsv-maple-dr", "backup", "6", CLINIC_OPS, "m g0"),
]


def _ea_date(day: dt.date) -> str:
    return f"{day.month}/{day.day}/{day.year}"  # EA cost details write M/D/YYYY


def maple_cost_rows(today: dt.date, month: dt.date) -> list[list]:
    """The cost-details rows of one month (days before today), one per resource, meter and day."""
    rng = rng_for("maple", "azure", month.isoformat())
    last_day = next_month(month) - dt.timedelta(days=1)
    table = [(*line[:7], shape(line[7])) for line in MAPLE_AZURE_TABLE]
    rows = []
    day = month
    while day <= last_day and day < today:
        for (sub_id, sub_name), group, location, resource, meter_key, weekday, tags, how in table:
            resource_type, category, subcategory, meter, unit, price, family = AZURE_METERS[meter_key]
            quantity = daily_quantity(weekday, how, day, today, rng, "0.00000001")
            if quantity is not None:
                quantity += incident_extra("maple", resource, meter_key, day, today)
            cost = (quantity * Decimal(price)).quantize(Decimal("0.00000001"))
            region = "CA Central" if location == CC else "CA East"
            record = {
                "InvoiceSectionName": "Maple Health IT",
                "AccountName": "it-billing@maple.example",
                "AccountOwnerId": "it-billing@maple.example",
                "SubscriptionId": sub_id,
                "SubscriptionName": sub_name,
                "ResourceGroup": group,
                "ResourceLocation": location,
                "Date": _ea_date(day),
                "ProductName": f"{category} {subcategory} - {meter} - {region}",
                "MeterCategory": category,
                "MeterSubCategory": subcategory,
                "MeterId": "-".join(short_hash(meter_key, n, length=k) for n, k in enumerate((8, 4, 4, 4, 12))),
                "MeterName": meter,
                "MeterRegion": region,
                "UnitOfMeasure": unit,
                "Quantity": format(quantity, "f"),
                "EffectivePrice": price,
                "CostInBillingCurrency": format(cost, "f"),
                "CostCenter": dict(tags)["department"],
                "ConsumedService": resource_type.split("/", 1)[0],
                "ResourceId": f"/subscriptions/{sub_id}/resourceGroups/{group}/providers/{resource_type}/{resource}",
                "Tags": ",".join(f'"{k}": "{v}"' for k, v in tags),  # EA exports write tags without the braces
                "OfferId": "MS-AZR-0017P",
                "ResourceName": resource,
                "UnitPrice": price,
                "PublisherType": "Azure",
                "ChargeType": "Usage",
                "Frequency": "UsageBased",
                "PricingModel": "OnDemand",
                "BillingAccountId": MAPLE_ENROLLMENT[0],
                "BillingAccountName": MAPLE_ENROLLMENT[1],
                "BillingCurrencyCode": "CAD",
                "BillingPeriodStartDate": _ea_date(month),
                "BillingPeriodEndDate": _ea_date(last_day),
                "BillingProfileId": MAPLE_ENROLLMENT[0],
                "BillingProfileName": MAPLE_ENROLLMENT[1],
                "IsAzureCreditEligible": "TRUE",
                "PartNumber": f"AAA-{short_hash(meter_key, length=5).upper()}",
                "PayGPrice": price,
                "ServiceFamily": family,
            }
            rows.append([record.get(column, "") for column in EA_COLUMNS])
        day += dt.timedelta(days=1)
    return rows


def write_maple_actual_cost_export(root: Path, today: dt.date) -> dict:
    """Cost Management's ActualCost export runs in `root/<container>/`: per month the last (complete) run, as
    partitioned CSV.gz plus its `_manifest.json`. Returns the source settings that point at it."""
    container, directory = MAPLE_EXPORT["container"], MAPLE_EXPORT["directory"]
    month = demo_start(today)
    while month < today:
        last_day = next_month(month) - dt.timedelta(days=1)
        rows = maple_cost_rows(today, month)
        # A closed month's final run is on the 5th of the next month; the current month's ran this morning.
        ran = utc(min(next_month(month) + dt.timedelta(days=4), today), 6 * 3600)
        run_id = "-".join(short_hash("maple-export", month, n, length=k) for n, k in enumerate((8, 4, 4, 4, 12)))
        folder = f"{directory}/{month:%Y%m%d}-{last_day:%Y%m%d}/{ran:%Y%m%d%H%M}/{run_id}"
        part = f"{folder}/part_0_0001.csv.gz"
        write_gzip_csv(root / container / part, EA_COLUMNS, rows)
        data = (root / container / part).read_bytes()
        manifest = {
            "manifestVersion": "2024-04-01",
            "byteCount": len(data),
            "blobCount": 1,
            "dataRowCount": len(rows),
            "exportConfig": {
                "exportName": "maple-actualcost",
                "resourceId": f"/providers/Microsoft.Billing/billingAccounts/{MAPLE_ENROLLMENT[0]}/providers/"
                "Microsoft.CostManagement/exports/maple-actualcost",
                "dataVersion": "2021-10-01",
                "apiVersion": "2023-07-01-preview",
                "type": "ActualCost",
                "timeFrame": "MonthToDate" if last_day >= today else "TheLastMonth",
                "granularity": "Daily",
            },
            "deliveryConfig": {
                "partitionData": True,
                "dataOverwriteBehavior": "CreateNewReport",
                "fileFormat": "Csv",
                "compressionMode": "gzip",
                "containerUri": f"/subscriptions/{MAPLE_APPS[0]}/resourceGroups/rg-finops/providers/"
                "Microsoft.Storage/storageAccounts/maplecostexports",
                "rootFolderPath": directory.split("/")[0],
            },
            "runInfo": {
                "executionType": "Scheduled",
                "submittedTime": f"{ran:%Y-%m-%dT%H:%M:%S}.0000000Z",
                "runId": run_id,
                "startDate": f"{month:%Y-%m-%d}T00:00:00",
                "endDate": f"{min(last_day + dt.timedelta(days=1), today):%Y-%m-%d}T00:00:00",
            },
            "blobs": [{"blobName": f"{container}/{part}", "byteCount": len(data), "dataRowCount": len(rows)}],
        }
        manifest_path = root / container / folder / "_manifest.json"
        manifest_path.write_text(json.dumps(manifest, indent=2))
        # Blob times as the storage account would show them: data first, manifest written last.
        for path, moment in ((root / container / part, ran), (manifest_path, ran + dt.timedelta(minutes=2))):
            os.utime(path, (moment.timestamp(), moment.timestamp()))
        month = next_month(month)
    return {
        "account_url": "https://maplecostexports.blob.core.windows.net",
        "container": container,
        "directory": directory,
        "dataset": "ActualCost",
        "billing_account_id": MAPLE_ENROLLMENT[0],
        "invoice_issuer": "Microsoft",
    }


@dataclass(frozen=True)
class LocalBlob:
    """The BlobProperties fields the export connector reads."""

    name: str
    size: int
    last_modified: dt.datetime


class _LocalDownload:
    def __init__(self, path: Path):
        self.path = path

    def readinto(self, stream) -> int:
        data = self.path.read_bytes()
        stream.write(data)
        return len(data)

    def readall(self) -> bytes:
        return self.path.read_bytes()


class LocalContainer:
    """What ExportConnector uses of azure.storage.blob.ContainerClient — list_blobs(name_starts_with=…) and
    download_blob(name) — over a local directory that holds the container's blobs."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.downloaded: list[str] = []

    def list_blobs(self, name_starts_with: str | None = None) -> Iterator[LocalBlob]:
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            name = path.relative_to(self.root).as_posix()
            if name.startswith(name_starts_with or ""):
                stat = path.stat()
                yield LocalBlob(name, stat.st_size, dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.UTC))

    def download_blob(self, blob: str) -> _LocalDownload:
        path = self.root / blob
        if not path.is_file():
            from azure.core.exceptions import ResourceNotFoundError

            raise ResourceNotFoundError(f"The specified blob does not exist: {blob}")
        self.downloaded.append(blob)
        return _LocalDownload(path)


# --- GCP: Harbor's BigQuery billing export -------------------------------------------------------------------

HARBOR_BILLING_ACCOUNT = "01A2B3-C4D5E6-F7A8B9"
HARBOR_TABLE = {
    "project_id": "harbor-billing",
    "dataset": "billing_export",
    "table": "gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9",
}
GCP_PROJECTS = {  # id → (number, name, labels)
    "harbor-claims-prod": ("418203947561", "Harbor Claims (prod)", (("department", "claims-ops"), ("env", "prod"))),
    "harbor-data-warehouse": ("530917284406", "Harbor Data Warehouse", (("department", "data"), ("env", "prod"))),
    "harbor-shared-services": ("602184739215", "Harbor Shared Services", (("department", "data"), ("env", "prod"))),
}
GCP_SERVICES = {
    "BigQuery": "24E6-581D-38E5",
    "Kubernetes Engine": "CCD8-9BF1-090E",
    "Compute Engine": "6F81-5844-456A",
    "Cloud Storage": "95FF-2EF5-5EA1",
    "Vertex AI": "C7E2-9256-1C43",
}


GIB_MONTH_SECONDS = Decimal(2**30) * 86400 * DAYS_PER_MONTH  # byte-seconds in a GiB-month
GIB_HOUR_SECONDS = Decimal(2**30) * 3600
# SKUs Harbor uses: key → (service, SKU description, usage unit, pricing unit, usage units per pricing unit,
# USD list price per pricing unit).
GCP_SKUS = {
    "bq-analysis": ("BigQuery", "Analysis", "bytes", "tebibyte", Decimal(2**40), "6.25"),
    "bq-active": ("BigQuery", "Active Logical Storage", "byte-seconds", "gibibyte month", GIB_MONTH_SECONDS, "0.02"),
    "bq-longterm": ("BigQuery", "Long Term Logical Storage", "byte-seconds", "gibibyte month", GIB_MONTH_SECONDS,
                    "0.01"),
    "gke-cpu": ("Kubernetes Engine", "Autopilot Pod mCPU Requests (us-east1)", "mCPU-seconds", "hour",
                Decimal(3_600_000), "0.0445"),
    "gke-ram": ("Kubernetes Engine", "Autopilot Pod Memory Requests (us-east1)", "byte-seconds", "gibibyte hour",
                GIB_HOUR_SECONDS, "0.0049225"),
    "gke-cluster": ("Kubernetes Engine", "Regional Kubernetes Clusters", "seconds", "hour", Decimal(3600), "0.10"),
    "n2-core": ("Compute Engine", "N2 Instance Core running in Americas", "seconds", "hour", Decimal(3600),
                "0.031611"),
    "n2-ram": ("Compute Engine", "N2 Instance Ram running in Americas", "byte-seconds", "gibibyte hour",
               GIB_HOUR_SECONDS, "0.004237"),
    "pd-ssd": ("Compute Engine", "SSD backed PD Capacity", "byte-seconds", "gibibyte month", GIB_MONTH_SECONDS,
               "0.17"),
    "egress": ("Compute Engine", "Network Internet Data Transfer Out from Americas to Americas", "bytes", "gibibyte",
               Decimal(2**30), "0.12"),
    "gcs": ("Cloud Storage", "Standard Storage US Multi-region", "byte-seconds", "gibibyte month",
            GIB_MONTH_SECONDS, "0.026"),
    "gcs-ops": ("Cloud Storage", "Multi-Region Standard Class A Operations", "requests", "count", ONE, "0.000005"),
    "vx-core": ("Vertex AI", "Vertex AI: Online/Batch Prediction N1 Predefined Instance Core running in Americas",
                "seconds", "hour", Decimal(3600), "0.0357"),
    "vx-ram": ("Vertex AI", "Vertex AI: Online/Batch Prediction N1 Predefined Instance Ram running in Americas",
               "byte-seconds", "gibibyte hour", GIB_HOUR_SECONDS, "0.00479"),
    "vx-t4": ("Vertex AI", "Vertex AI: Online/Batch Prediction Nvidia Tesla T4 GPU running in Americas", "seconds",
              "hour", Decimal(3600), "0.4025"),
    "gemini-in": ("Vertex AI", "Gemini 2.5 Flash Input Text Tokens", "count", "count", ONE, "0.0000003"),
    "gemini-out": ("Vertex AI", "Gemini 2.5 Flash Output Text Tokens", "count", "count", ONE, "0.0000025"),
}  # fmt: skip


def _gcp_labels(team: str, app: str, department: str) -> tuple[tuple[str, str], ...]:
    return (("team", team), ("app", app), ("department", department))  # departments of DEPARTMENTS["harbor"]


CLAIMS = _gcp_labels("claims-platform", "claims", "claims-ops")
WAREHOUSE = _gcp_labels("data-platform", "claims-warehouse", "data")
FRAUD = _gcp_labels("data-science", "fraud-model", "claims-ops")
# Harbor's Google Cloud: the claims platform on GKE Autopilot, the warehouse in BigQuery (and its N2 ETL VMs with
# their sustained-use discount), a fraud model and Gemini document classification on Vertex AI; ≈ $12–15k a month.
# The export is the detailed (resource-level) one, so storage is per dataset and bucket. (A day of one storage
# SKU is summed by the connector in byte-seconds: above ≈ 10,700 GiB per resource it would not fit the ledger's
# NUMERIC(30, 12) — see the report.)
# (project, SKU, region, resource, pricing units per weekday at today's level, labels, shape — see Shape)
HARBOR_GCP_TABLE = [
    ("harbor-data-warehouse", "bq-analysis", "us", "", "19", WAREHOUSE, "w0.3 g0.015 n200"),
    ("harbor-data-warehouse", "bq-active", "us", "claims_raw", "9000", WAREHOUSE, "m g0.02"),
    ("harbor-data-warehouse", "bq-active", "us", "claims_curated", "8000", WAREHOUSE, "m g0.02"),
    ("harbor-data-warehouse", "bq-active", "us", "fraud_features", "7000", WAREHOUSE, "m g0.02"),
    ("harbor-data-warehouse", "bq-active", "us", "finance_marts", "7000", WAREHOUSE, "m g0.02"),
    ("harbor-data-warehouse", "bq-longterm", "us", "claims_raw", "9000", WAREHOUSE, "m g0.025"),
    ("harbor-data-warehouse", "bq-longterm", "us", "finance_marts", "7000", WAREHOUSE, "m g0.025"),
    ("harbor-claims-prod", "gke-cpu", "us-east1", "claims-autopilot", "2300", CLAIMS, "w0.7 n60"),
    ("harbor-claims-prod", "gke-ram", "us-east1", "claims-autopilot", "9200", CLAIMS, "w0.7 n60"),
    ("harbor-claims-prod", "gke-cluster", "us-east1", "claims-autopilot", "24", CLAIMS, "g0"),
    ("harbor-shared-services", "n2-core", "us-east1", "instances/etl-worker-1", "768", WAREHOUSE, "g0 c-0.2"),
    ("harbor-shared-services", "n2-core", "us-east1", "instances/etl-worker-2", "768", WAREHOUSE, "g0 c-0.2"),
    ("harbor-shared-services", "n2-ram", "us-east1", "instances/etl-worker-1", "3072", WAREHOUSE, "g0 c-0.2"),
    ("harbor-shared-services", "n2-ram", "us-east1", "instances/etl-worker-2", "3072", WAREHOUSE, "g0 c-0.2"),
    ("harbor-claims-prod", "pd-ssd", "us-east1", "disks/claims-db-data", "4200", CLAIMS, "m"),
    ("harbor-claims-prod", "egress", "us-east1", "instances/claims-api-gw", "105", CLAIMS, "w0.5 n150"),
    ("harbor-claims-prod", "gcs", "us", "harbor-claim-attachments", "10000", CLAIMS, "m g0.025"),
    ("harbor-claims-prod", "gcs", "us", "harbor-adjuster-photos", "10400", CLAIMS, "m g0.025"),
    ("harbor-claims-prod", "gcs", "us", "harbor-fnol-emails", "9000", CLAIMS, "m g0.025"),
    ("harbor-claims-prod", "gcs", "us", "harbor-claims-backups", "10400", CLAIMS, "m g0.01"),
    ("harbor-claims-prod", "gcs", "us", "harbor-policy-wordings", "4000", CLAIMS, "m g0.01"),
    ("harbor-claims-prod", "gcs-ops", "us", "harbor-claim-attachments", "3100000", CLAIMS, "w0.5 n150"),
    ("harbor-claims-prod", "vx-core", "us-east1", "fraud-score-endpoint", "384", FRAUD, "g0"),
    ("harbor-claims-prod", "vx-ram", "us-east1", "fraud-score-endpoint", "1440", FRAUD, "g0"),
    ("harbor-claims-prod", "vx-t4", "us-east1", "fraud-score-endpoint", "24", FRAUD, "g0"),
    ("harbor-claims-prod", "gemini-in", "us-east1", "", "42000000", FRAUD, "w0.45 g0.02 n120"),
    ("harbor-claims-prod", "gemini-out", "us-east1", "", "4100000", FRAUD, "w0.45 g0.02 n120"),
]
# resource.global_name per service: the full resource name Google writes in the detailed export.
GCP_RESOURCE_NAMES = {
    "BigQuery": "//bigquery.googleapis.com/projects/{project}/datasets/{name}",
    "Kubernetes Engine": "//container.googleapis.com/projects/{project}/locations/{region}/clusters/{name}",
    "Compute Engine": "//compute.googleapis.com/projects/{project}/zones/{region}-b/{name}",
    "Cloud Storage": "//storage.googleapis.com/projects/_/buckets/{name}",
    "Vertex AI": "//aiplatform.googleapis.com/projects/{number}/locations/{region}/endpoints/{name}",
}


def _bq_float(amount: Decimal) -> float:
    """BigQuery's FLOAT64 as its client returns it: a Python float. The stand-in hands the connector the
    provider's real type so the demo runs the float → Decimal path (focus.to_decimal, through repr). Usage
    quantities (byte-seconds…) lose digits there exactly as they do in a real export."""
    return float(amount)


def _bq_money(amount: Decimal) -> float:
    """A cost as FLOAT64, checked to come back as exactly this Decimal, so the demo ledger loses no cent."""
    value = _bq_float(amount)
    if Decimal(repr(value)) != amount:
        raise ValueError(f"{amount} does not survive BigQuery's FLOAT64; round it to fewer digits")
    return value


def harbor_gcp_rows(today: dt.date) -> list[dict]:
    """Line items of the detailed billing export (one per day, project, SKU and resource), in BigQuery's row
    shape."""
    table = [(*line[:6], shape(line[6])) for line in HARBOR_GCP_TABLE]
    rows = []
    for day in demo_days(today):
        rng = rng_for("harbor", "gcp", day.isoformat())
        start, end = utc(day), utc(day + dt.timedelta(days=1))
        for project, sku_key, region, resource, weekday, labels, how in table:
            service, sku, unit, pricing_unit, per_unit, rate = GCP_SKUS[sku_key]
            quantity = daily_quantity(weekday, how, day, today, rng, "0.000001")
            if quantity is not None:
                quantity += incident_extra("harbor", project, sku_key, day, today)
            cost = (quantity * Decimal(rate)).quantize(Decimal("0.000001"))
            number, name, project_labels = GCP_PROJECTS[project]
            credits = []
            if how.credit:
                credits.append(
                    {
                        "name": "Sustained Usage Discount",
                        "amount": _bq_money((cost * how.credit).quantize(Decimal("0.000001"))),
                        "full_name": f"Sustained Usage Discount for {sku}",
                        "id": f"sustained_usage_discount-{short_hash(sku, length=8)}",
                        "type": "SUSTAINED_USAGE_DISCOUNT",
                    }
                )
            rows.append(
                {
                    "billing_account_id": HARBOR_BILLING_ACCOUNT,
                    "service": {"id": GCP_SERVICES[service], "description": service},
                    "sku": {"id": short_hash(sku, length=12).upper(), "description": sku},
                    "usage_start_time": start,
                    "usage_end_time": end,
                    "project": {
                        "id": project,
                        "number": number,
                        "name": name,
                        "labels": [{"key": k, "value": v} for k, v in project_labels],
                        "ancestry_numbers": "/738210394851/",
                    },
                    "labels": [{"key": k, "value": v} for k, v in labels],
                    "system_labels": [],
                    "location": {
                        "location": region,
                        "country": "US",
                        "region": region if region != "us" else None,
                        "zone": None,
                    },
                    "export_time": end + dt.timedelta(hours=5),
                    "cost": _bq_money(cost),
                    "currency": "USD",
                    "currency_conversion_rate": 1.0,
                    "usage": {
                        "amount": _bq_float(quantity * per_unit),
                        "unit": unit,
                        "amount_in_pricing_units": _bq_float(quantity),
                        "pricing_unit": pricing_unit,
                    },
                    "credits": credits,
                    "invoice": {"month": f"{day:%Y%m}"},
                    "cost_type": "regular",
                    "adjustment_info": None,
                    "cost_at_list": _bq_money(cost),
                    "resource": {
                        "name": resource.rsplit("/", 1)[-1] or None,
                        "global_name": GCP_RESOURCE_NAMES[service].format(
                            project=project, number=number, region=region, name=resource
                        )
                        if resource
                        else None,
                    },
                }
            )
    return rows


class LocalBigQuery:
    """The GCP connector's BigQuery seam (`query(sql, params) -> dict rows`) over generated export rows.

    Like the real table it returns only the selected columns and only the rows the query's parameters ask
    for (usage_start_time in [@start, @end), the billing account when given)."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        self.queries: list[str] = []

    def query(self, sql: str, params: list) -> Iterator[dict]:
        self.queries.append(sql)
        values = {p.name: p.value for p in params}
        selected = sql.split("SELECT", 1)[1].split("FROM", 1)[0].strip()
        columns = None if selected == "*" else [c.strip() for c in selected.split(",")]
        for row in self.rows:
            if "start" in values and not values["start"] <= row["usage_start_time"] < values["end"]:
                continue
            if values.get("billing_account_id") not in (None, row["billing_account_id"]):
                continue
            yield dict(row) if columns is None else {c: row.get(c) for c in columns}


# --- live usage events: the intake assistant's calls to Maple's self-hosted model -------------------------------

MAPLE_EVENT_DAYS = 30
MAPLE_CALLS = (470, 455, 450, 440, 420, 210, 120)  # intake conversations' model calls per day, Monday first
LLAMA = "meta-llama/Llama-3.1-70B-Instruct"


def maple_intake_events(today: dt.date) -> list[dict]:
    """The patient-intake assistant's calls to Llama 3.1 70B on vLLM (Canada): tokens, no marginal cost — the
    GPU VMs that serve them are already on Maple's Azure bill, so the gateway reports cost 0 CAD."""
    events = []
    for day in demo_days(today)[-MAPLE_EVENT_DAYS:]:
        rng = rng_for("maple", "intake-events", day.isoformat())
        calls = whole(MAPLE_CALLS[day.weekday()] * jitter(rng, 100))
        for n in range(calls):
            cached = 1_400 + rng.randint(0, 300)  # the system prompt and clinic facts, from vLLM's prefix cache
            events.append(
                {
                    "timestamp": rfc3339(utc(day, _business_seconds(rng, 12, 23))),  # Toronto clinic hours in UTC
                    "request_id": f"cmpl-maple-intake-{day:%Y%m%d}-{n:05d}",
                    "provider": "hosted_vllm",
                    "model": LLAMA,
                    "input_tokens": cached + rng.randint(900, 3_200),
                    "cached_tokens": cached,
                    "output_tokens": rng.randint(120, 420),
                    "agent": "patient-intake-assistant",
                    "department": "intake",
                    "api_key_id": "gw-intake-prod",
                    "prompt_hash": short_hash("intake", day, n, length=64),
                    "cost": "0",
                    "currency": "CAD",
                    "attributes": {
                        "endpoint": "vLLM Toronto (prod)",
                        "hosting": "private_cloud",
                        "region": "canadacentral",
                    },
                }
            )
    return events
