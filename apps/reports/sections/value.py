"""Value and ROI: what the month's AI returned — time saved (valued at the loaded hourly rate), cost avoided and
errors avoided — against its AI spend and the MSP's retainer.

Inputs: ValueSettings (the loaded hourly rate and where it comes from) and one ValueDriver per business unit
(minutes per unit without and with AI, error rates before and now, and the basis of those figures), entered by
the account manager on /c/<slug>/reports/value/. Volumes are the units Keel counted for the month (the same
counts as the unit economics section, apps.unit_economics.selectors.units_overview).

Formulas (Decimal throughout; money rounded once, when stored):
    time_saved_hours (a driver) = units × (baseline_minutes − assisted_minutes) ÷ 60; the total is their sum
    value                      = total time_saved_hours × loaded_hourly_rate (None while no rate is set)
    cost_avoided               = realised savings of implemented recommendations in the month
                                 (recommendations.realised_for_month, measured)
                                 + the projected burn of runaways stopped in the month
                                 (anomalies.runaway_avoided: the lower of projected_24h and the peak projection,
                                 estimated)
    error_reduction_percent    = (baseline_error_rate − current_error_rate) ÷ baseline_error_rate × 100 per driver;
                                 overall: Σ units × (baseline − current) ÷ Σ units × baseline over drivers with both
    errors_avoided (a driver)  = units × (baseline_error_rate − current_error_rate) ÷ 100
    ai_cost                    = the month's AI spend (spend.ai_spend, the spend section's "ai")
    roi_percent                = (value + cost_avoided − ai_cost) ÷ ai_cost × 100
    net_value                  = value + cost_avoided − ai_cost − retainer
    value_multiple             = (value + cost_avoided) ÷ (ai_cost + retainer)
ROI, net value and the multiple need the value (drivers and a rate); ROI also needs AI spend above zero.
Only the reporting currency counts; cost avoided in other currencies is listed, not converted.

Bases: units, AI cost and realised savings are measured (Keel's own counts and ledger); minutes and error rates
carry their driver's basis; the runaway burn avoided is estimated; a total carries the least certain basis of
its parts (self-reported < estimated < measured).

Data (money with two decimals, hours and percentages with one, minutes with two; None when not computable):
    currency, retainer, inputs_url, has_drivers, rate_set, rate, rate_basis, empty_message
    drivers       [{unit_id, unit_code, unit_name, unit_label, plural, units, baseline_minutes, assisted_minutes,
                    minutes_saved_per_unit, time_saved_hours, value, baseline_error_rate, current_error_rate,
                    error_reduction_percent, errors_avoided, basis, basis_label, note}]
    time_saved_hours, time_saved_basis, value, value_basis
    realised_savings, runaway_avoided, runaway_stopped_count, cost_avoided, cost_avoided_basis,
    cost_avoided_other_currencies [{currency, amount}]
    error_reduction_percent, errors_avoided, error_basis
    ai_cost, roi_percent, roi_basis, net_value, value_multiple
    basis_labels  {basis: word} for the labels ("self_reported" → "self-reported")
    method        the formulas above in plain words, for the report's method box
    charts        value, cost avoided, AI spend and retainer side by side
"""

from __future__ import annotations

from decimal import Decimal

from apps.unit_economics.selectors import units_overview

from ..models import ValueDriver, ValueSettings
from ..period import ReportPeriod, money, ratio
from .anomalies import runaway_avoided
from .recommendations import realised_for_month
from .spend import ai_spend, say_money, say_percent

KEY = "value"
TITLE = "Value and ROI"

ZERO = Decimal(0)
SIXTY = Decimal(60)
HUNDRED = Decimal(100)
CERTAINTY = {"measured": 2, "estimated": 1, "self_reported": 0}  # the weakest basis labels a total
BASIS_LABELS = dict(ValueDriver.Basis.choices)
BASIS_WORDS = {"measured": "measured", "estimated": "estimated", "self_reported": "self-reported"}


def weakest(*bases: str | None) -> str:
    present = [b for b in bases if b]
    return min(present, key=lambda b: CERTAINTY.get(b, 0)) if present else "measured"


def inputs_url(period: ReportPeriod) -> str:
    return f"/c/{period.client_slug}/reports/value/"


def _settings() -> ValueSettings | None:
    return ValueSettings.objects.order_by("pk").first()


