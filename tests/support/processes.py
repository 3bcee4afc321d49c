"""Out-of-process test helpers: a separate database prepared by the real set-up command, and Keel
processes (web server, Celery worker) running against it.

In-process tests run inside rolled-back transactions. Anything in another process needs committed data,
so it gets a database of its own (created here, dropped afterwards) instead of a transactional test case,
whose flush would empty the shared session database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def _admin_conninfo() -> str:
    db = settings.DATABASES["default"]
    parts = [f"dbname=postgres user={db['USER'] or 'postgres'}"]
    if db.get("HOST"):
        parts.append(f"host={db['HOST']}")
    if db.get("PORT"):
        parts.append(f"port={db['PORT']}")
    if db.get("PASSWORD"):
        parts.append(f"password={db['PASSWORD']}")
    return " ".join(parts)


def _url_for(name: str) -> str:
    from urllib.parse import quote

    db = settings.DATABASES["default"]
    host = quote(db.get("HOST") or "127.0.0.1", safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER'] or 'postgres'}{password}@{host}{port}/{name}"


@contextmanager
def separate_database(*, demo: bool = False, extra_env: dict | None = None) -> Iterator[dict]:
    """Create a fresh database, run `manage.py keel_setup` on it, yield the environment to run Keel with."""
    name = f"keel_proc_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": _url_for(name),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "KEEL_ENCRYPTION_KEYS": ",".join(settings.KEEL_ENCRYPTION_KEYS),
        "KEEL_SECRET_KEY": "test-secret-key-for-out-of-process-tests-only-0123456789",
        "KEEL_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "PYTHONPATH": str(BASE_DIR),
        **(extra_env or {}),
    }
    try:
        command = [sys.executable, "manage.py", "keel_setup", *(["--demo"] if demo else [])]
        subprocess.run(command, cwd=BASE_DIR, env=env, check=True, capture_output=True, timeout=900)
        yield env
    finally:
        with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def keel_web_server(env: dict) -> Iterator[str]:
    """Run the Django server in a subprocess; yields its base URL once /healthz answers."""
    port = free_port()
    (BASE_DIR / ".keel").mkdir(exist_ok=True)
    log = open(BASE_DIR / ".keel" / f"web-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=BASE_DIR,
        env={**env, "KEEL_CELERY_EAGER": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/healthz", proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_for(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")
