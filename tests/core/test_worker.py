"""A real Celery worker process, a real Redis broker, a database of its own: a client's task runs in its schema.

Nothing here shares the session test database: the worker needs committed data, so it gets a database made
by `manage.py keel_setup` (tests.support.processes.separate_database), dropped afterwards.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.support.processes import BASE_DIR, separate_database

REDIS = ("127.0.0.1", 6379)
BROKER_DB = 9  # a Redis database of its own; each run also uses a queue of its own


def _redis_answers() -> bool:
    try:
        socket.create_connection(REDIS, timeout=0.5).close()
        return True
    except OSError:
        return False


def _run(env: dict, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout
    )


SEND = """
import json, sys
import django
django.setup()
from config.celery import app
for name, schema, task_id in json.loads(sys.argv[1]):
    app.send_task(name, headers={"_schema_name": schema}, queue=sys.argv[2], task_id=task_id)
"""


def _task_status(conn: psycopg.Connection, schema: str, task_id: str) -> str | None:
    row = conn.execute(
        f'SELECT status FROM "{schema}".core_taskrun WHERE task_id = %s ORDER BY id DESC LIMIT 1',  # noqa: S608
        [task_id],
    ).fetchone()
    return row[0] if row else None


def _wait_for_runs(url: str, expected: list[tuple[str, str]], worker, log: Path, timeout: float = 90) -> dict:
    """Poll until every (schema, task_id) has a finished TaskRun; return {key: status}."""
    deadline, seen = time.time() + timeout, {}
    while time.time() < deadline:
        if worker.poll() is not None:
            pytest.fail(f"worker exited with {worker.returncode}:\n{log.read_text()[-4000:]}")
        with psycopg.connect(url, autocommit=True) as conn:
            seen = {key: _task_status(conn, *key) for key in expected}
        if all(status not in (None, "running") for status in seen.values()):
            return seen
        time.sleep(0.5)
    pytest.fail(f"tasks did not finish within {timeout} s: {seen}\nworker log:\n{log.read_text()[-4000:]}")


def _forget_queue(broker: str, queue: str) -> None:
    """Leave nothing behind in Redis for this run's queue."""
    try:
        import redis

        client = redis.Redis.from_url(broker)
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.zrem("_kombu.binding_deadlines", queue)
        client.close()
    except Exception:  # noqa: BLE001 - best-effort clean-up
        pass


@pytest.mark.worker
def test_a_real_worker_runs_client_tasks_in_their_schema(tmp_path):
    if not _redis_answers():
        pytest.skip("Redis is not answering on 127.0.0.1:6379")
    broker = f"redis://{REDIS[0]}:{REDIS[1]}/{BROKER_DB}"
    queue = f"keel-test-{uuid.uuid4().hex[:10]}"
    with separate_database(extra_env={"CELERY_BROKER_URL": broker, "KEEL_LOG_LEVEL": "INFO"}) as env:
        created = _run(env, "manage.py", "create_client", "demo", "Demo Co")
        assert created.returncode == 0, created.stderr[-2000:]
        assert "schema c_demo" in created.stdout

        log = tmp_path / "worker.log"
        with open(log, "w") as log_file:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-P",
                    "solo",
                    "--concurrency=1",
                    "-Q",
                    queue,
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                    "--loglevel=INFO",
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                rollup_id, verify_id, public_verify_id = (str(uuid.uuid4()) for _ in range(3))
                messages = [
                    ("portfolio.refresh_client_rollup", "c_demo", rollup_id),
                    ("audit.verify_chain", "c_demo", verify_id),
                    ("audit.verify_chain", "public", public_verify_id),
                ]
                sent = _run(env, "-c", SEND, json.dumps(messages), queue, timeout=60)
                assert sent.returncode == 0, sent.stderr[-2000:]

                url = env["DATABASE_URL"]
                expected = [(schema, task_id) for _, schema, task_id in messages]
                statuses = _wait_for_runs(url, expected, worker, log)
                assert set(statuses.values()) == {"succeeded"}, f"{statuses}\n{log.read_text()[-4000:]}"

                with psycopg.connect(url, autocommit=True) as conn:
                    # Each run is recorded in the schema its message named, and only there.
                    assert _task_status(conn, "public", rollup_id) is None
                    assert _task_status(conn, "public", verify_id) is None
                    assert _task_status(conn, "c_demo", public_verify_id) is None
                    # The rollup task ran inside c_demo: it found the demo client and wrote its public rollup.
                    refreshed = conn.execute(
                        "SELECT r.refreshed_at FROM public.portfolio_clientrollup r"
                        " JOIN public.tenancy_client c ON c.id = r.client_id WHERE c.schema_name = 'c_demo'"
                    ).fetchone()
                    assert refreshed is not None and refreshed[0] is not None
                    attempts = conn.execute(
                        "SELECT attempt, arguments FROM c_demo.core_taskrun WHERE task_id = %s", [rollup_id]
                    ).fetchone()
                    assert attempts == (0, {"args": [], "kwargs": {}})
            finally:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(timeout=10)
                _forget_queue(broker, queue)
