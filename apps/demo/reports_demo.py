"""Demo monthly reports (the last step): each demo client's value inputs, then its last three whole months of
executive reports, issued the way the account manager issues them, and the console brought up to date.

- Value inputs (apps.reports.value_services, audited, as the account manager): a loaded hourly rate in the
  client's currency with where it comes from, and a value driver for the business unit the unit economics demo
  created — Acme's loan applications underwritten, Harbor's insurance claims processed, Maple's patient intakes.
- Reports: for Acme, Harbor and Maple, the three months before this one in the client's own calendar, oldest
  first: computed (trigger "demo"), a short commentary written from that month's own figures, reviewed and
  issued — which stores the PDF and, after the commit, emails it to the client's executives (one per client: Acme's
  CFO, and the executives this step adds for Harbor and Maple; every address is on example domains, RFC 2606, so
  no email can reach anyone even where a real mail server is configured). The internal workspace gets no report:
  it has no ledger, no business unit and no SLO, and no client executive to send it to.
- The console: the rollups of every demo client are recomputed at the end. The earlier steps only refresh them
  through alert changes, and that refresh keeps components (budget, SLOs, readiness, ingestion) computed less than
  ten minutes before, so the console would show a client as it was before its budgets, SLOs and frameworks existed.

A section that cannot be computed is a bug in the report, not something the demo hides: the step stops with the
section's error (the draft stays, and the next run recomputes it).

Idempotent: value inputs that exist are left as they are; a month with an issued report, or with a version someone
else opened (the monthly schedule's draft), is left alone; a version this step opened and did not finish is
recomputed and finished.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal

from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.roles import Role
from apps.core.context import acting_as

logger = logging.getLogger(__name__)

MANAGER = "am@northwind.example"
REPORTED = ("acme", "harbor", "maple")  # the internal workspace has nothing a monthly report would show
MONTHS = 3

# The executives each report is emailed to (Acme's CFO is created with the demo's logins).
EXECUTIVES = {
    "harbor": ("cdo@harbor.example", "Jordan Ellis"),
    "maple": ("cmo@maple.example", "Dr. Amara Osei"),
}

# Loaded hourly rate (salary + employer costs + overheads ÷ productive hours), in the reporting currency.
RATES = {
    "acme": (
        "62.00",
        "Credit analyst, Frankfurt: EUR 68k salary + 21 % employer contributions + 30 % overheads, "
        "over 1,650 productive hours (Acme HR, 2026 plan)",
    ),
    "harbor": (
        "52.00",
        "Claims handler, New York: USD 72k salary + 35 % benefits and payroll taxes, over 1,880 paid hours "
        "(Harbor finance, FY2026 budget)",
    ),
    "maple": (
        "38.40",
        "Medical office assistants and the RPNs who check intakes: CAD 52k average salary + 24 % benefits, "
        "over 1,680 worked hours (Maple payroll, 2026)",
    ),
}

# Per business unit (by its code, apps.demo.unit_economics_demo.UNITS): minutes one unit takes without and with
# AI, the error rates before and now, and how those were established.
DRIVERS = {
    "acme": {
        "loans": dict(
            baseline_minutes="14",
            assisted_minutes="10",
            baseline_error_rate="5.2",
            current_error_rate="3.4",
            basis="measured",
            note="Analyst minutes per file from the loan system's work-queue timestamps, Q2 2026 (before the "
            "copilot) against Q3 2026; errors are files the second-line QA sample sent back.",
        ),
    },
    "harbor": {
        "claims": dict(
            baseline_minutes="12",
            assisted_minutes="8",
            baseline_error_rate="6.8",
            current_error_rate="3.1",
            basis="measured",
            note="Time-and-motion study of 600 claims by claims operations (April 2026 by hand, July 2026 with "
            "the agent); errors are claims reassigned in ClaimCenter after routing.",
        ),
    },
    "maple": {
        "intakes": dict(
            baseline_minutes="11",
            assisted_minutes="5",
            baseline_error_rate="11",
            current_error_rate="6.5",
            basis="estimated",
            note="Timed by the clinic operations lead on 310 intakes at three clinics over two weeks (September "
            "2026); errors are intakes that needed a call-back for missing information.",
        ),
    },
}


class DemoReportError(RuntimeError):
    """A demo report has a section that could not be computed: a bug in that section, never in the demo."""


def report_months(client, now: dt.datetime | None = None) -> list[dt.date]:
    """The last MONTHS whole months in the client's calendar, oldest first (the latest is the month a report made
    now covers)."""
    from apps.reports.period import add_months
    from apps.reports.services import reportable_month

    latest = reportable_month((now or timezone.now()).astimezone(client.tz).date())
    return [add_months(latest, offset) for offset in range(1 - MONTHS, 1)]


# --- value inputs -------------------------------------------------------------------------------------------


def _value_inputs(slug: str) -> None:
    from apps.reports.models import ValueDriver, ValueSettings
    from apps.reports.value_services import value_driver_save, value_settings_save
    from apps.unit_economics.models import BusinessUnit

    if slug in RATES and not ValueSettings.objects.exists():
        rate, basis = RATES[slug]
        value_settings_save(loaded_hourly_rate=rate, rate_basis=basis)
    for code, fields in DRIVERS.get(slug, {}).items():
        unit = BusinessUnit.objects.filter(code=code).first()
        if unit is None or ValueDriver.objects.filter(unit=unit).exists():
            continue  # the unit economics demo did not run for this client, or the driver is in place
        value_driver_save(unit=unit, **fields)


# --- the commentary: the account manager's words, from the month's own figures ------------------------------

MATERIAL_PERCENT = Decimal(10)  # a move worth a sentence (the sections' own threshold)
AI_SHARE_FOR_MULTIPLE = Decimal(25)  # below it most of the AI runs on general compute, outside the "AI" spend


def _num(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _money(value, currency: str) -> str:
    return f"{Decimal(value):,.0f} {currency}"


def _exact(value, currency: str) -> str:
    return f"{Decimal(value):,.2f} {currency}"


def _day(iso: str) -> str:
    day = dt.date.fromisoformat(iso[:10])
    return f"{day.day} {day:%B}"


def _spend_sentence(spend: dict) -> str:
    currency = spend["currency"]
    total = _num(spend.get("total"))
    others = [o for o in spend.get("other_currencies", []) if _num(o["total"])]
    if not total:
        if not others:
            return f"Nothing was billed in {currency} this month."
        billed = " and ".join(
            f"{_money(o['total'], o['currency'])} this month, {_money(o['ai'], o['currency'])} of it on AI"
            for o in others
        )
        return (
            f"Your cloud and AI bills are in {', '.join(o['currency'] for o in others)}, so they sit beside the "
            f"{currency} figures rather than in them: {billed}."
        )
    parts = []
    change = _num(spend.get("vs_last_month_percent"))
    if change is not None and abs(change) >= MATERIAL_PERCENT:
        parts.append(f"{'up' if change > 0 else 'down'} {abs(change)} % on last month")
    elif change is not None:
        parts.append(f"level with last month ({change:+} %)")
    used = _num(spend.get("budget_used_percent"))
    if used is not None:
        parts.append(f"{used - 100} % over the monthly budget" if used > 100 else f"{used} % of the monthly budget")
    return f"Spend came to {_money(total, currency)}" + (", " + " and ".join(parts) if parts else "") + "."


def _runaway_sentence(anomalies: dict, incidents: dict) -> str:
    loop = anomalies["runaway_incidents"][0]
    sentence = (
        f"On {_day(loop['started_at'])} {loop['scope'].split(' ', 1)[-1]} ran away: Keel caught it within "
        f"{loop['detection_text']} and it was stopped after burning {_exact(loop['burned'], loop['currency'])}"
    )
    opened = [i for i in incidents.get("incidents", []) if i["severity"] in ("critical", "high")]
    if opened:
        sentence += f"; we run it as a {opened[0]['severity']} incident, now {opened[0]['status_label'].lower()}"
    return sentence + "."


def _breach_sentence(levels: dict) -> str:
    breach = levels["breaches"][0]
    sentence = f"“{breach['slo']}” was missed, at {breach['attained_percent']} % against {breach['target_percent']} %"
    if _num(breach.get("credit_amount")):
        sentence += f", so a service credit of {_exact(breach['credit_amount'], breach['currency'])} is due to you"
    drifted = [d for d in levels.get("drift", []) if d["significant"]]
    if drifted:
        drift = drifted[0]
        sentence += (
            f"; Keel's drift checks point to the cause: the {drift['asset']}'s {drift['feature']} input has "
            f"moved away from its reference (PSI {drift['value']})"
        )
    return sentence + "."


def _unit_sentence(units: dict, recommendations: dict) -> str:
    change = Decimal(units["biggest_change_percent"])
    sentence = f"The cost per {units['biggest_change_label']} {'rose' if change > 0 else 'fell'} {abs(change)} %"
    done = recommendations.get("implemented") or []
    if change < 0 and done:
        sentence += (
            f" after the {done[0]['kind_label'].lower()} change we put live on {_day(done[0]['implemented_on'])}"
        )
        if _num(done[0].get("realised")):
            sentence += f", which saved {_exact(done[0]['realised'], done[0]['currency'])} this month"
    return sentence + "."


def _event_sentence(data: dict) -> str:
    """The month's most telling event: a runaway caught, an SLO missed, a serious incident, a unit cost that
    moved, or the spikes caught; else the month's cost per unit."""
    sections = data["sections"]
    anomalies, levels, units = sections["anomalies"], sections["service_levels"], sections["unit_economics"]
    incidents = sections["incidents"]
    if anomalies.get("runaway_incidents"):
        return _runaway_sentence(anomalies, incidents)
    if levels.get("breaches"):
        return _breach_sentence(levels)
    serious = [i for i in incidents.get("incidents", []) if i["severity"] in ("critical", "high")]
    if serious:
        incident = serious[0]
        return (
            f"The month's serious incident: “{incident['title']}” ({incident['kind_label'].lower()}), opened on "
            f"{_day(incident['opened_on'])}, status: {incident['status_label'].lower()}."
        )
    change = _num(units.get("biggest_change_percent"))
    if change is not None and abs(change) >= MATERIAL_PERCENT:
        return _unit_sentence(units, sections["recommendations"])
    count = anomalies.get("anomaly_count") or 0
    if count and _num(anomalies.get("impact_total")):
        return (
            f"Keel caught {count} cost anomal{'y' if count == 1 else 'ies'}, which added at least "
            f"{_exact(anomalies['impact_total'], anomalies['currency'])} to the expected spend."
        )
    if units.get("headline_cost_per_unit"):
        return (
            f"A quiet month: each {units['headline_label']} cost {units['headline_cost_per_unit']} "
            f"{units['headline_currency']} in AI and cloud spend."
        )
    return ""


