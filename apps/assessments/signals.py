"""Platform signals: what Keel already knows about one client, read as a maturity level 1..5 with the figures
behind it, so an assessment question can be prefilled ("Keel says 4, because …").

Every signal reads the current connection's schema (one client) plus the shared public tables it needs (users,
authenticators, the framework library). Each is a handful of aggregate queries and never writes: settings rows
that do not exist yet are read as their defaults instead of being created. A signal returns None when Keel has
no basis to say anything (no agents in the inventory: nothing to say about their kill switches).

Level rules are written once, as the constants below and each signal's description (shown in the portal).
Other apps are imported inside each reader: importing this module (the template library only wants the keys)
stays cheap and free of import cycles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

# --- thresholds -----------------------------------------------------------------------------------------------

# Shares (in %) banded the same way by every "share of X" signal: 100 → 5, ≥ 75 → 4, ≥ 50 → 3, > 0 → 2, 0 → 1.
SHARE_BANDS: tuple[tuple[int, int], ...] = ((100, 5), (75, 4), (50, 3))

BILLING_FRESH = dt.timedelta(hours=24)  # a connector pulls every 6 h by default: a day without success is late
BILLING_RECENT = dt.timedelta(days=7)
# Source statuses that mean the latest attempt did not work.
BILLING_FAILING_STATUSES = ("failing", "credentials", "retrying")

USAGE_RECENT = dt.timedelta(hours=24)

UNIT_RECENT_DAYS = 7  # UTC days: a unit counted within the last week is measured

STAFF_MFA_UNENFORCED_MAX_LEVEL = 3  # without enforcement a full share is luck, not a control

# Mean readiness (%) → level; below the first bound (and enabled) is 2. No framework enabled is 1.
READINESS_BANDS: tuple[tuple[Decimal, int], ...] = ((Decimal(90), 5), (Decimal(70), 4), (Decimal(40), 3))

SHADOW_SCAN_RECENT = dt.timedelta(days=7)
SHADOW_QUEUE_MAX_WAIT = dt.timedelta(days=7)

ANOMALY_SCAN_RECENT = dt.timedelta(hours=48)  # the scan runs every morning; two days allows one missed run


# --- interface ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalReading:
    key: str
    level: int  # 1..5
    summary: str  # one plain sentence with the figures
    source: str  # a label for the UI
    source_url: str  # relative to the client workspace (/c/<slug>/), "" if none
    observed: dict = field(default_factory=dict)  # raw figures, JSON-able

    def __post_init__(self):
        if not 1 <= self.level <= 5:
            raise ValueError(f"{self.key}: level {self.level} is not 1..5")


@dataclass(frozen=True)
class Signal:
    key: str
    label: str
    description: str
    read: Callable[[dt.datetime], SignalReading | None]


# --- helpers --------------------------------------------------------------------------------------------------


def share_level(part: int, whole: int) -> int:
    """The common banding of a share (integer arithmetic: 3 of 4 is exactly 75 %)."""
    if whole <= 0 or part <= 0:
        return 1
    for percent, level in SHARE_BANDS:
        if part * 100 >= percent * whole:
            return level
    return 2


def _percent(part: int, whole: int) -> Decimal | None:
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _pct_text(part: int, whole: int) -> str:
    value = _percent(part, whole)
    return "" if value is None else f"{value.quantize(Decimal(1), rounding=ROUND_HALF_UP)} %"


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment is not None else None


def _utc(moment: dt.datetime) -> str:
    """For summaries: minutes are enough for a person."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ago(moment: dt.datetime, now: dt.datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count:,} {singular if count == 1 else (plural or singular + 's')}"


def _client():
    from apps.tenancy.selectors import current_client

    return current_client()


