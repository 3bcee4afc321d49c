"""Refreshing (idempotent, decisions kept), decisions and their audit, the baseline and the realised saving."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEvent
from apps.recommendations.models import Kind, RealisedSaving, Recommendation, RefreshRun, Status
from apps.recommendations.selectors import realised_savings
from apps.recommendations.services import (
    recommendation_accept,
    recommendation_dismiss,
    recommendation_implement,
    recommendation_propose_routing,
    recommendation_reopen,
    recommendations_refresh,
    settings_save,
)

from .conftest import AS_OF, WINDOW, book, refresh, row, tokens_row

pytestmark = pytest.mark.django_db(transaction=False)
D = Decimal


def _routing_data(source, *, uncached: int = 300_000, days=WINDOW):
    book(source, [tokens_row(day, model="gpt-4o", uncached=uncached, requests=1000) for day in days])


def test_refreshing_twice_changes_nothing_and_keeps_every_decision(catalog, settings_row, source):
    from apps.finops.models import BillingSource

    _routing_data(source)
    aws = BillingSource.objects.create(name="AWS bill", kind="focus_upload")
    book(
        aws,
        [
            row(
                day,
                "100",
                provider_name="AWS",
                service_name="Amazon Elastic Compute Cloud",
                service_category="Compute",
                pricing_unit="Hrs",
                sub_account_id="1111",
            )
            for day in WINDOW
        ],
    )
    first = refresh()
    assert len(first.created) >= 2
    fingerprints = set(Recommendation.objects.values_list("fingerprint", flat=True))
    routing = Recommendation.objects.get(kind=Kind.MODEL_ROUTING)
    commitment = Recommendation.objects.get(kind=Kind.COMMITMENT)
    recommendation_dismiss(recommendation=commitment, reason="A migration to ARM is planned; no commitment now.")
    recommendation_accept(recommendation=routing, note="Next sprint")
    saving_before = routing.estimated_monthly_saving

    # More short prompts in the same window: the same finding with new figures, still accepted.
    _routing_data(source, uncached=600_000)
    second = refresh()
    assert second.created == [] and second.removed == 0
    assert set(Recommendation.objects.values_list("fingerprint", flat=True)) == fingerprints
    routing.refresh_from_db()
    commitment.refresh_from_db()
    assert routing.status == Status.ACCEPTED and routing.status_note == "Next sprint"
    assert routing.estimated_monthly_saving == 2 * saving_before
    assert commitment.status == Status.DISMISSED and commitment.dismiss_reason.startswith("A migration")
    third = refresh()
    assert third.created == [] and Recommendation.objects.count() == len(fingerprints)
    assert RefreshRun.objects.count() == 3


def test_an_open_finding_that_went_away_is_removed_but_a_decided_one_stays(catalog, settings_row, source):
    _routing_data(source, days=WINDOW[:10])
    refresh()
    rec = Recommendation.objects.get(kind=Kind.MODEL_ROUTING)
    later = AS_OF + dt.timedelta(days=40)  # the window has moved past the data
    result = recommendations_refresh(as_of=later)
    assert result.removed == 1 and not Recommendation.objects.filter(pk=rec.pk).exists()

    refresh()
    rec = Recommendation.objects.get(kind=Kind.MODEL_ROUTING)
    recommendation_dismiss(recommendation=rec, reason="Quality too low on gpt-4o-mini for legal drafting.")
    recommendations_refresh(as_of=later)
    assert Recommendation.objects.get(pk=rec.pk).status == Status.DISMISSED


def test_dismissing_needs_a_reason(catalog, settings_row, source):
    _routing_data(source)
    refresh()
    rec = Recommendation.objects.get(kind=Kind.MODEL_ROUTING)
    with pytest.raises(ValidationError) as caught:
        recommendation_dismiss(recommendation=rec, reason="   ")
    assert "Say why" in str(caught.value)
    assert Recommendation.objects.get(pk=rec.pk).status == Status.OPEN
    # The database refuses it too.
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Recommendation.objects.filter(pk=rec.pk).update(status=Status.DISMISSED, dismiss_reason="")


def test_every_status_change_is_audited(catalog, settings_row, source):
    _routing_data(source)
    refresh()
    rec = Recommendation.objects.get(kind=Kind.MODEL_ROUTING)
    rec = recommendation_accept(recommendation=rec)
    rec = recommendation_dismiss(recommendation=rec, reason="Not now")
    rec = recommendation_reopen(recommendation=rec)
    rec = recommendation_implement(recommendation=rec, implemented_on=WINDOW[-1], today=AS_OF)
    events = list(
        AuditEvent.objects.filter(object_id=str(rec.pk), object_type="recommendations.recommendation").order_by("seq")
    )
    assert [e.action for e in events] == [
        "recommendation.accept",
        "recommendation.dismiss",
        "recommendation.reopen",
        "recommendation.implement",
    ]
    assert events[1].before["status"] == "accepted" and events[1].after["dismiss_reason"] == "Not now"
    assert events[3].after["implemented_on"] == WINDOW[-1].isoformat()


def test_decisions_follow_the_allowed_transitions(catalog, settings_row, source):
    _routing_data(source)
    refresh()
    rec = Recommendation.objects.get(kind=Kind.MODEL_ROUTING)
    with pytest.raises(ValidationError):
        recommendation_reopen(recommendation=rec)  # already open
    with pytest.raises(ValidationError):
        recommendation_implement(recommendation=rec, implemented_on=AS_OF + dt.timedelta(days=1), today=AS_OF)
    rec = recommendation_implement(recommendation=rec, implemented_on=AS_OF, today=AS_OF)
    with pytest.raises(ValidationError):
        recommendation_dismiss(recommendation=rec, reason="too late")


def _before_after(source):
    """A workload at $2.00 per 1 M tokens in September, $1.50 from 1 October (1 M tokens a day)."""
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(91)]  # 1 Sep – 30 Nov
    rows = [
        tokens_row(
            day,
            model="claude-opus-4-5-20251101",
            provider="Anthropic",
            uncached=1_000_000,
            cost="2.00" if day < dt.date(2026, 10, 1) else "1.50",
            sub_account="wrk_claims",
        )
        for day in days
    ]
    book(source, rows, start=days[0], end=AS_OF)


def test_the_realised_saving_is_measured_against_the_baseline_every_month(catalog, settings_row, source):
    _before_after(source)
    rec = recommendation_propose_routing(
        provider_name="Anthropic",
        model="claude-opus-4-5-20251101",
        target="claude-sonnet-4-6",
        sub_account_id="wrk_claims",
        share_percent=D(80),
        as_of=dt.date(2026, 10, 1),
    )
    # 30 M uncached tokens in September × 80 % × (5.00 − 3.00) / 1 M
    assert rec.estimated_monthly_saving == D(24_000_000) * D("0.000002") == D(48)
    assert rec.window_start == dt.date(2026, 9, 1) and rec.measure["method"] == "per_1m_tokens"
    rec = recommendation_implement(recommendation=rec, implemented_on=dt.date(2026, 10, 1), today=AS_OF)
    assert (rec.baseline_start, rec.baseline_end) == (dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert rec.baseline_cost == D(60) and rec.baseline_volume == D(30) and rec.baseline_unit_cost == D(2)
    refresh()
    months = {r.month: r for r in RealisedSaving.objects.filter(recommendation=rec)}
    assert set(months) == {dt.date(2026, 10, 1), dt.date(2026, 11, 1)}
    october, november = months[dt.date(2026, 10, 1)], months[dt.date(2026, 11, 1)]
    # (2.00 − 1.50) per 1 M tokens × 31 M tokens, then × 30 M
    assert october.amount == D("15.5") and november.amount == D(15)
    assert (october.cost, october.volume, october.unit_cost) == (D("46.5"), D(31), D("1.5"))
    assert october.first_day == dt.date(2026, 10, 1) and october.last_day == dt.date(2026, 10, 31)
    saved = realised_savings(dt.date(2026, 10, 17))
    assert saved.total == D("15.5") and saved.totals == {"USD": D("15.5")}
    assert [(r.recommendation_id, r.amount, r.method) for r in saved.rows] == [(rec.pk, D("15.5"), "per_1m_tokens")]
    assert realised_savings(dt.date(2026, 9, 1)).rows == [] and realised_savings(dt.date(2026, 9, 1)).total == 0
    # The implemented estimate stays what it was implemented with.
    assert Recommendation.objects.get(pk=rec.pk).estimated_monthly_saving == D(48)


def test_a_month_started_mid_way_counts_from_the_implementation_day(catalog, settings_row, source):
    _before_after(source)
    rec = recommendation_propose_routing(
        provider_name="Anthropic",
        model="claude-opus-4-5-20251101",
        target="claude-sonnet-4-6",
        sub_account_id="wrk_claims",
        as_of=dt.date(2026, 10, 20),
    )
    rec = recommendation_implement(recommendation=rec, implemented_on=dt.date(2026, 10, 20), today=AS_OF)
    # Baseline 20 Sep – 19 Oct: 11 days at 2.00 and 19 at 1.50 = 50.50 for 30 M tokens
    assert rec.baseline_cost == D("50.5") and rec.baseline_volume == D(30)
    october = RealisedSaving.objects.get(recommendation=rec, month=dt.date(2026, 10, 1))
    assert october.first_day == dt.date(2026, 10, 20)
    assert october.amount == D("50.5") * 12 / 30 - D("1.5") * 12  # 12 days, 20–31 Oct


def test_reopening_an_implemented_recommendation_drops_its_baseline_and_realised_months(catalog, settings_row, source):
    _before_after(source)
    rec = recommendation_propose_routing(
        provider_name="Anthropic",
        model="claude-opus-4-5-20251101",
        target="claude-sonnet-4-6",
        sub_account_id="wrk_claims",
        as_of=dt.date(2026, 10, 1),
    )
    rec = recommendation_implement(recommendation=rec, implemented_on=dt.date(2026, 10, 1), today=AS_OF)
    assert RealisedSaving.objects.filter(recommendation=rec).count() == 2
    rec = recommendation_reopen(recommendation=rec, note="Rolled back: quality")
    assert rec.status == Status.OPEN and rec.baseline_unit_cost is None and rec.implemented_on is None
    assert not RealisedSaving.objects.filter(recommendation=rec).exists()


def test_idle_endpoint_realised_saving_is_its_daily_cost_no_longer_paid(catalog, settings_row, source):
    resource = "//aiplatform.googleapis.com/projects/1/locations/us-east1/endpoints/old-model"
    days = [dt.date(2026, 10, 2) + dt.timedelta(days=i) for i in range(40)]  # until 10 Nov, then deleted
    book(
        source,
        [row(day, "12", provider_name="Google Cloud", service_name="Vertex AI", resource_id=resource) for day in days],
        start=dt.date(2026, 10, 1),
        end=AS_OF,
    )
    result = recommendations_refresh(as_of=dt.date(2026, 11, 6))
    assert result.errors == []
    rec = Recommendation.objects.get(kind=Kind.IDLE_ENDPOINT)
    assert rec.estimated_monthly_saving == D(360)
    rec = recommendation_implement(recommendation=rec, implemented_on=dt.date(2026, 11, 6), today=AS_OF)
    assert rec.baseline_unit_cost == D(12) and rec.measure["method"] == "per_day"
    november = RealisedSaving.objects.get(recommendation=rec, month=dt.date(2026, 11, 1))
    # 6–30 Nov is 25 days at 12.00 a day before; it still cost 12.00 a day until 10 Nov (5 days)
    assert november.amount == D(12) * 25 - D(12) * 5 == D(240)


def test_settings_changes_are_audited_and_feed_the_arithmetic(catalog, in_alpha, source):
    settings = settings_save(commitment_discount_percent=D("25"), min_monthly_saving=D(0))
    assert AuditEvent.objects.filter(action="recommendation_settings.update").count() == 1
    assert settings.commitment_discount_percent == D(25)
    book(
        source,
        [
            row(
                day,
                "40",
                provider_name="Google Cloud",
                service_name="Compute Engine",
                service_category="Compute",
                pricing_unit="hour",
            )
            for day in WINDOW
        ],
    )
    refresh()
    rec = Recommendation.objects.get(kind=Kind.COMMITMENT)
    assert rec.estimated_monthly_saving == D(40) * 30 * D("0.25")
    assert "25 % assumed commitment discount (setting)" in rec.steps[-1]["formula"]
    with pytest.raises(ValueError):
        settings_save(unknown_setting=1)


def test_a_proposal_needs_a_workload_with_usage_and_a_cheaper_priced_target(catalog, settings_row, source):
    _routing_data(source)
    with pytest.raises(ValidationError, match="no usage"):
        recommendation_propose_routing(
            provider_name="OpenAI", model="gpt-4o", sub_account_id="proj_zzz", target="gpt-4o-mini", as_of=AS_OF
        )
    with pytest.raises(ValidationError, match="no price"):
        recommendation_propose_routing(
            provider_name="OpenAI", model="gpt-4o", sub_account_id="proj_a", target="gpt-9-imaginary", as_of=AS_OF
        )
    with pytest.raises(ValidationError, match="not cheaper"):
        recommendation_propose_routing(
            provider_name="OpenAI", model="gpt-4o", sub_account_id="proj_a", target="gpt-4o", as_of=AS_OF
        )
    with pytest.raises(ValidationError):
        recommendation_propose_routing(
            provider_name="OpenAI",
            model="gpt-4o",
            sub_account_id="proj_a",
            target="gpt-4o-mini",
            share_percent=D(0),
            as_of=AS_OF,
        )
    rec = recommendation_propose_routing(
        provider_name="OpenAI", model="gpt-4o", sub_account_id="proj_a", target="gpt-4o-mini", as_of=AS_OF
    )
    again = recommendation_propose_routing(
        provider_name="OpenAI", model="gpt-4o", sub_account_id="proj_a", target="gpt-4o-mini", as_of=AS_OF
    )
    assert again.pk == rec.pk and rec.origin == "proposed"
    assert AuditEvent.objects.filter(action="recommendation.propose", object_id=str(rec.pk)).count() == 2
    # A refresh re-prices an open proposal and never removes it.
    refresh()
    assert Recommendation.objects.filter(pk=rec.pk, origin="proposed").exists()


def test_the_task_runs_the_refresh_in_the_clients_schema(catalog, settings_row, source):
    from apps.recommendations.tasks import refresh_task

    day = dt.date.today() - dt.timedelta(days=2)
    book(
        source, [tokens_row(day, model="gpt-4o", uncached=300_000, requests=1000)], start=day, end=day + dt.timedelta(1)
    )
    outcome = refresh_task.delay("manual", "ops@msp.test")
    assert outcome.result["errors"] == [] and outcome.result["created"] >= 1
    run = RefreshRun.objects.get()
    assert run.trigger == "manual" and run.started_by == "ops@msp.test" and run.finished_at is not None


def test_a_workload_with_a_business_unit_is_measured_per_unit(catalog, settings_row, source):
    """The claims agent's cost per claim: $0.20 in September, $0.15 since the change on 1 October."""
    from apps.finops.allocation import allocation_rule_save
    from apps.inventory.services import asset_save
    from apps.unit_economics.services import business_unit_save, unit_counts_ingest

    agent = asset_save(kind="agent", name="Claims agent")
    allocation_rule_save(name="Claims workspace", match_field="sub_account", match_value="wrk_claims", asset=agent)
    business_unit_save(name="Claim processed", code="claims", unit_label="claim", scope_kind="asset", asset=agent)
    _before_after(source)
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(91)]
    result = unit_counts_ingest([{"unit": "claims", "day": d.isoformat(), "count": 10} for d in days])
    assert result.rejected == 0
    rec = recommendation_propose_routing(
        provider_name="Anthropic",
        model="claude-opus-4-5-20251101",
        target="claude-sonnet-4-6",
        sub_account_id="wrk_claims",
        asset_id=agent.pk,
        as_of=dt.date(2026, 10, 1),
    )
    assert rec.measure["method"] == "per_unit" and rec.measure["unit"] == "claims"
    rec = recommendation_implement(recommendation=rec, implemented_on=dt.date(2026, 10, 1), today=AS_OF)
    assert (rec.baseline_cost, rec.baseline_volume, rec.baseline_unit_cost) == (D(60), D(300), D("0.2"))
    refresh()
    october = RealisedSaving.objects.get(recommendation=rec, month=dt.date(2026, 10, 1))
    # (0.20 − 0.15) per claim × 310 claims
    assert (october.amount, october.volume, october.unit_cost, october.method) == (
        D("15.5"),
        D(310),
        D("0.15"),
        "per_unit",
    )
