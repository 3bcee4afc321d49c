"""The throwaway database every benchmark runs in: created (or recreated, when its name says 'bench') from
DATABASE_URL, dropped at the end. Benchmarks import this as `benchdb` (their folder is on sys.path)."""

from __future__ import annotations

import os
import sys
from urllib.parse import unquote, urlsplit, urlunsplit


def bench_url() -> str:
    return os.environ["DATABASE_URL"]


def database_name() -> str:
    return unquote(urlsplit(bench_url()).path.lstrip("/"))


def _admin_url() -> str:
    parts = urlsplit(bench_url())
    scheme = "postgresql" if parts.scheme in ("postgres", "postgresql", "pgsql") else parts.scheme
    return urlunsplit((scheme, parts.netloc, "/postgres", parts.query, ""))


def admin(sql: str, params: list | None = None):
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else None


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def prepare_database() -> None:
    name = database_name()
    exists = admin("SELECT 1 FROM pg_database WHERE datname = %s", [name])
    if exists and "bench" not in name:
        sys.exit(
            f"Refusing to benchmark in the existing database {name!r}: point DATABASE_URL at a new database "
            "(it is created) or at one whose name contains 'bench'."
        )
    if exists:
        print(f"Recreating the benchmark database {name}", flush=True)
        admin(f"DROP DATABASE {_quoted(name)} WITH (FORCE)")
    else:
        print(f"Creating the benchmark database {name}", flush=True)
    admin(f"CREATE DATABASE {_quoted(name)}")


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    admin(f"DROP DATABASE IF EXISTS {_quoted(database_name())} WITH (FORCE)")
