"""Budgets react to every booking: new spend may cross a threshold now, not at the next 15-minute check."""

from __future__ import annotations

import datetime as dt

from apps.finops.services import booking_listener


@booking_listener
def evaluate_after_booking(*, source, start: dt.date, end: dt.date) -> None:
    """Evaluate when the booked days [start, end) touch a month that is still evaluated."""
    from .forecast import month_days
    from .models import Budget
    from .selectors import utc_today
    from .services import budgets_evaluate, evaluation_months

    today = utc_today()
    months = evaluation_months(today)
    first, last = min(months), month_days(max(months))[-1]
    if end <= first or start > last or not Budget.objects.filter(active=True).exists():
        return
    budgets_evaluate(today=today)