def _value_sentence(value: dict, spend: dict) -> str:
    hours, amount = _num(value.get("time_saved_hours")), _num(value.get("value"))
    if not hours:
        return ""
    sentence = f"AI saved your teams about {hours:,.0f} hours"
    if amount:
        sentence += f", worth {_money(amount, value['currency'])} at your loaded rate"
    multiple, share = _num(value.get("value_multiple")), _num(spend.get("ai_share_percent"))
    if multiple and share is not None and share >= AI_SHARE_FOR_MULTIPLE:
        sentence += f": {multiple} times what the AI and our service cost"
    return sentence + "."


def commentary_for(data: dict) -> str:
    """Three sentences an account manager would write — the spend, the month's event, the value — every figure
    taken from the report's own data. The value multiple is quoted only where AI services are a real share of the
    bill: where the AI runs on general compute (Maple's self-hosted model) or is billed in another currency
    (Acme), the "AI" spend the multiple divides by leaves most of it out."""
    spend, value = data["sections"]["spend"], data["sections"]["value"]
    parts = [_spend_sentence(spend), _event_sentence(data), _value_sentence(value, spend)]
    return " ".join(p for p in parts if p)


# --- the reports ------------------------------------------------------------------------------------------


def _failed(report) -> dict[str, str]:
    return {key: section["error"] for key, section in report.data["sections"].items() if "error" in section}


