"""The task base every Keel job uses: bounded retries with backoff and jitter, a lock, a readable record."""

from __future__ import annotations

import functools
import logging
import random
import zlib

from django.db import connection
from django.utils import timezone

from config.celery import app

from .context import acting_as
from .models import TaskRun

logger = logging.getLogger(__name__)


class TransientError(Exception):
    """A failure worth retrying (throttling, timeouts, a provider's 5xx)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def backoff_seconds(attempt: int, *, base: float = 10.0, cap: float = 900.0, retry_after: float | None = None):
    """Exponential backoff with full jitter; a provider's Retry-After is a floor, never ignored."""
    delay = random.uniform(0, min(cap, base * (2**attempt)))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return round(delay, 2)


def _lock_key(name: str, args: tuple, kwargs: dict) -> int:
    raw = f"{connection.schema_name}:{name}:{args!r}:{sorted(kwargs.items())!r}"
    return zlib.crc32(raw.encode()) - 2**31  # signed 32-bit fits pg_advisory_lock(bigint)


def _try_lock(key: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [key])
        return bool(cur.fetchone()[0])


def _unlock(key: int) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s)", [key])


def keel_task(name: str, *, max_retries: int = 5, lock: bool = True, **options):
    """Declare a task. The body receives primitive arguments and calls a service.

    - one run at a time per (client schema, task, arguments): a second copy is recorded as skipped;
    - TransientError is retried up to `max_retries` with exponential backoff and jitter;
    - every run leaves a TaskRun row in the client's schema (or public) that the portal shows.
    """

    def decorator(fn):
        @app.task(name=name, bind=True, max_retries=max_retries, acks_late=True, **options)
        @functools.wraps(fn)
        def run(self, *args, **kwargs):
            record = TaskRun.objects.create(
                task_name=name,
                task_id=self.request.id or "",
                arguments={"args": list(args), "kwargs": kwargs},
                attempt=self.request.retries or 0,
            )
            key = _lock_key(name, args, kwargs)
            if lock and not _try_lock(key):
                _finish(record, TaskRun.Status.SKIPPED, "Another run of the same job was still in progress.")
                return None
            try:
                with acting_as(source="task", request_id=(self.request.id or "")[:16]):
                    result = fn(*args, **kwargs)
            except TransientError as exc:
                if (self.request.retries or 0) < max_retries:
                    countdown = backoff_seconds(self.request.retries or 0, retry_after=exc.retry_after)
                    _finish(record, TaskRun.Status.RETRYING, f"{exc} (retrying in {countdown:.0f} s)", exc)
                    raise self.retry(exc=exc, countdown=countdown) from exc
                _finish(record, TaskRun.Status.FAILED, f"{exc} (gave up after {max_retries} retries)", exc)
                raise
            except Exception as exc:
                _finish(record, TaskRun.Status.FAILED, str(exc) or exc.__class__.__name__, exc)
                logger.exception("task %s failed", name)
                raise
            finally:
                if lock:
                    _unlock(key)
            _finish(record, TaskRun.Status.SUCCEEDED, "")
            return result

        return run

    return decorator


def _finish(record: TaskRun, status: str, error: str, exc: BaseException | None = None) -> None:
    record.status = status
    record.error = error[:4000]
    record.error_type = f"{exc.__class__.__module__}.{exc.__class__.__name__}" if exc else ""
    record.finished_at = timezone.now()
    record.save(update_fields=["status", "error", "error_type", "finished_at"])


@keel_task("core.prune_task_runs", max_retries=0)
def prune_task_runs_task(days: int = 90) -> int:
    cutoff = timezone.now() - timezone.timedelta(days=days)
    deleted, _ = TaskRun.objects.filter(started_at__lt=cutoff).exclude(task_name="core.prune_task_runs").delete()
    return deleted
