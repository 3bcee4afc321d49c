"""Reads of the incident register: incidents with what the pages and the API show, each obligation's clock as
people should read it ("due in 5 h 12 min", "overdue by 2 h"), and the regimes Keel suggests for an incident."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.exceptions import FieldDoesNotExist
from django.db import DatabaseError, transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from .models import AIIncident, IncidentEvent, IncidentKind, IncidentSettings, IncidentStatus, Obligation
from .regimes import SOFT_DEADLINES, Regime, Report, load_regimes

# Kinds that are ICT incidents under DORA and candidate significant incidents under NIS2.
ICT_KINDS = {IncidentKind.OUTAGE, IncidentKind.SECURITY, IncidentKind.DATA_LEAK, IncidentKind.COST_RUNAWAY}
# Kinds that can be serious incidents under the AI Act (harm to people, fundamental rights, critical services).
AI_ACT_KINDS = {IncidentKind.HALLUCINATION_HARM, IncidentKind.UNSAFE_ACTION, IncidentKind.BIAS, IncidentKind.OUTAGE}
FINANCIAL_WORDS = (
    "bank",
    "lend",
    "credit",
    "fintech",
    "payment",
    "insur",
    "invest",
    "asset manag",
    "broker",
    "trading",
    "securities",
    "pension",
    "e-money",
    "crypto",
)
EU_REGIONS = {
    "eu",
    "at",
    "be",
    "bg",
    "hr",
    "cy",
    "cz",
    "dk",
    "ee",
    "fi",
    "fr",
    "de",
    "gr",
    "hu",
    "ie",
    "it",
    "lv",
    "lt",
    "lu",
    "mt",
    "nl",
    "pl",
    "pt",
    "ro",
    "sk",
    "si",
    "es",
    "se",
}
STATUS_FILTERS = {
    "active": list(AIIncident.ACTIVE),
    "all": None,
    **{status: [status] for status in IncidentStatus.values},
}
FINAL_LEAD = dt.timedelta(hours=2)
SHORT_WINDOW = dt.timedelta(hours=8)  # shorter windows warn at 25 % left instead of 2 h before


# --- the client and its settings -----------------------------------------------------------------------------


def current_client():
    from apps.tenancy.selectors import current_client as tenancy_current_client

    return tenancy_current_client()


def client_zone(client=None) -> ZoneInfo:
    client = client or current_client()
    return ZoneInfo(client.time_zone) if client is not None else ZoneInfo("UTC")


def is_eu_region(region: str) -> bool:
    region = (region or "").strip().lower()
    return region in EU_REGIONS or region.startswith(("eu-", "eu_", "europe"))


def looks_financial(industry: str) -> bool:
    industry = (industry or "").lower()
    return any(word in industry for word in FINANCIAL_WORDS)


def default_settings(client) -> IncidentSettings:
    """What Keel assumes before anyone has looked: an EU client in a financial industry is a DORA entity."""
    financial = client is not None and looks_financial(client.industry) and is_eu_region(client.data_residency_region)
    return IncidentSettings(pk=1, dora_financial_entity=financial)


def incident_settings(client=None) -> IncidentSettings:
    """The saved settings, or the guessed defaults (unsaved: reading never writes)."""
    found = IncidentSettings.objects.filter(pk=1).first()
    return found if found is not None else default_settings(client or current_client())


# --- incidents -----------------------------------------------------------------------------------------------


def _obligations():
    return Obligation.objects.order_by("regime", "position", "id")


def incidents_list(*, status: str = "all", kind: str = "", severity: str = "", regime: str = "", q: str = ""):
    """Incidents with their assets and obligations, newest awareness first, in a fixed number of queries."""
    incidents = AIIncident.objects.prefetch_related(
        "assets", Prefetch("obligations", queryset=_obligations())
    ).order_by("-aware_at", "-id")
    statuses = STATUS_FILTERS.get(status or "all")
    if statuses:
        incidents = incidents.filter(status__in=statuses)
    if kind:
        incidents = incidents.filter(kind=kind)
    if severity:
        incidents = incidents.filter(severity=severity)
    if regime:
        incidents = incidents.filter(regimes__contains=[regime])
    if q:
        incidents = incidents.filter(Q(title__icontains=q) | Q(description__icontains=q) | Q(source_label__icontains=q))
    return incidents


def incident_get(pk) -> AIIncident | None:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return incidents_list().filter(pk=pk).first()


def incident_for_source(source_kind: str, source_id: int) -> AIIncident | None:
    return AIIncident.objects.filter(source_kind=source_kind, source_id=source_id).first()


def timeline(incident: AIIncident):
    return IncidentEvent.objects.filter(incident=incident).order_by("at", "id")


# --- clocks --------------------------------------------------------------------------------------------------


def span(delta: dt.timedelta) -> str:
    """A duration for people: "3 days 4 h", "5 h 12 min", "12 min", "under a minute"."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    if minutes:
        return f"{minutes} min"
    return "under a minute"


