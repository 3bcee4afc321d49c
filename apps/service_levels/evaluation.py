"""The evaluation cycle (every minute per client): live budgets and burn rates, burn-rate alerts, and the
settlement of closed periods into breaches and service credits.

Everything is read from the per-minute rollup by one set-based query for all of a client's SLOs (time-slice
SLOs first fold their minutes into slices), so the cycle's cost grows with the rows in the longest window,
not with the number of measurements submitted.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import connection, transaction
from django.utils import timezone

from apps.audit.services import audit_record

from . import budget, windows
from .models import SLO, Breach, ServiceCredit, SloPeriod, SloStatus

log = logging.getLogger(__name__)

MINUTE_TABLE = "service_levels_sliminute"
BURN_ALERT_KIND = "slo_burn"
LOOKBACKS = tuple(budget.LOOKBACK_MINUTES.items())
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Span:
    """What to count for one SLO: events (or slices) from start to end, plus the burn-rate lookbacks."""

    slo_id: int
    start: dt.datetime
    end: dt.datetime
    slice_minutes: int | None  # None: occurrences
    slice_target: Decimal


def client_tz():
    from apps.tenancy.selectors import current_client

    client = current_client()
    return client.tz if client is not None else dt.UTC


def _span(slo: SLO, start: dt.datetime, end: dt.datetime) -> Span:
    timeslices = slo.budgeting == SLO.Budgeting.TIMESLICES
    return Span(slo.pk, start, end, slo.timeslice_minutes if timeslices else None, slo.timeslice_target)


def span_counts(spans: list[Span], *, now: dt.datetime, lookbacks: bool = True) -> dict[int, dict]:
    """{slo_id: {"window": (good, total), "5m": (good, total), …}}: events for occurrence SLOs, slices for
    time-slice SLOs (a slice is good when its good share reaches the SLO's slice target)."""
    result: dict[int, dict] = {span.slo_id: {"window": (0, 0)} for span in spans}
    for timeslices in (False, True):
        chosen = [span for span in spans if (span.slice_minutes is not None) == timeslices]
        if chosen:
            for row in _query(chosen, now=now, timeslices=timeslices, lookbacks=lookbacks):
                slo_id, values = row[0], row[1:]
                counts = {"window": (int(values[0]), int(values[1]))}
                for position, (name, _) in enumerate(LOOKBACKS if lookbacks else ()):
                    counts[name] = (int(values[2 + 2 * position]), int(values[3 + 2 * position]))
                result[slo_id] = counts
    return result


def _query(spans: list[Span], *, now: dt.datetime, timeslices: bool, lookbacks: bool):
    params: dict = {
        "ids": [span.slo_id for span in spans],
        "starts": [span.start for span in spans],
        "ends": [min(span.end, now + dt.timedelta(minutes=1)) for span in spans],
        "slices": [span.slice_minutes or 1 for span in spans],
        "targets": [span.slice_target for span in spans],
        "now": now,
        "earliest": now - dt.timedelta(minutes=max(budget.LOOKBACK_MINUTES.values())),
    }
    # The rows are either minutes (occurrences) or slices folded from minutes: same columns either way.
    if timeslices:
        source = f"""(SELECT r.slo_id, date_bin(make_interval(mins => p.slice), r.minute,
                             TIMESTAMPTZ '2000-01-01 00:00:00+00') AS moment,
                             CASE WHEN sum(r.good) >= p.target * sum(r.total) THEN 1 ELSE 0 END AS good,
                             1 AS total, p.start, p.end_at
                      FROM {MINUTE_TABLE} r JOIN p ON p.slo_id = r.slo_id
                      WHERE r.minute >= {"least(p.start, %(earliest)s)" if lookbacks else "p.start"}
                        AND r.minute < p.end_at
                      GROUP BY r.slo_id, 2, p.start, p.end_at, p.target)"""  # noqa: S608 — table names are constants, values go as parameters
    else:
        source = f"""(SELECT r.slo_id, r.minute AS moment, r.good, r.total, p.start, p.end_at
                      FROM {MINUTE_TABLE} r JOIN p ON p.slo_id = r.slo_id
                      WHERE r.minute >= {"least(p.start, %(earliest)s)" if lookbacks else "p.start"}
                        AND r.minute < p.end_at)"""  # noqa: S608 — table names are constants, values go as parameters
    columns = [
        "coalesce(sum(x.good) FILTER (WHERE x.moment >= x.start AND x.moment < x.end_at), 0)",
        "coalesce(sum(x.total) FILTER (WHERE x.moment >= x.start AND x.moment < x.end_at), 0)",
    ]
    for _, minutes in LOOKBACKS if lookbacks else ():
        since = f"%(now)s - interval '{minutes} minutes'"
        columns += [
            f"coalesce(sum(x.good) FILTER (WHERE x.moment >= {since}), 0)",
            f"coalesce(sum(x.total) FILTER (WHERE x.moment >= {since}), 0)",
        ]
    sql = f"""WITH p AS (
                  SELECT * FROM unnest(%(ids)s::bigint[], %(starts)s::timestamptz[], %(ends)s::timestamptz[],
                                       %(slices)s::int[], %(targets)s::numeric[])
                         AS p(slo_id, start, end_at, slice, target)
              )
              SELECT x.slo_id, {", ".join(columns)} FROM {source} x GROUP BY x.slo_id"""  # noqa: S608 — table names are constants, values go as parameters
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


# --- live status and alerts -------------------------------------------------------------------------------


def slos_evaluate(*, now: dt.datetime | None = None) -> dict:
    """The one-minute cycle for the current client: Keel-computed measurements, live status, alerts, periods."""
    from .ingest import pending_incidents_refresh
    from .keel_sources import keel_measurements_sync

    now = now or timezone.now()
    tz = client_tz()
    slos = list(SLO.objects.filter(active=True).select_related("calendar", "asset"))
    synced = keel_measurements_sync(slos, now=now) + pending_incidents_refresh(slos, now=now)
    statuses = statuses_refresh(slos, now=now, tz=tz)
    settled = sum(periods_settle(slo, now=now, tz=tz) for slo in slos)
    alerting = sum(1 for status in statuses if status.alert_level)
    return {"slos": len(slos), "synced": synced, "alerting": alerting, "periods": settled}


def statuses_refresh(slos: list[SLO], *, now: dt.datetime, tz) -> list[SloStatus]:
    periods = {slo.pk: windows.live_window(slo.window_kind, slo.window_days, now, tz) for slo in slos}
    counts = span_counts([_span(slo, periods[slo.pk].start, periods[slo.pk].end) for slo in slos], now=now)
    previous = {status.slo_id: status for status in SloStatus.objects.filter(slo__in=slos)}
    statuses = []
    for slo in slos:
        period, numbers = periods[slo.pk], counts[slo.pk]
        status = status_compute(slo, period, numbers, now=now, tz=tz)
        statuses.append(status)
        _alert_follow(slo, status, previous.get(slo.pk))
    SloStatus.objects.bulk_create(
        statuses,
        update_conflicts=True,
        unique_fields=["slo"],
        update_fields=[
            "evaluated_at",
            "window_start",
            "window_end",
            "good",
            "total",
            "attainment",
            "budget_remaining",
            "burn_rates",
            "alert_level",
            "state",
        ],
    )
    return statuses


def status_compute(slo: SLO, period: windows.Period, numbers: dict, *, now: dt.datetime, tz) -> SloStatus:
    good, total = numbers["window"]
    full_minutes = windows.window_minutes(slo.window_kind, slo.window_days, now, tz)
    if slo.budgeting == SLO.Budgeting.TIMESLICES:
        remaining = budget.slice_budget_remaining(total - good, full_minutes // slo.timeslice_minutes, slo.objective)
        remaining = remaining if total else None
    else:
        remaining = budget.budget_remaining(good, total, slo.objective)
    rates = {
        name: str(rate)
        for name, _ in LOOKBACKS
        if (rate := budget.burn_rate(*numbers.get(name, (0, 0)), slo.objective)) is not None
    }
    decision = budget.alert_decision(numbers, slo.objective, full_minutes, slo.min_events)
    level = decision.level if slo.alerting else ""
    status = SloStatus(
        slo=slo,
        evaluated_at=now,
        window_start=period.start,
        window_end=period.end,
        good=good,
        total=total,
        attainment=budget.ratio(good, total),
        budget_remaining=remaining,
        burn_rates={**rates, "fired": decision.fired},
        alert_level=level,
        state=budget.state_for(total, remaining, level),
    )
    return status


def burn_alert_key(slo_id: int) -> str:
    return f"slo:{slo_id}:burn"


def _alert_follow(slo: SLO, status: SloStatus, previous: SloStatus | None) -> None:
    """Raise on a new or worse burn, clear when both windows of every pair have calmed down."""
    from apps.alerts.services import alert_raise, alert_resolve_condition

    before = previous.alert_level if previous else ""
    if status.alert_level == before:
        return
    if not status.alert_level:
        alert_resolve_condition(dedup_key=burn_alert_key(slo.pk), note="The burn rate is back under its thresholds.")
        return
    fired = status.burn_rates.get("fired", [])
    worst = fired[0] if fired else {}
    remaining = status.budget_remaining
    alert_raise(
        kind=BURN_ALERT_KIND,
        severity="critical" if status.alert_level == "page" else "medium",
        subject=f"{slo.display_name}: error budget burning {worst.get('long_rate', '?')}× too fast"[:300],
        body=(
            f"Burn rate {worst.get('long_rate')}× over {worst.get('long')} and {worst.get('short_rate')}× over "
            f"{worst.get('short')} (threshold {worst.get('factor')}×). "
            + (f"{remaining * 100:.1f} % of the window's error budget is left." if remaining is not None else "")
        ),
        dedup_key=burn_alert_key(slo.pk),
        link=f"/service-levels/{slo.pk}/",
        data={"slo_id": slo.pk, "level": status.alert_level, "fired": fired},
    )


# --- closed periods, breaches, credits ---------------------------------------------------------------------


def periods_settle(
    slo: SLO, *, now: dt.datetime, tz=None, since: dt.datetime | None = None, only_existing: bool = False
) -> int:
    """Record (or, after late data, recompute) the SLO's closed periods; a breach is recorded the first time a
    period is found below its objective and is never removed. Returns the periods written."""
    tz = tz or client_tz()
    if only_existing:
        if not SloPeriod.objects.filter(slo=slo, end__gt=since).exists():
            return 0
        after = since
    else:
        last = SloPeriod.objects.filter(slo=slo).order_by("-end").values_list("end", flat=True).first()
        after = since or last or slo.starts_at
    periods = windows.closed_periods(slo.window_kind, slo.window_days, slo.starts_at, now, tz, after=after)
    if not periods:
        return 0
    existing = {row.start: row for row in SloPeriod.objects.filter(slo=slo, start__in=[p.start for p in periods])}
    if only_existing:
        periods = [period for period in periods if period.start in existing]
    written = 0
    for period in periods:
        counts = span_counts([_span(slo, period.start, period.end)], now=now, lookbacks=False)[slo.pk]
        written += _period_write(slo, period, counts["window"], existing.get(period.start), now=now, tz=tz)
    return written


def _period_write(slo: SLO, period: windows.Period, counts, record: SloPeriod | None, *, now, tz) -> int:
    good, total = counts
    attainment = budget.ratio(good, total)
    met = None if attainment is None else attainment >= slo.objective
    burned = budget.burn_rate(good, total, slo.objective)
    consumed = burned.quantize(budget.RATIO_PLACES) if burned is not None else None
    values = {"good": good, "total": total, "attainment": attainment, "met": met, "budget_consumed": consumed}
    with transaction.atomic():
        if record is None:
            record = SloPeriod.objects.create(
                slo=slo, start=period.start, end=period.end, label=period.label, evaluated_at=now, **values
            )
            audit_record(action="slo.period_close", target=record, after=_period_state(record))
        elif any(getattr(record, name) != value for name, value in values.items()):
            before = _period_state(record)
            for name, value in values.items():
                setattr(record, name, value)
            record.revision += 1
            record.evaluated_at = now
            record.save()
            audit_record(action="slo.period_recompute", target=record, before=before, after=_period_state(record))
        else:
            return 0
        if met is False and not record.breaches.exists():
            breach_record(slo, record, now=now, tz=tz)
    return 1


def _period_state(period: SloPeriod) -> dict:
    return {
        "slo": period.slo_id,
        "label": period.label,
        "good": period.good,
        "total": period.total,
        "attainment": str(period.attainment) if period.attainment is not None else None,
        "met": period.met,
        "revision": period.revision,
    }


def _linked_incidents(slo: SLO, period: SloPeriod) -> list[int]:
    from apps.incidents.models import AIIncident

    incidents = AIIncident.objects.filter(detected_at__lt=period.end).exclude(closed_at__lt=period.start)
    if slo.asset_id:
        incidents = incidents.filter(assets=slo.asset_id)
    return sorted(incidents.values_list("pk", flat=True).distinct())[:200]


def breach_record(slo: SLO, period: SloPeriod, *, now: dt.datetime, tz) -> Breach:
    """The immutable breach and the credit the contract owes for it (within 100 % of the month's retainer)."""
    from apps.tenancy.selectors import current_client

    client = current_client()
    retainer = client.monthly_retainer if client is not None else Decimal(0)
    currency = client.reporting_currency if client is not None else "USD"
    percent = budget.credit_percent(period.attainment, slo.credit_tiers or [])
    month = (period.end - dt.timedelta(seconds=1)).astimezone(tz).date().replace(day=1)
    already = sum(ServiceCredit.objects.filter(month=month).values_list("percent", flat=True), Decimal(0))
    capped = percent > 0 and already + percent > 100
    if capped:
        percent = max(Decimal(0), Decimal(100) - already)
    amount = (retainer * percent / 100).quantize(CENT, rounding=ROUND_HALF_EVEN)
    breach = Breach.objects.create(
        slo=slo,
        period=period,
        period_start=period.start,
        period_end=period.end,
        period_label=period.label,
        objective=slo.objective,
        attainment=period.attainment,
        good=period.good,
        total=period.total,
        budget_consumed=period.budget_consumed,
        incident_ids=_linked_incidents(slo, period),
        slo_snapshot=slo_snapshot(slo),
        credit_percent=percent,
        credit_amount=amount,
        currency=currency,
        recorded_at=now,
    )
    credit = ServiceCredit.objects.create(
        breach=breach, month=month, percent=percent, amount=amount, currency=currency, capped=capped
    )
    audit_record(
        action="slo.breach_record",
        target=breach,
        after={
            "slo": slo.name,
            "period": period.label,
            "objective": str(slo.objective),
            "attainment": str(period.attainment),
            "credit_percent": str(percent),
            "credit_amount": str(amount),
            "currency": currency,
            "credit_id": credit.pk,
        },
    )
    _breach_alert(slo, breach)
    return breach


def slo_snapshot(slo: SLO) -> dict:
    return {
        "name": slo.name,
        "display_name": slo.display_name,
        "sli_kind": slo.sli_kind,
        "objective": str(slo.objective),
        "threshold": str(slo.threshold) if slo.threshold is not None else None,
        "window_kind": slo.window_kind,
        "window_days": slo.window_days,
        "budgeting": slo.budgeting,
        "credit_tiers": slo.credit_tiers,
        "asset": str(slo.asset) if slo.asset_id else None,
    }


def _breach_alert(slo: SLO, breach: Breach) -> None:
    from apps.alerts.services import alert_raise

    credit = f" A service credit of {breach.credit_amount} {breach.currency} is due." if breach.credit_amount else ""
    alert_raise(
        kind="slo_breach",
        severity="high",
        subject=f"SLO breached: {slo.display_name} ({breach.period_label})"[:300],
        body=f"Attained {breach.attainment * 100:.3f} % against an objective of {breach.objective * 100:.3f} %."
        + credit,
        dedup_key=f"slo:{slo.pk}:breach:{breach.period_start:%Y%m%d%H%M}",
        link=f"/service-levels/{slo.pk}/",
        data={"slo_id": slo.pk, "breach_id": breach.pk},
    )
