"""How long a client's monthly report takes (snapshot + HTML + PDF), how long the month-end run over 200
clients takes on a worker with 2 processes, and how long the portfolio console takes with 500 clients
(issue 9's aims: under 3 s per client; the console under 300 ms server time).

    .venv/bin/python bench/reports.py                  # 200 clients (about 10 minutes on 2 idle cores)
    .venv/bin/python bench/reports.py --clients 20     # a smaller month-end run (a smoke run)
    .venv/bin/python bench/reports.py --runs 9 --profile --keep

Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/keel_bench_reports) with
config.settings.base, in a database it creates and drops (bench/benchdb.py: a name containing "bench" is
recreated, any other existing database is refused). Needs Redis (the worker's broker, database 13 by
default: --broker) and the PostgreSQL client pg_dump. Media files (the demo's evidence and audit pack) go to a
temporary folder, removed at the end unless --keep. KEEL_ENCRYPTION_KEYS is generated when unset.

Phases, in this order:

1. keel_setup (public schema, catalogs, framework and template libraries).
2. The console: bench/reports_console.console_ms(500) — 500 schema-less Client rows with full rollups, the
   median of 10 renders of / for an MSP admin, rows removed afterwards. It runs before any real client exists,
   so the console lists exactly 500 clients.
3. A year of data: the demo loader (apps.demo.services.demo_load, every demo step) with its four clients.
   Acme Underwriting, the client timed, then has twelve whole months and this month of AWS CUR 2.0 and OpenAI
   bills booked through the connectors (about 22,000 ledger rows, 11,000 daily rollup rows), 17,000 usage
   events and their reconciliation, business-unit counts (unit economics), allocation rules, budgets with
   crossings, anomalies, a runaway incident, shadow-AI findings, recommendations, two compliance frameworks
   with controls, evidence and readiness history, an AI incident with its obligations, an audit pack, two
   capability assessments with a roadmap, two SLOs with 14,500 minute measurements, alerts, an inventory
   of agents, models, prompts, integrations and guardrail findings.
4. seconds_per_client, in Acme's schema, for the last whole month in its time zone: apps.reports.services.
   report_create (the snapshot: every section computed and stored as a draft), report_html(web=True) (the
   portal page) and report_pdf (the print HTML and WeasyPrint). One warm-up version (a fresh worker pays
   WeasyPrint's font set-up once), then --runs versions, each a fresh one (the previous draft is deleted); the
   figure is the median total. Maple and Harbor (the other demo clients with a year of bills) are timed the
   same way for comparison (3 runs each, not a figure). --profile (or a median over 3 s) prints a cProfile
   of one more version.
5. The month-end portfolio: --clients (200) new clients, each made by apps.tenancy.services.client_create
   (the Client row, its routing slug, the audit record) with Acme's time zone, currency and tiers, whose
   schema is a copy of Acme's: the DDL pg_dump writes for Acme's schema, with the name changed, and every
   table's rows (not the reports: a month-end run starts without this month's report), every table with rows
   then VACUUM ANALYZEd as autovacuum would have left it. So every client has Acme's year of data above, in a
   real schema of its own. (The bench builds schemas this way because apps.tenancy.provisioning currently
   runs every migration for each new client — about 15 s each, see the note printed — and 200 copies of the
   demo loader would take hours.) The clients' created_at is set back a year, as the schedule only drafts
   months a client existed through.
6. month_end_200_clients_seconds: a real Celery worker (`celery -A config worker --concurrency=2`, prefork,
   the bench's database, broker --broker) is started; the reports.monthly_due task is then sent the way beat
   sends it — the "reports-monthly-due" entry of config/celery.py applied through tenant_schemas_celery's
   TenantAwareScheduler.apply_entry with apps.core.scheduler.KeelScheduler's client list, one message per
   live client with its schema in the headers (the 200 and the four demo clients, which have nothing due).
   The figure runs from the first message sent to the last reports.monthly_due TaskRun finished in the 200
   schemas (polled until each has its report; the poll's own view is printed too). monthly_report_due only
   drafts (it computes and stores the snapshot); rendering and the PDF happen when a version is issued, so
   the output also prints, as an estimate and not a figure, what issuing all of them would add.

Output ends with `figure seconds_per_client <s> s`, `figure month_end_200_clients_seconds <s> s` (the name
keeps 200 whatever --clients says, so that the figure's name stays the issue's) and
`figure console_ms_500_clients <ms> ms`.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import logging
import os
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/keel_bench_reports"
DEFAULT_BROKER = "redis://127.0.0.1:6379/13"  # a Redis database no other bench or test uses
os.environ["DATABASE_URL"] = os.environ.get("DATABASE_URL") or DEFAULT_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
os.environ.setdefault("KEEL_LOG_LEVEL", "WARNING")
os.environ.setdefault("KEEL_CELERY_EAGER", "1")  # the demo loader's follow-up tasks run inline, as in keel_setup
os.environ.setdefault("KEEL_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
if not os.environ.get("KEEL_ENCRYPTION_KEYS"):  # billing secrets are stored encrypted; the database is thrown away
    from cryptography.fernet import Fernet

    os.environ["KEEL_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()

from benchdb import bench_url, database_name, drop_database, prepare_database  # noqa: E402

SOURCE_SLUG = "acme"  # the demo client timed and copied
COMPARE_SLUGS = ["maple", "harbor"]
CLONE_PREFIX = "bench-rpt-"
NOT_COPIED = {"reports_report", "reports_delivery"}  # this month's report is what the run makes
AIM_SECONDS = 3.0
AIM_CONSOLE_MS = 300.0
BEAT_ENTRY = "reports-monthly-due"


def _psycopg_url() -> str:
    url = bench_url()
    return "postgresql://" + url.split("://", 1)[1] if url.startswith(("postgres://", "pgsql://")) else url


# --- 4: one client's report -------------------------------------------------------------------------------------


def one_version(month: dt.date) -> dict:
    """A fresh version of `month`'s report in the current schema: seconds for each step."""
    from apps.reports.models import Report
    from apps.reports.render import report_html, report_pdf
    from apps.reports.services import report_create

    Report.objects.filter(month=month, status=Report.Status.DRAFT).delete()  # a draft may go; a new one is made
    issued = Report.objects.filter(month=month, status=Report.Status.ISSUED).exists()  # the demo may issue it
    reason = "bench/reports.py: a fresh version to time" if issued else ""
    started = time.perf_counter()
    report = report_create(month=month, reason=reason)
    snapshot = time.perf_counter()
    page = report_html(report, web=True)
    html = time.perf_counter()
    pdf = report_pdf(report)
    done = time.perf_counter()
    failed = [key for key, section in report.data["sections"].items() if "error" in section]
    if failed:
        raise RuntimeError(f"sections failed for {month:%B %Y}: {', '.join(failed)}")
    return {
        "snapshot": snapshot - started,
        "html": html - snapshot,
        "pdf": done - html,
        "total": done - started,
        "html_kib": len(page) / 1024,
        "pdf_kib": len(pdf) / 1024,
    }