def final_lead(window: dt.timedelta) -> dt.timedelta:
    """How long before the deadline the 'deadline close' alert fires: 2 h, or a quarter of a short window."""
    return FINAL_LEAD if window > SHORT_WINDOW else window / 4


@dataclass
class Clock:
    """One obligation as the clocks table shows it."""

    obligation: Obligation
    regime: Regime | None
    report: Report | None
    state: str  # waiting, running, due_soon, overdue, soft, on_request, record, submitted, not_required
    label: str
    chip: str
    remaining: dt.timedelta | None = None
    used_percent: int | None = None

    @property
    def regime_name(self) -> str:
        return self.regime.short_name if self.regime else self.obligation.regime

    @property
    def report_name(self) -> str:
        return self.report.name if self.report else self.obligation.report

    @property
    def t0_text(self) -> str:
        return self.report.t0_label(self.regime) if self.report else self.obligation.t0_event

    @property
    def is_open(self) -> bool:
        return self.obligation.status == Obligation.Status.PENDING

    @property
    def urgent(self) -> bool:
        return self.state in ("due_soon", "overdue")

    @property
    def sort_key(self) -> tuple:
        order = {"overdue": 0, "due_soon": 1, "running": 2, "soft": 3, "record": 4, "waiting": 5, "on_request": 6}
        due = self.obligation.due_at or dt.datetime.max.replace(tzinfo=dt.UTC)
        return (order.get(self.state, 9), due, self.obligation.pk)


def clock_for(obligation: Obligation, *, now: dt.datetime | None = None) -> Clock:
    now = now or timezone.now()
    book = load_regimes()
    regime = book.get(obligation.regime)
    try:
        report = regime.report(obligation.report) if regime else None
    except KeyError:
        report = None

    def make(state, label, chip, **extra):
        return Clock(obligation, regime, report, state, label, chip, **extra)

    if obligation.status == Obligation.Status.SUBMITTED:
        when = timezone.localtime(obligation.submitted_at) if obligation.submitted_at else None
        text = f"submitted {when:%-d %b %H:%M}" if when else "submitted"
        if obligation.submissions > 1:
            text += f" ({obligation.submissions} submissions)"
        return make("submitted", text, "chip-ok")
    if obligation.status == Obligation.Status.NOT_REQUIRED:
        if obligation.due_kind == "on_request" and obligation.t0_at is None:
            return make("on_request", "only if the authority asks", "chip-muted")
        return make("not_required", "not required", "chip-muted")
    if obligation.due_kind == "on_request":
        if obligation.t0_at is not None:
            asked = timezone.localtime(obligation.t0_at)
            return make("soft", f"asked for on {asked:%-d %b %H:%M}: no fixed deadline", "sev-medium")
        return make("on_request", "only if the authority asks", "chip-muted")
    if obligation.t0_at is None:
        waiting = f"starts at {report.t0_label(regime).lower()}" if report else "waiting for its start event"
        return make("waiting", waiting, "chip-muted")
    if obligation.due_kind in SOFT_DEADLINES:
        label = SOFT_DEADLINES[obligation.due_kind].lower()
        if report and report.kind == "record":
            return make("record", f"{label}: make the record", "sev-medium")
        return make("soft", label, "sev-medium")
    if obligation.due_at is None:
        return make("waiting", "no due time", "chip-muted")
    remaining = obligation.due_at - now
    window = obligation.due_at - obligation.t0_at
    used = None
    if window.total_seconds() > 0:
        used = max(0, min(100, round(100 * (now - obligation.t0_at) / window)))
    if remaining.total_seconds() <= 0:
        return make("overdue", f"overdue by {span(remaining)}", "sev-critical", remaining=remaining, used_percent=100)
    if remaining <= final_lead(window):
        return make("due_soon", f"due in {span(remaining)}", "sev-high", remaining=remaining, used_percent=used)
    chip = "sev-medium" if used is not None and used >= 50 else "sev-low"
    return make("running", f"due in {span(remaining)}", chip, remaining=remaining, used_percent=used)


