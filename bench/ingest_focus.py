"""How long Keel takes to book a 1,000,000-row FOCUS file, next to a plain COPY of the same file.

    .venv/bin/python bench/ingest_focus.py                 # 1,000,000 rows, best of 3 (a few minutes)
    .venv/bin/python bench/ingest_focus.py --rows 100000   # a smoke run
    .venv/bin/python bench/ingest_focus.py --profile       # also time each statement of Keel's load
    .venv/bin/python bench/ingest_focus.py --replace       # also time a re-import that replaces every row

Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/keel_bench_ingest) with
config.settings.base. The database is created if missing; a benchmark database (a name containing "bench")
left by an earlier --keep is recreated; any other existing database is refused, so a real database is never
filled or dropped. The database and the generated file are removed at the end unless --keep.

What is timed, on the same database, from the same file (already in the OS page cache for both):
- keel: apps.finops.ledger.load_focus_file for a new upload source: sniff and read the header, COPY into the
  raw staging table, one INSERT … SELECT that normalises every value into the ledger (with its indexes),
  the checks, the swap of the (billing account, billing period) pairs and the totals, and the commit;
- copy: `COPY bare FROM STDIN (FORMAT csv, HEADER)` into a table of text columns without indexes, committed.

Each repeat runs both, after a CHECKPOINT so neither pays for the other's dirty buffers; the ledger is
emptied between repeats so each Keel load is a first load. The figure is the best of the repeats.
Output ends with `figure keel_seconds <s> s`, `figure copy_seconds <s> s`, `figure ratio_to_copy <r> x`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/keel_bench_ingest"
BENCH_URL = os.environ.get("DATABASE_URL") or DEFAULT_URL
os.environ["DATABASE_URL"] = BENCH_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
os.environ.setdefault("KEEL_LOG_LEVEL", "WARNING")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("KEEL_CELERY_EAGER", "1")

COPY_CHUNK = 1024 * 1024


# --- the database ---------------------------------------------------------------------------------------


from benchdb import database_name, drop_database, prepare_database  # noqa: E402

# --- the file -------------------------------------------------------------------------------------------

HEADER = [
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountStatus",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceSubcategory",
    "SkuId",
    "SkuPriceId",
    "SkuMeter",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
    "x_Model",
    "x_InputTokens",
    "x_OutputTokens",
    "x_UsageType",
    "x_Operation",
]

REGIONS = [
    ("us-east-1", "US East (N. Virginia)"),
    ("us-west-2", "US West (Oregon)"),
    ("eu-west-1", "Europe (Ireland)"),
    ("eu-central-1", "Europe (Frankfurt)"),
    ("ap-southeast-1", "Asia Pacific (Singapore)"),
]
# (service, category, subcategory, resource type, consumed unit, pricing unit, unit price, description)
SERVICES = [
    (
        "Amazon Elastic Compute Cloud",
        "Compute",
        "Virtual Machines",
        "Instance",
        "Hours",
        "Hours",
        "0.0832",
        "$0.0832 per On Demand Linux m6i.large Instance Hour",
    ),
    (
        "Amazon Simple Storage Service",
        "Storage",
        "Object Storage",
        "Bucket",
        "GB-Mo",
        "GB-Mo",
        "0.023",
        "$0.023 per GB - first 50 TB / month of storage used",
    ),
    (
        "Amazon Relational Database Service",
        "Databases",
        "Relational Databases",
        "DB Instance",
        "Hours",
        "Hours",
        "0.171",
        "$0.171 per RDS db.m6g.large Multi-AZ instance hour running PostgreSQL",
    ),
    (
        "Elastic Load Balancing",
        "Networking",
        "Load Balancing",
        "Load Balancer",
        "LCU-Hours",
        "LCU-Hours",
        "0.008",
        "$0.008 per used Application load balancer capacity unit-hour (or partial hour)",
    ),
    (
        "Amazon CloudWatch",
        "Management and Governance",
        "Observability",
        "Log Group",
        "GB",
        "GB",
        "0.50",
        "$0.50 per GB custom log data ingested",
    ),
    (
        "AWS Data Transfer",
        "Networking",
        "Network Connectivity",
        "",
        "GB",
        "GB",
        "0.09",
        "$0.09 per GB - first 10 TB / month data transfer out beyond the global free tier",
    ),
    (
        "Amazon Bedrock",
        "AI and Machine Learning",
        "Generative AI",
        "Model",
        "Tokens",
        "1000 Tokens",
        "0.003",
        "Claude Sonnet input tokens",
    ),
]
TEAMS = ["payments", "claims", "platform", "data", "web", "ml"]
ENVIRONMENTS = ["prod", "staging", "dev"]


def _resources(rng: random.Random, count: int) -> list[list[str]]:
    """Fixed columns of `count` resources: everything but the period and the amounts."""
    accounts = [("123456789012", "Northwind Payer"), ("210987654321", "Northwind EU Payer")]
    subaccounts = [(f"{rng.randrange(10**11, 10**12)}", f"northwind-{name}") for name in TEAMS]
    out = []
    for i in range(count):
        service = SERVICES[i % len(SERVICES)]
        region_id, region_name = REGIONS[rng.randrange(len(REGIONS))]
        account_id, account_name = accounts[i % len(accounts)]
        sub_id, sub_name = subaccounts[rng.randrange(len(subaccounts))]
        team, env = TEAMS[rng.randrange(len(TEAMS))], ENVIRONMENTS[rng.randrange(len(ENVIRONMENTS))]
        name = f"{team}-{env}-{i:05d}"
        resource_id = f"arn:aws:{service[0].split()[-1].lower()}:{region_id}:{sub_id}:{name}"
        sku = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(16))
        ai = service[1] == "AI and Machine Learning"
        tags = f'"{{""team"": ""{team}"", ""environment"": ""{env}"", ""cost-center"": ""CC-{4100 + i % 7}""}}"'
        out.append(
            [
                f"{region_id}{'abc'[i % 3]}" if service[1] == "Compute" else "NULL",
                account_id,
                f'"{account_name}"',
                "Payer",
                "USD",
                "Usage",
                "NULL",
                f'"{service[7]}"',
                "Usage-Based",
                "NULL",
                "NULL",
                "NULL",
                service[4],
                service[6],
                "",
                '"Amazon Web Services, Inc."',
                service[6],
                "Standard",
                service[5],
                "AWS",
                '"Amazon Web Services, Inc."',
                region_id,
                f'"{region_name}"',
                resource_id,
                name,
                service[3],
                service[1],
                f'"{service[0]}"',
                f'"{service[2]}"',
                sku,
                f"{sku}.JRTCKXETXF.{i:06d}",
                "Input Tokens" if ai else "",
                sub_id,
                sub_name,
                "Account",
                tags,
                "anthropic.claude-sonnet-4-5" if ai else "",
                "",
                "",
                f"USE1-{service[3].replace(' ', '')}-Usage",
                "RunInstances" if service[1] == "Compute" else "",
            ]
        )
    return out


def write_focus_csv(path: Path, rows: int, *, seed: int = 20250901) -> None:
    """A FOCUS 1.2 CSV like an AWS export: hourly rows for September 2025, 2 billing accounts, 7 services,
    2,000 resources, JSON tags, literal NULLs, x_ columns (tokens on the Bedrock rows)."""
    rng = random.Random(seed)
    resources = _resources(rng, 2000)
    start = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
    hours = 30 * 24
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(HEADER) + "\r\n")
        lines = []
        for n in range(rows):
            r = resources[n % len(resources)]
            hour = n * hours // rows
            period_start = start + dt.timedelta(hours=hour)
            quantity = rng.randrange(1, 2_000_000) / 10_000
            unit_price = float(r[13])
            billed = f"{quantity * unit_price:.10f}"
            ai = r[26] == "AI and Machine Learning"
            tokens = f"{int(quantity * 1000)}" if ai else ""
            lines.append(
                ",".join(
                    [
                        r[0],
                        billed,
                        r[1],
                        r[2],
                        r[3],
                        r[4],
                        "2025-10-01T00:00:00Z",
                        "2025-09-01T00:00:00Z",
                        *r[5:9],
                        f"{period_start + dt.timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
                        f"{period_start:%Y-%m-%dT%H:%M:%SZ}",
                        *r[9:12],
                        f"{quantity * 1000:.0f}" if ai else f"{quantity:.4f}",
                        r[12],
                        billed,
                        r[13],
                        billed,
                        f"INV-2025-09-{r[1][-4:]}",
                        r[15],
                        billed,
                        r[16],
                        r[17],
                        f"{quantity:.4f}",
                        *r[18:36],
                        r[36],
                        tokens,
                        str(int(tokens) // 4) if tokens else "",
                        *r[39:41],
                    ]
                )
            )
            if len(lines) == 10_000:
                fh.write("\r\n".join(lines) + "\r\n")
                lines.clear()
        if lines:
            fh.write("\r\n".join(lines) + "\r\n")


# --- the runs -------------------------------------------------------------------------------------------


def plain_copy(path: Path, columns: int) -> float:
    """COPY the file into a bare table of text columns (no indexes), committed, through Django's connection."""
    from django.db import connection, transaction

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_bare")
        cur.execute(f"CREATE TABLE bench_bare ({', '.join(f'c{i} text' for i in range(columns))})")
    started = time.perf_counter()
    with (
        transaction.atomic(),
        connection.cursor() as cur,
        open(path, "rb") as fh,
        cur.copy("COPY bench_bare FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
    ):
        while chunk := fh.read(COPY_CHUNK):
            copy.write(chunk)
    return time.perf_counter() - started


def keel_load(path: Path, source, *, profile: bool) -> tuple[float, object]:
    from django.db import connection

    from apps.finops.ledger import load_focus_file
    from apps.finops.models import IngestionRun

    run = IngestionRun.objects.create(source=source, trigger=IngestionRun.Trigger.UPLOAD)
    statements: list[tuple[float, str]] = []

    def timed(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((time.perf_counter() - began, " ".join(str(sql).split())[:110]))

    wrapper = connection.execute_wrapper(timed) if profile else contextlib.nullcontext()
    started = time.perf_counter()
    with wrapper:
        result = load_focus_file(source_id=source.pk, run_id=run.pk, path=path)
    elapsed = time.perf_counter() - started
    if profile:
        shown = sum(s for s, _ in statements)
        for seconds, sql in statements:
            if seconds >= 0.01:
                print(f"    {seconds:7.2f} s  {sql}")
        print(f"    {elapsed - shown:7.2f} s  (COPY of the file into the raw table, and Python)")
    return elapsed, result


def empty_ledger() -> None:
    """Each timed load is a client's first: the bench's own ledger is emptied (TRUNCATE, bench database only)."""
    from django.db import connection

    from apps.finops.models import CostRecord

    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {CostRecord._meta.db_table}")


def checkpoint() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("CHECKPOINT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated file (1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats of each; the best counts (3)")
    parser.add_argument("--profile", action="store_true", help="time each statement of Keel's load")
    parser.add_argument("--replace", action="store_true", help="also time a re-import replacing every row")
    parser.add_argument("--keep", action="store_true", help="keep the database and the generated file")
    parser.add_argument("--file", type=Path, help="use this FOCUS file instead of generating one")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="keel-bench-ingest-"))
    path = args.file or workdir / "focus-1m.csv"
    prepare_database()
    try:
        if args.file is None:
            started = time.perf_counter()
            write_focus_csv(path, args.rows)
            size = path.stat().st_size
            print(f"Generated {args.rows:,} rows, {size / 1e6:.0f} MB in {time.perf_counter() - started:.1f} s")
        import django

        django.setup()
        from django.core.management import call_command
        from django_tenants.utils import schema_context

        from apps.finops.services import billing_source_save
        from apps.tenancy.services import client_create

        started = time.perf_counter()
        call_command("keel_setup", verbosity=0)
        client = client_create(slug="bench-ingest", name="Bench ingest")
        print(f"keel_setup and one client: {time.perf_counter() - started:.1f} s", flush=True)
        with open(path, encoding="utf-8") as fh:
            columns = len(fh.readline().split(","))
        path.read_bytes()  # into the page cache, for both

        keel_times: list[float] = []
        copy_times: list[float] = []
        with schema_context(client.schema_name):
            for attempt in range(1, args.repeat + 1):
                checkpoint()
                copy_times.append(plain_copy(path, columns))
                checkpoint()
                empty_ledger()
                checkpoint()
                source = billing_source_save(kind="focus_upload", name=f"Bench upload {attempt}", settings={})
                seconds, result = keel_load(path, source, profile=args.profile)
                keel_times.append(seconds)
                print(
                    f"repeat {attempt}: keel {seconds:.2f} s ({result.rows_loaded:,} rows, "
                    f"{result.totals['USD']['billed_cost']} USD), copy {copy_times[-1]:.2f} s",
                    flush=True,
                )
            figures = {"keel_seconds": min(keel_times), "copy_seconds": min(copy_times)}
            if args.replace:
                checkpoint()
                seconds, result = keel_load(path, source, profile=args.profile)
                print(f"re-import: {seconds:.2f} s, {result.rows_replaced:,} rows replaced", flush=True)
                figures["keel_replace_seconds"] = seconds
        print(f"figure keel_seconds {figures['keel_seconds']:.2f} s")
        print(f"figure copy_seconds {figures['copy_seconds']:.2f} s")
        print(f"figure ratio_to_copy {figures['keel_seconds'] / figures['copy_seconds']:.2f} x")
        if "keel_replace_seconds" in figures:
            print(f"figure keel_replace_seconds {figures['keel_replace_seconds']:.2f} s")
    finally:
        if args.keep:
            print(f"Kept the benchmark database {database_name()} and {path}")
        else:
            drop_database()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