def time_client(slug: str, runs: int) -> tuple[dict, dict, dt.date]:
    """(the warm-up version, the medians of `runs` fresh versions, the month) for one client."""
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.core.context import acting_as
    from apps.reports.services import reportable_month
    from apps.tenancy.models import Client

    client = Client.objects.get(slug=slug)
    month = reportable_month(timezone.now().astimezone(client.tz).date())
    with schema_context(client.schema_name), acting_as(source="command", user_email="bench-reports"):
        warm = one_version(month)
        timings = [one_version(month) for _ in range(runs)]
    medians = {key: statistics.median(t[key] for t in timings) for key in timings[0]}
    return warm, medians, month


def profile_version(slug: str, month: dt.date) -> None:
    from django_tenants.utils import schema_context

    from apps.core.context import acting_as
    from apps.tenancy.models import Client

    client = Client.objects.get(slug=slug)
    profiler = cProfile.Profile()
    with schema_context(client.schema_name), acting_as(source="command", user_email="bench-reports"):
        profiler.enable()
        one_version(month)
        profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    print(f"cProfile of one version of {slug}'s report (cumulative):")
    stats.sort_stats("cumulative").print_stats(30)
    print("the same, by own time:")
    stats.sort_stats("tottime").print_stats(15)


# --- 5: the portfolio of copies ---------------------------------------------------------------------------------


