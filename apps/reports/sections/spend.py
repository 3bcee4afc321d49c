"""AI and cloud spend: the month's effective cost against budget, last month and the same month last year, by
department, asset and provider, with a 12-month trend.

Every cost figure is the cost explorer's (apps.finops.selectors.cost_explorer over the daily rollup) for the UTC
charge days of the month, in the client's reporting currency: the report's total equals the explorer's total for
the same dates to the cent. Spend billed in other currencies is listed beside it, never converted. "AI" is the
FOCUS service category "AI and Machine Learning", the definition the FinOps dashboard and the MSP console
(portfolio.ClientSpendMonth.ai_cost) use; ai_spend() is the helper the value section shares.

Data (money as strings with two decimals, percentages as strings with one; None when there is nothing to
compare with):
    currency, first_day, last_day          the reporting currency and the UTC days covered (ISO)
    has_spend                              anything booked in the month, in any currency
    total, ai, other, ai_share_percent     the month in the reporting currency (other = total − ai)
    other_currencies                       [{currency, total, ai}] spend billed in other currencies
    last_month_total, vs_last_month_change, vs_last_month_percent
    year_ago_total, vs_year_ago_change, vs_year_ago_percent
    budget_total, budget_variance, budget_used_percent
                                           the month's amount of the active whole-client budgets in the
                                           reporting currency, spend minus it, spend ÷ it (None: no such budget)
    budgets_amount_total                   the month's amounts of every active budget in the reporting currency
                                           (scopes may overlap: listed, never compared with spend)
    budgets_over                           how many budgets ended the month (or are) over their amount
    budgets                                [{id, name, scope, currency, amount, actual, percent_used, forecast,
                                            state, state_label, url}]
    departments                            [{id, name, amount, share_percent, url}] allocated cost, biggest
                                           first; id None is the cost no allocation rule gave a department
    allocated_total, unallocated_total, allocated_percent
    top_assets                             [{id, name, kind, amount, share_percent, url}] the 10 costliest
    asset_count                            AI assets with cost in the month
    providers                              [{name, amount, share_percent}]
    trend                                  [{month: "YYYY-MM", total, ai, other}] the 12 months ending with this one
    explorer_url                           the cost explorer for the same dates
    charts                                 the 12-month trend (stacked AI/other) and the department bars
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import urlencode

from apps.budgets.selectors import budget_statuses, budgets_list
from apps.finops.focus import AI_CATEGORY
from apps.finops.selectors import ExplorerQuery, cost_explorer
from apps.inventory.models import Asset, Department

from ..period import ReportPeriod, money, percent_change, ratio

KEY = "spend"
TITLE = "AI and cloud spend"

ZERO = Decimal(0)
TOP_ASSETS = 10
MATERIAL_CHANGE_PERCENT = Decimal(10)  # a month-over-month move worth a sentence
AI_COLOUR = "#1d4ed8"
OTHER_COLOUR = "#98a2b3"


# --- helpers other sections share ---------------------------------------------------------------------------


def say_money(value: str | Decimal | None, currency: str) -> str:
    """A money figure as a sentence writes it: 12,345.67 EUR (the figure itself, with thousands separators)."""
    return f"{Decimal(value or 0):,.2f} {currency}"


def say_percent(value: str | Decimal | None) -> str:
    """A percentage as a sentence writes it, without its sign (the words say up or down): 12.3 %."""
    return f"{abs(Decimal(value or 0)):,} %"


def _month_key(value) -> dt.date:
    day = value.date() if isinstance(value, dt.datetime) else value
    return day.replace(day=1)


def monthly_spend(start: dt.date, end: dt.date) -> dict[dt.date, dict[str, dict[str, Decimal]]]:
    """{month: {currency: {"total", "ai"}}} for the UTC months of [start, end), from one cost-explorer read
    grouped by service category (so each month's total is the explorer's own)."""
    result = cost_explorer(ExplorerQuery(start=start, end=end, group_by="category", granularity="month"))
    out: dict[dt.date, dict[str, dict[str, Decimal]]] = {}
    for point in result.series:
        slot = out.setdefault(_month_key(point["period"]), {}).setdefault(
            point["currency"], {"total": ZERO, "ai": ZERO}
        )
        slot["total"] += point["amount"]
        if point["key"] == AI_CATEGORY:
            slot["ai"] += point["amount"]
    return out


def ai_spend(period: ReportPeriod) -> Decimal:
    """The month's AI spend in the reporting currency (unrounded): the figure the spend section shows as "ai" and
    the value section divides by."""
    month = monthly_spend(period.month, period.next).get(period.month, {})
    return month.get(period.currency, {}).get("ai", ZERO)


# --- the section ------------------------------------------------------------------------------------------


def _share(part: Decimal, whole: Decimal) -> str | None:
    return ratio(part * 100 / whole) if whole > 0 else None


def _explorer_url(period: ReportPeriod, **params) -> str:
    query = {"from": period.month.isoformat(), "to": period.last_day.isoformat(), **params}
    return f"/c/{period.client_slug}/finops/?{urlencode(query)}"


def _in_currency(groups: list[dict], currency: str) -> list[dict]:
    return [g for g in groups if g["currency"] == currency]


def _budgets(period: ReportPeriod, total: Decimal) -> dict:
    statuses = budget_statuses(budgets_list(), month=period.month, with_crossings=False)
    rows, client_amount, all_amount, client_budgets = [], ZERO, ZERO, 0
    for status in statuses:
        budget = status.budget
        active = budget.active
        if active and budget.currency == period.currency:
            all_amount += status.amount
            if budget.scope == budget.Scope.CLIENT:
                client_amount += status.amount
                client_budgets += 1
        rows.append(
            {
                "id": budget.pk,
                "name": budget.name,
                "scope": budget.scope_label,
                "currency": budget.currency,
                "amount": money(status.amount),
                "actual": money(status.actual),
                "percent_used": ratio(status.percent_used),
                "forecast": money(status.forecast.forecast),
                "state": status.state,
                "state_label": status.state_label,
                "url": f"/c/{period.client_slug}/finops/budgets/{budget.pk}/?month={period.month:%Y-%m}",
            }
        )
    has_client_budget = client_budgets > 0
    return {
        "budget_total": money(client_amount) if has_client_budget else None,
        "budget_variance": money(total - client_amount) if has_client_budget else None,
        "budget_used_percent": _share(total, client_amount) if has_client_budget else None,
        "budgets_amount_total": money(all_amount),
        "budgets_over": sum(1 for s in statuses if s.state == "over"),
        "budgets": rows,
    }


def _departments(period: ReportPeriod, total: Decimal) -> dict:
    result = cost_explorer(ExplorerQuery(start=period.month, end=period.next, group_by="department"))
    groups = _in_currency(result.groups, period.currency)
    ids = [g["key"] for g in groups if g["key"] is not None]
    names = dict(Department.objects.filter(pk__in=ids).values_list("pk", "name"))
    rows, allocated = [], ZERO
    for group in groups:
        key = group["key"]
        if key is not None:
            allocated += group["amount"]
        rows.append(
            {
                "id": key,
                "name": (names.get(key, f"Deleted department #{key}") if key is not None else "No department"),
                "amount": money(group["amount"]),
                "share_percent": _share(group["amount"], total),
                "url": _explorer_url(period, department=key, group="service")
                if key is not None
                else _explorer_url(period, group="department"),
            }
        )
    return {
        "departments": rows,
        "allocated_total": money(allocated),
        "unallocated_total": money(total - allocated),
        "allocated_percent": _share(allocated, total),
    }


def _assets(period: ReportPeriod, total: Decimal) -> dict:
    result = cost_explorer(ExplorerQuery(start=period.month, end=period.next, group_by="asset"))
    groups = [g for g in _in_currency(result.groups, period.currency) if g["key"] is not None]
    top = groups[:TOP_ASSETS]
    found = {a["pk"]: a for a in Asset.objects.filter(pk__in=[g["key"] for g in top]).values("pk", "name", "kind")}
    kinds = dict(Asset._meta.get_field("kind").choices)
    rows = []
    for group in top:
        asset = found.get(group["key"], {})
        rows.append(
            {
                "id": group["key"],
                "name": asset.get("name", f"Deleted asset #{group['key']}"),
                "kind": kinds.get(asset.get("kind"), asset.get("kind", "")),
                "amount": money(group["amount"]),
                "share_percent": _share(group["amount"], total),
                "url": _explorer_url(period, asset=group["key"], group="service"),
            }
        )
    return {"top_assets": rows, "asset_count": len(groups)}


def build(period: ReportPeriod) -> dict:
    currency = period.currency
    by_provider = cost_explorer(ExplorerQuery(start=period.month, end=period.next, group_by="provider"))
    total = by_provider.totals.get(currency, ZERO)  # the explorer's own total: the reconciliation figure

    history = monthly_spend(period.year_ago, period.next)

    def month_of(month: dt.date) -> dict[str, Decimal]:
        return history.get(month, {}).get(currency, {"total": ZERO, "ai": ZERO})

    this = month_of(period.month)
    ai = this["ai"]
    last_month = month_of(period.previous)["total"]
    year_ago = month_of(period.year_ago)["total"]
    other_currencies = [
        {"currency": code, "total": money(amount), "ai": money(history.get(period.month, {}).get(code, {}).get("ai"))}
        for code, amount in sorted(by_provider.totals.items())
        if code != currency and amount
    ]
    trend = []
    for month in period.months_back(12):
        figures = month_of(month)
        trend.append(
            {
                "month": f"{month:%Y-%m}",
                "total": money(figures["total"]),
                "ai": money(figures["ai"]),
                "other": money(figures["total"] - figures["ai"]),
            }
        )
    providers = [
        {"name": g["key"] or "(not set)", "amount": money(g["amount"]), "share_percent": _share(g["amount"], total)}
        for g in _in_currency(by_provider.groups, currency)
    ]
    data = {
        "currency": currency,
        "first_day": period.month.isoformat(),
        "last_day": period.last_day.isoformat(),
        "has_spend": bool(by_provider.totals),
        "total": money(total),
        "ai": money(ai),
        "other": money(total - ai),
        "ai_share_percent": _share(ai, total),
        "other_currencies": other_currencies,
        "last_month_total": money(last_month),
        "vs_last_month_change": money(total - last_month),
        "vs_last_month_percent": percent_change(total, last_month),
        "year_ago_total": money(year_ago),
        "vs_year_ago_change": money(total - year_ago),
        "vs_year_ago_percent": percent_change(total, year_ago),
        **_budgets(period, total),
        **_departments(period, total),
        **_assets(period, total),
        "providers": providers,
        "trend": trend,
        "explorer_url": _explorer_url(period, group="service", granularity="day"),
    }
    data["charts"] = _charts(data, period)
    return data


def _charts(data: dict, period: ReportPeriod) -> list[dict]:
    currency = data["currency"]
    charts = [
        {
            "id": "spend-trend",
            "title": f"Monthly spend, last 12 months ({currency})",
            "description": (
                f"Stacked bars of each month's spend in {currency}, AI and machine learning services and other cloud "
                f"services, from {data['trend'][0]['month']} to {data['trend'][-1]['month']}; {period.label} totals "
                f"{data['total']} {currency}, of which {data['ai']} is AI."
            ),
            "kind": "stacked",
            "x": [row["month"] for row in data["trend"]],
            "monthly": True,
            "unit": currency,
            "series": [
                {
                    "name": "AI and machine learning",
                    "values": [row["ai"] for row in data["trend"]],
                    "colour": AI_COLOUR,
                },
                {"name": "Other cloud", "values": [row["other"] for row in data["trend"]], "colour": OTHER_COLOUR},
            ],
        }
    ]
    if data["departments"]:
        charts.append(
            {
                "id": "spend-departments",
                "title": f"Spend by department, {period.label} ({currency})",
                "description": "Bars of each department's allocated spend: "
                + "; ".join(f"{d['name']} {d['amount']} {currency}" for d in data["departments"])
                + ".",
                "kind": "bar",
                "x": [d["name"] for d in data["departments"]],
                "unit": currency,
                "series": [{"name": "Spend", "values": [d["amount"] for d in data["departments"]]}],
            }
        )
    return charts


def highlights(data: dict, period: ReportPeriod) -> list[dict]:
    """At most three: the month's total, a material move on last month (10 % or more), and the budget."""
    out = []
    currency = data["currency"]
    if Decimal(data["total"]) != 0:
        out.append(
            {
                "text": f"AI and cloud spend came to {say_money(data['total'], currency)} this month.",
                "figure": "spend.total",
                "tone": "neutral",
            }
        )
    change = data.get("vs_last_month_percent")
    if change is not None and abs(Decimal(change)) >= MATERIAL_CHANGE_PERCENT:
        up = Decimal(change) > 0
        out.append(
            {
                "text": f"Spend {'rose' if up else 'fell'} {say_percent(change)} compared with last month.",
                "figure": "spend.vs_last_month_percent",
                "tone": "bad" if up else "good",
            }
        )
    used = data.get("budget_used_percent")
    if used is not None:
        over = Decimal(used) >= 100
        text = (
            f"Spend went over the monthly budget, using {say_percent(used)} of it."
            if over
            else f"Spend stayed within the monthly budget, using {say_percent(used)} of it."
        )
        out.append({"text": text, "figure": "spend.budget_used_percent", "tone": "bad" if over else "good"})
    return out
