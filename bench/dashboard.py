"""Server time of the FinOps dashboard and the cost explorer with 100,000 and then 10,000,000 ledger rows.

    .venv/bin/python bench/dashboard.py                      # 100k, then 10M (about 15 minutes on 2 cores)
    .venv/bin/python bench/dashboard.py --sizes 100000 1000000
    .venv/bin/python bench/dashboard.py --repeat 15 --keep
    .venv/bin/python bench/dashboard.py --measure-only          # measure again in the database --keep left

Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/keel_bench_dashboard) with
config.settings.base. The database is created if missing; a benchmark database (a name containing "bench")
left by an earlier --keep is recreated; any other existing database is refused, so a real database is never
filled or dropped. It is dropped at the end unless --keep.

The data: one client per size (bench-dashboard-100k, bench-dashboard-10m), each with 4 billing sources (AWS
CUR in USD, Azure in EUR, OpenAI, Anthropic), 9 departments and 24 AI assets (agents and models), one
shared-cost rule splitting support and platform costs evenly over three departments. About 700 line items
(service × account × sub-account × region × model × department × asset, with usage, tax, credit and
commitment purchases) weighted as real bills are — hourly compute and token rows are many, tax rows few —
and each spread over many resources (resource ids are not in the rollup, so it stays small).
Rows are generated in the database (INSERT … SELECT over generate_series, hourly, over the 365 days up to
today, AI spend growing), allocated as apps.finops.allocation would have left them, then the rollup is built
with apps.finops.rollups.rollup_rebuild_all(). The ledger's secondary indexes are dropped for the load and
built again after it, as a bulk load would.

What is timed: GET of the dashboard page (default: the last 30 days, spend by service, the reporting
currency) and of the cost explorer page for the same 30 days, through Django's whole request stack (tenant
routing, session, access middleware, the view, the template) with the test client, signed in as the client's
executive of both clients. Each figure is the median of --repeat requests after two warm-ups, the requests of
both sizes taking turns so that a busy moment of the machine weighs on both alike. Output ends with
`figure dashboard_ms_100k`, `figure dashboard_ms_10m`, `figure explorer_ms_100k`, `figure explorer_ms_10m`
and `figure ratio_10m_to_100k` (dashboard).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/keel_bench_dashboard"
BENCH_URL = os.environ.get("DATABASE_URL") or DEFAULT_URL
os.environ["DATABASE_URL"] = BENCH_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
os.environ.setdefault("KEEL_LOG_LEVEL", "WARNING")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("KEEL_CELERY_EAGER", "1")

SLUG = "bench-dashboard"
EXECUTIVE = "cfo@bench.example"
DAYS = 365
CHUNK = 1_000_000

from benchdb import database_name, drop_database, prepare_database  # noqa: E402

# --- the client's estate ------------------------------------------------------------------------------------

DEPARTMENTS = ["Claims", "Underwriting", "Risk", "Finance", "Customer service", "IT", "Data", "Marketing", "Legal"]
AGENTS = [
    "claims-triage",
    "underwriter-7",
    "kyc-checker",
    "support-bot",
    "fraud-scan",
    "policy-drafter",
    "broker-assist",
    "doc-extractor",
    "renewal-nudger",
    "invoice-matcher",
    "risk-summariser",
    "legal-reviewer",
    "marketing-writer",
    "data-steward",
]
MODELS = {  # provider → (model, input tokens per row, $ per row)
    "OpenAI": [("gpt-4o", 90_000, 0.9), ("gpt-4o-mini", 120_000, 0.12), ("o3", 40_000, 1.8), ("gpt-4.1", 60_000, 0.7)],
    "Anthropic": [
        ("claude-sonnet-4-5", 80_000, 1.1),
        ("claude-haiku-4-5", 150_000, 0.3),
        ("claude-opus-4-1", 20_000, 2.4),
    ],
    "AWS": [
        ("anthropic.claude-sonnet-4-5", 70_000, 0.95),
        ("amazon.nova-pro", 50_000, 0.2),
        ("meta.llama3-70b", 40_000, 0.25),
    ],
    "Microsoft": [("gpt-4o", 60_000, 0.85), ("gpt-4o-mini", 90_000, 0.1)],
}
AWS_SERVICES = [  # (service, category, weight, $ per row)
    ("Amazon Elastic Compute Cloud", "Compute", 30, 0.45),
    ("Amazon Simple Storage Service", "Storage", 10, 0.08),
    ("Amazon Relational Database Service", "Databases", 8, 0.6),
    ("AWS Lambda", "Compute", 6, 0.02),
    ("Amazon CloudWatch", "Management and Governance", 5, 0.05),
    ("Amazon DynamoDB", "Databases", 4, 0.07),
    ("Amazon Elastic Kubernetes Service", "Compute", 4, 0.1),
    ("Elastic Load Balancing", "Networking", 4, 0.03),
    ("AWS Data Transfer", "Networking", 6, 0.04),
    ("AWS Key Management Service", "Security", 1, 0.01),
    ("Amazon Simple Queue Service", "Integration", 2, 0.01),
    ("Amazon Athena", "Analytics", 2, 0.3),
    ("AWS Glue", "Analytics", 2, 0.4),
    ("Amazon Redshift", "Analytics", 2, 1.2),
    ("Amazon CloudFront", "Networking", 2, 0.05),
    ("Amazon SageMaker", "AI and Machine Learning", 3, 1.5),
    ("Amazon Bedrock", "AI and Machine Learning", 8, 0.0),  # priced per model
]
AZURE_SERVICES = [
    ("Virtual Machines", "Compute", 20, 0.5),
    ("Storage", "Storage", 8, 0.06),
    ("Azure SQL Database", "Databases", 6, 0.55),
    ("Azure Kubernetes Service", "Compute", 4, 0.12),
    ("Azure Monitor", "Management and Governance", 3, 0.04),
    ("Bandwidth", "Networking", 3, 0.03),
    ("Azure App Service", "Compute", 3, 0.09),
    ("Azure AI Search", "AI and Machine Learning", 2, 0.7),
    ("Azure OpenAI", "AI and Machine Learning", 8, 0.0),
]
AWS_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]
AZURE_REGIONS = ["westeurope", "northeurope", "francecentral"]


def _line_items(rng: random.Random, *, sources: dict, departments: list[int], agents: list, models: dict) -> list:
    """(source, provider, service, category, charge category, account, account name, sub-account, sub name,
    region, model, currency, department, asset, rule, weight, $ per row, tokens per row, tags) per line item."""
    items = []
    aws_subs = [(f"{rng.randrange(10**11, 10**12)}", f"acme-{d.lower().replace(' ', '-')}") for d in DEPARTMENTS]
    aws_subs += [(f"{rng.randrange(10**11, 10**12)}", f"acme-shared-{i}") for i in range(3)]
    azure_subs = [(f"{rng.getrandbits(64):016x}-sub", f"acme-{d.lower()[:6]}-prod") for d in DEPARTMENTS[:6]]

    def department_of(sub_index: int):
        return departments[sub_index] if sub_index < len(departments) else None

    def add(**item):
        items.append(item)

    for service, category, weight, price in AWS_SERVICES:
        for s, (sub, sub_name) in enumerate(aws_subs):
            for region in rng.sample(AWS_REGIONS, rng.randint(1, 3)):
                pairs = [(m, t, p) for m, t, p in MODELS["AWS"]] if service == "Amazon Bedrock" else [("", 0, price)]
                for model, tokens, model_price in pairs:
                    agent = rng.choice(agents) if model else None
                    add(
                        source=sources["aws"],
                        provider="AWS",
                        service=service,
                        category=category,
                        charge="Usage",
                        account=("123456789012", "Acme payer"),
                        sub=(sub, sub_name),
                        region=region,
                        model=model,
                        currency="USD",
                        department=agent[1] if agent else department_of(s),
                        asset=agent[0] if agent else None,
                        weight=weight * (0.5 + rng.random()),
                        price=model_price * (0.5 + rng.random()),
                        tokens=tokens,
                        tags={"team": sub_name[5:], "env": rng.choice(["prod", "staging"])},
                    )
    for service, category, weight, price in AZURE_SERVICES:
        for s, (sub, sub_name) in enumerate(azure_subs):
            for region in rng.sample(AZURE_REGIONS, rng.randint(1, 2)):
                pairs = MODELS["Microsoft"] if service == "Azure OpenAI" else [("", 0, price)]
                for model, tokens, model_price in pairs:
                    agent = rng.choice(agents) if model else None
                    add(
                        source=sources["azure"],
                        provider="Microsoft",
                        service=service,
                        category=category,
                        charge="Usage",
                        account=("8611537", "Acme EA"),
                        sub=(sub, sub_name),
                        region=region,
                        model=model,
                        currency="EUR",
                        department=agent[1] if agent else department_of(s),
                        asset=agent[0] if agent else None,
                        weight=weight * (0.5 + rng.random()),
                        price=model_price * (0.5 + rng.random()),
                        tokens=tokens,
                        tags={"costcenter": f"CC-{4100 + s}"},
                    )
    for provider, source, service, projects in (
        ("OpenAI", sources["openai"], "OpenAI API", 10),
        ("Anthropic", sources["anthropic"], "Claude API", 6),
    ):
        for p in range(projects):
            for model, tokens, price in MODELS[provider]:
                for agent in rng.sample(agents, 2):
                    add(
                        source=source,
                        provider=provider,
                        service=service,
                        category="AI and Machine Learning",
                        charge="Usage",
                        account=(f"org-{provider.lower()}", f"Acme {provider}"),
                        sub=(f"proj_{provider[:2].lower()}{p:02d}", f"project {p}"),
                        region="",
                        model=model,
                        currency="USD",
                        department=agent[1],
                        asset=agent[0] if rng.random() < 0.8 else models.get(model),
                        weight=6 * (0.5 + rng.random()),
                        price=price * (0.5 + rng.random()),
                        tokens=tokens,
                        tags={"agent": "", "project": f"project {p}"},
                    )
    # Shared support and platform costs (one split rule), tax, credits and commitment purchases: few rows each.
    for service, weight, price in (("AWS Support (Enterprise)", 0.5, 40.0), ("AWS Shield Advanced", 0.3, 20.0)):
        add(
            source=sources["aws"],
            provider="AWS",
            service=service,
            category="Management and Governance",
            charge="Usage",
            account=("123456789012", "Acme payer"),
            sub=aws_subs[-1],
            region="",
            model="",
            currency="USD",
            department=None,
            asset=None,
            rule=True,
            weight=weight,
            price=price,
            tokens=0,
            tags={},
        )
    for charge, price in (("Tax", 12.0), ("Credit", -8.0), ("Purchase", 55.0)):
        for source, provider, service, currency in (
            (
                sources["aws"],
                "AWS",
                "AWS Savings Plans" if charge == "Purchase" else "Amazon Elastic Compute Cloud",
                "USD",
            ),
            (sources["azure"], "Microsoft", "Reservations" if charge == "Purchase" else "Virtual Machines", "EUR"),
        ):
            add(
                source=source,
                provider=provider,
                service=service,
                category="Compute",
                charge=charge,
                account=("123456789012", "Acme payer") if currency == "USD" else ("8611537", "Acme EA"),
                sub=aws_subs[0] if currency == "USD" else azure_subs[0],
                region="",
                model="",
                currency=currency,
                department=None,
                asset=None,
                weight=0.05,
                price=price,
                tokens=0,
                tags={},
            )
    return items


def setup_estate(rng: random.Random) -> None:
    """Departments, assets, sources, one shared-cost rule and the line-item tables the generator reads."""
    import json

    from django.db import connection

    from apps.finops.models import AllocationRule, AllocationTarget, BillingSource, IngestionRun
    from apps.inventory.models import Agent, AIModel, Department

    departments = [Department.objects.create(name=name, code=name.lower().replace(" ", "-")) for name in DEPARTMENTS]
    agents = []  # (asset id, its department id)
    for i, name in enumerate(AGENTS):
        department = departments[i % len(departments)]
        agents.append((Agent.objects.create(name=name, kind="agent", department=department).pk, department.pk))
    models = {}
    for provider, entries in MODELS.items():
        for model, _tokens, _price in entries:
            if model not in models:
                models[model] = AIModel.objects.create(
                    name=model, kind="model", provider=provider.lower(), model_id=model, department=departments[5]
                ).pk
    sources = {
        key: BillingSource.objects.create(name=name, kind=kind, enabled=False)
        for key, name, kind in (
            ("aws", "AWS CUR 2.0", "aws_data_export"),
            ("azure", "Azure cost export", "azure_export"),
            ("openai", "OpenAI organisation", "openai"),
            ("anthropic", "Anthropic organisation", "anthropic"),
        )
    }
    runs = {key: IngestionRun.objects.create(source=source, status="succeeded").pk for key, source in sources.items()}
    rule = AllocationRule.objects.create(
        name="Shared support and platform", match_field="service", match_value="AWS S*", split="even"
    )
    for department in departments[:3]:
        AllocationTarget.objects.create(rule=rule, department=department)
    items = _line_items(
        rng,
        sources={key: source.pk for key, source in sources.items()},
        departments=[d.pk for d in departments],
        agents=agents,
        models=models,
    )
    run_of = {source.pk: runs[key] for key, source in sources.items()}
    with connection.cursor() as cur:
        cur.execute(
            """CREATE TABLE bench_item (
                id int PRIMARY KEY, source_id bigint, run_id bigint, provider text, service text, category text,
                charge text, account text, account_name text, sub text, sub_name text, region text, model text,
                currency text, department_id bigint, asset_id bigint, rule_id bigint, allocated_by text,
                price numeric, tokens bigint, tags jsonb, resources int)"""
        )
        rows = []
        for i, item in enumerate(items):
            allocated = item["department"] is not None or item["asset"] is not None or item.get("rule")
            rows.append(
                (
                    i,
                    item["source"],
                    run_of[item["source"]],
                    item["provider"],
                    item["service"],
                    item["category"],
                    item["charge"],
                    *item["account"],
                    *item["sub"],
                    item["region"],
                    item["model"],
                    item["currency"],
                    item["department"],
                    item["asset"],
                    rule.pk if item.get("rule") else None,
                    "rule" if allocated else "",
                    round(item["price"], 6),
                    item["tokens"],
                    json.dumps(item["tags"]),
                    rng.choice([4, 12, 40, 120]) if item["charge"] == "Usage" else 1,
                )
            )
        cur.executemany(f"INSERT INTO bench_item VALUES ({', '.join(['%s'] * 22)})", rows)
        # Slots weight the line items: row n takes slot n mod S, so a weight-30 service has 600× a tax line's rows.
        total = sum(item["weight"] for item in items)
        slots = []
        for i, item in enumerate(items):
            slots += [i] * max(1, round(item["weight"] / total * 20_000))
        rng.shuffle(slots)
        cur.execute("CREATE TABLE bench_slot (slot int PRIMARY KEY, item int)")
        cur.executemany("INSERT INTO bench_slot VALUES (%s, %s)", list(enumerate(slots)))
        cur.execute("ANALYZE bench_item; ANALYZE bench_slot")
    print(f"estate: {len(items):,} line items, {len(slots):,} slots, {len(agents)} agents, {len(models)} models")


def _insert_sql() -> str:
    """INSERT INTO the ledger SELECT … FROM generate_series(%(lo)s, %(hi)s): hourly rows over DAYS days."""
    from django.db import models

    from apps.finops.models import CostRecord

    day = f"(%(last_day)s::date - {DAYS - 1} + (g.n %% {DAYS})::int)"
    start = f"(({day})::timestamp + ((g.n / {DAYS}) %% 24) * interval '1 hour') AT TIME ZONE 'UTC'"
    ai_growth = "CASE WHEN b.category = 'AI and Machine Learning' THEN 1.5 ELSE 0.2 END"  # AI spend grows fastest
    growth = f"(1 + (g.n %% {DAYS})::numeric / {DAYS} * {ai_growth})"
    weekly = f"(1 + 0.15 * sin((g.n %% {DAYS}) * 2 * pi() / 7))::numeric"
    cost = f"round(b.price * (0.6 + 0.8 * random())::numeric * {growth} * {weekly}, 10)"
    explicit = {
        "source_id": "b.source_id",
        "run_id": "b.run_id",
        "billing_account_id": "b.account",
        "billing_account_name": "b.account_name",
        "billing_account_type": "'Billing Account'",
        "sub_account_id": "b.sub",
        "sub_account_name": "b.sub_name",
        "billing_currency": "b.currency",
        "billing_period_start": f"date_trunc('month', ({day})::timestamp) AT TIME ZONE 'UTC'",
        "billing_period_end": f"(date_trunc('month', ({day})::timestamp) + interval '1 month') AT TIME ZONE 'UTC'",
        "charge_period_start": start,
        "charge_period_end": f"{start} + interval '1 hour'",
        "charge_category": "b.charge",
        "charge_frequency": "CASE WHEN b.charge = 'Usage' THEN 'Usage-Based' ELSE 'One-Time' END",
        "charge_description": "b.service || ' usage'",
        "billed_cost": "c.cost",
        "effective_cost": "c.cost",
        "list_cost": "round(c.cost * 1.08, 10)",
        "contracted_cost": "c.cost",
        "pricing_quantity": "round((1 + random() * 100)::numeric, 4)",
        "pricing_unit": "CASE WHEN b.tokens > 0 THEN '1K tokens' ELSE 'Hours' END",
        "provider_name": "b.provider",
        "publisher_name": "b.provider",
        "invoice_issuer_name": "b.provider",
        "service_name": "b.service",
        "service_category": "b.category",
        "region_id": "b.region",
        "region_name": "b.region",
        "resource_id": "b.provider || ':' || b.sub || ':' || b.id || '-' || ((g.n / 8760) %% b.resources)",
        "resource_name": "b.service || ' ' || b.id || '-' || ((g.n / 8760) %% b.resources)",
        "sku_id": "'SKU' || b.id",
        "tags": "b.tags",
        "x_model": "b.model",
        "x_input_tokens": "CASE WHEN b.tokens > 0 THEN (b.tokens * (0.5 + random()))::bigint END",
        "x_output_tokens": "CASE WHEN b.tokens > 0 THEN (b.tokens * (0.1 + random() * 0.2))::bigint END",
        "x_cached_tokens": "CASE WHEN b.tokens > 0 THEN (b.tokens * random() * 0.4)::bigint END",
        "x_requests": "CASE WHEN b.tokens > 0 THEN (20 + random() * 200)::bigint END",
        "x_cost_source": "'actual'",
        "x_extra": "'{}'::jsonb",
        "department_id": "b.department_id",
        "asset_id": "b.asset_id",
        "allocation_rule_id": "b.rule_id",
        "allocated_by": "b.allocated_by",
    }
    columns, values = [], []
    for model_field in CostRecord._meta.concrete_fields:
        column = model_field.column
        if column == "id":
            continue
        if column in explicit:
            values.append(explicit[column])
        elif model_field.null:
            continue
        elif isinstance(model_field, models.CharField | models.TextField):
            values.append("''")
        elif isinstance(model_field, models.JSONField):
            values.append("'{}'::jsonb")
        else:
            raise RuntimeError(f"no bench value for {column}")
        columns.append(column)
    return (
        f"INSERT INTO {CostRecord._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g(n) "
        "JOIN bench_slot sl ON sl.slot = ((g.n / 7) * 7919 + g.n) %% (SELECT count(*) FROM bench_slot) "
        "JOIN bench_item b ON b.id = sl.item "
        "CROSS JOIN LATERAL (SELECT " + cost + " AS cost) c"
    )


def load(rows: int, last_day: dt.date) -> dict[str, float]:
    """Empty the ledger and the rollup, generate `rows` ledger rows, rebuild the indexes, then the rollup."""
    from django.db import connection, transaction

    from apps.finops.models import CostDaily, CostRecord
    from apps.finops.rollups import rollup_rebuild_all

    ledger = CostRecord._meta.db_table
    timings = {}
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {ledger}, {CostDaily._meta.db_table}")
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
            "AND indexname NOT LIKE '%%pkey'",
            [ledger],
        )
        indexes = cur.fetchall()
        for name, _definition in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        cur.execute("SELECT setseed(0.42)")
    sql = _insert_sql()
    started = time.perf_counter()
    for lo in range(0, rows, CHUNK):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, {"lo": lo, "hi": min(lo + CHUNK, rows) - 1, "last_day": last_day})
        if rows > CHUNK:
            print(f"    {min(lo + CHUNK, rows):,} rows ({time.perf_counter() - started:.0f} s)", flush=True)
    timings["generate"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cur:
        for _name, definition in indexes:
            cur.execute(definition)
        cur.execute(f"ANALYZE {ledger}")
    timings["indexes"] = time.perf_counter() - started
    started = time.perf_counter()
    rollup_rebuild_all()
    with connection.cursor() as cur:
        cur.execute(f"ANALYZE {CostDaily._meta.db_table}")
        cur.execute(f"SELECT count(*) FROM {ledger}")
        timings["ledger_rows"] = cur.fetchone()[0]
        cur.execute(f"SELECT count(*), count(DISTINCT day) FROM {CostDaily._meta.db_table}")
        timings["rollup_rows"], timings["rollup_days"] = cur.fetchone()
    timings["rollup"] = time.perf_counter() - started
    return timings


def measure(http, urls: dict[tuple[str, str], str], repeat: int) -> dict[tuple[str, str], dict]:
    """Median server time (ms) of each GET, after two warm-ups; the requests of every page and size take
    turns, so a busy moment of the machine weighs on all of them alike. Also the median time spent in the
    database, the number of queries and the size of the page."""
    from django.db import connection

    statements: list[float] = []

    def timed(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append(time.perf_counter() - began)

    for url in urls.values():
        for _ in range(2):
            response = http.get(url)
            assert response.status_code == 200, (url, response.status_code)
    samples: dict[tuple[str, str], dict] = {key: {"ms": [], "db": []} for key in urls}
    for _ in range(repeat):
        for key, url in urls.items():
            statements.clear()
            with connection.execute_wrapper(timed):
                started = time.perf_counter()
                response = http.get(url)
                samples[key]["ms"].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            samples[key]["db"].append(sum(statements) * 1000)
            samples[key]["queries"], samples[key]["size"] = len(statements), len(response.content)
    return {
        key: {
            "ms": statistics.median(found["ms"]),
            "db": statistics.median(found["db"]),
            "queries": found["queries"],
            "size": found["size"],
        }
        for key, found in samples.items()
    }


def label(rows: int) -> str:
    return f"{rows // 1_000_000}m" if rows >= 1_000_000 else f"{rows // 1000}k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 10_000_000], help="ledger rows")
    parser.add_argument("--repeat", type=int, default=9, help="timed requests per page; the median counts (9)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--measure-only", action="store_true", help="measure again in a database kept by an earlier --keep"
    )
    args = parser.parse_args()

    if not args.measure_only:
        prepare_database()
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client as HttpClient
        from django.utils import timezone
        from django_tenants.utils import schema_context

        from apps.accounts.models import User
        from apps.accounts.roles import Role
        from apps.accounts.services import membership_grant
        from apps.tenancy.models import Client
        from apps.tenancy.services import client_create

        today = timezone.now().astimezone(dt.UTC).date()
        slugs = {rows: f"{SLUG}-{label(rows)}" for rows in args.sizes}
        if args.measure_only:
            user = User.objects.get(email=EXECUTIVE)
        else:
            started = time.perf_counter()
            call_command("keel_setup", verbosity=0)
            user = User.objects.create_user(email=EXECUTIVE, password="bench bench bench")
            print(f"keel_setup: {time.perf_counter() - started:.1f} s", flush=True)
            for rows, slug in slugs.items():
                client = client_create(slug=slug, name=f"Bench {label(rows)}", reporting_currency="USD")
                membership_grant(user=user, client=client, role=Role.CLIENT_EXECUTIVE)
                with schema_context(client.schema_name):
                    setup_estate(random.Random(20261201))  # the same estate in every client
                    print(f"loading {rows:,} ledger rows into {slug}", flush=True)
                    timings = load(rows, today)
                print(
                    f"  generated in {timings['generate']:.1f} s, indexes {timings['indexes']:.1f} s, rollup "
                    f"{timings['rollup']:.1f} s: {timings['ledger_rows']:,} ledger rows, {timings['rollup_rows']:,} "
                    f"rollup rows over {timings['rollup_days']} days "
                    f"({timings['rollup_rows'] / max(timings['rollup_days'], 1):,.0f} a day)",
                    flush=True,
                )
        assert Client.objects.filter(slug__in=slugs.values()).count() == len(slugs)
        http = HttpClient(raise_request_exception=True)
        http.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        first = (today - dt.timedelta(days=29)).isoformat()
        pages = {  # name → path under /c/<slug>/
            "dashboard": "finops/dashboard/",
            "explorer": f"finops/?from={first}&to={today.isoformat()}",
            "dashboard 12 months by department": "finops/dashboard/?preset=last_12_months&group=department",
            "explorer 12 months by department": "finops/?preset=last_12_months&group=department",
        }
        urls = {
            (name, label(rows)): f"/c/{slug}/{path}" for rows, slug in slugs.items() for name, path in pages.items()
        }
        results = measure(http, urls, args.repeat)
        for (name, size), found in results.items():
            print(
                f"  {size} {name}: median {found['ms']:.1f} ms ({found['db']:.1f} ms in {found['queries']} "
                f"queries), {found['size'] / 1024:.0f} KiB",
                flush=True,
            )
        for name in ("dashboard", "explorer"):
            for rows in args.sizes:
                print(f"figure {name}_ms_{label(rows)} {results[(name, label(rows))]['ms']:.1f} ms")
        if len(args.sizes) > 1:
            small, large = label(args.sizes[0]), label(args.sizes[-1])
            ratio = results[("dashboard", large)]["ms"] / results[("dashboard", small)]["ms"]
            print(f"figure ratio_{large}_to_{small} {ratio:.2f} x")
    finally:
        if args.keep or args.measure_only:
            print(f"Kept the benchmark database {database_name()}")
        else:
            drop_database()


if __name__ == "__main__":
    main()