class SchemaCopier:
    """Builds a new client's schema as a copy of the source client's: its DDL from pg_dump (before the rows:
    tables, functions, sequences; after them: keys, indexes, foreign keys, triggers), the rows of every table
    in between, the identity sequences moved past the copied ids, then VACUUM ANALYZE (in the background, on a
    second connection, while the next copy is made; close() waits for them)."""

    def __init__(self, source_schema: str):
        import psycopg

        self.source = source_schema
        self.pre = self._ddl("pre-data")
        self.post = self._ddl("post-data")
        self.conn = psycopg.connect(_psycopg_url())
        self.tables, self.sequences = self._catalog()
        # ANALYZE is most of a copy's cost (the ledger's 65 columns): it runs on the other core, one copy behind.
        self.vacuum_conn = psycopg.connect(_psycopg_url(), autocommit=True)
        self.vacuum = ThreadPoolExecutor(max_workers=1)
        self.pending = []

    def _ddl(self, section: str) -> str:
        dump = subprocess.run(
            ["pg_dump", "--schema-only", f"--section={section}", "--no-owner", "-n", self.source, _psycopg_url()],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        # psql meta-commands (\restrict) are not SQL; the search_path reset is harmless on this connection.
        return "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))

    def _catalog(self) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
        rows = self.conn.execute(
            """SELECT c.relname, array_agg(a.attname::text ORDER BY a.attnum)
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                                    AND a.attgenerated = ''
                WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                GROUP BY c.relname""",
            [self.source],
        ).fetchall()
        sequences = self.conn.execute(
            """SELECT c.relname, a.attname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                WHERE n.nspname = %s AND c.relkind = 'r'
                  AND pg_get_serial_sequence(format('%%I.%%I', n.nspname, c.relname), a.attname) IS NOT NULL""",
            [self.source],
        ).fetchall()
        self.conn.commit()
        return {name: cols for name, cols in rows if name not in NOT_COPIED}, sequences

    def _renamed(self, sql: str, schema: str) -> str:
        return re.sub(rf"\b{re.escape(self.source)}\b", schema, sql)

    def schema_create(self, *, schema_name: str, verbosity: int = 0) -> None:
        """Stands in for apps.tenancy.provisioning.schema_create while the copies are made."""
        filled = []
        with self.conn.transaction():
            self.conn.execute(self._renamed(self.pre, schema_name))
            for table, columns in self.tables.items():
                cols = ", ".join(f'"{c}"' for c in columns)
                cur = self.conn.execute(
                    f'INSERT INTO "{schema_name}"."{table}" ({cols}) SELECT {cols} FROM "{self.source}"."{table}"'
                )
                if cur.rowcount:
                    filled.append(table)
            self.conn.execute(self._renamed(self.post, schema_name))
            for table, column in self.sequences:
                self.conn.execute(
                    f'SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX("{column}"), 0) + 1, false) '
                    f'FROM "{schema_name}"."{table}"',
                    [f'"{schema_name}"."{table}"', column],
                )
        tables = ", ".join(f'"{schema_name}"."{t}"' for t in filled)
        self.pending.append(self.vacuum.submit(self.vacuum_conn.execute, f"VACUUM (ANALYZE) {tables}"))

    def close(self) -> None:
        """Wait for the last copies' VACUUM ANALYZE (an error in one is raised here)."""
        try:
            for future in self.pending:
                future.result()
        finally:
            self.vacuum.shutdown()
            self.vacuum_conn.close()
            self.conn.close()


def provisioning_note() -> str:
    """Why apps.tenancy.provisioning runs the migrations for every client: which migrations it cannot replay."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django_tenants.utils import schema_context

    from apps.tenancy import provisioning

    if provisioning.tenant_schema_sql() is not None:
        return "apps.tenancy.provisioning replays the collected SQL (its fast path)"
    with schema_context(provisioning._COLLECT_SCHEMA):
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
        blocking = [
            f"{migration.app_label}.{migration.name}"
            for migration, _ in plan
            if any(not operation.reduces_to_sql for operation in migration.operations)
        ]
    return (
        "apps.tenancy.provisioning.tenant_schema_sql() is None, so every client_create runs all migrations: "
        f"operations that cannot be written as SQL in {', '.join(blocking)}"
    )


def make_portfolio(count: int) -> list:
    """`count` clients whose schemas are copies of the source client's (see SchemaCopier)."""
    from django.utils import timezone

    from apps.core.context import acting_as
    from apps.tenancy import provisioning
    from apps.tenancy.models import Client
    from apps.tenancy.services import client_create

    source = Client.objects.get(slug=SOURCE_SLUG)
    copier = SchemaCopier(source.schema_name)
    original = provisioning.schema_create
    provisioning.schema_create = copier.schema_create
    clients, started = [], time.perf_counter()
    try:
        with acting_as(source="command", user_email="bench-reports"):
            for i in range(count):
                clients.append(
                    client_create(
                        slug=f"{CLONE_PREFIX}{i:04d}",
                        name=f"Bench Client {i:04d}",
                        industry=source.industry,
                        time_zone=source.time_zone,
                        reporting_currency=source.reporting_currency,
                        data_residency_region=source.data_residency_region,
                        service_tier=source.service_tier,
                        sla_tier=source.sla_tier,
                        monthly_retainer=source.monthly_retainer,
                        lifecycle=Client.Lifecycle.ACTIVE,
                    )
                )
                if (i + 1) % 25 == 0 or i + 1 == count:
                    print(f"  {i + 1} clients, {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        provisioning.schema_create = original
        copier.close()
    # The schedule drafts only months a client existed through.
    Client.objects.filter(pk__in=[c.pk for c in clients]).update(created_at=timezone.now() - dt.timedelta(days=400))
    return clients


# --- 6: the month-end run on a real worker ----------------------------------------------------------------------


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    from config.celery import app

    handle = open(log, "w")  # noqa: SIM115 — stays open for the worker's life
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--concurrency=2",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--loglevel=WARNING",
            "-n",
            f"bench-reports-{os.getpid()}@%h",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with its children, and nothing else
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode}:\n{log.read_text()[-4000:]}")
        if app.control.ping(destination=[f"bench-reports-{os.getpid()}@{socket.gethostname()}"], timeout=1.0):
            return worker
    stop_worker(worker)
    raise RuntimeError(f"the worker did not answer within 120 s:\n{log.read_text()[-4000:]}")


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is not None:
        return
    os.killpg(worker.pid, signal.SIGTERM)  # warm shutdown of the worker I started, and its pool
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)


