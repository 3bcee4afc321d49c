"""Write the public-schema rollups from inside one client's schema (called by that client's task), and the
MSP's health-score weights (public schema, audited in the MSP's chain)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.alerts.selectors import alert_counts, alerts_active_for_rollup
from apps.tenancy.models import Client

from . import health
from .models import AlertFeedItem, ClientHealthDay, ClientMaturity, ClientRollup, HealthWeights

FEED_ITEMS_PER_CLIENT = 50
# Alert changes refresh the rollup on every change; the other components (budget forecast, SLOs, readiness,
# ingestion) are recomputed only when older than this, and always by the hourly beat run.
COMPONENTS_MAX_AGE = dt.timedelta(minutes=10)


def _current_client() -> Client | None:
    return Client.objects.filter(schema_name=connection.schema_name, kind=Client.Kind.CLIENT).first()


def client_rollup_refresh(*, components: bool | None = None) -> ClientRollup | None:
    """Recompute the current client's rollup row, its alert feed items and today's health score (replace,
    never increment). components: True recomputes budget, SLA, readiness and ingestion freshness; False keeps
    the stored values; None (the task) recomputes them when they are older than COMPONENTS_MAX_AGE."""
    client = _current_client()
    if client is None:
        return None
    now = timezone.now()
    counts = alert_counts()
    active = alerts_active_for_rollup(FEED_ITEMS_PER_CLIENT)
    fields = {
        "open_alerts": counts["total"],
        "open_critical": counts.get("critical", 0),
        "open_high": counts.get("high", 0),
        "refreshed_at": now,
    }
    if components is None:
        stamp = ClientRollup.objects.filter(client=client).values_list("components_refreshed_at", flat=True).first()
        components = stamp is None or now - stamp >= COMPONENTS_MAX_AGE
    if components:
        fields |= component_values(client, now=now)
        fields["components_refreshed_at"] = now
    with transaction.atomic():
        rollup, _ = ClientRollup.objects.update_or_create(client=client, defaults=fields)
        AlertFeedItem.objects.filter(client=client).delete()
        AlertFeedItem.objects.bulk_create(
            AlertFeedItem(
                client=client,
                alert_id=a.pk,
                kind=a.kind,
                severity=a.severity,
                severity_rank=a.severity_rank,
                subject=a.subject,
                state=a.state,
                owner_email=a.owner_email,
                last_seen_at=a.last_seen_at,
            )
            for a in active
        )
        maturity = ClientMaturity.objects.filter(client=client).first()
        health_day_write(client, health.inputs_from(rollup, maturity, now=now), weights_get().as_dict(), now=now)
    return rollup


# --- the components, measured inside the client's schema ------------------------------------------------------------


def component_values(client: Client, *, now: dt.datetime) -> dict:
    """The ClientRollup fields of every measured component (None where not measured), in a few set-based
    queries: budget (4), SLOs (1), readiness (6), ingestion (1)."""
    return budget_values(client, now=now) | sla_values() | readiness_values() | ingestion_values()


def budget_values(client: Client, *, now: dt.datetime) -> dict:
    """This UTC month's whole-client budget: in the reporting currency when one is budgeted in it, else in the
    currency of the oldest whole-client budget (no conversion); of several in that currency, the tightest
    (lowest amount this month). Its month-to-date spend and month-end forecast come from apps.budgets."""
    from apps.budgets.models import Budget
    from apps.budgets.selectors import amount_for, budget_statuses, budgets_list

    month = now.astimezone(dt.UTC).date().replace(day=1)
    empty = {
        "budget_month": month,
        "budget_currency": "",
        "budget_amount": None,
        "budget_actual": None,
        "budget_forecast": None,
    }
    budgets = list(budgets_list().filter(active=True, scope=Budget.Scope.CLIENT).order_by("pk"))
    if not budgets:
        return empty
    currencies = {b.currency for b in budgets}
    currency = client.reporting_currency if client.reporting_currency in currencies else budgets[0].currency
    tightest = min((b for b in budgets if b.currency == currency), key=lambda b: (amount_for(b, month), b.pk))
    status = budget_statuses([tightest], month=month, today=now.astimezone(dt.UTC).date(), with_crossings=False)[0]
    return empty | {
        "budget_currency": currency,
        "budget_amount": status.amount,
        "budget_actual": status.actual,
        "budget_forecast": status.forecast.forecast.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
    }


def sla_values() -> dict:
    """The active SLOs with data in their current window (SloStatus): how many, how many at or above their
    objective, and the one furthest below it measured in error budgets (ties: the lower attainment)."""
    from apps.service_levels.models import SloStatus

    rows = list(
        SloStatus.objects.filter(slo__active=True, attainment__isnull=False, total__gt=0).values_list(
            "attainment", "slo__objective", "slo__display_name"
        )
    )
    if not rows:
        return {
            "sla_attainment": None,
            "sla_objective": None,
            "sla_worst_slo": "",
            "sla_slos_measured": 0,
            "sla_slos_met": 0,
        }
    worst = max(rows, key=lambda r: (health.sla_shortfall(r[0], r[1]), -r[0]))
    return {
        "sla_attainment": worst[0],
        "sla_objective": worst[1],
        "sla_worst_slo": worst[2][:200],
        "sla_slos_measured": len(rows),
        "sla_slos_met": sum(1 for attainment, objective, _ in rows if attainment >= objective),
    }


def readiness_values() -> dict:
    """The mean readiness of the enabled frameworks that have assessable requirements (apps.compliance)."""
    from apps.compliance.selectors import client_frameworks, readiness_many

    scores = [r.score for r in readiness_many(client_frameworks()).values() if r.score is not None]
    if not scores:
        return {"readiness": None, "readiness_frameworks": 0}
    mean = (sum(scores, Decimal(0)) / len(scores)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return {"readiness": mean, "readiness_frameworks": len(scores)}


def ingestion_values() -> dict:
    """Enabled billing sources and the latest successful run of any of them (apps.finops), in one query."""
    from apps.finops.models import BillingSource, IngestionRun

    found = BillingSource.objects.filter(enabled=True).aggregate(
        sources=Count("id", distinct=True),
        last=Max(
            "runs__finished_at",
            filter=Q(runs__status=IngestionRun.Status.SUCCEEDED, runs__finished_at__isnull=False),
        ),
    )
    return {"billing_sources": found["sources"] or 0, "ingestion_succeeded_at": found["last"]}


# --- the latest monthly report -------------------------------------------------------------------------------------


def report_status_refresh(*, month: dt.date, status: str, version: int, issued_at: dt.datetime | None) -> None:
    """Record the current client's latest monthly report on its rollup row (call inside the client's schema,
    from apps.reports whenever a report is drafted, reviewed, issued or removed, with the client's latest
    report). The last call wins, so the caller decides which report is the latest."""
    if status not in ClientRollup.ReportStatus.values:
        raise ValidationError(f"Unknown report status {status!r}.")
    client = _current_client()
    if client is None:
        return
    month = month.replace(day=1)
    with transaction.atomic():
        rollup, _ = ClientRollup.objects.select_for_update().get_or_create(client=client)
        rollup.report_month = month
        rollup.report_status = status
        rollup.report_version = version
        rollup.report_issued_at = issued_at
        rollup.report_updated_at = timezone.now()
        rollup.save(
            update_fields=["report_month", "report_status", "report_version", "report_issued_at", "report_updated_at"]
        )


# --- health score: weights and the daily history --------------------------------------------------------------------


def weights_get() -> HealthWeights:
    """The saved weights, or the defaults (unsaved) when an MSP admin never changed them."""
    return HealthWeights.objects.filter(pk=HealthWeights.SINGLETON_PK).first() or HealthWeights(
        pk=HealthWeights.SINGLETON_PK, **health.DEFAULT_WEIGHTS
    )


def weights_update(*, values: dict[str, int], updated_by: str = "") -> HealthWeights:
    """Save the weights (0-100 each) in the public schema, audited in the MSP's chain, and rewrite today's
    health scores with them."""
    from apps.audit.services import audit_record

    unknown = set(values) - set(health.COMPONENTS)
    if unknown:
        raise ValidationError(f"Unknown components: {', '.join(sorted(unknown))}.")
    bad = [k for k, v in values.items() if not isinstance(v, int) or not 0 <= v <= 100]
    if bad:
        raise ValidationError({k: "A weight is a whole number from 0 to 100." for k in bad})
    with schema_context("public"), transaction.atomic():
        weights = weights_get()
        before = weights.as_dict()
        for key, value in values.items():
            setattr(weights, key, value)
        weights.updated_by = updated_by[:254]
        weights.save()
        audit_record(action="portfolio.health_weights", target=weights, before=before, after=weights.as_dict())
        health_today_rewrite(weights.as_dict())
    return weights


def health_day_write(client: Client, inputs: health.Inputs, weights: dict[str, int], *, now: dt.datetime):
    result = health.health(inputs, weights)
    ClientHealthDay.objects.update_or_create(
        client=client,
        day=now.astimezone(dt.UTC).date(),
        defaults={
            "score": result.score,
            "scores": {p.key: None if p.score is None else str(p.score) for p in result.parts},
        },
    )
    return result


def health_today_rewrite(weights: dict[str, int]) -> int:
    """Today's health row of every client that has a rollup, recomputed with `weights` from the public rollups
    (a fixed number of queries whatever the number of clients)."""
    now = timezone.now()
    today = now.astimezone(dt.UTC).date()
    rollups = list(ClientRollup.objects.select_related("client__maturity"))
    existing = {row.client_id: row for row in ClientHealthDay.objects.filter(day=today)}
    changed, created = [], []
    for rollup in rollups:
        maturity = getattr(rollup.client, "maturity", None)
        result = health.health(health.inputs_from(rollup, maturity, now=now), weights)
        scores = {p.key: None if p.score is None else str(p.score) for p in result.parts}
        row = existing.get(rollup.client_id)
        if row is None:
            created.append(ClientHealthDay(client_id=rollup.client_id, day=today, score=result.score, scores=scores))
        else:
            row.score, row.scores = result.score, scores
            changed.append(row)
    ClientHealthDay.objects.bulk_update(changed, ["score", "scores"])
    ClientHealthDay.objects.bulk_create(created)
    return len(changed) + len(created)