def _hours(delta: dt.timedelta) -> int:
    return int(delta.total_seconds() // 3600)


# --- finops.billing_freshness ---------------------------------------------------------------------------------


def read_billing_freshness(now: dt.datetime) -> SignalReading:
    from apps.finops.models import BillingSource, SourceKind

    # Connectors: scheduled pulls the client set up. Live usage events are the token-monitoring signal's, and
    # FOCUS uploads are a manual fallback, judged only when nothing else is connected.
    connectors = (
        BillingSource.objects.filter(enabled=True)
        .exclude(kind__in=[SourceKind.USAGE_EVENTS, SourceKind.FOCUS_UPLOAD])
        .exclude(status=BillingSource.Status.PAUSED)
    )
    fresh_since, recent_since = now - BILLING_FRESH, now - BILLING_RECENT
    figures = connectors.aggregate(
        connected=Count("pk"),
        fresh=Count("pk", filter=Q(last_success_at__gte=fresh_since)),
        recent=Count("pk", filter=Q(last_success_at__gte=recent_since)),
        ingested=Count("pk", filter=Q(last_success_at__isnull=False)),
        failing=Count("pk", filter=Q(status__in=BILLING_FAILING_STATUSES)),
        latest=Max("last_success_at"),
    )
    last_upload = BillingSource.objects.filter(kind=SourceKind.FOCUS_UPLOAD).aggregate(at=Max("last_success_at"))["at"]
    connected, fresh, recent = figures["connected"], figures["fresh"], figures["recent"]
    ingested, failing, latest = figures["ingested"], figures["failing"], figures["latest"]
    observed = {
        "connected": connected,
        "fresh": fresh,
        "recent": recent,
        "ever_ingested": ingested,
        "failing": failing,
        "latest_success_at": _iso(latest),
        "last_upload_at": _iso(last_upload),
    }

    def reading(level: int, summary: str) -> SignalReading:
        return SignalReading("finops.billing_freshness", level, summary, "Billing sources", "finops/sources/", observed)

    if connected == 0:
        if last_upload is not None:
            return reading(
                2,
                f"No billing source connected; costs arrive only by FOCUS file upload "
                f"(last {_utc(last_upload)}, {_ago(last_upload, now)}).",
            )
        return reading(1, "No billing source connected.")
    if ingested == 0:
        return reading(1, f"{_plural(connected, 'billing source')} connected, none has ingested successfully yet.")
    summary = f"{fresh:,} of {_plural(connected, 'billing source')} ingested within {_hours(BILLING_FRESH)} h"
    if failing:
        summary += f", {failing:,} failing {'its' if failing == 1 else 'their'} latest run"
    summary += f" (latest success {_utc(latest)}, {_ago(latest, now)})."
    if fresh == connected and not failing:
        level = 5
    elif fresh == connected or (fresh and recent == connected):
        level = 4
    elif fresh:
        level = 3
    else:
        level = 2
    return reading(level, summary)


# --- finops.token_monitoring ----------------------------------------------------------------------------------


def _runaway_enabled() -> bool:
    """The setting as stored; a client that never opened the settings has the model's default."""
    from apps.runaway.models import RunawaySettings

    stored = RunawaySettings.objects.filter(pk=1).values_list("enabled", flat=True).first()
    return RunawaySettings._meta.get_field("enabled").default if stored is None else stored


def read_token_monitoring(now: dt.datetime) -> SignalReading:
    from apps.finops.models import UsageEvent

    received = UsageEvent.objects.filter(received_at__lte=now)
    last_24h = received.filter(received_at__gt=now - USAGE_RECENT).count()
    latest = received.aggregate(at=Max("received_at"))["at"]
    enabled = _runaway_enabled()
    observed = {"events_recent": last_24h, "latest_event_at": _iso(latest), "runaway_detection": enabled}
    detection = "runaway-spend detection is on" if enabled else "runaway-spend detection is off"
    if last_24h:
        level = 5 if enabled else 3
        summary = f"{_plural(last_24h, 'usage event')} received in the last {_hours(USAGE_RECENT)} h; {detection}."
    elif latest is not None:
        level = 2
        summary = f"No usage event in the last {_hours(USAGE_RECENT)} h (latest {_ago(latest, now)}); {detection}."
    else:
        level = 1
        summary = f"No usage events received yet; {detection}."
    return SignalReading(
        "finops.token_monitoring",
        level,
        summary,
        "Live usage events and runaway detection",
        "finops/runaway/",
        observed,
    )


# --- finops.unit_economics ------------------------------------------------------------------------------------


def read_unit_economics(now: dt.datetime) -> SignalReading:
    from apps.unit_economics.models import BusinessUnit, UnitCount

    today = now.astimezone(dt.UTC).date()
    since = today - dt.timedelta(days=UNIT_RECENT_DAYS)
    units = BusinessUnit.objects.count()
    recent = UnitCount.objects.filter(day__gte=since, day__lte=today).aggregate(n=Count("unit", distinct=True))["n"]
    latest = UnitCount.objects.filter(day__lte=today).aggregate(day=Max("day"))["day"]
    observed = {
        "units": units,
        "units_counted_recently": recent,
        "latest_count_day": latest.isoformat() if latest else None,
    }
    if units == 0:
        level, summary = 1, "No business unit defined for unit economics."
    else:
        if recent == units:
            level = 5
        elif recent:
            level = 4
        else:
            level = 3
        summary = f"{recent:,} of {_plural(units, 'business unit')} counted in the last {UNIT_RECENT_DAYS} days"
        summary += f" (latest count {latest.isoformat()})." if latest else "; no count received yet."
    return SignalReading("finops.unit_economics", level, summary, "Unit economics", "finops/unit-economics/", observed)


# --- security.mfa_enforced ------------------------------------------------------------------------------------


def read_mfa(now: dt.datetime) -> SignalReading | None:
    from allauth.mfa.models import Authenticator

    from apps.accounts.models import User
    from apps.accounts.roles import Role

    client = _client()
    if client is None or not client.is_client:
        return None
    # Who can reach the workspace, as apps.accounts.access decides: MSP admins, and unexpired memberships.
    member = Q(memberships__client=client) & (
        Q(memberships__expires_at__isnull=True) | Q(memberships__expires_at__gt=now)
    )
    people = User.objects.filter(is_active=True).filter(Q(msp_role=Role.MSP_ADMIN) | member).values("pk")
    # Recovery codes alone are not a second factor.
    has_mfa = Exists(
        Authenticator.objects.filter(
            user=OuterRef("pk"), type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
        )
    )
    staff = ~Q(msp_role="")
    figures = (
        User.objects.filter(pk__in=people)
        .annotate(has_mfa=has_mfa)
        .aggregate(
            people=Count("pk"),
            with_mfa=Count("pk", filter=Q(has_mfa=True)),
            staff=Count("pk", filter=staff),
            staff_with_mfa=Count("pk", filter=staff & Q(has_mfa=True)),
        )
    )
    total, with_mfa = figures["people"], figures["with_mfa"]
    if total == 0:
        return None
    enforced = bool(getattr(settings, "KEEL_REQUIRE_STAFF_MFA", True))
    staff_total, staff_mfa = figures["staff"], figures["staff_with_mfa"]
    users_total, users_mfa = total - staff_total, with_mfa - staff_mfa
    level = share_level(with_mfa, total)
    if not enforced:
        level = min(level, STAFF_MFA_UNENFORCED_MAX_LEVEL)
    summary = (
        f"{with_mfa:,} of {_plural(total, 'person', 'people')} who can reach this client "
        f"{'uses' if with_mfa == 1 else 'use'} MFA "
        f"({_pct_text(with_mfa, total)}: MSP staff {staff_mfa:,} of {staff_total:,}, "
        f"client users {users_mfa:,} of {users_total:,}); "
        f"Keel {'enforces' if enforced else 'does NOT enforce'} MFA for MSP staff."
    )
    observed = {
        "people": total,
        "with_mfa": with_mfa,
        "staff": staff_total,
        "staff_with_mfa": staff_mfa,
        "client_users": users_total,
        "client_users_with_mfa": users_mfa,
        "share_percent": str(_percent(with_mfa, total)),
        "staff_mfa_enforced": enforced,
    }
    return SignalReading("security.mfa_enforced", level, summary, "People and access", "settings/members/", observed)


# --- agents ---------------------------------------------------------------------------------------------------


def _agents():
    from apps.inventory.models import Agent, Lifecycle

    return Agent.objects.exclude(lifecycle=Lifecycle.RETIRED)


def read_kill_switches(now: dt.datetime) -> SignalReading | None:
    figures = _agents().aggregate(agents=Count("pk"), with_switch=Count("pk", filter=~Q(kill_switch_url="")))
    agents, with_switch = figures["agents"], figures["with_switch"]
    if agents == 0:
        return None
    summary = (
        f"{with_switch:,} of {_plural(agents, 'agent')} in the inventory "
        f"{'has' if with_switch == 1 else 'have'} a kill-switch webhook ({_pct_text(with_switch, agents)})."
    )
    observed = {"agents": agents, "with_kill_switch": with_switch, "share_percent": str(_percent(with_switch, agents))}
    return SignalReading(
        "agents.kill_switches",
        share_level(with_switch, agents),
        summary,
        "AI inventory",
        "inventory/?kind=agent",
        observed,
    )


def _approval_rules() -> list[str]:
    """The guardrail rules that flag a dangerous power (move money, delete data) no person has to approve."""
    from apps.inventory.guardrails import RULES, power_without_approval

    return [rule.code for rule in RULES if rule.check is power_without_approval]


def read_permissions_reviewed(now: dt.datetime) -> SignalReading | None:
    from apps.inventory.models import AgentTool, GuardrailFinding

    has_tools = Exists(AgentTool.objects.filter(agent=OuterRef("pk")))
    unapproved = Exists(
        GuardrailFinding.objects.filter(
            asset=OuterRef("pk"), status=GuardrailFinding.Status.OPEN, rule__in=_approval_rules()
        )
    )
    figures = (
        _agents()
        .annotate(tooled=has_tools, open_approval_finding=unapproved)
        .aggregate(
            agents=Count("pk"),
            with_tools=Count("pk", filter=Q(tooled=True)),
            unapproved=Count("pk", filter=Q(open_approval_finding=True)),
            reviewed=Count("pk", filter=Q(tooled=True, open_approval_finding=False)),
        )
    )
    agents, reviewed = figures["agents"], figures["reviewed"]
    if agents == 0:
        return None
    without_tools, unapproved_n = agents - figures["with_tools"], figures["unapproved"]
    summary = (
        f"{reviewed:,} of {_plural(agents, 'agent')} {'has its' if reviewed == 1 else 'have their'} tools and powers "
        f"recorded, with every money-moving or deleting power under human approval ({_pct_text(reviewed, agents)}; "
        f"{without_tools:,} with no tool recorded, {unapproved_n:,} with a dangerous power nobody approves)."
    )
    observed = {
        "agents": agents,
        "with_tools": figures["with_tools"],
        "without_tools": without_tools,
        "unapproved_powers": unapproved_n,
        "reviewed": reviewed,
        "share_percent": str(_percent(reviewed, agents)),
    }
    return SignalReading(
        "agents.permissions_reviewed",
        share_level(reviewed, agents),
        summary,
        "AI inventory",
        "inventory/?kind=agent",
        observed,
    )


# --- compliance.readiness -------------------------------------------------------------------------------------


def read_compliance_readiness(now: dt.datetime) -> SignalReading:
    from apps.compliance.selectors import client_frameworks, readiness_many

    def reading(level: int, summary: str, observed: dict) -> SignalReading:
        return SignalReading("compliance.readiness", level, summary, "Compliance register", "compliance/", observed)

    cfs = list(client_frameworks())
    if not cfs:
        return reading(1, "No compliance framework enabled.", {"frameworks": 0, "mean_readiness": None, "scores": {}})
    # Readiness is the register's own computation, on the client's calendar day (evidence dates are local).
    client = _client()
    today = now.astimezone(client.tz).date() if client is not None else now.astimezone(dt.UTC).date()
    results = readiness_many(cfs, today=today)
    scores = {cf.framework.short_name: results[cf.pk].score for cf in cfs}
    measured = [score for score in scores.values() if score is not None]
    observed = {
        "frameworks": len(cfs),
        "measured": len(measured),
        "scores": {name: (str(score) if score is not None else None) for name, score in scores.items()},
        "mean_readiness": None,
    }
    listed = ", ".join(
        f"{name} {score} %" if score is not None else f"{name} not measurable" for name, score in scores.items()
    )
    if not measured:
        return reading(
            2,
            f"{_plural(len(cfs), 'framework')} enabled ({listed}), no applicable requirement to measure yet.",
            observed,
        )
    mean = (sum(measured) / len(measured)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    observed["mean_readiness"] = str(mean)
    level = next((lvl for bound, lvl in READINESS_BANDS if mean >= bound), 2)
    return reading(level, f"{_plural(len(cfs), 'framework')} enabled ({listed}); mean readiness {mean} %.", observed)


# --- inventory.completeness -----------------------------------------------------------------------------------


def read_inventory_completeness(now: dt.datetime) -> SignalReading:
    from apps.inventory.models import Asset, Lifecycle, RiskTier
    from apps.shadow_ai.models import ShadowItem, Status

    owner, tier, department = ~Q(owner_email=""), ~Q(risk_tier=RiskTier.UNASSESSED), Q(department__isnull=False)
    figures = Asset.objects.exclude(lifecycle=Lifecycle.RETIRED).aggregate(
        assets=Count("pk"),
        with_owner=Count("pk", filter=owner),
        with_risk_tier=Count("pk", filter=tier),
        with_department=Count("pk", filter=department),
        complete=Count("pk", filter=owner & tier & department),
    )
    shadow_open = ShadowItem.objects.filter(status=Status.OPEN).count()
    assets, complete = figures["assets"], figures["complete"]
    # Open shadow-AI items are AI in use that the inventory lacks: each counts as an incomplete entry.
    known = assets + shadow_open
    observed = {
        **figures,
        "shadow_open": shadow_open,
        "share_percent": str(_percent(complete, known)) if known else None,
    }
    shadow = f"; {_plural(shadow_open, 'unregistered shadow-AI item')} still open" if shadow_open else ""
    if assets == 0:
        level, summary = 1, f"No active AI asset in the inventory{shadow}."
    else:
        level = share_level(complete, known)
        summary = (
            f"{complete:,} of {_plural(assets, 'active AI asset')} have an owner, a risk tier and a department "
            f"(owner {figures['with_owner']:,}, risk tier {figures['with_risk_tier']:,}, "
            f"department {figures['with_department']:,}){shadow}: {_pct_text(complete, known)} complete."
        )
    return SignalReading("inventory.completeness", level, summary, "AI inventory", "inventory/", observed)


# --- shadow_ai.discovery --------------------------------------------------------------------------------------


def read_shadow_discovery(now: dt.datetime) -> SignalReading:
    from apps.shadow_ai.models import DECIDED, ShadowItem, Status
    from apps.shadow_ai.selectors import last_scan

    def reading(level: int, summary: str, observed: dict) -> SignalReading:
        return SignalReading("shadow_ai.discovery", level, summary, "Shadow AI review", "finops/shadow-ai/", observed)

    scan = last_scan()
    if scan is None:
        return reading(1, "Shadow-AI discovery has never run.", {"last_scan_at": None})
    cut = now - SHADOW_QUEUE_MAX_WAIT
    # An item waits from when it entered the queue: created, or reopened by new spend.
    waiting = Q(status=Status.OPEN) & (Q(reopened_at__lt=cut) | Q(reopened_at__isnull=True, created_at__lt=cut))
    figures = ShadowItem.objects.aggregate(
        open=Count("pk", filter=Q(status=Status.OPEN)),
        waiting=Count("pk", filter=waiting),
        decided=Count("pk", filter=Q(status__in=DECIDED)),
    )
    open_, waiting_n, decided = figures["open"], figures["waiting"], figures["decided"]
    observed = {
        "last_scan_at": _iso(scan.started_at),
        "found_last_scan": scan.found,
        "open": open_,
        "waiting_long": waiting_n,
        "decided": decided,
    }
    summary = (
        f"Last discovery scan {_utc(scan.started_at)} ({_ago(scan.started_at, now)}); "
        f"{_plural(open_, 'item')} to review ({waiting_n:,} waiting over {SHADOW_QUEUE_MAX_WAIT.days} days), "
        f"{decided:,} decided."
    )
    if scan.started_at < now - SHADOW_SCAN_RECENT:
        level = 2
    elif open_ == 0:
        level = 5
    elif waiting_n == 0:
        level = 4
    elif decided * 2 >= decided + open_:
        level = 3
    else:
        level = 2
    return reading(level, summary, observed)


# --- finops.anomaly_detection ---------------------------------------------------------------------------------


def read_anomaly_detection(now: dt.datetime) -> SignalReading:
    from apps.anomalies.models import AnomalySettings
    from apps.budgets.models import Budget

    budgets = Budget.objects.filter(active=True).count()
    scan = AnomalySettings.objects.filter(pk=1).values("last_scan_at", "last_scan").first() or {}
    scanned_at = scan.get("last_scan_at")
    series = int((scan.get("last_scan") or {}).get("series") or 0)
    # Detection counts as active when the daily scan ran lately and had spend to watch.
    active = scanned_at is not None and scanned_at >= now - ANOMALY_SCAN_RECENT and series > 0
    observed = {
        "active_budgets": budgets,
        "anomaly_last_scan_at": _iso(scanned_at),
        "anomaly_series": series,
        "anomaly_detection_active": active,
    }
    watched = _plural(series, "spend series", "spend series")
    if scanned_at is None:
        detection = "anomaly detection has not scanned yet"
    elif active:
        detection = f"anomaly detection scanned {_ago(scanned_at, now)} and watches {watched}"
    else:
        detection = f"anomaly detection last scanned {_ago(scanned_at, now)} with {watched} to watch"
    summary = f"{_plural(budgets, 'active budget')}; {detection}."
    level = {2: 5, 1: 3, 0: 1}[(budgets > 0) + active]
    url = "finops/budgets/" if not budgets else "finops/anomalies/"
    return SignalReading("finops.anomaly_detection", level, summary, "Budgets and cost anomalies", url, observed)


# --- recommendations.adoption ---------------------------------------------------------------------------------


def read_recommendations_adoption(now: dt.datetime) -> SignalReading | None:
    from apps.recommendations.models import Status
    from apps.recommendations.selectors import status_counts

    counts = status_counts()
    total = sum(counts.values())
    if total == 0:
        return None
    decided = total - counts[Status.OPEN]
    summary = (
        f"{decided:,} of {_plural(total, 'savings recommendation')} reviewed ({_pct_text(decided, total)}: "
        f"{counts[Status.ACCEPTED]:,} accepted, {counts[Status.IMPLEMENTED]:,} implemented, "
        f"{counts[Status.DISMISSED]:,} dismissed); {counts[Status.OPEN]:,} open."
    )
    observed = {**{str(status): n for status, n in counts.items()}, "total": total, "reviewed": decided}
    return SignalReading(
        "recommendations.adoption",
        share_level(decided, total),
        summary,
        "Savings recommendations",
        "finops/recommendations/",
        observed,
    )


# --- registry -------------------------------------------------------------------------------------------------

_SHARE_RULE = "100 % → 5, ≥ 75 % → 4, ≥ 50 % → 3, more than none → 2, none → 1"

SIGNALS: dict[str, Signal] = {
    signal.key: signal
    for signal in (
        Signal(
            "finops.billing_freshness",
            "Billing data freshness",
            "Enabled billing connectors (cloud and LLM provider connectors; live usage events and FOCUS uploads "
            f"excluded) and when each last ingested successfully. All within {_hours(BILLING_FRESH)} h and none "
            f"failing → 5; all within {_hours(BILLING_FRESH)} h but one failing its latest run, or some within "
            f"{_hours(BILLING_FRESH)} h and the rest within {BILLING_RECENT.days} days → 4; some within "
            f"{_hours(BILLING_FRESH)} h, others older or never → 3; none within {_hours(BILLING_FRESH)} h but data "
            "ingested before, or no connector but FOCUS file uploads → 2; no connector, or none has ever ingested → 1.",
            read_billing_freshness,
        ),
        Signal(
            "finops.token_monitoring",
            "Token and runaway-spend monitoring",
            f"Live usage events received in the last {_hours(USAGE_RECENT)} h and whether runaway-spend detection "
            f"is enabled. Events in the last {_hours(USAGE_RECENT)} h with detection on → 5; events but detection "
            "off → 3; events only earlier → 2; no usage event ever → 1.",
            read_token_monitoring,
        ),
        Signal(
            "finops.unit_economics",
            "Unit economics",
            f"Business units defined and whether their counts arrive (a count in the last {UNIT_RECENT_DAYS} UTC "
            f"days). Every unit counted in the last {UNIT_RECENT_DAYS} days → 5; some → 4; units defined but none "
            "counted lately (or ever) → 3; no unit defined → 1.",
            read_unit_economics,
        ),
        Signal(
            "security.mfa_enforced",
            "Multi-factor authentication",
            "Share of the people who can reach this client (its members with an unexpired membership, and every MSP "
            "admin) with an authenticator app or passkey (recovery codes alone do not count): "
            f"{_SHARE_RULE}. When Keel does not enforce MFA for MSP staff (KEEL_REQUIRE_STAFF_MFA off) the level is "
            f"at most {STAFF_MFA_UNENFORCED_MAX_LEVEL}. Nobody with access → no reading.",
            read_mfa,
        ),
        Signal(
            "agents.kill_switches",
            "Agent kill switches",
            f"Share of the inventory's agents (retired ones aside) with a kill-switch webhook URL: {_SHARE_RULE}. "
            "No agent in the inventory → no reading.",
            read_kill_switches,
        ),
        Signal(
            "agents.permissions_reviewed",
            "Agent tool permissions recorded and approved",
            "Share of the inventory's agents (retired ones aside) whose tools and their powers are recorded and none "
            "of which has an open guardrail finding for a money-moving or data-deleting power without human "
            f"approval: {_SHARE_RULE}. No agent in the inventory → no reading.",
            read_permissions_reviewed,
        ),
        Signal(
            "compliance.readiness",
            "Compliance readiness",
            "Frameworks enabled in the compliance register and the mean of their readiness scores (as the register "
            "computes them today). No framework enabled → 1; enabled with mean readiness below "
            f"{READINESS_BANDS[-1][0]} % (or nothing measurable yet) → 2; below {READINESS_BANDS[-2][0]} % → 3; below "
            f"{READINESS_BANDS[0][0]} % → 4; {READINESS_BANDS[0][0]} % or more → 5.",
            read_compliance_readiness,
        ),
        Signal(
            "inventory.completeness",
            "AI inventory completeness",
            "Share of active (not retired) AI assets with an owner, an assessed EU AI Act risk tier and a department, "
            "out of those assets plus the open shadow-AI items (AI in use the inventory lacks): "
            f"{_SHARE_RULE}. No active asset → 1.",
            read_inventory_completeness,
        ),
        Signal(
            "shadow_ai.discovery",
            "Shadow-AI discovery and triage",
            "When shadow-AI discovery last ran and how its review queue is kept. Never run → 1; last run more than "
            f"{SHADOW_SCAN_RECENT.days} days ago, or most items found still open → 2; run within "
            f"{SHADOW_SCAN_RECENT.days} days, items waiting over {SHADOW_QUEUE_MAX_WAIT.days} days but at least half "
            f"of all items decided → 3; open items all younger than {SHADOW_QUEUE_MAX_WAIT.days} days → 4; nothing "
            "left to review → 5.",
            read_shadow_discovery,
        ),
        Signal(
            "finops.anomaly_detection",
            "Budgets and cost-anomaly detection",
            "Active budgets, and whether cost-anomaly detection is active (its daily scan ran within "
            f"{_hours(ANOMALY_SCAN_RECENT)} h and had at least one spend series to watch). Both → 5; one of them → 3; "
            "neither → 1.",
            read_anomaly_detection,
        ),
        Signal(
            "recommendations.adoption",
            "Savings recommendations acted on",
            "Share of savings recommendations that someone reviewed (accepted, implemented or dismissed with a "
            f"reason): {_SHARE_RULE}. No recommendation yet → no reading.",
            read_recommendations_adoption,
        ),
    )
}


def _now(now: dt.datetime | None) -> dt.datetime:
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("now must be an aware datetime (UTC)")
    return now.astimezone(dt.UTC)


def read_signal(key: str, *, now: dt.datetime | None = None) -> SignalReading | None:
    """One signal for the client of the current schema; KeyError for a key Keel does not know."""
    signal = SIGNALS[key]
    return signal.read(_now(now))


def read_all(*, now: dt.datetime | None = None) -> dict[str, SignalReading | None]:
    """Every signal at the same instant."""
    moment = _now(now)
    return {key: signal.read(moment) for key, signal in SIGNALS.items()}