def forget_broker_queue() -> None:
    """Leave nothing of the bench in its Redis database (the default queue and kombu's bookkeeping)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        client.delete(
            "celery",
            "_kombu.binding.celery",
            "_kombu.binding_permanent.celery",
            "unacked",
            "unacked_index",
            "unacked_mutex",
        )
        client.zrem("_kombu.binding_deadlines", "celery", "celery.pidbox", "reply.celery.pidbox")
    finally:
        client.close()


def send_like_beat() -> int:
    """The beat entry applied as beat applies it: one message per live client, its schema in the headers."""
    from tenant_schemas_celery.scheduler import TenantAwareScheduler

    from apps.core.scheduler import KeelScheduler
    from config.celery import app

    class BenchBeat(TenantAwareScheduler):
        """KeelScheduler's fan-out (live clients), without its schedule file."""

        get_queryset = KeelScheduler.get_queryset

    beat = BenchBeat(app)
    entry = beat.schedule[f"{BEAT_ENTRY}@__all_tenants_only__"]
    with app.producer_or_acquire() as producer:
        beat.apply_entry(entry, producer=producer)
    return KeelScheduler.get_queryset().exclude(schema_name="public").count()


def _reports_done(schemas: list[str], month: dt.date) -> int:
    """How many of the schemas have a report on `month`."""
    from django.db import connection

    exists = " + ".join(
        f'(SELECT count(*) FROM (SELECT 1 FROM "{s}".reports_report WHERE month = %(month)s LIMIT 1) r)'
        for s in schemas
    )
    with connection.cursor() as cur:
        cur.execute(f"SELECT {exists}", {"month": month})
        return cur.fetchone()[0]


