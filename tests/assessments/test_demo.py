"""The assessment demo: each client gets two final assessments about six months apart that show progress, the
later one prefilled from the demo's own data (one answer overridden with a reason), a roadmap in flight, and its
portfolio maturity row; a second load changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.assessments.models import Answer, Assessment, RoadmapItem
from apps.demo.assessments_demo import demo_assessments
from apps.demo.compliance_demo import demo_compliance
from apps.demo.inventory_demo import demo_departments, demo_inventory
from apps.portfolio.models import ClientMaturity
from tests.compliance.conftest import media  # noqa: F401 — the fixture
from tests.conftest import make_user


@pytest.fixture
def demo(alpha, beta, media):  # noqa: F811
    from apps.frameworks.library import frameworks_load_bundled

    with schema_context("public"):
        frameworks_load_bundled(loaded_by="test")
    clients = {"acme": alpha, "harbor": beta}
    engineer = make_user("engineer@northwind.example", role=Role.ENGINEER, client=alpha)
    make_user("am@northwind.example", role=Role.ACCOUNT_MANAGER, client=alpha)
    from apps.accounts.services import membership_grant

    membership_grant(user=engineer, client=beta, role=Role.ENGINEER)
    demo_departments(clients)
    demo_inventory(clients)
    demo_compliance(clients)
    demo_assessments(clients)
    return clients


def test_two_final_assessments_six_months_apart_show_progress(demo, alpha, beta):
    for client in (alpha, beta):
        with schema_context(client.schema_name):
            first, second = Assessment.objects.order_by("assessed_on")
            assert first.is_final and second.is_final
            assert dt.timedelta(days=170) < second.assessed_on - first.assessed_on < dt.timedelta(days=200)
            assert second.previous_id == first.pk
            assert second.overall_score > first.overall_score
            assert second.results["answered"] == second.results["questions"] == 40
            assert not Answer.objects.filter(assessment=first).exclude(source=Answer.Source.MANUAL).exists()
            assert Answer.objects.filter(assessment=second, source=Answer.Source.SIGNAL).count() >= 3
            overridden = Answer.objects.filter(assessment=second, source=Answer.Source.OVERRIDDEN)
            assert overridden.count() == 1 and overridden.get().override_reason
            assert second.summary
        row = ClientMaturity.objects.get(client=client)
        assert row.assessment_id == second.pk and row.score == second.overall_score
        assert row.previous_score == first.overall_score
        assert len(row.dimensions) == 10


def test_a_roadmap_in_flight(demo, alpha):
    with schema_context(alpha.schema_name):
        statuses = set(RoadmapItem.objects.values_list("status", flat=True))
        assert {"done", "in_progress", "planned"} <= statuses
        done = RoadmapItem.objects.get(status="done")
        assert done.completed_on is not None and done.owner_email
        # Open work is due in the coming months, not overdue from the six-month-old defaults.
        today = dt.date.today()
        assert not RoadmapItem.objects.filter(status__in=RoadmapItem.OPEN_STATUSES, due_on__lt=today).exists()
        assert RoadmapItem.objects.filter(assessment=Assessment.objects.order_by("assessed_on").first()).exists()


def test_a_second_load_changes_nothing(demo, alpha):
    with schema_context(alpha.schema_name):
        before = (Assessment.objects.count(), Answer.objects.count(), RoadmapItem.objects.count())
    demo_assessments(demo)
    with schema_context(alpha.schema_name):
        assert (Assessment.objects.count(), Answer.objects.count(), RoadmapItem.objects.count()) == before