def clocks_for(incident: AIIncident, *, now: dt.datetime | None = None) -> list[Clock]:
    """The incident's obligations in file order (prefetched by incidents_list)."""
    now = now or timezone.now()
    return [clock_for(o, now=now) for o in incident.obligations.all()]


def open_clocks(incidents, *, now: dt.datetime | None = None) -> list[tuple[AIIncident, Clock]]:
    """Every pending obligation of the given incidents, most urgent first: the list page's "what is due when"."""
    now = now or timezone.now()
    found = []
    for incident in incidents:
        for clock in clocks_for(incident, now=now):
            if clock.is_open and clock.state != "on_request":
                found.append((incident, clock))
    return sorted(found, key=lambda pair: pair[1].sort_key)


# --- suggestions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    regime: Regime
    reason: str


def enabled_framework_refs() -> set[str]:
    """Framework refs enabled in the compliance register (apps.compliance, built separately: tolerated absent)."""
    try:
        from apps.compliance.models import ClientFramework
    except ImportError:
        return set()
    try:
        ClientFramework._meta.get_field("framework")
    except FieldDoesNotExist:
        return set()
    try:
        with transaction.atomic():  # a savepoint: a missing table must not break the caller's transaction
            return set(ClientFramework.objects.values_list("framework__ref", flat=True))
    except DatabaseError:
        return set()


def suggest_regimes(
    *,
    kind: str,
    personal_data: bool,
    assets=(),
    client=None,
    settings: IncidentSettings | None = None,
    frameworks: set[str] | None = None,
) -> list[Suggestion]:
    """The regimes that probably apply, each with the reason; people decide (the clocks start only then)."""
    client = client or current_client()
    settings = settings or incident_settings(client)
    frameworks = enabled_framework_refs() if frameworks is None else frameworks
    region = (client.data_residency_region if client else "") or ""
    book = load_regimes()
    reasons: dict[str, str] = {}

    def add(regime_id: str, reason: str):
        if book.get(regime_id) and regime_id not in reasons:
            reasons[regime_id] = reason

    if personal_data:
        if is_eu_region(region):
            add("gdpr-art33-34", f"Personal data is involved and the client's data residency is {region.upper()}.")
        if region.lower().startswith("ca"):
            add("pipeda-s10-1", "Personal data is involved and the client's data residency is Canada.")
    if kind in ICT_KINDS and settings.dora_financial_entity:
        add("dora-art19", "An ICT-related incident at an EU financial entity (incident settings).")
    if kind in ICT_KINDS and settings.nis2_entity:
        add("nis2-art23", "The client is an essential or important entity under NIS2 (incident settings).")
    high_risk = [a for a in assets if getattr(a, "risk_tier", "") == "high"]
    if kind in AI_ACT_KINDS and high_risk:
        names = ", ".join(a.name for a in high_risk[:3])
        add("eu-ai-act-art73", f"A high-risk AI system is affected ({names}): a serious incident must be reported.")
    for regime in book.regimes:
        enabled = sorted(set(regime.frameworks) & frameworks)
        if enabled:
            add(regime.id, f"{', '.join(enabled)} is enabled in the compliance register.")
    return [Suggestion(book.get(regime_id), reason) for regime_id, reason in reasons.items()]


def suggestions_for(incident: AIIncident, *, client=None, settings=None) -> list[Suggestion]:
    return suggest_regimes(
        kind=incident.kind,
        personal_data=incident.personal_data,
        assets=list(incident.assets.all()),
        client=client,
        settings=settings,
    )