def _runs(schemas: list[str], since: dt.datetime) -> list[tuple[str, dt.datetime, dt.datetime | None]]:
    """(status, started_at, finished_at) of the reports.monthly_due runs in the schemas since `since`."""
    from django.db import connection

    runs = " UNION ALL ".join(
        f'SELECT status, started_at, finished_at FROM "{s}".core_taskrun '
        "WHERE task_name = 'reports.monthly_due' AND started_at >= %(since)s"
        for s in schemas
    )
    with connection.cursor() as cur:
        cur.execute(runs, {"since": since})
        return cur.fetchall()


def month_end_run(clients: list, worker_env: dict, log: Path, timeout: float) -> dict:
    from django.utils import timezone

    from apps.reports.services import reportable_month
    from config.celery import app

    schemas = [c.schema_name for c in clients]
    month = reportable_month(timezone.now().astimezone(clients[0].tz).date())
    app.conf.task_always_eager = False  # from here on, tasks go to the broker
    app.control.purge()
    worker = start_worker(worker_env, log)
    try:
        since = timezone.now()
        started = time.perf_counter()
        sent = send_like_beat()
        print(f"  sent reports.monthly_due to {sent} clients in {time.perf_counter() - started:.2f} s", flush=True)
        while (done := _reports_done(schemas, month)) < len(schemas):
            failed = sum(1 for status, _, _ in _runs(schemas, since) if status == "failed")
            if failed:
                raise RuntimeError(f"{failed} monthly_due runs failed:\n{log.read_text()[-4000:]}")
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}:\n{log.read_text()[-4000:]}")
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"{done} of {len(schemas)} reports after {timeout:.0f} s")
            time.sleep(0.5)
        seen = time.perf_counter() - started
        # A run records its finish just after its report commits: wait for the last few records.
        deadline = time.time() + 30
        while len(finished := [r for r in _runs(schemas, since) if r[0] == "succeeded"]) < len(schemas):
            if time.time() > deadline:
                raise RuntimeError(f"only {len(finished)} of {len(schemas)} monthly_due runs recorded success")
            time.sleep(0.2)
    finally:
        stop_worker(worker)
        forget_broker_queue()
        app.conf.task_always_eager = True
    durations = [(end - begin).total_seconds() for _, begin, end in finished]
    return {
        "month": month,
        "seconds": (max(end for _, _, end in finished) - since).total_seconds(),
        "seen": seen,
        "sent": sent,
        "median_run": statistics.median(durations),
        "max_run": max(durations),
    }


# --- the run ----------------------------------------------------------------------------------------------------


