"""How long creating a client takes as clients accumulate, and how long migrating all of them takes.

    .venv/bin/python bench/tenant_provisioning.py            # 10, 100 and 500 clients (several minutes)
    .venv/bin/python bench/tenant_provisioning.py --quick    # stop at 100 (a smoke run)
    .venv/bin/python bench/tenant_provisioning.py --profile  # also profile one creation at the last level

Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/keel_bench) with
config.settings.base. The database is created if missing; a benchmark database (a name containing
"bench") left by an earlier --keep is recreated so every run starts from zero clients; any other existing
database is refused, so a real database is never filled with bench clients or dropped. The database is
dropped at the end unless --keep.

At each level, the clients up to the level are created; the last --samples of them are timed, and the
median is the figure. Output ends with lines like `figure create_seconds_at_10 0.41 s`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/keel_bench"
BENCH_URL = os.environ.get("DATABASE_URL") or DEFAULT_URL
os.environ["DATABASE_URL"] = BENCH_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
os.environ.setdefault("KEEL_LOG_LEVEL", "WARNING")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("KEEL_CELERY_EAGER", "1")


from benchdb import database_name, drop_database, prepare_database  # noqa: E402


def profile_one_creation(create) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    create()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="stop at 100 clients")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--samples", type=int, default=5, help="creations timed at each level (default 5)")
    parser.add_argument("--profile", action="store_true", help="profile one more creation at the last level")
    args = parser.parse_args()
    levels = [10, 100] if args.quick else [10, 100, 500]
    if not 1 <= args.samples <= levels[0]:
        parser.error(f"--samples must be between 1 and {levels[0]}")

    prepare_database()
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from apps.tenancy.models import Client
        from apps.tenancy.services import client_create

        started = time.perf_counter()
        call_command("keel_setup", verbosity=0)
        print(f"keel_setup: {time.perf_counter() - started:.1f} s", flush=True)

        figures: dict[str, float] = {}
        made = Client.objects.filter(kind=Client.Kind.CLIENT).count()

        def create() -> float:
            nonlocal made
            made += 1
            started = time.perf_counter()
            client_create(slug=f"bench-{made:04d}", name=f"Bench {made}")
            return time.perf_counter() - started

        for level in levels:
            while made < level - args.samples:
                create()
            samples = [create() for _ in range(level - made)]
            figures[f"create_seconds_at_{level}"] = statistics.median(samples)
            print(
                f"{made} clients: median {statistics.median(samples):.3f} s per creation "
                f"(min {min(samples):.3f}, max {max(samples):.3f})",
                flush=True,
            )

        started = time.perf_counter()
        call_command("migrate_schemas", tenant=True, executor="multiprocessing", interactive=False, verbosity=0)
        figures[f"migrate_all_seconds_at_{levels[-1]}"] = time.perf_counter() - started

        if args.profile:
            profile_one_creation(create)

        for name, value in figures.items():
            print(f"figure {name} {value:.2f} s")
    finally:
        if args.keep:
            print(f"Kept the benchmark database {database_name()}")
        else:
            drop_database()


if __name__ == "__main__":
    main()
