import os
import subprocess
import sys
import time

import psycopg
import pytest
from django.db import connection

from apps.core.models import TaskRun
from apps.core.tasks import TransientError, _lock_key, backoff_seconds, keel_task
from tests.support.processes import BASE_DIR, separate_database

CALLS = []


@keel_task("tests.succeeds")
def succeeds_task(x: int) -> int:
    CALLS.append(x)
    return x * 2


@keel_task("tests.fails")
def fails_task() -> None:
    raise ValueError("the provider sent garbage")


@keel_task("tests.flaky", max_retries=2)
def flaky_task() -> None:
    raise TransientError("HTTP 429 from provider", retry_after=1)


def _runs(name):
    return list(TaskRun.objects.filter(task_name=name).order_by("id").values_list("status", "error"))


def test_success_leaves_a_record(in_alpha):
    assert succeeds_task.delay(21).get() == 42
    assert _runs("tests.succeeds")[-1] == ("succeeded", "")


def test_failure_is_recorded_in_plain_words(in_alpha):
    with pytest.raises(ValueError):
        fails_task.delay()
    status, error = _runs("tests.fails")[-1]
    assert status == "failed" and error == "the provider sent garbage"


def test_transient_errors_retry_a_bounded_number_of_times(in_alpha, monkeypatch):
    monkeypatch.setattr("apps.core.tasks.backoff_seconds", lambda attempt, **kw: 0)
    monkeypatch.setattr(flaky_task, "retry", lambda exc, countdown: RetryRequested(countdown))
    for attempt in range(3):  # what the worker does: the same message again with retries = attempt
        with pytest.raises((RetryRequested, TransientError)):
            flaky_task.apply(retries=attempt)
    runs = _runs("tests.flaky")
    assert [s for s, _ in runs] == ["retrying", "retrying", "failed"]
    assert "retrying in 0 s" in runs[0][1] and "gave up after 2 retries" in runs[-1][1]


class RetryRequested(Exception):
    pass


def test_backoff_grows_is_capped_jittered_and_honours_retry_after():
    samples = [[backoff_seconds(a, base=10, cap=900) for _ in range(200)] for a in range(8)]
    assert max(samples[1]) <= 20 and max(samples[3]) <= 80 and max(samples[7]) <= 900
    assert max(samples[5]) > 100 and len(set(samples[5])) > 50  # grows, and jitter spreads retries
    assert min(backoff_seconds(0, retry_after=30) for _ in range(50)) >= 30


def test_a_running_job_is_not_started_twice(in_alpha):
    db = connection.settings_dict
    conninfo = f"dbname={db['NAME']} user={db['USER']} host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432}"
    key = _lock_key("tests.succeeds", (5,), {})
    CALLS.clear()
    with psycopg.connect(conninfo, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        succeeds_task.delay(5)
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    assert _runs("tests.succeeds")[-1][0] == "skipped" and CALLS == []
    succeeds_task.delay(5)
    assert CALLS == [5]


def _redis_answers() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.worker
def test_real_worker_runs_a_client_task_through_redis():
    if not _redis_answers():
        pytest.skip("Redis is not answering on 127.0.0.1:6379")
    broker = "redis://127.0.0.1:6379/7"
    with separate_database(extra_env={"CELERY_BROKER_URL": broker}) as env:
        created = subprocess.run(
            [sys.executable, "manage.py", "create_client", "demo", "Demo Co"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stderr[-2000:]
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
                "--without-mingle",
                "--without-gossip",
                "--loglevel=WARNING",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            send = (
                "import django; django.setup(); from config.celery import app; "
                "app.send_task('audit.verify_chain', headers={'_schema_name': 'c_demo'})"
            )
            subprocess.run([sys.executable, "-c", send], cwd=BASE_DIR, env=env, check=True, timeout=60)
            url = env["DATABASE_URL"]
            deadline, status = time.time() + 60, None
            while time.time() < deadline and status != "succeeded":
                with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
                    row = conn.execute(
                        "SELECT status FROM c_demo.core_taskrun WHERE task_name = 'audit.verify_chain'"
                        " ORDER BY id DESC LIMIT 1"
                    ).fetchone()
                status = row[0] if row else None
                time.sleep(0.5)
            assert status == "succeeded"
        finally:
            worker.terminate()
            worker.wait(timeout=20)
    assert os.environ.get("CELERY_BROKER_URL", "memory://") != broker


def test_beat_sends_per_client_work_to_live_clients_only(alpha, beta):
    from apps.core.scheduler import KeelScheduler
    from apps.tenancy.services import client_set_lifecycle
    from config.celery import app

    client_set_lifecycle(client=beta, lifecycle="offboarded")
    schemas = set(KeelScheduler.get_queryset().values_list("schema_name", flat=True))
    assert {"public", alpha.schema_name} <= schemas and beta.schema_name not in schemas
    for entry in app.conf.beat_schedule.values():
        assert entry["options"]["expires"] > 0  # a stopped worker never piles up stale runs
        assert entry["task"] in app.tasks, entry["task"]
