"""How long creating a client takes as clients accumulate, and how long migrating all of them takes.

    python bench/tenant_provisioning.py            # 10, 100 and 500 clients (several minutes)
    python bench/tenant_provisioning.py --quick    # stop at 100

Uses its own database (KEEL_BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/keel_bench),
dropped at the end unless --keep. Ends with `figure <name> <value> s` lines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
BENCH_URL = os.environ.get("KEEL_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/keel_bench")
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
os.environ.setdefault("KEEL_LOG_LEVEL", "WARNING")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("KEEL_CELERY_EAGER", "1")


def _admin(sql: str) -> None:
    import psycopg

    base, name = BENCH_URL.rsplit("/", 1)
    with psycopg.connect(base.replace("postgres://", "postgresql://") + "/postgres", autocommit=True) as conn:
        conn.execute(sql.format(name=name))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="stop at 100 clients")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--samples", type=int, default=5, help="creations timed at each level")
    args = parser.parse_args()
    levels = [10, 100] if args.quick else [10, 100, 500]

    _admin('DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin('CREATE DATABASE "{name}"')
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from apps.tenancy.models import Client
        from apps.tenancy.services import client_create

        call_command("keel_setup", verbosity=0)
        figures, made = {}, 0

        def create() -> float:
            nonlocal made
            made += 1
            started = time.perf_counter()
            client_create(slug=f"bench-{made:04d}", name=f"Bench {made}")
            return time.perf_counter() - started

        for level in levels:
            while Client.objects.filter(kind=Client.Kind.CLIENT).count() < level:
                create()
            samples = [create() for _ in range(args.samples)]
            figures[f"create_seconds_at_{level}"] = statistics.median(samples)
            print(f"{level} clients: median {figures[f'create_seconds_at_{level}']:.3f} s per creation", flush=True)

        started = time.perf_counter()
        call_command("migrate_schemas", tenant=True, executor="multiprocessing", interactive=False, verbosity=0)
        figures[f"migrate_all_seconds_at_{levels[-1]}"] = time.perf_counter() - started

        for name, value in figures.items():
            print(f"figure {name} {value:.3f} s")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin('DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
