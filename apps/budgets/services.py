"""Budget writes (audited) and the evaluation that raises an alert the first time a threshold is crossed.

Firing state lives in ThresholdCrossing, one row per (budget, month, threshold, basis) under a unique
constraint, written in the same transaction as the alert: a restart, a second worker or the next evaluation
finds the row and never raises that alert again in that month. A new month has no rows, so it starts fresh.

When several thresholds are crossed at once (the first evaluation of a new budget, a large booking), one alert
is raised for the highest and the lower ones are recorded as crossed with it, so people get one alert, not three.
A forecast alert is not raised for a threshold the actual spend has already crossed (the actual alert says it).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from apps.alerts.models import Alert
from apps.alerts.services import alert_assign, alert_raise, alert_resolve
from apps.audit.services import audit_record, snapshot, to_jsonable

from .models import Budget, BudgetOverride, ThresholdCrossing
from .selectors import (
    BudgetStatus,
    billed_currencies,
    budget_statuses,
    budgets_list,
    month_start,
    previous_month,
    provider_choices,
    service_choices,
    utc_today,
)

logger = logging.getLogger(__name__)

ALERT_KIND = "budget"
# Provider bills keep arriving for a few days after a month ends (GCP up to 5 days): the previous month is
# evaluated too until then, on actual spend.
LATE_DAYS = 5
MAX_THRESHOLDS = 10
MAX_THRESHOLD = 1000
AUDITED_FIELDS = [
    "name",
    "scope",
    "department",
    "asset",
    "provider_name",
    "service_name",
    "amount",
    "currency",
    "thresholds",
    "alert_on",
    "owner_email",
    "active",
]
CENT = Decimal("0.01")


def severity_for(threshold: int) -> str:
    """50 % low, 80 % medium, 100 % (and beyond) high."""
    if threshold >= 100:
        return "high"
    if threshold >= 80:
        return "medium"
    return "low"


def _money(value: Decimal) -> str:
    return f"{Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP):,}"


# --- writes ----------------------------------------------------------------------------------------------------


def _client_currency() -> str:
    from apps.tenancy.selectors import current_client

    client = current_client()
    if client is None:
        raise ValidationError("Budgets belong to a client: no client schema is active.")
    return client.reporting_currency


def currency_choices(reporting: str) -> list[str]:
    """The reporting currency first, then every currency the client is billed in."""
    return [reporting, *(c for c in billed_currencies() if c != reporting)]


def _clean_amount(value, field: str, errors: dict) -> Decimal | None:
    try:
        amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        errors[field] = "Enter an amount, e.g. 12000 or 12000.50."
        return None
    if not amount.is_finite() or amount <= 0:
        errors[field] = "The amount must be more than zero."
        return None
    if amount >= Decimal("1e16"):
        errors[field] = "That amount is too large."
        return None
    return amount


def clean_thresholds(values) -> list[int]:
    """Whole percentages, 1–1000, without repeats, ascending; at least one."""
    if values is None:
        return [50, 80, 100]
    cleaned = set()
    for value in values:
        try:
            number = Decimal(str(value).strip().rstrip("%").strip())
        except (InvalidOperation, ValueError):
            raise ValidationError({"thresholds": f"{value!r} is not a percentage."}) from None
        if number != number.to_integral_value() or not 1 <= number <= MAX_THRESHOLD:
            raise ValidationError({"thresholds": f"Thresholds are whole percentages from 1 to {MAX_THRESHOLD}."})
        cleaned.add(int(number))
    if not cleaned:
        raise ValidationError({"thresholds": "Give at least one threshold, e.g. 50, 80, 100."})
    if len(cleaned) > MAX_THRESHOLDS:
        raise ValidationError({"thresholds": f"At most {MAX_THRESHOLDS} thresholds."})
    return sorted(cleaned)


def _clean_scope(scope: str, department, asset, provider_name: str, service_name: str, errors: dict) -> dict:
    fields = {"department": None, "asset": None, "provider_name": "", "service_name": ""}
    if scope not in Budget.Scope.values:
        errors["scope"] = f"Choose one of: {', '.join(Budget.Scope.values)}."
    elif scope == Budget.Scope.DEPARTMENT:
        if department is None:
            errors["department"] = "Choose the department this budget is for."
        fields["department"] = department
    elif scope == Budget.Scope.ASSET:
        if asset is None:
            errors["asset"] = "Choose the AI asset this budget is for."
        fields["asset"] = asset
    elif scope == Budget.Scope.PROVIDER:
        provider_name = (provider_name or "").strip()
        known = provider_choices()
        if not provider_name:
            errors["provider_name"] = "Choose the provider this budget is for."
        elif provider_name not in known:
            errors["provider_name"] = _unknown("provider", provider_name, known)
        fields["provider_name"] = provider_name
    elif scope == Budget.Scope.SERVICE:
        service_name = (service_name or "").strip()
        known = sorted({service for service, _provider in service_choices()})
        if not service_name:
            errors["service_name"] = "Choose the service this budget is for."
        elif service_name not in known:
            errors["service_name"] = _unknown("service", service_name, known)
        fields["service_name"] = service_name
    return fields


def _unknown(what: str, value: str, known: list[str]) -> str:
    """A scope value must match the ledger exactly, or the budget would silently count nothing."""
    close = [k for k in known if k.lower() == value.lower()]
    if close:
        return f"No costs are booked under {what} {value!r}; did you mean {close[0]!r}? (the ledger's spelling)"
    listed = ", ".join(known[:12]) + ("…" if len(known) > 12 else "")
    return f"No costs are booked under {what} {value!r}. Known: {listed or 'none yet'}."


def _clean_overrides(overrides, errors: dict) -> dict[dt.date, Decimal]:
    cleaned: dict[dt.date, Decimal] = {}
    for month, amount in (overrides or {}).items():
        if isinstance(month, str):
            try:
                month = dt.datetime.strptime(month.strip(), "%Y-%m").date()
            except ValueError:
                errors["overrides"] = f"{month!r} is not a month (YYYY-MM)."
                return {}
        month = month_start(month)
        value = _clean_amount(amount, "overrides", errors)
        if value is None:
            errors["overrides"] = f"{month:%Y-%m}: {errors['overrides']}"
            return {}
        cleaned[month] = value
    return cleaned


def _state(budget: Budget) -> dict:
    data = snapshot(budget, AUDITED_FIELDS)
    data["overrides"] = {f"{o.month:%Y-%m}": str(o.amount) for o in budget.overrides.order_by("month")}
    return data


def budget_save(
    *,
    budget: Budget | None = None,
    name: str,
    amount,
    scope: str = Budget.Scope.CLIENT,
    department=None,
    asset=None,
    provider_name: str = "",
    service_name: str = "",
    thresholds=None,
    alert_on: str = Budget.AlertOn.BOTH,
    owner_email: str = "",
    active: bool = True,
    overrides: dict | None = None,
    currency: str | None = None,
) -> Budget:
    """Create or change a budget; `overrides` ({month or "YYYY-MM": amount}) replaces the month amounts.

    The currency defaults to the client's reporting currency. Keel does not convert currencies, so a client
    billed in another currency (Acme reports in EUR, AWS and OpenAI bill it in USD) budgets in a billed one."""
    errors: dict[str, str] = {}
    reporting = _client_currency()
    currency = (currency or (budget.currency if budget else "") or reporting).strip().upper()
    allowed = currency_choices(reporting)
    if currency not in allowed:
        errors["currency"] = (
            f"Use the reporting currency ({reporting}) or a currency the client is billed in "
            f"({', '.join(c for c in allowed if c != reporting) or 'none yet'})."
        )
    name = (name or "").strip()
    if not name:
        errors["name"] = "Give the budget a name."
    elif Budget.objects.filter(name__iexact=name).exclude(pk=getattr(budget, "pk", None)).exists():
        errors["name"] = f"Another budget is already called {name!r}."
    monthly = _clean_amount(amount, "amount", errors)
    scope_fields = _clean_scope(scope, department, asset, provider_name, service_name, errors)
    try:
        levels = clean_thresholds(thresholds)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
        levels = []
    if alert_on not in Budget.AlertOn.values:
        errors["alert_on"] = f"Choose one of: {', '.join(Budget.AlertOn.values)}."
    owner_email = (owner_email or "").strip().lower()
    if owner_email:
        try:
            validate_email(owner_email)
        except ValidationError:
            errors["owner_email"] = "Enter an email address."
    months = _clean_overrides(overrides, errors)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        creating = budget is None
        before = None if creating else _state(Budget.objects.get(pk=budget.pk))
        if creating:
            budget = Budget()
        budget.name, budget.scope, budget.amount, budget.currency = name, scope, monthly, currency
        for key, value in scope_fields.items():
            setattr(budget, key, value)
        budget.thresholds, budget.alert_on = levels, alert_on
        budget.owner_email, budget.active = owner_email, bool(active)
        budget.save()
        if overrides is not None:
            budget.overrides.exclude(month__in=list(months)).delete()
            for month, value in months.items():
                BudgetOverride.objects.update_or_create(budget=budget, month=month, defaults={"amount": value})
        audit_record(
            action="budget.create" if creating else "budget.update", target=budget, before=before, after=_state(budget)
        )
    return budget


def budget_delete(*, budget: Budget) -> None:
    """Remove a budget and its firing state; its open alerts are resolved (nobody can act on them any more)."""
    with transaction.atomic():
        open_alerts = Alert.objects.filter(
            pk__in=budget.crossings.exclude(alert=None).values("alert"),
            state__in=[Alert.State.OPEN, Alert.State.ACKNOWLEDGED],
        )
        for alert in open_alerts:
            alert_resolve(alert=alert, note=f"The budget “{budget.name}” was deleted.")
        audit_record(action="budget.delete", target=budget, before=_state(budget))
        budget.delete()


# --- evaluation ------------------------------------------------------------------------------------------------


def evaluation_months(today: dt.date) -> list[dt.date]:
    """This month, and the previous one while its late bills can still arrive."""
    months = [month_start(today)]
    if today.day <= LATE_DAYS:
        months.append(previous_month(today))
    return months


def budgets_evaluate(*, today: dt.date | None = None, budgets=None, months: list[dt.date] | None = None) -> dict:
    """Check every active budget (or those given) and raise the alerts of thresholds crossed for the first time.
    Runs every 15 minutes (task budgets.evaluate) and after every booking."""
    today = today or utc_today()
    chosen = list(budgets if budgets is not None else budgets_list().filter(active=True))
    chosen = [b for b in chosen if b.active]
    raised: list[Alert] = []
    for month in months or evaluation_months(today):
        for status in budget_statuses(chosen, month=month, today=today, with_crossings=False):
            raised += _fire(status)
    if chosen:
        now = timezone.now()
        Budget.objects.filter(pk__in=[b.pk for b in chosen]).update(last_evaluated_at=now)
        for budget in chosen:
            budget.last_evaluated_at = now
    resolved = _resolve_closed_forecasts(today)
    return {"budgets": len(chosen), "alerts_raised": len(raised), "forecast_alerts_resolved": resolved}


def _lock(budget: Budget) -> None:
    """Serialise evaluations of one budget (the task and a booking listener may run at the same moment)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{connection.schema_name}:budget:{budget.pk}"])


