"""How many usage events per second Keel ingests, through the HTTP endpoint and through the service.

    .venv/bin/python bench/usage_ingest.py                 # 200,000 events over HTTP, 200,000 through the service
    .venv/bin/python bench/usage_ingest.py --events 50000  # a shorter run
    .venv/bin/python bench/usage_ingest.py --profile       # also profile one HTTP batch

Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/keel_usage_bench) with
config.settings.base. The database is created if missing; a benchmark database (a name containing "bench")
left by an earlier --keep is recreated; any other existing database is refused, so a real database is never
filled with bench events or dropped. It sets up the public schema and the model catalog (keel_setup), creates
one client with an ingest-scoped API key, and drops the database at the end unless --keep.

HTTP: POST /c/<slug>/api/v1/usage-events in batches of --batch events, through Django's whole request stack
(client routing, access middleware, API-key authentication, throttling, parsing, the view) in this process, with
the request bodies serialised beforehand (a gateway builds them on its own machine). Events are a realistic mix:
six models of four providers, agents, departments, API keys, a fifth in OpenTelemetry names, a tenth with the
caller's own cost. Service: usage_events_ingest on the same kind of batches, already parsed. Both are sustained
figures: total events over total wall time, the table growing as it goes. Output ends with
`figure events_per_second <n> events/s` (the HTTP figure).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/keel_usage_bench"
BENCH_URL = os.environ.get("DATABASE_URL") or DEFAULT_URL
os.environ["DATABASE_URL"] = BENCH_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
os.environ.setdefault("KEEL_LOG_LEVEL", "WARNING")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("KEEL_CELERY_EAGER", "1")
os.environ.setdefault("KEEL_API_KEY_RATE", "100000/min")  # the bench measures ingestion, not the rate limit

SLUG = "usage-bench"
TARGET = 10_000
MODELS = (  # (provider as sent, model, input, output, cached) — typical sizes of agent calls
    ("openai", "gpt-4o", 1800, 350, 1024),
    ("openai", "gpt-4o-mini", 900, 200, 0),
    ("anthropic", "claude-sonnet-4-5", 4200, 600, 3000),
    ("", "claude-sonnet-4-5", 2500, 400, 0),  # provider inferred from the catalog
    ("aws.bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", 1500, 300, 0),
    ("Azure OpenAI", "gpt-4o", 1200, 250, 0),
)
AGENTS = ("claims-triage", "underwriting", "kyc-checker", "support-bot", "fraud-scan")
DEPARTMENTS = ("claims-ops", "risk", "support", "")


from benchdb import database_name, drop_database, prepare_database  # noqa: E402


def make_events(count: int, *, run: str, rng: random.Random) -> list[dict]:
    """Realistic events: timestamps over the last day, a fifth in OpenTelemetry names, a tenth with a cost."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    events = []
    for i in range(count):
        provider, model, inp, out, cached = rng.choice(MODELS)
        moment = now - dt.timedelta(seconds=rng.randrange(86_400))
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        agent = rng.choice(AGENTS)
        scale = rng.uniform(0.2, 2.0)
        inp, out, cached = int(inp * scale), int(out * scale), int(cached * scale)
        if i % 5 == 0:
            event = {
                "timestamp": stamp,
                "gen_ai.response.id": f"{run}-{i}",
                "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": inp,
                "gen_ai.usage.output_tokens": out,
                "gen_ai.usage.cache_read.input_tokens": cached,
                "gen_ai.agent.name": agent,
                "gen_ai.operation.name": "chat",
            }
            if provider:
                event["gen_ai.provider.name"] = provider
        else:
            event = {
                "timestamp": stamp,
                "request_id": f"{run}-{i}",
                "model": model,
                "input_tokens": inp,
                "output_tokens": out,
                "cached_tokens": cached,
                "agent": agent,
                "department": rng.choice(DEPARTMENTS),
                "api_key_id": f"key_{rng.randrange(8)}",
                "prompt_hash": f"{rng.getrandbits(64):016x}",
            }
            if provider:
                event["provider"] = provider
            if i % 10 == 1:
                event["cost"] = f"{rng.randrange(1, 50_000) / 1_000_000:.6f}"
        events.append(event)
    return events


