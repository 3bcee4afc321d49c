"""The ingest hook: a 500-event batch costs the same queries as a 5-event one (the hook adds none), asks for at
most one scan per interval per client, and the scan it asks for runs the real task after the commit."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.models import TaskRun
from apps.runaway.services import HOOK_CACHE_KEY
from tests.runaway.conftest import DAY, at, ingest


@pytest.fixture(autouse=True)
def fresh_cache(in_alpha):
    cache.delete(HOOK_CACHE_KEY)
    yield
    cache.delete(HOOK_CACHE_KEY)


def test_a_500_event_ingest_issues_no_query_per_event_and_none_for_the_hook(events, django_capture_on_commit_callbacks):
    small = events.per_minute(at(DAY, 9, 0), 1, 5)
    big = events.per_minute(at(DAY, 9, 1), 10, 50)
    with django_capture_on_commit_callbacks() as callbacks, CaptureQueriesContext(connection) as with_hook:
        ingest(big)
    cache.delete(HOOK_CACHE_KEY)
    with CaptureQueriesContext(connection) as small_batch:
        ingest(small)
    assert len(with_hook) == len(small_batch) <= 8
    assert not any("runaway" in q["sql"] for q in with_hook.captured_queries)
    assert len(callbacks) == 1  # one scan asked for, to run after the commit


def test_at_most_one_scan_is_asked_for_per_interval(events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        for minute in range(5):
            ingest(events.per_minute(at(DAY, 9, minute), 1, 20))
    assert len(callbacks) == 1


def test_the_requested_scan_runs_the_runaway_task(events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(events.per_minute(at(DAY, 9, 0), 1, 5))
    run = TaskRun.objects.filter(task_name="runaway.scan").get()
    assert run.status == TaskRun.Status.SUCCEEDED


def test_an_empty_or_duplicate_batch_asks_for_nothing(events, django_capture_on_commit_callbacks):
    batch = events.per_minute(at(DAY, 9, 0), 1, 5)
    ingest(batch)
    cache.delete(HOOK_CACHE_KEY)
    with django_capture_on_commit_callbacks() as callbacks:
        ingest(batch)  # all duplicates: nothing new to look at
    assert callbacks == []


def test_a_failing_scan_never_fails_the_ingest(events, django_capture_on_commit_callbacks, monkeypatch):
    from apps.finops.models import UsageEvent
    from apps.runaway import services

    def broken(**kwargs):
        raise RuntimeError("scan bug")

    monkeypatch.setattr(services, "runaway_scan", broken)
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest(events.per_minute(at(DAY, 9, 0), 1, 5)) == 5  # eager task raised; the batch is stored
    assert UsageEvent.objects.count() == 5
    assert TaskRun.objects.get(task_name="runaway.scan").status == TaskRun.Status.FAILED