def _driver_rows(drivers: list[ValueDriver], period: ReportPeriod, rate: Decimal | None) -> list[dict]:
    overview = {o.unit.pk: o for o in units_overview([d.unit for d in drivers], period.month)}
    rows = []
    for driver in drivers:
        unit = driver.unit
        units = overview[unit.pk].current.units
        count = Decimal(units or 0)
        saved_minutes = driver.baseline_minutes - driver.assisted_minutes
        hours = count * saved_minutes / SIXTY
        reduction = errors = None
        if driver.baseline_error_rate is not None and driver.current_error_rate is not None:
            drop = driver.baseline_error_rate - driver.current_error_rate
            errors = count * drop / HUNDRED
            if driver.baseline_error_rate > 0:
                reduction = drop * HUNDRED / driver.baseline_error_rate
        rows.append(
            {
                "unit_id": unit.pk,
                "unit_code": unit.code,
                "unit_name": unit.name,
                "unit_label": unit.unit_label,
                "plural": unit.plural,
                "units": units,
                "baseline_minutes": ratio(driver.baseline_minutes, 2),
                "assisted_minutes": ratio(driver.assisted_minutes, 2),
                "minutes_saved_per_unit": ratio(saved_minutes, 2),
                "time_saved_hours": ratio(hours),
                "value": money(hours * rate) if rate is not None else None,
                "baseline_error_rate": ratio(driver.baseline_error_rate, 2),
                "current_error_rate": ratio(driver.current_error_rate, 2),
                "error_reduction_percent": ratio(reduction),
                "errors_avoided": ratio(errors),
                "basis": driver.basis,
                "basis_label": BASIS_LABELS.get(driver.basis, driver.basis),
                "note": driver.note,
                # exact figures for the totals; removed before the data is returned
                "_hours": hours,
                "_errors": (count * driver.baseline_error_rate / HUNDRED, errors) if errors is not None else None,
            }
        )
    return rows


def build(period: ReportPeriod) -> dict:
    currency = period.currency
    settings = _settings()
    rate_value = settings.loaded_hourly_rate if settings is not None else ZERO
    rate = rate_value if rate_value > 0 else None  # no rate yet: time saved is shown, its value is not
    drivers = list(ValueDriver.objects.select_related("unit__department", "unit__asset").order_by("unit__name"))
    rows = _driver_rows(drivers, period, rate)

    hours = sum((r.pop("_hours") for r in rows), ZERO)
    error_parts = [p for p in (r.pop("_errors") for r in rows) if p is not None]
    errors_before = sum((before for before, _avoided in error_parts), ZERO)
    errors_avoided = sum((avoided for _before, avoided in error_parts), ZERO)
    value = hours * rate if (rate is not None and rows) else None
    time_basis = weakest(*(r["basis"] for r in rows)) if rows else None
    error_basis = (
        weakest(*(r["basis"] for r in rows if r["error_reduction_percent"] is not None)) if error_parts else None
    )

    realised = realised_for_month(period)
    stopped = runaway_avoided(period)
    cost_avoided = realised["total"] + stopped["total"]
    others: dict[str, Decimal] = {}
    for source in (realised["others"], stopped["others"]):
        for code, amount in source.items():
            others[code] = others.get(code, ZERO) + amount
    cost_basis = "estimated" if stopped["total"] else "measured"

    ai_cost = ai_spend(period)
    retainer = period.retainer
    roi = net = multiple = None
    if value is not None:
        returned = value + cost_avoided
        if ai_cost > 0:
            roi = (returned - ai_cost) * HUNDRED / ai_cost
        net = returned - ai_cost - retainer
        spent = ai_cost + retainer
        if spent > 0:
            multiple = returned / spent
    data = {
        "currency": currency,
        "retainer": money(retainer),
        "inputs_url": inputs_url(period),
        "has_drivers": bool(rows),
        "rate_set": rate is not None,
        "rate": money(rate) if rate is not None else None,
        "rate_basis": settings.rate_basis if settings is not None else "",
        "empty_message": None
        if rows
        else (
            "No value inputs yet: the account manager enters the client's loaded hourly rate and, for each "
            "business unit, the minutes one unit takes without and with AI (and its error rates) on the value "
            f"inputs page, {inputs_url(period)}. Until then the time saved and ROI are not computed."
        ),
        "drivers": rows,
        "time_saved_hours": ratio(hours),
        "time_saved_basis": time_basis,
        "value": money(value) if value is not None else None,
        "value_basis": time_basis,
        "realised_savings": money(realised["total"]),
        "runaway_avoided": money(stopped["total"]),
        "runaway_stopped_count": stopped["count"],
        "cost_avoided": money(cost_avoided),
        "cost_avoided_basis": cost_basis,
        "cost_avoided_other_currencies": [{"currency": c, "amount": money(v)} for c, v in sorted(others.items())],
        "error_reduction_percent": ratio(errors_avoided * HUNDRED / errors_before) if errors_before > 0 else None,
        "errors_avoided": ratio(errors_avoided) if error_parts else None,
        "error_basis": error_basis,
        "ai_cost": money(ai_cost),
        "roi_percent": ratio(roi),
        "roi_basis": weakest(time_basis, cost_basis) if roi is not None else None,
        "net_value": money(net) if net is not None else None,
        "value_multiple": ratio(multiple, 2),
        "basis_labels": BASIS_WORDS,
        "method": _method(period, rate, settings.rate_basis if settings is not None else ""),
    }
    data["charts"] = _charts(data, period)
    return data


