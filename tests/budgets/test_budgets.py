"""Budget spend by scope from the rollup, currencies left out, and the alerts that fire once per threshold,
month and basis — however often the evaluation runs, after restarts, and fresh again in a new month."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.alerts.models import Alert
from apps.alerts.services import alert_resolve
from apps.audit.models import AuditEvent
from apps.budgets.models import Budget, ThresholdCrossing
from apps.budgets.selectors import budget_status
from apps.budgets.services import budget_delete, budget_save, budgets_evaluate, severity_for

from .conftest import NOV, TODAY, book_days, make_budget


def status(budget, month=NOV, today=TODAY):
    return budget_status(Budget.objects.get(pk=budget.pk), month=month, today=today)


def test_spend_is_summed_per_scope_from_the_rollup(ledger):
    scopes = {
        "client": make_budget(name="Client"),
        "department": make_budget(name="Claims", scope="department", department=ledger["claims"]),
        "asset": make_budget(name="Triage", scope="asset", asset=ledger["triage"]),
        "provider": make_budget(name="OpenAI", scope="provider", provider_name="OpenAI"),
        "service": make_budget(name="Claude", scope="service", service_name="Claude API"),
        "risk": make_budget(name="Risk", scope="department", department=ledger["risk"]),
    }
    actual = {name: status(budget).actual for name, budget in scopes.items()}
    assert actual == {
        "client": Decimal("1885"),  # 19 days × 100 − the 15 credit
        "department": Decimal("1315"),  # claims 60 + its agent 10, less the credit
        "asset": Decimal("190"),
        "provider": Decimal("1315"),
        "service": Decimal("570"),
        "risk": Decimal("570"),
    }
    assert status(scopes["client"]).daily[dt.date(2026, 11, 10)] == Decimal("85")  # the credit reduces spend


def test_other_currencies_are_left_out_and_shown(ledger):
    budget = make_budget()
    assert budget.currency == "EUR"  # alpha's reporting currency
    result = status(budget)
    assert result.actual == Decimal("1885")
    assert result.excluded == [("USD", Decimal("95"), 19)]
    usd = make_budget(name="USD bills", currency="USD")
    assert status(usd).actual == Decimal("95")
    assert status(usd).excluded[0][:2] == ("EUR", Decimal("1885"))


def test_the_forecast_adds_the_remaining_days(ledger):
    result = status(make_budget())
    assert result.forecast.days_left == 11  # 20–30 November
    assert result.forecast.forecast == Decimal("1885") + 11 * Decimal("100")
    assert result.forecast.confidence == "high"
    assert result.forecast.history_days == 56


def test_a_threshold_fires_once_however_often_it_is_evaluated(ledger):
    budget = make_budget(amount="3000")  # 1,885 spent (62.8 %), 2,985 forecast (99.5 %)
    first = budgets_evaluate(today=TODAY)
    again = budgets_evaluate(today=TODAY)
    assert first["alerts_raised"] == 2 and again["alerts_raised"] == 0
    alerts = {a.data["basis"]: a for a in Alert.objects.filter(kind="budget")}
    assert alerts["actual"].subject == "Budget “Whole client” reached 50 % in November 2026"
    assert alerts["actual"].severity == "low"
    assert alerts["forecast"].subject == "Budget “Whole client” forecast to reach 80 % in November 2026"
    assert alerts["forecast"].severity == "medium"
    assert "is forecast to reach 80 %" in alerts["forecast"].body
    assert all(a.occurrences == 1 for a in alerts.values())
    crossings = set(ThresholdCrossing.objects.values_list("threshold", "basis"))
    assert crossings == {(50, "actual"), (80, "forecast")}
    budget.refresh_from_db()
    assert budget.last_evaluated_at is not None

    # People resolve the alerts; a restart or the next run must not raise them again this month.
    for alert in alerts.values():
        alert_resolve(alert=alert, note="seen")
    assert budgets_evaluate(today=TODAY)["alerts_raised"] == 0
    assert Alert.objects.filter(kind="budget").count() == 2


def test_the_next_threshold_fires_when_it_is_crossed(ledger):
    make_budget(amount="3000")
    budgets_evaluate(today=TODAY)
    book_days(ledger["source"], TODAY, TODAY + dt.timedelta(days=5))  # six more days: 2,485 (82.8 %)
    assert budgets_evaluate(today=TODAY + dt.timedelta(days=6))["alerts_raised"] == 0  # already raised by booking
    subjects = sorted(Alert.objects.filter(kind="budget").values_list("subject", flat=True))
    assert "Budget “Whole client” reached 80 % in November 2026" in subjects
    assert len(subjects) == 3


def test_a_new_month_starts_fresh(ledger, clock):
    make_budget(amount="3000")
    budgets_evaluate(today=TODAY)
    book_days(ledger["source"], TODAY, dt.date(2026, 12, 18))
    clock.move_to("2026-12-19 10:00:00")
    budgets_evaluate(today=dt.date(2026, 12, 19))
    december = Alert.objects.filter(kind="budget", data__month="2026-12")
    assert {a.data["threshold"] for a in december if a.data["basis"] == "actual"} == {50}
    assert ThresholdCrossing.objects.filter(month=dt.date(2026, 12, 1)).count() >= 1
    # November's forecast alert is moot now that November is over: it was resolved.
    forecast_nov = Alert.objects.get(kind="budget", data__month="2026-11", data__basis="forecast")
    assert forecast_nov.state == Alert.State.RESOLVED
    assert budgets_evaluate(today=dt.date(2026, 12, 19))["alerts_raised"] == 0


def test_several_thresholds_crossed_at_once_raise_one_alert(ledger):
    make_budget(amount="1800")  # 1,885 spent: 50, 80 and 100 % at once
    budgets_evaluate(today=TODAY)
    actual = Alert.objects.filter(kind="budget", data__basis="actual")
    assert actual.count() == 1
    alert = actual.get()
    assert alert.severity == "high" and alert.subject.endswith("reached 100 % in November 2026")
    assert "Also past 50 %, 80 %" in alert.body
    rows = ThresholdCrossing.objects.filter(basis="actual").order_by("threshold")
    assert [(r.threshold, r.raised_alert, r.alert_id) for r in rows] == [
        (50, False, alert.pk),
        (80, False, alert.pk),
        (100, True, alert.pk),
    ]
    # 1,785 by the 18th (the credit counts), 1,885 by the 19th; 80 % (1,440) was passed on the 15th.
    assert [r.crossed_on for r in rows] == [dt.date(2026, 11, 9), dt.date(2026, 11, 15), dt.date(2026, 11, 19)]


def test_forecast_basis_alerts_say_forecast_to_reach(ledger):
    make_budget(amount="2500", alert_on="forecast")  # 1,885 spent (75 %), 2,985 forecast (119 %)
    budgets_evaluate(today=TODAY)
    alert = Alert.objects.get(kind="budget")
    assert alert.subject == "Budget “Whole client” forecast to reach 100 % in November 2026"
    assert alert.severity == "high"
    assert alert.data["forecast"] == "2985.00"
    assert "80 % range" in alert.body and "confidence" in alert.body
    assert not ThresholdCrossing.objects.filter(basis="actual").exists()


def test_actual_only_budgets_never_alert_on_the_forecast(ledger):
    make_budget(amount="2500", alert_on="actual")
    budgets_evaluate(today=TODAY)
    assert list(Alert.objects.values_list("data__basis", "data__threshold")) == [("actual", 50)]


def test_a_booking_evaluates_the_budgets_at_once(ledger):
    make_budget(amount="1900", alert_on="actual")
    budgets_evaluate(today=TODAY)
    assert Alert.objects.filter(kind="budget").count() == 1  # 50 and 80 %: one alert
    book_days(ledger["source"], TODAY, TODAY, rows_for=lambda day: [_big_row(day)])
    alert = Alert.objects.get(kind="budget", data__threshold=100)
    assert alert.data["actual"] == "2385.000000000000"


def _big_row(day):
    from tests.finops.conftest import openai_day_row

    return openai_day_row(day, "500.00", billing_currency="EUR")


def test_the_scheduled_task_evaluates(ledger):
    from apps.budgets.tasks import evaluate_budgets_task
    from apps.core.models import TaskRun

    make_budget(amount="3000")
    result = evaluate_budgets_task()
    assert result["alerts_raised"] == 2
    assert TaskRun.objects.filter(task_name="budgets.evaluate", status="succeeded").exists()


def test_month_overrides_change_that_month_only(ledger):
    budget = make_budget(amount="3000", overrides={"2026-11": "1500"})
    assert status(budget).amount == Decimal("1500")
    assert status(budget, month=dt.date(2026, 10, 1)).amount == Decimal("3000")
    budget_save(budget=budget, name=budget.name, amount="3000", overrides={})
    assert status(budget).amount == Decimal("3000")


def test_paused_budgets_are_not_evaluated(ledger):
    make_budget(amount="100", active=False)
    assert budgets_evaluate(today=TODAY) == {"budgets": 0, "alerts_raised": 0, "forecast_alerts_resolved": 0}
    assert not Alert.objects.filter(kind="budget").exists()


def test_scope_values_must_match_the_ledger(ledger):
    with pytest.raises(ValidationError) as error:
        make_budget(name="Typo", scope="provider", provider_name="openai")
    assert "did you mean 'OpenAI'" in str(error.value)
    with pytest.raises(ValidationError) as error:
        make_budget(name="No dept", scope="department")
    assert "department" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        make_budget(name="Bad", thresholds=["50", "eighty"])
    assert "thresholds" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        make_budget(name="Yen", currency="JPY")
    assert "currency" in error.value.message_dict
    make_budget(name="Whole client")
    with pytest.raises(ValidationError):
        make_budget(name="whole CLIENT")


def test_thresholds_are_cleaned(ledger):
    budget = make_budget(thresholds=["100", "50 %", 80, "50"])
    assert budget.thresholds == [50, 80, 100]


def test_writes_are_audited_and_deleting_resolves_open_alerts(ledger):
    budget = make_budget(amount="3000")
    budget_save(budget=budget, name="Whole client", amount="3200")
    budgets_evaluate(today=TODAY)
    budget_delete(budget=Budget.objects.get(pk=budget.pk))
    events = AuditEvent.objects.filter(object_type="budgets.budget").order_by("seq")
    actions = list(events.values_list("action", flat=True))
    assert actions == ["budget.create", "budget.update", "budget.delete"]
    update = AuditEvent.objects.get(action="budget.update")
    assert update.before["amount"] == "3000.00" and update.after["amount"] == "3200.00"
    assert not Alert.objects.filter(kind="budget").exclude(state="resolved").exists()
    assert not ThresholdCrossing.objects.exists()


def test_severity_follows_the_threshold():
    assert [severity_for(t) for t in (25, 50, 79, 80, 99, 100, 150)] == [
        "low",
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]


def test_days_whose_bills_are_late_are_forecast_not_counted_as_zero(ledger):
    budget = make_budget(amount="3000")  # booked through 19 November
    late = status(budget, today=dt.date(2026, 11, 22))
    assert late.forecast.forecast == Decimal("1885") + 11 * Decimal("100")  # 20 and 21 Nov are still expected
    assert late.days_left == 9 and late.booked_through == dt.date(2026, 11, 19)
    assert (
        "Nothing is booked after 19 Nov yet: the last 2 days before today are forecast until the bills arrive"
        in " ".join(late.notes)
    )
    # At most two days are waited for: a scope silent for longer has no spend on the days before.
    silent = status(budget, today=dt.date(2026, 11, 25))
    assert silent.forecast.forecast == Decimal("1885") + 8 * Decimal("100")
