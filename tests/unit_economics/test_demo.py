"""The Harbor demo: claims processed by the claims agent cost ≈ $0.61 each before the routing change of
1 September 2026 and ≈ $0.42 after, read from the rollup the real way (demo bills → allocation → rollup →
counts); loading the demo again changes no count."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.catalog.services import catalog_load_bundled
from apps.demo import finops_demo
from apps.demo import fixtures_finops as fx
from apps.demo.allocation_demo import demo_allocation
from apps.demo.inventory_demo import demo_departments, demo_inventory
from apps.demo.unit_economics_demo import load_unit_economics
from apps.unit_economics.models import UnitCount
from apps.unit_economics.selectors import unit_cost_drivers, unit_cost_for_month, unit_cost_series
from tests.conftest import make_user

TODAY = dt.date(2026, 12, 1)  # the routing change is 3 months earlier: 1 September 2026
CENT = Decimal("0.01")


@pytest.fixture
def harbor(alpha):
    """Harbor's inventory, bills, allocation rules and claims, loaded into alpha's schema."""
    with schema_context("public"):
        catalog_load_bundled(loaded_by="test")
    make_user("engineer@northwind.example", role=Role.ENGINEER, client=alpha)  # the demo assets' owner
    clients = {"harbor": alpha}
    demo_departments(clients)
    demo_inventory(clients)
    finops_demo.harbor_story(alpha, today=TODAY)
    demo_allocation(clients)
    unit = load_unit_economics(alpha, "harbor")
    return unit


def test_harbor_costs_about_42_cents_a_claim_after_the_routing_change_and_61_before(alpha, harbor):
    assert fx.routing_change_day(TODAY) == dt.date(2026, 9, 1)
    with schema_context(alpha.schema_name):
        assert harbor.scope_kind == "asset" and harbor.asset.name == "Claims processing agent"
        series = unit_cost_series(harbor, start=dt.date(2025, 12, 1), end=TODAY, granularity="month")
        per_claim = {f"{p.period:%Y-%m}": p.cost_per_unit for p in series.points}
        assert series.currency == "USD" and series.other_currencies == {}
        before = [m for m in per_claim if m < "2026-09"]
        after = [m for m in per_claim if m >= "2026-09"]
        assert len(before) == 9 and len(after) == 3
        assert all(abs(per_claim[m] - Decimal("0.61")) <= Decimal("0.02") for m in before), per_claim
        assert all(abs(per_claim[m] - Decimal("0.42")) <= Decimal("0.02") for m in after), per_claim
        november = unit_cost_for_month(harbor, dt.date(2026, 11, 1))
        assert november.cost_per_unit.quantize(CENT) == Decimal("0.42")
        assert november.units == sum(n for d, n in fx.harbor_claims(TODAY).items() if d.month == 11 and d.year == 2026)
        # September's drop comes from the unit cost, and from the models: Opus down, Sonnet up
        drivers = unit_cost_drivers(harbor, dt.date(2026, 9, 1), by="model")
        assert drivers.unit_cost_effect < 0 and abs(drivers.unit_cost_effect) > abs(drivers.volume_effect)
        moved = {c.key: c.per_unit_change for c in drivers.contributors}
        assert moved[fx.OPUS] < Decimal("-0.3") and moved[fx.SONNET] > Decimal("0.2")
        stored = list(UnitCount.objects.order_by("day").values_list("day", "count"))
    assert load_unit_economics(alpha, "harbor").pk == harbor.pk  # idempotent: same unit, same counts
    with schema_context(alpha.schema_name):
        assert list(UnitCount.objects.order_by("day").values_list("day", "count")) == stored
        assert len(stored) == len(fx.demo_days(TODAY))
