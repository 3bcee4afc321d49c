"""Allocation: rule order, shared-cost splits that add up to the cent, implicit steps, history recompute,
and the daily rollup that dashboards read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from apps.finops.allocation import allocation_recompute_all, allocation_rule_save, glob_to_like
from apps.finops.models import AllocationRule, CostDaily, CostRecord, IngestionRun
from apps.finops.rollups import rollup_rebuild_all
from tests.finops.conftest import openai_day_row

pytestmark = pytest.mark.django_db(transaction=False)


def book(source, rows, *, start: str, end: str) -> IngestionRun:
    """Book rows for [start, end) the way a connector run does, including everything after the booking."""
    from apps.finops.ledger import ChargeWindow, load_rows
    from apps.finops.services import _after_booking

    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    run = IngestionRun.objects.create(source=source, window_start=first, window_end=last)
    window = ChargeWindow(dt.datetime.combine(first, dt.time(), dt.UTC), dt.datetime.combine(last, dt.time(), dt.UTC))
    result = load_rows(source_id=source.pk, run_id=run.pk, rows=rows, scope=window)
    run.rows_loaded, run.rows_replaced = result.rows_loaded, result.rows_replaced
    run.status = IngestionRun.Status.SUCCEEDED
    run.save()
    _after_booking(source, run)
    return run


@pytest.fixture
def org(in_alpha):
    from apps.inventory.models import Agent, Department

    claims = Department.objects.create(name="Claims", code="claims")
    risk = Department.objects.create(name="Risk", code="risk")
    it = Department.objects.create(name="IT", code="it")
    triage = Agent.objects.create(name="claims-triage", kind="agent", department=claims)
    return {"claims": claims, "risk": risk, "it": it, "triage": triage}


@pytest.fixture
def source(in_alpha):
    from apps.finops.models import BillingSource

    return BillingSource.objects.create(name="OpenAI", kind="openai")


def _rollup_total(**filters) -> Decimal:
    return CostDaily.objects.filter(**filters).aggregate(t=Sum("effective_cost"))["t"] or Decimal(0)


def test_glob_patterns_escape_like_wildcards():
    assert glob_to_like("claims-*") == "claims-%"
    assert glob_to_like("a_b%c?") == "a\\_b\\%c_"


def test_first_matching_rule_wins_and_records_itself(org, source):
    broad = allocation_rule_save(
        name="All OpenAI to IT", match_field="provider", match_value="OpenAI", department=org["it"]
    )
    narrow = allocation_rule_save(
        name="Team claims", match_field="tag", match_key="team", match_value="claims*", department=org["claims"]
    )
    book(
        source,
        [
            openai_day_row("2026-11-02", "10.00", tags={"team": "claims-ops"}),
            openai_day_row("2026-11-02", "5.00", tags={"team": "risk"}),
        ],
        start="2026-11-02",
        end="2026-11-03",
    )
    # The broad rule sits first, so it takes both rows.
    assert set(CostRecord.objects.values_list("allocation_rule_id", flat=True)) == {broad.pk}
    from apps.finops.allocation import allocation_rules_reorder

    allocation_rules_reorder(ordered_ids=[narrow.pk, broad.pk])
    allocation_recompute_all()
    by_rule = dict(CostRecord.objects.values_list("effective_cost", "allocation_rule_id"))
    assert by_rule[Decimal("10.000000000000")] == narrow.pk
    assert by_rule[Decimal("5.000000000000")] == broad.pk
    assert _rollup_total(department=org["claims"]) == Decimal("10")
    assert _rollup_total(department=org["it"]) == Decimal("5")


@pytest.mark.parametrize(
    ("split", "percents", "expected"),
    [
        ("even", None, ["33.333333333333", "33.333333333334", "33.333333333333"]),
        ("fixed", ["50", "30", "20"], ["50.000000000000", "30.000000000000", "20.000000000000"]),
    ],
)
def test_shared_cost_splits_add_up_to_the_original_exactly(org, source, split, percents, expected):
    targets = [{"department": org[name]} for name in ("claims", "risk", "it")]
    if percents:
        for target, percent in zip(targets, percents, strict=True):
            target["percent"] = percent
    rule = allocation_rule_save(
        name="Shared platform", match_field="service", match_value="OpenAI*", split=split, targets=targets
    )
    book(source, [openai_day_row("2026-11-02", "100.00")], start="2026-11-02", end="2026-11-03")
    shares = [
        str(_rollup_total(department=org[name], allocation_rule=rule).quantize(Decimal("0.000000000001")))
        for name in ("claims", "risk", "it")
    ]
    assert shares == expected
    assert _rollup_total() == Decimal("100")
    assert CostRecord.objects.get().department_id is None  # the row itself stays whole


def test_proportional_split_follows_direct_cost_and_never_loses_a_fraction(org, source):
    allocation_rule_save(
        name="Claims tag", match_field="tag", match_key="team", match_value="claims", department=org["claims"]
    )
    allocation_rule_save(
        name="Risk tag", match_field="tag", match_key="team", match_value="risk", department=org["risk"]
    )
    allocation_rule_save(
        name="Untagged shared",
        match_field="provider",
        match_value="*",
        split="proportional",
        targets=[{"department": org["claims"]}, {"department": org["risk"]}],
    )
    book(
        source,
        [
            openai_day_row("2026-11-02", "30.00", tags={"team": "claims"}),
            openai_day_row("2026-11-02", "10.00", tags={"team": "risk"}),
            openai_day_row("2026-11-03", "0.01"),
            openai_day_row("2026-11-04", "7.77"),
        ],
        start="2026-11-02",
        end="2026-11-05",
    )
    claims, risk = _rollup_total(department=org["claims"]), _rollup_total(department=org["risk"])
    assert claims + risk == Decimal("47.78")
    # 3 : 1 of 7.78 shared
    assert claims == Decimal("30") + Decimal("7.78") * 3 / 4
    assert _rollup_total() == CostRecord.objects.aggregate(t=Sum("effective_cost"))["t"]


def test_fixed_split_percentages_must_make_100(org):
    with pytest.raises(ValidationError) as err:
        allocation_rule_save(
            name="Bad",
            match_field="provider",
            match_value="*",
            split="fixed",
            targets=[{"department": org["claims"], "percent": "60"}, {"department": org["risk"], "percent": "30"}],
        )
    assert "add up to 90" in str(err.value)


def test_usage_event_agent_and_asset_tags_allocate_without_rules(org, source):
    from apps.inventory.models import Agent

    Agent.objects.create(name="underwriter", kind="agent", department=org["risk"], cost_tags={"app": "uw"})
    book(
        source,
        [
            openai_day_row("2026-11-02", "4.00", tags={"agent": "Claims-Triage"}),
            openai_day_row("2026-11-02", "6.00", tags={"app": "uw", "env": "prod"}),
            openai_day_row("2026-11-02", "1.00", tags={"department": "IT"}),
            openai_day_row("2026-11-02", "2.00"),
        ],
        start="2026-11-02",
        end="2026-11-03",
    )
    assert _rollup_total(asset=org["triage"], department=org["claims"]) == Decimal("4")
    assert _rollup_total(department=org["risk"]) == Decimal("6")
    assert _rollup_total(department=org["it"], asset=None) == Decimal("1")
    assert _rollup_total(department=None, asset=None) == Decimal("2")
    assert set(CostRecord.objects.values_list("allocated_by", flat=True)) == {"usage_tags", "asset_tags", ""}


def test_rule_change_recomputes_history_in_the_background(org, source, django_capture_on_commit_callbacks):
    book(source, [openai_day_row("2026-10-02", "9.00")], start="2026-10-02", end="2026-10-03")
    assert _rollup_total(department=None) == Decimal("9")
    with django_capture_on_commit_callbacks(execute=True):
        allocation_rule_save(name="Everything to IT", match_field="provider", match_value="*", department=org["it"])
    assert _rollup_total(department=org["it"]) == Decimal("9")
    from apps.finops.allocation import allocation_status

    status = allocation_status()
    assert not status.pending and status.summary


def test_rebooking_a_window_keeps_rollup_equal_to_ledger(org, source):
    rows = [openai_day_row("2026-11-02", "1.10"), openai_day_row("2026-11-03", "2.20")]
    book(source, rows, start="2026-11-02", end="2026-11-04")
    book(source, rows, start="2026-11-02", end="2026-11-04")
    assert _rollup_total() == Decimal("3.30")
    book(source, [openai_day_row("2026-11-03", "5.00")], start="2026-11-03", end="2026-11-04")
    assert _rollup_total() == Decimal("6.10")
    rollup_rebuild_all()
    assert _rollup_total() == Decimal("6.10")


def test_portfolio_month_figures_follow_the_rollup(org, source, alpha):
    from django_tenants.utils import schema_context

    from apps.portfolio.models import ClientSpendMonth

    book(source, [openai_day_row("2026-11-02", "12.34")], start="2026-11-02", end="2026-11-03")
    with schema_context("public"):
        month = ClientSpendMonth.objects.get(client=alpha, month=dt.date(2026, 11, 1), currency="USD")
    assert month.effective_cost == Decimal("12.34")
    assert month.ai_cost == Decimal("12.34")
    assert month.unallocated_cost == Decimal("12.34")


def test_rules_are_listed_in_order(org):
    a = allocation_rule_save(name="A", match_field="provider", match_value="x", department=org["it"])
    b = allocation_rule_save(name="B", match_field="provider", match_value="y", department=org["it"])
    assert list(AllocationRule.objects.values_list("pk", flat=True)) == [a.pk, b.pk]
