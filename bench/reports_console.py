"""How long the MSP portfolio console (/) takes to render for an MSP admin who sees 500 clients (target: under
300 ms server time).

    .venv/bin/python bench/reports_console.py                  # 500 clients, median of 10 renders
    .venv/bin/python bench/reports_console.py --clients 2000   # another portfolio size
    .venv/bin/python bench/reports_console.py --keep           # keep the benchmark database

Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/keel_bench_console) with
config.settings.base, in a database it creates and drops (a name containing "bench" is recreated, any other
existing database is refused), after `keel_setup` has built the public schema.

The console reads only public-schema tables (tenancy Client, portfolio ClientRollup, ClientSpendMonth,
ClientMaturity, ClientHealthDay, AlertFeedItem), so the clients are Client rows *without* schemas
(bulk-inserted, which never runs django-tenants' schema creation): 500 real schemas would take minutes and add
nothing to what is timed. Each fake client gets a full rollup (alerts, budget and forecast, SLA, readiness,
ingestion, last report), twelve months of spend, a maturity row, 30 days of daily health and two alert-feed
items — what the hourly refresh would leave behind.

What is timed: a GET of / through the whole Django stack (django.test.Client: middleware, access decision,
the selectors' queries, health arithmetic, sorting, template with 500 rows and their sparklines) for a signed-in
MSP admin with TOTP; one warm-up, then the median of `runs` renders. Output ends with
`figure console_ms_500_clients <ms> ms`.

From another benchmark (bench/reports.py), with Django already set up on a migrated database:

    from reports_console import console_ms   # bench/ is on sys.path when running bench/*.py
    ms = console_ms(500)

console_ms creates its rows in the public schema, times the renders and deletes everything it created (clients
with slugs starting `bench-pf-`, and its user) before returning, even when the timing fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/keel_bench_console"
SLUG_PREFIX = "bench-pf-"
ADMIN_EMAIL = "bench-console-admin@msp.example"
TOTP_SECRET = "JBSWY3DPEHPK3PXPBENCHKEEL"


def _month_back(month: dt.date, n: int) -> dt.date:
    for _ in range(n):
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return month


def portfolio_create(clients: int):
    """The fake portfolio in the public schema: Client rows without schemas and their rollups. Returns the
    signed-in-ready MSP admin."""
    from allauth.mfa.totp.internal.auth import TOTP
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.accounts.roles import Role
    from apps.portfolio.models import AlertFeedItem, ClientHealthDay, ClientMaturity, ClientRollup, ClientSpendMonth
    from apps.tenancy.models import Client

    now = timezone.now()
    today = now.astimezone(dt.UTC).date()
    this_month = today.replace(day=1)
    lifecycles = ["active"] * 4 + ["onboarding"]
    rows = [
        Client(
            slug=f"{SLUG_PREFIX}{i:05d}",
            schema_name=f"bench_pf_{i:05d}",
            name=f"Bench Client {i:05d}",
            industry=("Insurance", "Healthcare", "Logistics", "Retail")[i % 4],
            reporting_currency=("USD", "EUR", "GBP")[i % 3],
            lifecycle=lifecycles[i % len(lifecycles)],
        )
        for i in range(clients)
    ]
    created = Client.objects.bulk_create(rows, batch_size=1000)  # no save(): no schema is created
    rollups, spend, maturity, days, feed = [], [], [], [], []
    for i, client in enumerate(created):
        currency = client.reporting_currency
        budget = Decimal(5000 + 37 * i)
        has_budget = i % 5 != 0
        rollups.append(
            ClientRollup(
                client=client,
                open_alerts=i % 7,
                open_critical=i % 4 if i % 3 == 0 else 0,
                open_high=i % 5,
                refreshed_at=now,
                components_refreshed_at=now,
                budget_month=this_month,
                budget_currency=currency if has_budget else "",
                budget_amount=budget if has_budget else None,
                budget_actual=budget * Decimal("0.6") if has_budget else None,
                budget_forecast=budget * Decimal(80 + i % 50) / 100 if has_budget else None,
                sla_attainment=Decimal("0.99") + Decimal(i % 10) / 1000 if i % 6 else None,
                sla_objective=Decimal("0.995") if i % 6 else None,
                sla_worst_slo="API availability" if i % 6 else "",
                sla_slos_measured=3 if i % 6 else 0,
                sla_slos_met=2 if i % 6 else 0,
                readiness=Decimal(30 + i % 70) if i % 4 else None,
                readiness_frameworks=2 if i % 4 else 0,
                billing_sources=2,
                ingestion_succeeded_at=now - dt.timedelta(hours=i % 200),
                report_month=_month_back(this_month, 1),
                report_status=("draft", "reviewed", "issued")[i % 3],
                report_version=1 + i % 3,
                report_issued_at=now if i % 3 == 2 else None,
            )
        )
        for n in range(12):
            amount = Decimal(3000 + 11 * i + 150 * ((n * 7 + i) % 9))
            spend.append(
                ClientSpendMonth(
                    client=client,
                    month=_month_back(this_month, n),
                    currency=currency,
                    effective_cost=amount,
                    ai_cost=amount * Decimal("0.4"),
                )
            )
        if i % 2:
            maturity.append(
                ClientMaturity(
                    client=client,
                    template_key="ai-era-msp",
                    template_name="AI-era MSP capability matrix",
                    assessment_id=i,
                    assessed_on=today - dt.timedelta(days=40),
                    score=Decimal(35 + i % 60),
                )
            )
        for d in range(1, 31):
            days.append(
                ClientHealthDay(client=client, day=today - dt.timedelta(days=d), score=Decimal(40 + (i + d) % 60))
            )
        for n in range(2):
            feed.append(
                AlertFeedItem(
                    client=client,
                    alert_id=n + 1,
                    kind="cost_anomaly",
                    severity=("critical", "high")[n],
                    severity_rank=n,
                    subject=f"Spend spike {i}-{n}",
                    state="open",
                    last_seen_at=now - dt.timedelta(minutes=i + n),
                )
            )
    ClientRollup.objects.bulk_create(rollups, batch_size=1000)
    ClientSpendMonth.objects.bulk_create(spend, batch_size=2000)
    ClientMaturity.objects.bulk_create(maturity, batch_size=1000)
    ClientHealthDay.objects.bulk_create(days, batch_size=5000)
    AlertFeedItem.objects.bulk_create(feed, batch_size=2000)
    admin = User.objects.create_user(email=ADMIN_EMAIL, password=None, msp_role=Role.MSP_ADMIN)
    TOTP.activate(admin, TOTP_SECRET)
    return admin


def portfolio_delete() -> None:
    """Everything portfolio_create made (rows cascade from the clients; no schema to drop)."""
    from apps.accounts.models import User
    from apps.tenancy.models import Client

    Client.objects.filter(slug__startswith=SLUG_PREFIX).delete()
    User.objects.filter(email=ADMIN_EMAIL).delete()


def console_ms(clients: int = 500, *, runs: int = 10) -> float:
    """Median server time in ms of rendering the console for an MSP admin who sees `clients` fake clients.
    Sets up its rows in the public schema and removes them again; needs a configured Django on a migrated
    database (keel_setup)."""
    from django.test import Client as HttpClient
    from django_tenants.utils import schema_context

    with schema_context("public"):
        portfolio_delete()  # a previous run that was killed
        try:
            admin = portfolio_create(clients)
            http = HttpClient()
            http.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
            warm = http.get("/")
            if warm.status_code != 200:
                raise RuntimeError(f"The console answered {warm.status_code}")
            shown = warm.content.decode().count(f'<a href="/c/{SLUG_PREFIX}')
            if shown < clients:
                raise RuntimeError(f"The console shows {shown} of the {clients} clients")
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                response = http.get("/")
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            return statistics.median(timings)
        finally:
            portfolio_delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = os.environ.get("DATABASE_URL") or DEFAULT_URL
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ.setdefault("KEEL_LOG_LEVEL", "WARNING")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    from benchdb import database_name, drop_database, prepare_database

    prepare_database()
    try:
        import django

        django.setup()
        from django.core.management import call_command

        started = time.perf_counter()
        call_command("keel_setup", verbosity=0)
        print(f"keel_setup: {time.perf_counter() - started:.1f} s", flush=True)
        ms = console_ms(args.clients, runs=args.runs)
        print(f"figure console_ms_{args.clients}_clients {ms:.1f} ms")
    finally:
        if args.keep:
            print(f"Kept the benchmark database {database_name()}")
        else:
            drop_database()


if __name__ == "__main__":
    main()