def _method(period: ReportPeriod, rate: Decimal | None, basis: str) -> str:
    currency = period.currency
    rate_text = (
        f"the loaded hourly rate of {money(rate)} {currency}" + (f" ({basis})" if basis else "")
        if rate is not None
        else "the loaded hourly rate (not entered yet, so no value is shown)"
    )
    return (
        "Time saved is, for each business unit, the units Keel counted this month × (minutes per unit without AI − "
        "minutes with AI) ÷ 60; the minutes are the client's own figures, labelled with their basis. "
        f"Value is the time saved × {rate_text}. "
        "Cost avoided is the saving measured this month from the ledger on the recommendations already "
        "implemented, plus the spend avoided by stopping runaway AI usage: for each runaway stopped by its "
        "kill-switch this month, the lower of Keel's two projections of the next 24 hours (the pace of its last "
        "five minutes and of its peak minute, each × 1,440) — the conservative estimate. "
        "Error reduction is (error rate before AI − error rate now) ÷ error rate before AI, weighted by the units "
        "for the total. AI cost is this month's spend on AI and machine learning services, as in the spend "
        "section. ROI = (value + cost avoided − AI cost) ÷ AI cost. Net value = value + cost avoided − AI cost − "
        f"the MSP retainer ({money(period.retainer)} {currency}); the value multiple = (value + cost avoided) ÷ "
        "(AI cost + retainer): above 1, the AI programme and its managed service returned more than they cost. "
        "Only amounts in the reporting currency are counted. Self-reported savings tend to overstate."
    )


def _charts(data: dict, period: ReportPeriod) -> list[dict]:
    if data["value"] is None:
        return []
    currency = data["currency"]
    labels = ["Value of time saved", "Cost avoided", "AI spend", "MSP retainer"]
    values = [data["value"], data["cost_avoided"], data["ai_cost"], data["retainer"]]
    return [
        {
            "id": "value-vs-cost",
            "title": f"What AI returned and what it cost, {period.label} ({currency})",
            "description": "Bars: "
            + "; ".join(f"{label} {value} {currency}" for label, value in zip(labels, values, strict=True))
            + ".",
            "kind": "bar",
            "x": labels,
            "unit": currency,
            "series": [{"name": period.label, "values": values}],
        }
    ]


def highlights(data: dict, period: ReportPeriod) -> list[dict]:
    """The hours saved, the ROI and the error reduction, when there are inputs to compute them."""
    out = []
    currency = data["currency"]
    hours = data.get("time_saved_hours")
    if data.get("has_drivers") and hours is not None and Decimal(hours) > 0:
        out.append(
            {
                "text": f"AI saved the team about {Decimal(hours):,} hours of work this month.",
                "figure": "value.time_saved_hours",
                "tone": "good",
            }
        )
    roi = data.get("roi_percent")
    if roi is not None:
        positive = Decimal(roi) >= 0
        out.append(
            {
                "text": (
                    f"AI returned {say_percent(roi)} more than it cost this month."
                    if positive
                    else f"AI fell {say_percent(roi)} short of paying for itself this month."
                ),
                "figure": "value.roi_percent",
                "tone": "good" if positive else "bad",
            }
        )
    elif data.get("value") is None and Decimal(data.get("cost_avoided") or 0) > 0:
        out.append(
            {
                "text": f"Keel's findings avoided {say_money(data['cost_avoided'], currency)} of spend this month.",
                "figure": "value.cost_avoided",
                "tone": "good",
            }
        )
    reduction = data.get("error_reduction_percent")
    if reduction is not None and Decimal(reduction) > 0:
        out.append(
            {
                "text": f"Errors fell {say_percent(reduction)} against the level before AI.",
                "figure": "value.error_reduction_percent",
                "tone": "good",
            }
        )
    return out
