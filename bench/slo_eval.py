"""How long the one-minute SLO evaluation takes to recompute every live error budget and burn rate: 200 SLOs
with a month of per-minute measurements each (about 8.6 million rollup rows).

    .venv/bin/python bench/slo_eval.py                 # 4 clients × 50 SLOs, 30 days each (a few minutes)
    .venv/bin/python bench/slo_eval.py --explain       # also EXPLAIN ANALYZE the rollup queries of one client
    .venv/bin/python bench/slo_eval.py --keep          # keep the benchmark database

Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/keel_bench_slo) with
config.settings.base, in a database it creates and drops (a name containing "bench" is recreated, any other
existing database is refused). It sets up the public schema (keel_setup) and four clients in four time zones,
each with 50 SLOs created through apps.service_levels.services.slo_save: availability, latency and quality
SLIs, occurrences and time-slice budgeting (1- and 5-minute slices), calendar-month and rolling 28- and 30-day
windows.

Data: for every SLO, the 30 days × 1,440 minutes before the simulated `now` of SliMinute rows (good, total),
generated with numpy — Poisson traffic with a day/night and weekday/weekend rhythm in the client's time zone,
binomial bad events at a fraction of the error budget, a few short bad stretches — and, for some SLOs, a
scenario: a burn still going on in the last 75 minutes (page), a slower one over the last 26 hours (ticket),
or an outage days ago that spent 85 % (at risk) or 130 % (exhausted) of the window's budget. Minutes without
events are left out, as the rollup has none. Rows go straight into each schema's service_levels_sliminute with
one binary COPY per client (cursor.copy; the foreign key and any secondary index are dropped for the load and
restored after it), then the table is VACUUM ANALYZEd, as autovacuum would have left an insert-only table that
has been filling for a month.

What is timed: apps.service_levels.evaluation.statuses_refresh(slos, now=now, tz=client.tz) in each client's
schema (schema_context) — the budgets-and-burn-rates step of slos_evaluate: the set-based rollup queries, the
arithmetic, the alert follow-up and the SloStatus upsert. One warm-up pass over all clients (it also raises
the burn alerts, so the timed passes see a steady state), then three timed passes; the figure is the median
pass, summed over the four clients (all 200 SLOs). It must fit comfortably inside the one-minute cycle.
Output ends with `figure seconds <s> s`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/keel_bench_slo"
os.environ["DATABASE_URL"] = os.environ.get("DATABASE_URL") or DEFAULT_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
os.environ.setdefault("KEEL_LOG_LEVEL", "WARNING")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("KEEL_CELERY_EAGER", "0")  # the burn alerts' deliveries are queued, not run in the timing

from benchdb import database_name, drop_database, prepare_database  # noqa: E402

NOW = dt.datetime(2026, 11, 27, 14, 0, tzinfo=dt.UTC)  # the simulated minute of the evaluation
DAYS = 30
MINUTES = DAYS * 1440
FIRST = NOW - dt.timedelta(minutes=MINUTES)  # the oldest minute loaded
PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
CLIENTS = [  # slug, time zone
    ("bench-slo-halifax", "America/Toronto"),
    ("bench-slo-berlin", "Europe/Berlin"),
    ("bench-slo-tokyo", "Asia/Tokyo"),
    ("bench-slo-global", "UTC"),
]
SLOS_PER_CLIENT = 50
RUNS = 3
# Per client: how many SLOs get each bad scenario; the rest are healthy (normal noise and short blips only).
SCENARIOS = {"page": 2, "ticket": 3, "exhausted": 2, "at_risk": 3}
SERVICES = ["claims-api", "kyc-agent", "underwriter", "support-bot", "doc-extract", "fraud-scan", "quote-engine"]
# Binary COPY: a 2-byte field count, then (4-byte length, value) per column; all values 8-byte big-endian.
ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("l1", ">i4"),
        ("slo_id", ">i8"),
        ("l2", ">i4"),
        ("minute", ">i8"),
        ("l3", ">i4"),
        ("good", ">i8"),
        ("l4", ">i4"),
        ("total", ">i8"),
    ]
)
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)


# --- the SLOs -------------------------------------------------------------------------------------------------


def slo_specs(rng: np.random.Generator) -> list[dict]:
    """50 SLO definitions (slo_save keyword arguments) plus the traffic and scenario that feed them."""
    windows = [("calendar_month", 30), ("rolling", 28), ("rolling", 30)]
    scenarios = [name for name, count in SCENARIOS.items() for _ in range(count)]
    scenarios += ["healthy"] * (SLOS_PER_CLIENT - len(scenarios))
    rng.shuffle(scenarios)
    specs = []
    for i in range(SLOS_PER_CLIENT):
        kind = ("availability", "latency", "quality")[i % 5 % 3]  # 2:2:1 availability, latency, quality
        service = SERVICES[i % len(SERVICES)]
        window_kind, window_days = windows[i % 3]
        spec: dict = {
            "name": f"{service}-{kind}-{i:02d}",
            "display_name": f"{service} {kind} #{i}",
            "sli_kind": kind,
            "window_kind": window_kind,
            "window_days": window_days,
            "credit_tiers": [{"below": "99.0", "credit_percent": "10"}, {"below": "95.0", "credit_percent": "25"}],
        }
        if kind == "availability":
            spec["objective"] = Decimal(str(rng.choice(["0.999", "0.9995", "0.995", "0.99"])))
            rate = float(rng.uniform(200, 3000))
        elif kind == "latency":
            spec["objective"] = Decimal(str(rng.choice(["0.99", "0.995", "0.95"])))
            spec["threshold"] = Decimal(str(rng.choice([300, 800, 2000])))
            rate = float(rng.uniform(100, 2000))
        else:  # graded answers: few events a minute, so burn alerts need a handful in the short window
            spec["objective"] = Decimal(str(rng.choice(["0.95", "0.97"])))
            spec["threshold"] = Decimal("0.7")
            spec["min_events"] = 10
            rate = float(rng.uniform(20, 60))
        # Time slices on a third of the high-traffic SLOs: a slice is good at ≥ 95 % good events.
        if kind != "quality" and i % 3 == 1:
            spec["budgeting"] = "timeslices"
            spec["timeslice_minutes"] = int(rng.choice([1, 5]))
            spec["timeslice_target"] = Decimal("0.95")
        specs.append({"save": spec, "rate": rate, "scenario": scenarios[i]})
    return specs


# --- the month of minutes -------------------------------------------------------------------------------------


def rhythm(tz) -> np.ndarray:
    """Traffic factor per loaded minute: full in local office hours, a third at night, less at weekends."""
    offset = int(NOW.astimezone(tz).utcoffset().total_seconds() // 60)
    local = np.arange(MINUTES, dtype=np.int64) + int((FIRST - PG_EPOCH).total_seconds()) // 60 + offset
    hour = (local // 60) % 24
    weekday = (local // 1440 + 5) % 7  # 2000-01-01 was a Saturday: Monday = 0
    factor = np.where((hour >= 8) & (hour < 20), 1.0, 0.35)
    return factor * np.where(weekday >= 5, 0.6, 1.0)


def minutes_for(spec: dict, traffic: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(good, total) per minute for one SLO: noise well within its budget, blips, and its scenario."""
    slo = spec["save"]
    budget = 1 - float(slo["objective"])
    slices = slo.get("budgeting") == "timeslices"
    total = rng.poisson(spec["rate"] * traffic)
    # Time-slice SLOs keep the per-event noise low so that only real stretches make a slice bad.
    error = np.full(MINUTES, budget * (rng.uniform(0.002, 0.01) if slices else rng.uniform(0.1, 0.5)))
    for _ in range(int(rng.integers(2, 6))):  # short blips: a deploy, a dependency hiccup
        start, length = int(rng.integers(0, MINUTES - 60)), int(rng.integers(3, 15))
        error[start : start + length] = 0.2 if slices else min(0.9, budget * rng.uniform(5, 20))
    scenario = spec["scenario"]
    if scenario == "page":  # burning about 30× too fast for the last 75 minutes
        error[-75:] = 0.5 if slices else min(0.9, budget * 30)
    elif scenario == "ticket":  # about 5× too fast for the last 26 hours
        error[-26 * 60 :] = 0.3 if slices else budget * 5
    elif scenario in ("exhausted", "at_risk"):  # an outage 5 to 12 days ago that spent much of the budget
        spend = 1.3 if scenario == "exhausted" else 0.85
        intensity = 1.0 if slices else 0.5  # share of slices (or events) that go bad during the outage
        length = int(spend * budget * 28 * 1440 / intensity)  # minutes of outage at about average traffic
        end = MINUTES - int(rng.integers(5, 12)) * 1440
        error[max(0, end - length) : end] = 0.6 if slices else 0.5
    bad = rng.binomial(total, np.minimum(error, 1.0))
    return total - bad, total


