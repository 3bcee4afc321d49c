"""Writes of recommendations: the refresh that runs the generators, the decisions people take (each audited),
the baseline taken when one is implemented, and the realised saving measured against it each month."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record, snapshot
from apps.core.context import current_actor

from . import generators
from .data import measure_totals
from .models import Origin, RealisedSaving, Recommendation, RecommendationSettings, RefreshRun, Status

BASELINE_DAYS = 30
AUDIT_FIELDS = [
    "status",
    "dismiss_reason",
    "status_note",
    "implemented_on",
    "estimated_monthly_saving",
    "currency",
    "baseline_start",
    "baseline_end",
    "baseline_unit_cost",
    "baseline_currency",
]
FIGURE_FIELDS = [
    "kind",
    "origin",
    "title",
    "summary",
    "scope_kind",
    "scope_label",
    "asset_id",
    "provider",
    "model",
    "service",
    "account",
    "estimated_monthly_saving",
    "currency",
    "steps",
    "evidence",
    "measure",
    "parameters",
    "window_start",
    "window_end",
    "last_seen_at",
]
MONEY_PLACES = Decimal("0.000000000001")
UNIT_PLACES = Decimal("0.000000000001")


def _today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def settings_get() -> RecommendationSettings:
    """The client's settings row (created with the defaults on first use)."""
    found = RecommendationSettings.objects.order_by("pk").first()
    return found or RecommendationSettings.objects.create()


SETTINGS_FIELDS = [
    "routing_max_input_tokens",
    "caching_min_repeats",
    "caching_min_days",
    "caching_low_share_percent",
    "caching_target_share_percent",
    "small_min_requests",
    "small_max_output_tokens",
    "small_max_input_tokens",
    "open_weight_model",
    "commitment_discount_percent",
    "deprecation_horizon_days",
    "min_monthly_saving",
]


def settings_save(**values) -> RecommendationSettings:
    """Change thresholds or assumptions (audited); they apply from the next refresh."""
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    with transaction.atomic():
        current = settings_get()
        before = snapshot(current, SETTINGS_FIELDS)
        for name, value in values.items():
            setattr(current, name, value)
        current.updated_by = current_actor().user_email or ""
        current.full_clean()
        current.save()
        audit_record(
            action="recommendation_settings.update",
            target=current,
            before=before,
            after=snapshot(current, SETTINGS_FIELDS),
        )
    return current


# --- refresh ----------------------------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    run: RefreshRun
    created: list[Recommendation] = field(default_factory=list)
    updated: list[Recommendation] = field(default_factory=list)
    removed: int = 0
    errors: list[str] = field(default_factory=list)


def _q(value: Decimal) -> Decimal:
    return Decimal(value).quantize(MONEY_PLACES, rounding=ROUND_HALF_EVEN)


def _apply(rec: Recommendation, finding: generators.Finding, now: dt.datetime) -> None:
    rec.kind = finding.kind
    rec.origin = finding.origin
    rec.title = finding.title[:300]
    rec.summary = finding.summary
    rec.scope_kind = finding.scope_kind
    rec.scope_label = finding.scope_label[:300]
    rec.asset_id = finding.asset_id
    rec.provider = finding.provider[:120]
    rec.model = finding.model[:200]
    rec.service = finding.service[:200]
    rec.account = (finding.account or "")[:200]
    rec.estimated_monthly_saving = _q(finding.saving)
    rec.currency = finding.currency
    rec.steps = finding.steps
    rec.evidence = finding.evidence
    rec.measure = finding.measure
    rec.parameters = finding.parameters
    rec.window_start = finding.window_start
    rec.window_end = finding.window_end
    rec.last_seen_at = now


def _store(findings: list[generators.Finding], now: dt.datetime, result: RefreshResult) -> set[str]:
    """Create new findings as open; update the figures of known ones (their status stays). An implemented
    recommendation keeps the estimate it was implemented with: its baseline and realised saving are its figures
    from then on."""
    seen = {}
    for finding in findings:
        seen.setdefault(finding.fingerprint, finding)  # the first generator to report a finding keeps it
    existing = {r.fingerprint: r for r in Recommendation.objects.filter(fingerprint__in=list(seen))}
    for fp, finding in seen.items():
        rec = existing.get(fp)
        if rec is None:
            rec = Recommendation(fingerprint=fp, first_seen_at=now)
            _apply(rec, finding, now)
            rec.save()
            result.created.append(rec)
        elif rec.status == Status.IMPLEMENTED:
            Recommendation.objects.filter(pk=rec.pk).update(last_seen_at=now)
        else:
            _apply(rec, finding, now)
            rec.save(update_fields=[*FIGURE_FIELDS, "updated_at"])
            result.updated.append(rec)
    return set(seen)


