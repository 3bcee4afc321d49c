"""`make run`: one command from a fresh clone to a running Keel (web, worker, beat) with demo data.

- PostgreSQL: DATABASE_URL if set, else an embedded server with its data under .keel/postgres.
- Broker: CELERY_BROKER_URL if set (Redis in production), else kombu's filesystem transport under .keel/.
The chosen URLs are written to .keel/ so `python manage.py ...` in another shell talks to the same services.
Ctrl-C stops every child process, then the embedded database.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

from config.embedded import STATE_DIR, create_database, start_embedded_postgres

HOST = os.environ.get("KEEL_HOST", "127.0.0.1")
PORT = os.environ.get("KEEL_PORT", "8000")


def _state(name: str, make) -> str:
    path = STATE_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def prepare_environment() -> object | None:
    """Fill in DATABASE_URL, broker and secrets for this checkout; returns the embedded server handle."""
    STATE_DIR.mkdir(exist_ok=True)
    _state("secret_key", lambda: secrets.token_urlsafe(50))
    _state("encryption_keys", lambda: Fernet.generate_key().decode())
    server = None
    if not os.environ.get("DATABASE_URL"):
        print("DATABASE_URL is not set: starting the embedded PostgreSQL (data in .keel/postgres)…", flush=True)
        server = start_embedded_postgres(STATE_DIR / "postgres", cleanup_mode="stop")
        create_database(server, "keel")
        from config.embedded import _socket_url

        os.environ["DATABASE_URL"] = _socket_url(server, "keel")
    (STATE_DIR / "database_url").write_text(os.environ["DATABASE_URL"])
    if not os.environ.get("CELERY_BROKER_URL"):
        broker_dir = STATE_DIR / "broker"
        for sub in (broker_dir, Path(f"{broker_dir}-processed"), Path(f"{broker_dir}-control")):
            sub.mkdir(exist_ok=True)
        os.environ["CELERY_BROKER_URL"] = "filesystem://"
        (STATE_DIR / "broker_dir").write_text(str(broker_dir))
    (STATE_DIR / "broker_url").write_text(os.environ["CELERY_BROKER_URL"])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("KEEL_DEBUG", "1")
    return server


def main() -> int:
    server = prepare_environment()
    python = sys.executable
    print("Migrating the public schema and every client schema, loading the demo MSP…", flush=True)
    setup = subprocess.run([python, "manage.py", "keel_setup", "--demo"], check=False)
    if setup.returncode != 0:
        print("Set-up failed; see the messages above.", file=sys.stderr)
        return setup.returncode

    celery = [python, "-m", "celery", "-A", "config"]
    children = {
        "web": subprocess.Popen([python, "manage.py", "runserver", f"{HOST}:{PORT}", "--noreload"]),
        "worker": subprocess.Popen(
            [*celery, "worker", "--loglevel=INFO", "--concurrency=2", "--without-mingle", "--without-gossip"]
        ),
        "beat": subprocess.Popen(
            [*celery, "beat", "--loglevel=INFO", f"--schedule={STATE_DIR / 'celerybeat-schedule'}"]
        ),
    }
    print(f"\nKeel is running at http://{HOST}:{PORT}/  (web, worker and beat started; Ctrl-C stops all)\n", flush=True)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, proc in children.items():
            if proc.poll() is not None:
                print(f"{name} exited with code {proc.returncode}; stopping the others.", file=sys.stderr)
                exit_code = proc.returncode or 1
                stopping = True
        time.sleep(0.5)

    for proc in children.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.time() + 15
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
    if server is not None:
        server.cleanup()
    print("Keel stopped.")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