def copy_block(slo_id: int, good: np.ndarray, total: np.ndarray) -> bytes:
    """The SLO's minutes as binary COPY rows; minutes without events are left out, as the rollup leaves them."""
    start = int((FIRST - PG_EPOCH).total_seconds()) * 1_000_000
    minutes = start + np.arange(MINUTES, dtype=np.int64) * 60_000_000
    kept = total > 0
    rows = np.empty(int(kept.sum()), dtype=ROW)
    rows["fields"] = 4
    rows["l1"] = rows["l2"] = rows["l3"] = rows["l4"] = 8
    rows["slo_id"] = slo_id
    rows["minute"], rows["good"], rows["total"] = minutes[kept], good[kept], total[kept]
    return rows.tobytes()


def load_minutes(slos, specs: list[dict], tz, rng: np.random.Generator) -> int:
    """One binary COPY of every SLO's month into the current schema's rollup table.

    The foreign key to the SLO (a trigger per row) and the secondary indexes are dropped for the load and put
    back after it, as a bulk load would; re-adding the key still checks every row."""
    from django.db import connection, transaction

    from apps.service_levels.evaluation import MINUTE_TABLE

    traffic = rhythm(tz)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid = %s::regclass AND contype = 'f'""",
            [MINUTE_TABLE],
        )
        keys = cur.fetchall()
        cur.execute(
            """SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid = %s::regclass AND NOT i.indisprimary""",
            [MINUTE_TABLE],
        )
        indexes = cur.fetchall()
        for name, _definition in keys:
            cur.execute(f'ALTER TABLE {MINUTE_TABLE} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        with cur.copy(f"COPY {MINUTE_TABLE} (slo_id, minute, good, total) FROM STDIN (FORMAT binary)") as copy:
            copy.write(COPY_HEADER)
            for slo, spec in zip(slos, specs, strict=True):
                copy.write(copy_block(slo.pk, *minutes_for(spec, traffic, rng)))
            copy.write(COPY_TRAILER)
        for _name, definition in indexes:
            cur.execute(definition)
        for name, definition in keys:
            cur.execute(f'ALTER TABLE {MINUTE_TABLE} ADD CONSTRAINT "{name}" {definition}')
    with connection.cursor() as cur:
        cur.execute(f"VACUUM (ANALYZE) {MINUTE_TABLE}")
        cur.execute(f"SELECT count(*) FROM {MINUTE_TABLE}")
        return cur.fetchone()[0]


# --- timing -----------------------------------------------------------------------------------------------------


def refresh_all(clients: list) -> tuple[float, dict[str, float], list]:
    """One evaluation pass over every client: (total seconds, seconds per client, statuses)."""
    from django_tenants.utils import schema_context

    from apps.service_levels.evaluation import statuses_refresh
    from apps.service_levels.models import SLO

    per_client, statuses = {}, []
    for client in clients:
        with schema_context(client.schema_name):
            slos = list(SLO.objects.filter(active=True).select_related("calendar", "asset"))
            started = time.perf_counter()
            statuses += statuses_refresh(slos, now=NOW, tz=client.tz)
            per_client[client.slug] = time.perf_counter() - started
    return sum(per_client.values()), per_client, statuses


def explain(client) -> None:
    """EXPLAIN ANALYZE the rollup queries statuses_refresh sends, with the parameters it sends them with."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.service_levels.evaluation import MINUTE_TABLE, statuses_refresh
    from apps.service_levels.models import SLO

    captured = []

    def capture(execute, sql, params, many, context):
        if MINUTE_TABLE in sql:
            captured.append((sql, params))
        return execute(sql, params, many, context)

    with schema_context(client.schema_name):
        slos = list(SLO.objects.filter(active=True))
        with connection.execute_wrapper(capture):
            statuses_refresh(slos, now=NOW, tz=client.tz)
        for sql, params in captured:
            kind = "time slices" if "date_bin" in sql else "occurrences"
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                plan = "\n".join("    " + row[0] for row in cur.fetchall())
            print(f"EXPLAIN ANALYZE, {kind} query of {client.slug}:\n{plan}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the rollup queries of one client")
    args = parser.parse_args()
    prepare_database()
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django_tenants.utils import schema_context

        from apps.service_levels.services import slo_save
        from apps.tenancy.services import client_create

        started = time.perf_counter()
        call_command("keel_setup", verbosity=0)
        print(f"keel_setup: {time.perf_counter() - started:.1f} s", flush=True)

        rng = np.random.default_rng(20261127)
        clients, loaded = [], 0
        for slug, time_zone in CLIENTS:
            started = time.perf_counter()
            client = client_create(slug=slug, name=slug.replace("-", " ").title(), time_zone=time_zone)
            specs = slo_specs(rng)
            with schema_context(client.schema_name):
                slos = [slo_save(starts_at=FIRST - dt.timedelta(days=60), **spec["save"]) for spec in specs]
                rows = load_minutes(slos, specs, client.tz, rng)
            loaded += rows
            clients.append(client)
            print(
                f"{slug} ({time_zone}): {len(slos)} SLOs, {rows:,} minute rows, {time.perf_counter() - started:.1f} s",
                flush=True,
            )
        print(f"loaded {loaded:,} SliMinute rows for {len(CLIENTS) * SLOS_PER_CLIENT} SLOs", flush=True)

        warm, _, statuses = refresh_all(clients)
        print(f"warm-up pass (raises the burn alerts): {warm:.2f} s", flush=True)
        passes = []
        for run in range(RUNS):
            seconds, per_client, statuses = refresh_all(clients)
            passes.append((seconds, per_client))
            detail = ", ".join(f"{slug} {value:.2f}" for slug, value in per_client.items())
            print(f"pass {run + 1}: {seconds:.2f} s ({detail})", flush=True)
        median = statistics.median(seconds for seconds, _ in passes)

        states = Counter(status.state for status in statuses)
        levels = Counter(status.alert_level for status in statuses if status.alert_level)
        print("states: " + ", ".join(f"{state} {states[state]}" for state in ("ok", "at_risk", "exhausted", "no_data")))
        print(f"alerting: {sum(levels.values())} (page {levels['page']}, ticket {levels['ticket']})")
        print(f"per SLO: {median / len(statuses) * 1000:.1f} ms; share of the one-minute cycle: {median / 60:.1%}")
        if args.explain:
            explain(clients[0])
        print(f"figure seconds {median:.2f} s")
    finally:
        if args.keep:
            print(f"Kept the benchmark database {database_name()}")
        else:
            drop_database()


if __name__ == "__main__":
    main()
