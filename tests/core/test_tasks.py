"""The task base (apps.core.tasks.keel_task): a record per run, bounded retries with backoff, one run at a time.

Tests run with CELERY_TASK_ALWAYS_EAGER: `.delay()` executes in this process, inside the test's schema.
The throwaway tasks below register on import under names no real task uses.
"""

import statistics

import psycopg
import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.core.models import TaskRun
from apps.core.tasks import TransientError, _lock_key, backoff_seconds, keel_task
from config.celery import app

ran: list = []


@keel_task("tests.core.tasks.doubles")
def doubles_task(x: int, *, note: str = "") -> int:
    ran.append((connection.schema_name, x, note))
    return x * 2


@keel_task("tests.core.tasks.breaks")
def breaks_task() -> None:
    raise ValueError("the provider sent garbage")


@keel_task("tests.core.tasks.throttled", max_retries=2)
def throttled_task() -> None:
    ran.append(("throttled", connection.schema_name))
    raise TransientError("HTTP 429 from provider", retry_after=7)


pending_failures: list = []


@keel_task("tests.core.tasks.recovers", max_retries=3)
def recovers_task() -> str:
    if pending_failures:
        pending_failures.pop()
        raise TransientError("timeout")
    return "done"


@keel_task("tests.core.tasks.unlocked", lock=False)
def unlocked_task(x: int) -> int:
    ran.append(("unlocked", x))
    return x


@pytest.fixture
def worker_like_retries(monkeypatch):
    """In eager mode with propagation on, a retry surfaces as celery.exceptions.Retry at the caller. With it
    off, Celery runs each retry in-process like a worker would (and the final error is in the result)."""
    monkeypatch.setattr("apps.core.tasks.backoff_seconds", lambda attempt, **kwargs: 0)
    propagates = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = propagates


@pytest.fixture(autouse=True)
def _fresh_calls():
    ran.clear()
    pending_failures.clear()
    yield
    ran.clear()
    pending_failures.clear()


def _runs(name: str) -> list[TaskRun]:
    return list(TaskRun.objects.filter(task_name=name).order_by("id"))


def test_tasks_are_registered_with_the_keel_app():
    for name in ("tests.core.tasks.doubles", "tests.core.tasks.breaks", "tests.core.tasks.throttled"):
        assert name in app.tasks
    assert app.tasks["tests.core.tasks.throttled"].max_retries == 2
    assert app.tasks["tests.core.tasks.doubles"].acks_late is True


def test_success_leaves_a_succeeded_record(in_alpha):
    result = doubles_task.delay(21, note="hi")
    assert result.get() == 42
    assert ran == [(in_alpha.schema_name, 21, "hi")]
    (run,) = _runs("tests.core.tasks.doubles")
    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.error == "" and run.error_type == ""
    assert run.task_id == result.id
    assert run.arguments == {"args": [21], "kwargs": {"note": "hi"}}
    assert run.attempt == 0
    assert run.finished_at is not None and run.duration_seconds >= 0


def test_the_record_lives_in_the_schema_the_task_ran_for(alpha, beta):
    with schema_context(alpha.schema_name):
        doubles_task.delay(1)
    with schema_context(beta.schema_name):
        assert _runs("tests.core.tasks.doubles") == []
    with schema_context("public"):
        assert _runs("tests.core.tasks.doubles") == []
    with schema_context(alpha.schema_name):
        assert [r.status for r in _runs("tests.core.tasks.doubles")] == ["succeeded"]


def test_an_exception_leaves_a_failed_record_in_plain_words(in_alpha):
    with pytest.raises(ValueError, match="garbage"):
        breaks_task.delay()
    (run,) = _runs("tests.core.tasks.breaks")
    assert run.status == TaskRun.Status.FAILED
    assert run.error == "the provider sent garbage"
    assert run.error_type == "builtins.ValueError"
    assert run.finished_at is not None


def test_transient_errors_are_retried_a_bounded_number_of_times(in_alpha, worker_like_retries, monkeypatch):
    backoffs = []

    def fake_backoff(attempt, **kwargs):
        backoffs.append((attempt, kwargs.get("retry_after")))
        return 0

    monkeypatch.setattr("apps.core.tasks.backoff_seconds", fake_backoff)
    result = throttled_task.delay()
    with pytest.raises(TransientError, match="429"):
        result.get()
    # The body ran once plus max_retries times, then gave up.
    assert ran == [("throttled", in_alpha.schema_name)] * 3
    runs = _runs("tests.core.tasks.throttled")
    assert [r.status for r in runs] == ["retrying", "retrying", "failed"]
    assert [r.attempt for r in runs] == [0, 1, 2]
    assert "retrying in 0 s" in runs[0].error and "429" in runs[0].error
    assert "gave up after 2 retries" in runs[-1].error
    assert runs[-1].error_type == "apps.core.tasks.TransientError"
    # Backoff was asked for each retry, with the provider's Retry-After passed on.
    assert backoffs == [(0, 7), (1, 7)]


def test_a_retry_that_succeeds_ends_succeeded(in_alpha, worker_like_retries):
    pending_failures.extend([1, 1])  # fails twice, then works
    assert recovers_task.delay().get() == "done"
    runs = _runs("tests.core.tasks.recovers")
    assert [r.status for r in runs] == ["retrying", "retrying", "succeeded"]


def test_a_non_transient_error_is_not_retried(in_alpha, worker_like_retries):
    with pytest.raises(ValueError):
        breaks_task.delay().get()
    assert [r.status for r in _runs("tests.core.tasks.breaks")] == ["failed"]


# --- backoff -------------------------------------------------------------------------------------------