def recommendations_refresh(
    *, as_of: dt.date | None = None, trigger: str = RefreshRun.Trigger.SCHEDULE, started_by: str = ""
) -> RefreshResult:
    """Run every generator on the 30 UTC days before `as_of` (default today), store what they found, drop open
    findings that are gone, re-price open and accepted proposals, and measure every implemented recommendation.

    Idempotent: the same data give the same recommendations with the same figures; decisions are kept.
    """
    as_of = as_of or _today()
    ctx = generators.Context(as_of=as_of, settings=settings_get())
    run = RefreshRun.objects.create(trigger=trigger, as_of=as_of, started_by=started_by)
    result = RefreshResult(run=run)
    findings, result.errors = generators.run_all(ctx)
    now = timezone.now()
    with transaction.atomic():
        seen = _store(findings, now, result)
        for proposal in Recommendation.objects.filter(
            origin=Origin.PROPOSED, status__in=[Status.OPEN, Status.ACCEPTED]
        ).exclude(fingerprint__in=seen):
            try:
                finding = generators.routing_proposal(ctx, proposal.parameters)
            except generators.ProposalError:
                continue  # the workload is gone from the window: keep the last figures
            _apply(proposal, finding, now)
            proposal.save(update_fields=[*FIGURE_FIELDS, "updated_at"])
            result.updated.append(proposal)
        # Open findings nobody decided on and no generator reports any more have gone away.
        if not result.errors:
            stale = Recommendation.objects.filter(status=Status.OPEN, origin=Origin.GENERATED).exclude(
                fingerprint__in=seen
            )
            result.removed, _ = stale.delete()
        measured = 0
        for rec in Recommendation.objects.filter(status=Status.IMPLEMENTED):
            measured += bool(realised_compute(recommendation=rec, as_of=as_of))
        run.created, run.updated, run.removed = len(result.created), len(result.updated), result.removed
        run.realised, run.errors, run.finished_at = measured, result.errors, timezone.now()
        run.save()
    return result


# --- decisions ----------------------------------------------------------------------------------------------------


def _decide(rec: Recommendation, action: str, **changes) -> Recommendation:
    with transaction.atomic():
        stored = Recommendation.objects.select_for_update().get(pk=rec.pk)
        before = snapshot(stored, AUDIT_FIELDS)
        for name, value in changes.items():
            setattr(stored, name, value)
        stored.status_changed_at = timezone.now()
        stored.status_changed_by = current_actor().user_email or current_actor().api_key_prefix or ""
        stored.save()
        audit_record(
            action=f"recommendation.{action}", target=stored, before=before, after=snapshot(stored, AUDIT_FIELDS)
        )
    return stored


def _require(rec: Recommendation, allowed: set[str], verb: str) -> None:
    if rec.status not in allowed:
        raise ValidationError(f"A recommendation that is {rec.get_status_display().lower()} cannot be {verb}.")


def recommendation_accept(*, recommendation: Recommendation, note: str = "") -> Recommendation:
    """Someone will implement it."""
    _require(recommendation, {Status.OPEN, Status.DISMISSED}, "accepted")
    return _decide(recommendation, "accept", status=Status.ACCEPTED, status_note=note.strip(), dismiss_reason="")


def recommendation_dismiss(*, recommendation: Recommendation, reason: str) -> Recommendation:
    """Not worth doing, or not possible: the reason is required and kept."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why it is dismissed: the next person to see it will want to know."})
    _require(recommendation, {Status.OPEN, Status.ACCEPTED}, "dismissed")
    return _decide(recommendation, "dismiss", status=Status.DISMISSED, dismiss_reason=reason)


def recommendation_reopen(*, recommendation: Recommendation, note: str = "") -> Recommendation:
    """Back to open (a mistaken decision); an implemented one loses its baseline and realised savings."""
    _require(recommendation, {Status.ACCEPTED, Status.DISMISSED, Status.IMPLEMENTED}, "reopened")
    with transaction.atomic():
        RealisedSaving.objects.filter(recommendation=recommendation).delete()
        return _decide(
            recommendation,
            "reopen",
            status=Status.OPEN,
            status_note=note.strip(),
            dismiss_reason="",
            implemented_on=None,
            baseline_start=None,
            baseline_end=None,
            baseline_cost=None,
            baseline_volume=None,
            baseline_unit_cost=None,
            baseline_currency="",
        )


@dataclass(frozen=True)
class Baseline:
    start: dt.date
    end: dt.date  # inclusive
    cost: Decimal
    volume: Decimal
    unit_cost: Decimal | None
    currency: str


def baseline_for(*, measure: dict, implemented_on: dt.date) -> Baseline | None:
    """The measured scope's unit cost over the 30 days before implementation; None when nothing is measurable."""
    if not measure:
        return None
    start = implemented_on - dt.timedelta(days=BASELINE_DAYS)
    cost, volume = measure_totals(measure, start, implemented_on)
    unit = (cost / volume).quantize(UNIT_PLACES) if volume > 0 else None
    return Baseline(
        start=start,
        end=implemented_on - dt.timedelta(days=1),
        cost=_q(cost),
        volume=volume.quantize(MONEY_PLACES),
        unit_cost=unit,
        currency=measure.get("currency", ""),
    )


