"""The scheduled draft: the hourly beat step drafts last month's report once the month has turned in the client's
own time zone — exactly once, catching up after downtime, never for a month the client did not exist in."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.reports.models import Report
from apps.reports.services import monthly_report_due
from apps.tenancy.models import Client
from config.celery import app

pytestmark = pytest.mark.django_db

# 04:30 UTC on 1 December is 13:30 on 1 December in Tokyo but still 20:30 on 30 November in Los Angeles.
TURN = dt.datetime(2026, 12, 1, 4, 30, tzinfo=dt.UTC)


def _zone(client: Client, time_zone: str) -> None:
    Client.objects.filter(pk=client.pk).update(time_zone=time_zone)
    client.refresh_from_db()


def test_the_beat_runs_the_step_hourly_for_every_client():
    entry = app.conf.beat_schedule["reports-monthly-due"]
    assert entry["task"] == "reports.monthly_due"
    assert "tenant_schemas" not in entry  # fanned out to every live client
    assert entry["schedule"].minute == {12}
    assert entry["schedule"].hour == set(range(24))


def test_tokyo_gets_its_november_report_while_los_angeles_is_still_in_november(fake_sections, alpha_for_reports):
    _zone(alpha_for_reports, "Asia/Tokyo")
    report = monthly_report_due(now=TURN)
    assert report is not None
    assert (report.month, report.status, report.trigger, report.version) == (
        dt.date(2026, 11, 1),
        "draft",
        "schedule",
        1,
    )

    Report.objects.all().delete()
    _zone(alpha_for_reports, "America/Los_Angeles")
    # Still November there: the month just ended is October (drafted now, as none exists), never November.
    assert monthly_report_due(now=TURN).month == dt.date(2026, 10, 1)
    assert monthly_report_due(now=dt.datetime(2026, 12, 1, 7, 59, tzinfo=dt.UTC)) is None  # 23:59 PST
    assert not Report.objects.filter(month=dt.date(2026, 11, 1)).exists()
    report = monthly_report_due(now=dt.datetime(2026, 12, 1, 8, 12, tzinfo=dt.UTC))  # 00:12 PST on the 1st
    assert report is not None and report.month == dt.date(2026, 11, 1)


def test_exactly_once_then_catch_up_after_downtime(fake_sections, alpha_for_reports):
    _zone(alpha_for_reports, "Europe/Paris")
    first = monthly_report_due(now=TURN)
    assert first is not None
    for hour in range(1, 30):  # the rest of the month's hourly runs change nothing
        assert monthly_report_due(now=TURN + dt.timedelta(hours=hour)) is None
    assert Report.objects.count() == 1

    # Beat was down over the turn of January: the first run on 3 January still drafts December.
    late = monthly_report_due(now=dt.datetime(2027, 1, 3, 10, 12, tzinfo=dt.UTC))
    assert late is not None and late.month == dt.date(2026, 12, 1)


def test_a_client_created_after_the_month_ended_gets_no_report_for_it(fake_sections, alpha_for_reports):
    _zone(alpha_for_reports, "Asia/Tokyo")
    Client.objects.filter(pk=alpha_for_reports.pk).update(created_at=dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC))
    assert monthly_report_due(now=TURN) is None  # created at 01:00 on 1 December in Tokyo
    Client.objects.filter(pk=alpha_for_reports.pk).update(created_at=dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC))
    assert monthly_report_due(now=TURN) is not None  # 23:00 on 30 November in Tokyo: November counts


def test_the_task_drafts_through_celery(fake_sections, alpha_for_reports, monkeypatch):
    from apps.reports import services
    from apps.reports.tasks import monthly_due_task

    _zone(alpha_for_reports, "Asia/Tokyo")
    monkeypatch.setattr(services.timezone, "now", lambda: TURN)
    result = monthly_due_task.apply().get()
    report = Report.objects.get()
    assert result == {"created": report.pk}
    assert monthly_due_task.apply().get() == {"created": None}