def _issue_month(client, month: dt.date):
    """The month's demo report, computed, commented, reviewed and issued; None when the month is someone else's."""
    from apps.reports.models import Report
    from apps.reports.services import (
        report_commentary_save,
        report_create,
        report_issue,
        report_recompute,
        report_review,
    )

    versions = Report.objects.filter(month=month)
    if versions.filter(status=Report.Status.ISSUED).exists():
        return None
    open_version = versions.filter(status__in=[Report.Status.DRAFT, Report.Status.REVIEWED]).first()
    if open_version is not None and open_version.trigger != Report.Trigger.DEMO:
        return None  # the monthly schedule's draft (or a person's): the account manager's to finish
    if open_version is not None:
        report = report_recompute(open_version)
    else:
        report = report_create(month=month, trigger=Report.Trigger.DEMO)
    failed = _failed(report)
    if failed:
        raise DemoReportError(
            f"{client.slug} {month:%B %Y}: the report's "
            + "; ".join(f"{key} section failed ({error})" for key, error in failed.items())
        )
    report = report_commentary_save(report, commentary=commentary_for(report.data))
    report = report_review(report)
    return report_issue(report)


def _executives(clients) -> None:
    from .services import _grant, _user

    for slug, (email, name) in EXECUTIVES.items():
        if slug in clients:
            _grant(_user(email, name), clients[slug], Role.CLIENT_EXECUTIVE)


def _refresh_console(clients) -> None:
    from apps.portfolio.services import client_rollup_refresh

    for client in clients.values():
        with tenant_context(client):
            client_rollup_refresh(components=True)


def demo_reports(clients) -> None:
    """The value inputs and the last three months of issued reports of each demo client, then the console."""
    started = time.monotonic()
    with acting_as(source="command", user_email="demo-loader"):
        _executives(clients)
    issued = 0
    for slug in REPORTED:
        client = clients.get(slug)
        if client is None:
            continue
        with tenant_context(client), acting_as(source="command", user_email=MANAGER):
            _value_inputs(slug)
            for month in report_months(client):
                issued += _issue_month(client, month) is not None
    with acting_as(source="command", user_email="demo-loader"):
        _refresh_console(clients)
    logger.info("demo reports: %s issued in %.1f s", issued, time.monotonic() - started)