def main() -> None:
    wall = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200, help="clients in the month-end run (200)")
    parser.add_argument("--runs", type=int, default=5, help="timed versions of the client's report (5)")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help=f"the worker's broker ({DEFAULT_BROKER})")
    parser.add_argument("--profile", action="store_true", help="profile one more version of the report")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database and media folder")
    args = parser.parse_args()
    if args.clients < 1 or args.runs < 1:
        parser.error("--clients and --runs must be at least 1")

    media = Path(tempfile.mkdtemp(prefix="keel-bench-reports-media-"))
    os.environ["KEEL_MEDIA_ROOT"] = str(media)
    os.environ["CELERY_BROKER_URL"] = args.broker
    worker_env = {**os.environ, "KEEL_CELERY_EAGER": "0", "PYTHONUNBUFFERED": "1"}
    prepare_database()
    try:
        import django

        django.setup()
        logging.getLogger("celery").setLevel(logging.WARNING)  # the demo's inline tasks log each run at INFO
        from django.core.management import call_command
        from reports_console import console_ms

        started = time.perf_counter()
        call_command("keel_setup", verbosity=0)
        print(f"keel_setup: {time.perf_counter() - started:.1f} s", flush=True)

        started = time.perf_counter()
        console = console_ms(500)
        print(f"console with 500 clients: median {console:.1f} ms ({time.perf_counter() - started:.0f} s)")

        started = time.perf_counter()
        from apps.demo.services import demo_load

        demo_load()
        print(f"demo data (a year for each demo client): {time.perf_counter() - started:.0f} s", flush=True)

        warm, per_client, month = time_client(SOURCE_SLUG, args.runs)
        print(
            f"{SOURCE_SLUG}, {month:%B %Y}: warm-up version {warm['total']:.2f} s (snapshot "
            f"{warm['snapshot']:.2f}, html {warm['html']:.2f}, pdf {warm['pdf']:.2f})"
        )
        print(
            f"{SOURCE_SLUG}, {month:%B %Y}, median of {args.runs} fresh versions: snapshot "
            f"{per_client['snapshot']:.2f} s, html {per_client['html']:.3f} s "
            f"({per_client['html_kib']:.0f} KiB), pdf {per_client['pdf']:.2f} s ({per_client['pdf_kib']:.0f} KiB); "
            f"total {per_client['total']:.2f} s",
            flush=True,
        )
        for slug in COMPARE_SLUGS:
            _warm, other, _month = time_client(slug, 3)
            print(
                f"  for comparison, {slug}: snapshot {other['snapshot']:.2f} s, html {other['html']:.3f} s, "
                f"pdf {other['pdf']:.2f} s; total {other['total']:.2f} s (median of 3)",
                flush=True,
            )
        if args.profile or per_client["total"] > AIM_SECONDS:
            profile_version(SOURCE_SLUG, month)

        print(provisioning_note(), flush=True)
        print(f"making {args.clients} clients with copies of {SOURCE_SLUG}'s schema and data", flush=True)
        clients = make_portfolio(args.clients)

        print(f"month-end run over {args.clients} clients, worker --concurrency=2, broker {args.broker}", flush=True)
        log = media / "worker.log"
        result = month_end_run(clients, worker_env, log, timeout=max(600, 10 * args.clients))
        print(
            f"  {result['month']:%B %Y}: all {args.clients} reports drafted {result['seconds']:.1f} s after the "
            f"first message (the poll saw them at {result['seen']:.1f} s); one client's run: median "
            f"{result['median_run']:.2f} s, longest {result['max_run']:.2f} s"
        )
        estimate = result["seconds"] + args.clients * per_client["pdf"] / 2
        print(
            "  monthly_report_due drafts only (the snapshot); it neither renders nor issues. Rendering the PDF "
            f"({per_client['pdf']:.2f} s per client above) for all {args.clients} on 2 processes would add about "
            f"{args.clients * per_client['pdf'] / 2:.0f} s: about {estimate:.0f} s in all (an estimate, not timed)"
        )
        if per_client["total"] > AIM_SECONDS:
            print(f"  over the aim: {per_client['total']:.2f} s per client (aim {AIM_SECONDS:.0f} s)")
        if console > AIM_CONSOLE_MS:
            print(f"  over the aim: console {console:.0f} ms (aim {AIM_CONSOLE_MS:.0f} ms)")
        print(f"total wall time {time.perf_counter() - wall:.0f} s")
        print(f"figure seconds_per_client {per_client['total']:.2f} s")
        print(f"figure month_end_200_clients_seconds {result['seconds']:.1f} s")
        print(f"figure console_ms_500_clients {console:.1f} ms")
    finally:
        if args.keep:
            print(f"Kept the benchmark database {database_name()} and the media folder {media}")
        else:
            drop_database()
            shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    main()
