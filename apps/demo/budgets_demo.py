"""Demo budgets: per client a whole-client budget and department, provider or service budgets, with amounts
taken from the demo's own spend (the median of the three months before last, plus headroom), then evaluated
for this month and the last one as the scheduled check would.

The story that follows from the finops demo: Acme's OpenAI budget is blown by underwriter-7's runaway loop
(3 days ago, so in this month or the last) and its whole-client budget passes 80 %; for this month Acme's CFO cut
that budget to 65 %, which the month's spend does not follow (forecast far over: the console's budget variance
puts Acme at risk). Harbor's whole-client budget is 90 % of its usual month, a saving target its spend misses by
about a tenth (the console has Harbor on watch). The other budgets stay within, one with a higher amount for this
month. Idempotent: a budget that exists is left as it is, and the evaluation never raises an alert twice for the
same threshold and month.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, Decimal
from statistics import median

from django.db.models import Sum
from django_tenants.utils import tenant_context

from apps.core.context import acting_as


def _spec(name, scope, target, headroom, step, owner, *, alert_on="both", thresholds=(50, 80, 100), this_month=None):
    """headroom: the amount over the usual month, rounded up to `step`; this_month: a factor for this month's
    amount (an override)."""
    return {
        "name": name,
        "scope": scope,
        "target": target,
        "headroom": Decimal(headroom),
        "step": step,
        "owner": owner,
        "alert_on": alert_on,
        "thresholds": list(thresholds),
        "this_month": Decimal(this_month) if this_month else None,
    }


BUDGETS = {
    "acme": [
        # After the runaway loop the CFO cut this month's budget to 65 % (no new AI workloads until the loop's
        # cause is fixed); the month's run-rate does not follow, so the console shows Acme at risk.
        _spec("All cloud and AI spend", "client", None, "1.08", 500, "cfo@acme.example", this_month="0.65"),
        _spec("OpenAI API", "provider", "OpenAI", "1.08", 250, "head.uw@acme.example"),
        _spec(
            "Underwriting department",
            "department",
            "underwriting",
            "1.30",
            500,
            "head.uw@acme.example",
            thresholds=(75, 90, 100),
        ),
        _spec(
            "Amazon Bedrock",
            "service",
            "Amazon Bedrock",
            "1.30",
            250,
            "cio@acme.example",
            alert_on="actual",
            thresholds=(80, 100),
        ),
    ],
    "maple": [
        _spec("All Azure spend", "client", None, "1.30", 500, "cmo@maple.example", this_month="1.10"),
        _spec("Patient intake", "department", "intake", "1.25", 500, "intake.lead@maple.example", thresholds=(80, 100)),
        _spec(
            "A100 virtual machines",
            "service",
            "Virtual Machines",
            "1.15",
            500,
            "intake.lead@maple.example",
            thresholds=(80, 100),
        ),
    ],
    "harbor": [
        # A saving target: finance holds the platform to 90 % of its usual month, and the spend runs over it (the
        # console has Harbor on watch).
        _spec("All cloud and AI spend", "client", None, "0.90", 500, "cdo@harbor.example", thresholds=(80, 100)),
        _spec(
            "Claude API (Anthropic)",
            "provider",
            "Anthropic",
            "1.12",
            250,
            "claims.lead@harbor.example",
            alert_on="forecast",
        ),
        _spec(
            "Claims operations",
            "department",
            "claims-ops",
            "1.30",
            500,
            "claims.lead@harbor.example",
            thresholds=(80, 100),
        ),
    ],
}


def _months_before(month: dt.date, count: int) -> list[dt.date]:
    months = []
    for _ in range(count):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        months.append(month)
    return months


def _usual_month(budget_filter, currency: str, months: list[dt.date]) -> Decimal:
    """The median monthly spend of the scope over `months`."""
    from apps.finops.models import CostDaily

    totals = []
    for month in months:
        end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        value = CostDaily.objects.filter(
            budget_filter, day__gte=month, day__lt=end, billing_currency=currency
        ).aggregate(total=Sum("effective_cost"))["total"]
        totals.append(value or Decimal(0))
    return Decimal(median(totals)) if totals else Decimal(0)


def _round_up(value: Decimal, step: int) -> Decimal:
    return ((value / step).to_integral_value(rounding=ROUND_CEILING) * step).quantize(Decimal("0.01"))


def _main_currency(reporting: str) -> str:
    """The reporting currency if the client is billed in it, else the currency most of its spend is billed in
    (Acme reports in EUR; AWS and OpenAI bill it in USD, and Keel does not convert)."""
    from apps.finops.models import CostDaily

    by_currency = CostDaily.objects.values("billing_currency").annotate(total=Sum("effective_cost")).order_by("-total")
    currencies = [row["billing_currency"] for row in by_currency]
    if reporting in currencies or not currencies:
        return reporting
    return currencies[0]


def demo_budgets(clients) -> None:
    from apps.budgets.models import Budget
    from apps.budgets.selectors import month_start, previous_month, scope_filter, utc_today
    from apps.budgets.services import budget_save, budgets_evaluate
    from apps.inventory.models import Department

    today = utc_today()
    this_month = month_start(today)
    usual_months = _months_before(previous_month(this_month), 3)  # e.g. Aug–Oct when today is in December
    for slug, specs in BUDGETS.items():
        client = clients.get(slug)
        if client is None:
            continue
        with tenant_context(client), acting_as(source="command", user_email="demo-loader"):
            currency = _main_currency(client.reporting_currency)
            for spec in specs:
                if Budget.objects.filter(name=spec["name"]).exists():
                    continue
                scope, target = spec["scope"], spec["target"]
                fields = {"department": None, "provider_name": "", "service_name": ""}
                if scope == "department":
                    fields["department"] = Department.objects.filter(code=target).first()
                    if fields["department"] is None:
                        continue  # the inventory demo did not run for this client
                elif scope == "provider":
                    fields["provider_name"] = target
                elif scope == "service":
                    fields["service_name"] = target
                probe = Budget(scope=scope, currency=currency, **fields)
                usual = _usual_month(scope_filter(probe), currency, usual_months)
                if usual <= 0:
                    continue  # nothing booked for this scope in this demo: no budget to show
                amount = _round_up(usual * spec["headroom"], spec["step"])
                overrides = {}
                if spec["this_month"]:
                    overrides[this_month] = _round_up(amount * spec["this_month"], spec["step"])
                budget_save(
                    name=spec["name"],
                    scope=scope,
                    amount=amount,
                    currency=currency,
                    thresholds=spec["thresholds"],
                    owner_email=spec["owner"],
                    alert_on=spec["alert_on"],
                    overrides=overrides,
                    **fields,
                )
            budgets_evaluate(today=today, months=[this_month, previous_month(this_month)])