def _samples(attempt: int, n: int = 400, **kwargs) -> list[float]:
    return [backoff_seconds(attempt, **kwargs) for _ in range(n)]


def test_backoff_grows_exponentially():
    medians = [statistics.median(_samples(a, base=10, cap=10_000)) for a in range(6)]
    # Full jitter: uniform on [0, base * 2^attempt], so the median is about half the ceiling and doubles.
    for attempt, median in enumerate(medians):
        ceiling = 10 * 2**attempt
        assert 0.3 * ceiling < median < 0.7 * ceiling, (attempt, median)
    assert all(b > a for a, b in zip(medians, medians[1:], strict=False))


def test_backoff_never_exceeds_its_ceiling_or_the_cap():
    for attempt in range(12):
        assert max(_samples(attempt, base=10, cap=900)) <= min(900, 10 * 2**attempt)
    late = _samples(30, base=10, cap=900)
    assert max(late) <= 900 and max(late) > 600  # capped, yet still spread up to the cap
    assert min(_samples(0)) >= 0


def test_backoff_is_jittered():
    values = _samples(5, base=10, cap=900)
    assert len(set(values)) > 100  # retries of many jobs do not line up
    assert statistics.pstdev(values) > 30


def test_backoff_honours_retry_after_as_a_floor():
    assert min(_samples(0, base=10, retry_after=30)) >= 30  # ceiling 10 s, but the provider asked for 30
    assert min(_samples(0, base=10, cap=5, retry_after=120)) >= 120  # even above the cap
    # A short Retry-After does not shorten the backoff: values still spread above it.
    spread = _samples(6, base=10, cap=900, retry_after=1)
    assert min(spread) >= 1 and max(spread) > 300


# --- the lock ------------------------------------------------------------------------------------------


def _conninfo() -> dict:
    db = connection.settings_dict
    info = {"dbname": db["NAME"], "user": db["USER"] or "postgres", "autocommit": True}
    if db.get("HOST"):
        info["host"] = db["HOST"]
    if db.get("PORT"):
        info["port"] = db["PORT"]
    if db.get("PASSWORD"):
        info["password"] = db["PASSWORD"]
    return info


def test_a_job_already_running_elsewhere_is_skipped(in_alpha):
    key = _lock_key("tests.core.tasks.doubles", (5,), {})
    with psycopg.connect(**_conninfo()) as other:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]
        try:
            assert doubles_task.delay(5).get() is None
        finally:
            other.execute("SELECT pg_advisory_unlock(%s)", [key])
    assert ran == []  # the body did not run
    (run,) = _runs("tests.core.tasks.doubles")
    assert run.status == TaskRun.Status.SKIPPED and "still in progress" in run.error
    # Once the other run let go, the job runs, and releases the lock when done.
    assert doubles_task.delay(5).get() == 10
    assert ran == [(in_alpha.schema_name, 5, "")]
    with psycopg.connect(**_conninfo()) as other:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]
        other.execute("SELECT pg_advisory_unlock(%s)", [key])


def test_the_lock_is_per_schema_task_and_arguments(alpha, beta):
    with schema_context(alpha.schema_name):
        alpha_key = _lock_key("tests.core.tasks.doubles", (5,), {})
        assert alpha_key != _lock_key("tests.core.tasks.doubles", (6,), {})
        assert alpha_key != _lock_key("tests.core.tasks.doubles", (5,), {"note": "x"})
        assert alpha_key != _lock_key("tests.core.tasks.breaks", (5,), {})
    with psycopg.connect(**_conninfo()) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [alpha_key])
        try:
            with schema_context(beta.schema_name):
                assert _lock_key("tests.core.tasks.doubles", (5,), {}) != alpha_key
                assert doubles_task.delay(5).get() == 10  # beta's copy of the job is a different job
            with schema_context(alpha.schema_name):
                assert doubles_task.delay(6).get() == 12  # other arguments: a different job too
                assert doubles_task.delay(5).get() is None  # the same job: skipped
        finally:
            other.execute("SELECT pg_advisory_unlock(%s)", [alpha_key])
    assert ran == [(beta.schema_name, 5, ""), (alpha.schema_name, 6, "")]


def test_the_lock_is_released_after_a_failure(in_alpha):
    with pytest.raises(ValueError):
        breaks_task.delay()
    key = _lock_key("tests.core.tasks.breaks", (), {})
    with psycopg.connect(**_conninfo()) as other:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]
        other.execute("SELECT pg_advisory_unlock(%s)", [key])


def test_a_task_without_lock_runs_even_when_the_key_is_held(in_alpha):
    key = _lock_key("tests.core.tasks.unlocked", (3,), {})
    with psycopg.connect(**_conninfo()) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            assert unlocked_task.delay(3).get() == 3
        finally:
            other.execute("SELECT pg_advisory_unlock(%s)", [key])
    assert ran == [("unlocked", 3)]
    assert [r.status for r in _runs("tests.core.tasks.unlocked")] == ["succeeded"]


# --- beat ----------------------------------------------------------------------------------------------


def test_beat_sends_per_client_work_to_live_clients_only(alpha, beta):
    from apps.core.scheduler import KeelScheduler
    from apps.tenancy.services import client_set_lifecycle

    client_set_lifecycle(client=beta, lifecycle="offboarded")
    schemas = set(KeelScheduler.get_queryset().values_list("schema_name", flat=True))
    assert {"public", alpha.schema_name} <= schemas and beta.schema_name not in schemas
    for key, entry in app.conf.beat_schedule.items():
        assert entry["options"]["expires"] > 0, key  # a stopped worker never piles up stale runs
        assert entry["task"] in app.tasks, entry["task"]