def _fire(status: BudgetStatus) -> list[Alert]:
    budget, month = status.budget, status.month
    raised = []
    with transaction.atomic():
        _lock(budget)
        done = set(ThresholdCrossing.objects.filter(budget=budget, month=month).values_list("threshold", "basis"))
        actual_new, forecast_new = [], []
        for threshold in status.thresholds:
            if budget.alerts_actual and threshold.crossed and (threshold.percent, "actual") not in done:
                actual_new.append(threshold)
        raising_actual = {t.percent for t in actual_new}
        if not status.closed and budget.alerts_forecast:
            for threshold in status.thresholds:
                if (threshold.percent, "forecast") in done or (threshold.percent, "actual") in done:
                    continue
                if threshold.percent in raising_actual:
                    continue
                reached = status.forecast.forecast >= threshold.amount
                # A forecast-only budget is told through its forecast even once actual spend is past it.
                if reached and (not threshold.crossed or not budget.alerts_actual):
                    forecast_new.append(threshold)
        for basis, crossed in (("actual", actual_new), ("forecast", forecast_new)):
            if crossed:
                raised.append(_raise(status, basis, crossed))
    return raised


def _raise(status: BudgetStatus, basis: str, crossed: list) -> Alert:
    budget, month, currency = status.budget, status.month, status.currency
    top = crossed[-1]
    forecast = status.forecast
    percent = status.percent_used if basis == "actual" else status.forecast_percent
    month_label = f"{month:%B %Y}"
    if basis == "actual":
        subject = f"Budget “{budget.name}” reached {top.percent} % in {month_label}"
        lines = [
            f"Spent {_money(status.actual)} {currency} of {_money(status.amount)} {currency} ({percent} %) in "
            f"{month_label}; {top.percent} % ({_money(top.amount)} {currency}) was crossed on "
            f"{top.crossed_on:%-d %b}.",
        ]
    else:
        verb = "has reached" if top.crossed else "is forecast to reach"
        subject = f"Budget “{budget.name}” forecast to reach {top.percent} % in {month_label}"
        lines = [
            f"{month_label} {verb} {top.percent} % of its budget: forecast {_money(forecast.forecast)} {currency} "
            f"(80 % range {_money(forecast.low)}–{_money(forecast.high)}) against {_money(status.amount)} "
            f"{currency}; spent so far {_money(status.actual)} {currency} with {status.days_left} "
            f"day{'s' if status.days_left != 1 else ''} to go.",
            forecast.confidence_text(currency),
        ]
    if len(crossed) > 1:
        lower = ", ".join(f"{t.percent} %" for t in crossed[:-1])
        lines.append(f"Also past {lower} (recorded with this alert, not raised separately).")
    if basis == "actual" and not forecast.closed:
        lines.append(
            f"Forecast for the month: {_money(forecast.forecast)} {currency} "
            f"(80 % range {_money(forecast.low)}–{_money(forecast.high)}). {forecast.confidence_text(currency)}"
        )
    lines.append(f"Scope: {budget.scope_label}. Spend is EffectiveCost in {currency}, credits included.")
    for other, amount, rows in status.excluded:
        lines.append(f"Not counted: {_money(amount)} {other} in {rows} ledger rows (Keel does not convert currencies).")
    alert = alert_raise(
        kind=ALERT_KIND,
        severity=severity_for(top.percent),
        subject=subject,
        body="\n".join(lines),
        dedup_key=f"budget:{budget.pk}:{month:%Y-%m}:{basis}:{top.percent}",
        link=f"/finops/budgets/{budget.pk}/?month={month:%Y-%m}",
        data=to_jsonable(
            {
                "budget_id": budget.pk,
                "budget": budget.name,
                "month": f"{month:%Y-%m}",
                "basis": basis,
                "threshold": top.percent,
                "thresholds": [t.percent for t in crossed],
                "amount": status.amount,
                "actual": status.actual,
                "forecast": forecast.forecast,
                "forecast_low": forecast.low,
                "forecast_high": forecast.high,
                "currency": currency,
            }
        ),
    )
    now = timezone.now()
    ThresholdCrossing.objects.bulk_create(
        [
            ThresholdCrossing(
                budget=budget,
                month=month,
                threshold=t.percent,
                basis=basis,
                fired_at=now,
                crossed_on=t.crossed_on,
                budget_amount=status.amount,
                actual=status.actual,
                forecast=None if forecast.closed else forecast.forecast,
                alert=alert,
                raised_alert=t is top,
            )
            for t in crossed
        ]
    )
    if budget.owner_email and not alert.owner_email:
        alert_assign(alert=alert, owner_email=budget.owner_email)
    logger.info("budget %s: %s %s %% %s alert raised", budget.pk, month, top.percent, basis)
    return alert


def _resolve_closed_forecasts(today: dt.date) -> int:
    """A forecast alert is moot once its month is over (and its late bills are in): resolve it."""
    first_open = min(evaluation_months(today))
    stale = (
        ThresholdCrossing.objects.filter(
            basis="forecast",
            month__lt=first_open,
            raised_alert=True,
            alert__state__in=[Alert.State.OPEN, Alert.State.ACKNOWLEDGED],
        )
        .select_related("alert", "budget")
        .order_by("month")
    )
    count = 0
    for crossing in stale:
        alert_resolve(
            alert=crossing.alert,
            note=f"{crossing.month:%B %Y} is over; budgets start fresh each month (the budget has the final total).",
        )
        count += 1
    return count
