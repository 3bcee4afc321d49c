"""The service-level demo (Maple in alpha, Acme in beta): Maple's triage classifier drifts and breaches its quality
SLO last month with a credit; Acme's underwriting endpoint meets its latency SLO; a second load changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.alerts.models import Alert
from apps.demo.inventory_demo import demo_departments, demo_inventory
from apps.demo.service_levels_demo import demo_service_levels
from apps.service_levels.models import SLO, Breach, DriftCheck, ServiceCredit, SloPeriod
from apps.tenancy.models import Client
from tests.conftest import make_user


@pytest.fixture
def demo(alpha, beta):
    Client.objects.filter(pk=alpha.pk).update(monthly_retainer=Decimal("9200.00"))
    alpha.refresh_from_db()
    clients = {"maple": alpha, "acme": beta}
    engineer = make_user("engineer@northwind.example", role=Role.ENGINEER, client=alpha)
    manager = make_user("am@northwind.example", role=Role.ACCOUNT_MANAGER, client=alpha)
    from apps.accounts.services import membership_grant

    membership_grant(user=engineer, client=beta, role=Role.ENGINEER)
    membership_grant(user=manager, client=beta, role=Role.ACCOUNT_MANAGER)
    demo_departments(clients)
    demo_inventory(clients)
    demo_service_levels(clients)
    return clients


def test_maple_drifts_and_breaches_last_month_while_acme_meets_its_latency_slo(demo, alpha, beta):
    with schema_context(alpha.schema_name):
        quality = SLO.objects.get(name="triage-quality")
        now = timezone.now().astimezone(alpha.tz)
        last_month = (now.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
        breach = Breach.objects.get(slo=quality)
        assert breach.period_label == last_month
        assert breach.attainment < Decimal("0.95")
        assert breach.credit_percent == Decimal("10")
        assert breach.credit_amount == Decimal("920.00")  # 10 % of the 9,200 retainer
        assert ServiceCredit.objects.get(breach=breach).status == "due"
        assert not SloPeriod.objects.filter(slo=quality, met=False).exclude(pk=breach.period_id).exists()

        latest = DriftCheck.objects.order_by("-window_end").first()
        assert latest.monitor.feature == "symptom_severity" and latest.monitor.asset.name == "Triage classifier"
        assert latest.psi >= Decimal("0.2") and latest.status == "significant"
        first = DriftCheck.objects.order_by("window_end").first()
        assert first.status == "stable"
        assert Alert.objects.filter(kind="drift").exclude(state="resolved").count() == 1
        assert SLO.objects.get(name="alert-first-response").calendar.holiday_subdivision == "ON"

    # Acme's underwriting endpoint meets its latency SLO (one load serves both stories: it is slow to build).
    with schema_context(beta.schema_name):
        latency = SLO.objects.get(name="underwriting-latency")
        assert latency.asset.name == "Azure OpenAI westeurope (prod)"
        periods = SloPeriod.objects.filter(slo=latency)
        assert periods.exists() and all(p.met for p in periods)
        assert not Breach.objects.exists()
        assert latency.status.state == "ok" and latency.status.attainment >= Decimal("0.95")

    def counts():
        result = []
        for client in (alpha, beta):
            with schema_context(client.schema_name):
                result.append((SLO.objects.count(), Breach.objects.count(), DriftCheck.objects.count()))
        return result

    before = counts()
    demo_service_levels(demo)  # a second load changes nothing
    assert counts() == before