def recommendation_implement(
    *, recommendation: Recommendation, implemented_on: dt.date, note: str = "", today: dt.date | None = None
) -> Recommendation:
    """Done on `implemented_on`: take the baseline from the 30 days before and measure the realised saving (on
    the data up to the day before `today`)."""
    given = today
    today = today or timezone.localdate()
    if implemented_on is None:
        raise ValidationError({"implemented_on": "Give the date the change went live."})
    if implemented_on > today:
        raise ValidationError({"implemented_on": "That date is in the future; mark it implemented once it is live."})
    _require(recommendation, {Status.OPEN, Status.ACCEPTED}, "marked implemented")
    baseline = baseline_for(measure=recommendation.measure, implemented_on=implemented_on)
    with transaction.atomic():
        rec = _decide(
            recommendation,
            "implement",
            status=Status.IMPLEMENTED,
            implemented_on=implemented_on,
            status_note=note.strip() or recommendation.status_note,
            dismiss_reason="",
            baseline_start=baseline.start if baseline else None,
            baseline_end=baseline.end if baseline else None,
            baseline_cost=baseline.cost if baseline else None,
            baseline_volume=baseline.volume if baseline else None,
            baseline_unit_cost=baseline.unit_cost if baseline else None,
            baseline_currency=baseline.currency if baseline else "",
        )
        realised_compute(recommendation=rec, as_of=given if given is not None else _today())
    return rec


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def realised_compute(*, recommendation: Recommendation, as_of: dt.date) -> int:
    """Store, per month since implementation, (baseline unit cost − the month's unit cost) × the month's volume
    from the client's data up to the day before `as_of`. Returns how many months were stored."""
    rec = recommendation
    if rec.status != Status.IMPLEMENTED or not rec.baseline_volume or rec.baseline_cost is None or not rec.measure:
        RealisedSaving.objects.filter(recommendation=rec).delete()
        return 0
    kept = []
    month = _month_start(rec.implemented_on)
    while month < as_of:
        first = max(month, rec.implemented_on)
        end = min(_next_month(month), as_of)
        if first < end:
            cost, volume = measure_totals(rec.measure, first, end)
            if volume > 0:
                unit = (cost / volume).quantize(UNIT_PLACES)
                # From the stored baseline totals, not its rounded unit cost: the amount stays exact.
                amount = rec.baseline_cost * volume / rec.baseline_volume - cost
                RealisedSaving.objects.update_or_create(
                    recommendation=rec,
                    month=month,
                    defaults={
                        "first_day": first,
                        "last_day": end - dt.timedelta(days=1),
                        "amount": _q(amount),
                        "currency": rec.baseline_currency or rec.measure.get("currency", ""),
                        "method": rec.measure["method"],
                        "cost": _q(cost),
                        "volume": volume.quantize(MONEY_PLACES),
                        "unit_cost": unit,
                        "baseline_unit_cost": rec.baseline_unit_cost,
                    },
                )
                kept.append(month)
        month = _next_month(month)
    RealisedSaving.objects.filter(recommendation=rec).exclude(month__in=kept).delete()
    return len(kept)


# --- proposals -------------------------------------------------------------------------------------------------


def recommendation_propose_routing(
    *,
    provider_name: str,
    model: str,
    target: str,
    sub_account_id: str = "",
    asset_id: int | None = None,
    share_percent: Decimal = Decimal(100),
    as_of: dt.date | None = None,
) -> Recommendation:
    """A person's routing change for one workload, priced by Keel on the workload's own tokens (audited).
    Proposing the same change again re-prices the existing recommendation."""
    share_percent = Decimal(share_percent)
    if not 0 < share_percent <= 100:
        raise ValidationError({"share_percent": "The share routed is a percentage above 0 and at most 100."})
    ctx = generators.Context(as_of=as_of or _today(), settings=settings_get())
    parameters = {
        "provider_name": provider_name,
        "model": model,
        "sub_account_id": sub_account_id or "",
        "asset_id": asset_id,
        "target": target.strip(),
        "share_percent": str(share_percent.normalize()),
    }
    try:
        finding = generators.routing_proposal(ctx, parameters)
    except generators.ProposalError as exc:
        raise ValidationError(str(exc)) from exc
    now = timezone.now()
    with transaction.atomic():
        rec = Recommendation.objects.filter(fingerprint=finding.fingerprint).first()
        created = rec is None
        if created:
            rec = Recommendation(fingerprint=finding.fingerprint, first_seen_at=now)
        elif rec.status == Status.IMPLEMENTED:
            raise ValidationError("This routing change is already implemented.")
        before = None if created else snapshot(rec, AUDIT_FIELDS)
        _apply(rec, finding, now)
        rec.save()
        audit_record(action="recommendation.propose", target=rec, before=before, after=snapshot(rec, AUDIT_FIELDS))
    return rec
