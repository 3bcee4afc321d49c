"""The daily roadmap check: one alert per overdue open item, assigned to its owner, cleared when the item is
done or rescheduled; the beat entry that runs it per client."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from apps.alerts.models import Alert
from apps.assessment_templates.library import templates_load_bundled
from apps.assessment_templates.models import Template
from apps.assessments.models import RoadmapItem
from apps.assessments.services import roadmap_check, roadmap_item_create, roadmap_item_save

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 12, 2)


@pytest.fixture
def template():
    with schema_context("public"):
        templates_load_bundled(loaded_by="test")
        return Template.objects.select_related("current").get(key="ai-era-msp")


def _item(template, title, due_on, status="planned", owner=""):
    return roadmap_item_create(
        template=template, dimension_ref="security", title=title, due_on=due_on, status=status, owner_email=owner
    )


def test_overdue_items_alert_once_and_clear_when_done_or_rescheduled(alpha, template):
    with schema_context(alpha.schema_name):
        late = _item(template, "Roll out passkeys", TODAY - dt.timedelta(days=3), owner="am@northwind.example")
        also_late = _item(template, "Hire an MDR", TODAY - dt.timedelta(days=1), status="in_progress")
        _item(template, "Threat hunting", TODAY + dt.timedelta(days=10))
        _item(template, "Old idea", TODAY - dt.timedelta(days=30), status="dropped")

        assert roadmap_check(today=TODAY) == {"overdue": 2, "cleared": 0}
        assert roadmap_check(today=TODAY) == {"overdue": 2, "cleared": 0}  # the same two alerts, seen again
        alerts = Alert.objects.filter(kind="roadmap_overdue").exclude(state="resolved")
        assert alerts.count() == 2
        first = alerts.get(dedup_key=f"roadmap-overdue:{late.pk}")
        assert first.owner_email == "am@northwind.example"
        assert "3 days ago" in first.body and first.link == f"/assessments/roadmap/{late.pk}/"

        roadmap_item_save(item=RoadmapItem.objects.get(pk=late.pk), status="done")
        assert not Alert.objects.filter(dedup_key=f"roadmap-overdue:{late.pk}").exclude(state="resolved").exists()
        item = RoadmapItem.objects.get(pk=also_late.pk)
        item.due_on = TODAY + dt.timedelta(days=20)  # rescheduled by hand, outside the service
        item.save()
        assert roadmap_check(today=TODAY) == {"overdue": 0, "cleared": 1}
        assert not Alert.objects.filter(kind="roadmap_overdue").exclude(state="resolved").exists()


def test_the_beat_runs_the_check_daily():
    from config.celery import app

    entry = app.conf.beat_schedule["assessments-roadmap-check"]
    assert entry["task"] == "assessments.roadmap_check"
    assert app.tasks["assessments.roadmap_check"] is not None