def batches(events: list[dict], size: int) -> list[list[dict]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def bench_http(client, secret: str, bodies: list[bytes], counts: list[int]) -> tuple[float, list[float]]:
    url = f"/c/{SLUG}/api/v1/usage-events"
    per_batch = []
    started = time.perf_counter()
    for body, count in zip(bodies, counts, strict=True):
        t0 = time.perf_counter()
        response = client.post(url, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {secret}")
        per_batch.append(count / (time.perf_counter() - t0))
        result = response.json()
        if response.status_code != 200 or result["accepted"] != count:
            sys.exit(f"HTTP batch failed: {response.status_code} {str(result)[:500]}")
    return time.perf_counter() - started, per_batch


def bench_service(event_batches: list[list[dict]]) -> tuple[float, list[float]]:
    from apps.finops.usage import usage_events_ingest

    per_batch = []
    started = time.perf_counter()
    for events in event_batches:
        t0 = time.perf_counter()
        result = usage_events_ingest(events=events)
        per_batch.append(len(events) / (time.perf_counter() - t0))
        if result.accepted != len(events):
            sys.exit(f"service batch failed: {result.as_dict()}")
    return time.perf_counter() - started, per_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="events per measurement (default 200,000)")
    parser.add_argument("--batch", type=int, default=5000, help="events per batch (default and maximum 5,000)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--profile", action="store_true", help="profile one more HTTP batch")
    args = parser.parse_args()
    if not 1 <= args.batch <= 5000:
        parser.error("--batch must be between 1 and 5,000")

    prepare_database()
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client as HttpClient
        from django_tenants.utils import schema_context

        from apps.accounts.services import api_key_create
        from apps.finops.models import UsageEvent
        from apps.tenancy.services import client_create

        started = time.perf_counter()
        call_command("keel_setup", verbosity=0)  # public schema and the model price catalog
        client = client_create(slug=SLUG, name="Usage Bench")
        secret = api_key_create(name="bench gateway", client=client, scopes=["ingest"], created_by=None).secret
        print(f"setup (schema, catalog, client, key): {time.perf_counter() - started:.1f} s", flush=True)

        rng = random.Random(20250602)
        http_events = make_events(args.events, run="http", rng=rng)
        http_batches = batches(http_events, args.batch)
        bodies = [json.dumps({"events": b}).encode() for b in http_batches]
        print(
            f"{len(http_events):,} events in {len(bodies)} batches, "
            f"{statistics.mean(len(b) for b in bodies) / args.batch:,.0f} bytes per event",
            flush=True,
        )
        http = HttpClient(raise_request_exception=True)
        warm = make_events(args.batch, run="warm", rng=rng)  # connections, caches, imports
        http.post(
            f"/c/{SLUG}/api/v1/usage-events",
            data=json.dumps(warm).encode(),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Api-Key {secret}",
        )

        http_seconds, http_rates = bench_http(http, secret, bodies, [len(b) for b in http_batches])
        http_rate = len(http_events) / http_seconds
        print(
            f"HTTP: {len(http_events):,} events in {http_seconds:.2f} s = {http_rate:,.0f} events/s "
            f"(per batch: median {statistics.median(http_rates):,.0f}, slowest {min(http_rates):,.0f})",
            flush=True,
        )

        again_started = time.perf_counter()
        replay = http.post(
            f"/c/{SLUG}/api/v1/usage-events",
            data=bodies[0],
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Api-Key {secret}",
        ).json()
        print(
            f"replaying one batch: {replay['duplicates']:,} duplicates, {replay['accepted']} stored, "
            f"{time.perf_counter() - again_started:.3f} s",
            flush=True,
        )

        service_batches = batches(make_events(args.events, run="svc", rng=rng), args.batch)
        with schema_context(client.schema_name):
            service_seconds, service_rates = bench_service(service_batches)
            service_rate = args.events / service_seconds
            print(
                f"service: {args.events:,} events in {service_seconds:.2f} s = {service_rate:,.0f} events/s "
                f"(per batch: median {statistics.median(service_rates):,.0f}, slowest {min(service_rates):,.0f})",
                flush=True,
            )
            stored = UsageEvent.objects.count()
            expected = len(http_events) + args.events + len(warm)
            if stored != expected:
                sys.exit(f"stored {stored:,} events, expected {expected:,}")

            from apps.finops.services import ingestion_run_execute, usage_events_source

            booking_started = time.perf_counter()
            run = ingestion_run_execute(source=usage_events_source(), trigger="manual")
            booking_seconds = time.perf_counter() - booking_started
            print(
                f"booking {stored:,} events into the ledger: {run.rows_loaded:,} rows in {booking_seconds:.2f} s "
                f"({run.status}, totals {run.totals})",
                flush=True,
            )

        if args.profile:
            import cProfile
            import pstats

            body = json.dumps(make_events(args.batch, run="profile", rng=rng)).encode()
            profiler = cProfile.Profile()
            profiler.enable()
            http.post(
                f"/c/{SLUG}/api/v1/usage-events",
                data=body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Api-Key {secret}",
            )
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)

        verdict = "meets" if http_rate >= TARGET else "MISSES"
        print(f"target {TARGET:,} events/s: HTTP {verdict} it")
        print(f"figure service_events_per_second {service_rate:.0f} events/s")
        print(f"figure booking_seconds {booking_seconds:.2f} s")
        print(f"figure events_per_second {http_rate:.0f} events/s")
    finally:
        if args.keep:
            print(f"Kept the benchmark database {database_name()}")
        else:
            drop_database()


if __name__ == "__main__":
    main()
