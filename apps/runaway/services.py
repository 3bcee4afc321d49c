"""Runaway detection: the per-minute scan, the incident lifecycle, its one alert, and what people do with it.

The scan (`runaway_scan`, task runaway.scan every minute, and soon after an ingest) looks at the last 10
minutes of usage events per agent, then per API key, then per model (events of an agent or key already in an
incident are left out of the wider scopes, so one loop is one incident) and judges five signals
(apps.runaway.detection). A scope that fires opens an incident with a critical alert when a spend signal fired
(high otherwise); later scans update the figures and the same alert; M quiet minutes end it. The alert stays
open until a person resolves it (resolving the incident resolves it too): money was burned, someone should
look at why. With auto-stop on, a critical incident of an inventory agent with a kill-switch URL calls it.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.services import audit_record, snapshot

from .detection import (
    MINUTE,
    MINUTES_PER_DAY,
    SIGNAL_LABELS,
    WINDOW,
    Baseline,
    ScopeStats,
    baselines,
    could_need_baseline,
    incident_totals,
    judge,
    thresholds,
    window_stats,
)
from .models import KillSwitchCall, RunawayIncident, RunawaySettings, ScopeKind

logger = logging.getLogger(__name__)

ALERT_KIND = "runaway_spend"
INCIDENT_PATH = "/finops/runaway/{pk}/"  # workspace path (alerts link to it under /c/<slug>)
MAX_AUTO_ATTEMPTS = 3  # automatic kill-switch tries per incident, one per scan
AFTER_STOP_GRACE = dt.timedelta(minutes=2)  # in-flight calls may still land after a stop
HOOK_CACHE_KEY = "runaway:scan-requested"
SETTINGS_FIELDS = [
    "enabled",
    "baseline_multiplier",
    "min_spend_10m",
    "max_spend_per_minute",
    "max_tokens_per_request",
    "repeat_threshold",
    "request_rate_multiplier",
    "min_requests_10m",
    "quiet_minutes",
    "auto_stop",
]
INCIDENT_AUDIT_FIELDS = ["scope_kind", "scope_key", "status", "severity", "burned", "started_at", "detected_at"]
CENT = Decimal("0.01")
STORED = Decimal("0.000001")


def _stored(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(STORED, rounding=ROUND_HALF_UP)


# --- settings ---------------------------------------------------------------------------------------------


def new_signing_secret() -> str:
    return secrets.token_urlsafe(32)


def runaway_settings() -> RunawaySettings:
    """The client's settings row, created with the defaults on first use."""
    found = RunawaySettings.objects.filter(pk=1).first()
    if found is not None:
        return found
    found, _created = RunawaySettings.objects.get_or_create(pk=1)
    return found


def kill_switch_secret() -> str:
    """The secret that signs kill-switch calls, made on first need (so scans never need the encryption keys)."""
    current = runaway_settings()
    if not current.kill_switch_secret:
        with transaction.atomic():
            current = RunawaySettings.objects.select_for_update().get(pk=current.pk)
            if not current.kill_switch_secret:
                current.kill_switch_secret = new_signing_secret()
                current.save(update_fields=["kill_switch_secret", "updated_at"])
                audit_record(action="runaway.secret_create", target=current, after={"kill_switch_secret_set": True})
    return current.kill_switch_secret


def runaway_settings_save(**fields) -> RunawaySettings:
    """Change the settings (any of SETTINGS_FIELDS, and kill_switch_secret: write-only, blank keeps it)."""
    secret = fields.pop("kill_switch_secret", "") or ""
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    if secret and len(secret) < 16:
        raise ValidationError({"kill_switch_secret": "Use at least 16 characters."})
    with transaction.atomic():
        current = runaway_settings()
        current = RunawaySettings.objects.select_for_update().get(pk=current.pk)
        before = snapshot(current, SETTINGS_FIELDS)
        for name, value in fields.items():
            setattr(current, name, value)
        if secret:
            current.kill_switch_secret = secret
        current.full_clean(exclude=["kill_switch_secret"])
        current.save()
        after = {**snapshot(current, SETTINGS_FIELDS), "kill_switch_secret_changed": bool(secret)}
        if before != snapshot(current, SETTINGS_FIELDS) or secret:
            audit_record(action="runaway.settings_update", target=current, before=before, after=after)
    return current


def runaway_secret_rotate() -> str:
    """A new signing secret for kill-switch calls; returned once so it can be given to the agent's owner."""
    secret = new_signing_secret()
    runaway_settings_save(kill_switch_secret=secret)
    return secret


# --- the ingest hook ----------------------------------------------------------------------------------------


def after_usage_ingest(*, accepted: int) -> None:
    """Called by usage_events_ingest after a batch is stored: ask for a scan soon, at most once per interval
    per client. No database query (a cache add), whatever the batch size; the scan runs after the commit."""
    if not accepted:
        return
    interval = django_settings.KEEL_RUNAWAY_HOOK_SECONDS
    if not cache.add(HOOK_CACHE_KEY, 1, timeout=interval):  # the key is per schema (django_tenants make_key)
        return
    schema = connection.schema_name

    def enqueue():
        from .tasks import runaway_scan_task

        with schema_context(schema):  # on_commit may run after the caller left the client's schema
            runaway_scan_task.delay()

    # robust: a broker (or, with eager tasks, a scan) failing must never fail the ingest that was committed
    transaction.on_commit(enqueue, robust=True)


# --- the scan ------------------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    now: dt.datetime
    skipped: bool = False
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    kill_switch_calls: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "now": self.now.isoformat(),
            "skipped": self.skipped,
            "opened": self.opened,
            "updated": self.updated,
            "ended": self.ended,
            "kill_switch_calls": self.kill_switch_calls,
        }


def _scope(incident: RunawayIncident) -> tuple[str, str, str]:
    return (incident.scope_kind, incident.scope_key, incident.currency)


def agent_for(name: str):
    """The inventory Agent an events' agent name stands for: by name, or by its cost tag agent=<name>."""
    from apps.inventory.models import Agent

    if not name:
        return None
    return Agent.objects.filter(Q(name__iexact=name) | Q(cost_tags__agent=name)).order_by("pk").first()


def runaway_scan(*, now: dt.datetime | None = None, session=None) -> ScanResult:
    """One scan of this client's live usage at `now` (default: the current time; the demo and the bench pass
    the moments they replay). `session` is the HTTP transport for kill-switch calls (tests and the demo)."""
    now = now or timezone.now()
    result = ScanResult(now=now)
    config = runaway_settings()
    if not config.enabled:
        result.skipped = True
        return result
    window_start = now - WINDOW
    active = {
        _scope(i): i
        for i in RunawayIncident.objects.filter(status__in=RunawayIncident.ACTIVE).select_related("agent", "alert")
    }
    skip = {kind: {key for k, key, _c in active if k == kind} for kind in ScopeKind.values}
    client = _client()
    touched: list[RunawayIncident] = []
    for kind in ScopeKind.values:
        full = window_stats(kind, start=window_start, end=now, max_tokens=config.max_tokens_per_request)
        skip_agents = skip[ScopeKind.AGENT] if kind != ScopeKind.AGENT else set()
        skip_keys = skip[ScopeKind.API_KEY] if kind == ScopeKind.MODEL else set()
        fresh = full
        if skip_agents or skip_keys:
            # A wider scope opens only for what the narrower incidents do not already explain.
            fresh = window_stats(
                kind,
                start=window_start,
                end=now,
                max_tokens=config.max_tokens_per_request,
                skip_agents=skip_agents,
                skip_keys=skip_keys,
            )
        candidates = [stats for scope, stats in fresh.items() if scope not in active]
        known = baselines(
            kind,
            [(s.key, s.currency) for s in candidates if could_need_baseline(s, config)],
            now=now,
        )
        opened = []
        for stats in candidates:
            baseline = known.get((stats.key, stats.currency), Baseline())
            verdict = judge(stats, baseline, config)
            if verdict.fired:
                incident = _open(stats, verdict, baseline, now=now, window_start=window_start)
                opened.append((incident, verdict, stats))
                skip[kind].add(stats.key)
        updates = []
        for scope, incident in active.items():
            if scope[0] != kind or incident.last_scan_at > now:  # a later scan already saw it (clock skew, replay)
                continue
            stats = full.get(scope) or ScopeStats(kind=kind, key=scope[1], currency=scope[2])
            request_threshold = thresholds(Baseline(requests_10m=incident.baseline_requests_10m), config)[2]
            fixed = (incident.threshold_10m, incident.threshold_per_minute, request_threshold)
            baseline = Baseline(incident.baseline_10m, incident.baseline_requests_10m)
            updates.append((incident, judge(stats, baseline, config, threshold=fixed), stats))
        totals = incident_totals(kind, [i for i, _v, _s in opened + updates], now=now)
        for incident, verdict, stats in opened:
            _refresh(incident, verdict, stats, totals[incident.pk], now=now, config=config, client=client, new=True)
            result.opened.append(incident.pk)
            touched.append(incident)
        for incident, verdict, stats in updates:
            _refresh(incident, verdict, stats, totals[incident.pk], now=now, config=config, client=client, new=False)
            (result.ended if incident.status == RunawayIncident.Status.ENDED else result.updated).append(incident.pk)
            touched.append(incident)
    for incident in touched:
        if _auto_stop_due(incident, config):
            call = _auto_stop(incident, now=now, session=session)
            if call is not None:
                result.kill_switch_calls.append(call.pk)
    return result


def _open(stats: ScopeStats, verdict, baseline: Baseline, *, now, window_start) -> RunawayIncident:
    started = verdict.first_evidence or window_start.replace(second=0, microsecond=0)
    incident = RunawayIncident(
        scope_kind=stats.kind,
        scope_key=stats.key,
        currency=stats.currency,
        agent=agent_for(stats.key) if stats.kind == ScopeKind.AGENT else None,
        severity="critical" if verdict.spend_fired else "high",
        status=RunawayIncident.Status.OPEN,
        started_at=started,
        detected_at=now,
        last_seen_at=started,
        last_scan_at=now,
        baseline_10m=baseline.spend_10m,
        baseline_requests_10m=baseline.requests_10m,
        threshold_10m=verdict.threshold_10m,
        threshold_per_minute=verdict.threshold_per_minute,
        scans=0,
    )
    with transaction.atomic():
        incident.save()
        audit_record(action="runaway.incident_open", target=incident, after=snapshot(incident, INCIDENT_AUDIT_FIELDS))
    return incident


def _refresh(incident, verdict, stats: ScopeStats, totals, *, now, config, client, new: bool) -> None:
    """Bring the incident's figures, signals and status up to this scan, then its alert."""
    stamp = now.isoformat()
    if verdict.last_evidence is not None:  # the end of the last minute that showed the runaway
        incident.last_seen_at = max(incident.last_seen_at, min(verdict.last_evidence + MINUTE, now))
    # Held as stored (MoneyField: 6 places), so what the scan shows equals what a reload shows.
    incident.burned = _stored(totals.burned)
    incident.requests = totals.requests
    incident.rate_per_minute = _stored(totals.rate_per_minute)
    incident.projected_24h = _stored(totals.rate_per_minute * MINUTES_PER_DAY)
    incident.peak_per_minute = _stored(max(incident.peak_per_minute, stats.max_minute_spend))
    signals = dict(incident.signals)
    for name, entry in signals.items():
        signals[name] = {**entry, "fired_now": False}
    for name, data in verdict.signals.items():
        previous = signals.get(name, {})
        signals[name] = {
            **previous,
            **data,
            "first_fired_at": previous.get("first_fired_at", stamp),
            "last_fired_at": stamp,
            "fired_now": True,
        }
    if incident.status == RunawayIncident.Status.STOPPED and incident.stopped_at:
        after_stop = [m for m in verdict.hot_minutes if m >= incident.stopped_at + AFTER_STOP_GRACE]
        if after_stop:
            previous = signals.get("burning_after_stop", {})
            signals["burning_after_stop"] = {
                "value": round((incident.last_seen_at - incident.stopped_at).total_seconds() / 60),
                "since": incident.stopped_at.isoformat(),
                "first_fired_at": previous.get("first_fired_at", stamp),
                "last_fired_at": stamp,
                "fired_now": True,
            }
    incident.signals = signals
    if verdict.spend_fired:
        incident.severity = "critical"
    incident.last_scan_at = now
    incident.scans += 1
    just_ended = False
    if not new and now - incident.last_seen_at >= dt.timedelta(minutes=config.quiet_minutes):
        incident.status = RunawayIncident.Status.ENDED
        incident.ended_at = now
        just_ended = True
    with transaction.atomic():
        incident.save()
        if just_ended:
            audit_record(
                action="runaway.incident_end", target=incident, after=snapshot(incident, INCIDENT_AUDIT_FIELDS)
            )
    _sync_alert(incident, client)


def _auto_stop_due(incident: RunawayIncident, config: RunawaySettings) -> bool:
    if not (config.auto_stop and incident.status == RunawayIncident.Status.OPEN and incident.severity == "critical"):
        return False
    if incident.agent is None or not incident.agent.kill_switch_url:
        return False
    calls = list(incident.kill_switch_calls.filter(trigger=KillSwitchCall.Trigger.AUTOMATIC).values_list("outcome"))
    if any(outcome == KillSwitchCall.Outcome.STOPPED for (outcome,) in calls):
        return False
    return len(calls) < MAX_AUTO_ATTEMPTS


def _auto_stop(incident, *, now, session):
    from .killswitch import kill_switch_call

    try:
        return kill_switch_call(incident=incident, trigger=KillSwitchCall.Trigger.AUTOMATIC, now=now, session=session)
    except Exception:  # the scan must go on for every other client and scope
        logger.exception("runaway: automatic kill-switch call for incident %s failed to record", incident.pk)
        return None


# --- the alert ---------------------------------------------------------------------------------------------------


def _client():
    from apps.tenancy.models import Client

    return Client.objects.filter(schema_name=connection.schema_name).first()


def money(amount: Decimal, currency: str) -> str:
    rounded = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    return f"${rounded:,}" if currency == "USD" else f"{rounded:,} {currency}"


def scope_label(incident: RunawayIncident) -> str:
    return f"{incident.get_scope_kind_display().lower().replace('api', 'API')} {incident.scope_key}"


def incident_url(incident: RunawayIncident, client) -> str:
    base = django_settings.KEEL_BASE_URL.rstrip("/")
    path = INCIDENT_PATH.format(pk=incident.pk)
    return f"{base}/c/{client.slug}{path}" if client else f"{base}{path}"


def _local(moment: dt.datetime, client) -> str:
    zone = client.tz if client is not None else dt.UTC
    return timezone.localtime(moment, zone).strftime("%-d %b %Y %H:%M %Z")


def describe_signal(name: str, data: dict, currency: str) -> str:
    """One signal in plain words, with the figure and the threshold it crossed."""
    if name == "spend_vs_baseline":
        return (
            f"the last 10 minutes cost {money(Decimal(data['value']), currency)}, more than {data['multiplier']} × "
            f"its usual {money(Decimal(data['baseline']), currency)} at this hour "
            f"(threshold {money(Decimal(data['threshold']), currency)}, never below the floor)"
        )
    if name == "spend_ceiling":
        return (
            f"{money(Decimal(data['value']), currency)} in one minute, above the "
            f"{money(Decimal(data['threshold']), currency)}/minute ceiling"
        )
    if name == "tokens_per_request":
        return (
            f"{data['requests']:,} request(s) of up to {data['value']:,} tokens, above the "
            f"{data['threshold']:,}-token ceiling"
        )
    if name == "prompt_repetition":
        return (
            f"the same prompt (hash {data['prompt_hash'][:12]}…) sent {data['value']:,} times in 10 minutes "
            f"(threshold {data['threshold']:,})"
        )
    if name == "request_rate":
        return (
            f"{data['value']:,} requests in 10 minutes where {data['baseline']:,} is usual at this hour "
            f"(threshold {data['threshold']:,})"
        )
    if name == "burning_after_stop":
        return f"still above the threshold {data['value']} minutes after the kill-switch answered"
    return name


def _moment(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def signal_rows(incident: RunawayIncident) -> list[dict]:
    """The incident's signals for pages and the API: label, words, when they fired, whether they fire now."""
    return [
        {
            "name": name,
            "label": SIGNAL_LABELS.get(name, name),
            "text": describe_signal(name, data, incident.currency),
            "first_fired_at": _moment(data.get("first_fired_at")),
            "last_fired_at": _moment(data.get("last_fired_at")),
            "fired_now": data.get("fired_now", False),
        }
        for name, data in incident.signals.items()
    ]


def alert_text(incident: RunawayIncident, client) -> tuple[str, str, dict]:
    """Subject, body and data of the incident's alert (what channels deliver)."""
    cur = incident.currency
    scope = scope_label(incident)
    rate, projected, burned = (
        money(v, cur) for v in (incident.rate_per_minute, incident.projected_24h, incident.burned)
    )
    delay = round(incident.detection_delay_seconds)
    if incident.status == RunawayIncident.Status.ENDED:
        subject = f"Runaway spend ended: {scope} burned {burned}"
    else:
        subject = f"Runaway spend: {scope} at {rate}/min (≈ {projected} per 24 h)"
    lines = [
        f"{scope[0].upper()}{scope[1:]} is spending {rate} a minute: {projected} in 24 hours at this rate.",
        f"Burned so far: {burned} since the loop began at {_local(incident.started_at, client)} "
        f"({incident.requests:,} requests); detected at {_local(incident.detected_at, client)}, {delay} s after "
        "it began.",
        "Signals:",
        *(f"- {row['text']}" for row in signal_rows(incident)),
    ]
    calls = list(incident.kill_switch_calls.all()[:3])
    for call in calls:
        when = _local(call.called_at, client)
        if call.outcome == KillSwitchCall.Outcome.STOPPED:
            lines.append(f"Kill-switch called at {when} ({call.get_trigger_display()}): HTTP {call.status_code}.")
        else:
            lines.append(f"KILL-SWITCH CALL FAILED at {when}: {call.error} Stop the agent by hand.")
    if incident.agent_id and not calls:
        if incident.agent.kill_switch_url:
            lines.append("The agent has a kill-switch: call it from the incident page (auto-stop is off).")
        else:
            lines.append("The agent has no kill-switch URL in the inventory: stop it by hand.")
    if incident.status == RunawayIncident.Status.ENDED:
        lines.append(
            f"Ended: below the threshold since {_local(incident.last_seen_at, client)}; resolve this alert once the "
            "cause is known."
        )
    lines.append(f"Incident: {incident_url(incident, client)}")
    data = {
        "incident": incident.pk,
        "scope_kind": incident.scope_kind,
        "scope_key": incident.scope_key,
        "currency": cur,
        "status": incident.status,
        "burned": str(incident.burned.quantize(CENT, rounding=ROUND_HALF_UP)),
        "rate_per_minute": str(incident.rate_per_minute.quantize(CENT, rounding=ROUND_HALF_UP)),
        "projected_24h": str(incident.projected_24h.quantize(CENT, rounding=ROUND_HALF_UP)),
        "started_at": incident.started_at.isoformat(),
        "detected_at": incident.detected_at.isoformat(),
        "signals": sorted(incident.signals),
        "kill_switch": calls[0].outcome if calls else "",
    }
    return subject, "\n".join(lines), data


def _sync_alert(incident: RunawayIncident, client) -> None:
    """Raise the incident's one alert, or update it (figures, severity). An alert people already resolved is
    never reopened for the same incident."""
    from apps.alerts.models import Alert
    from apps.alerts.services import alert_raise

    if incident.alert_id is not None:
        state = Alert.objects.filter(pk=incident.alert_id).values_list("state", flat=True).first()
        if state in (None, Alert.State.RESOLVED):
            return
    subject, body, data = alert_text(incident, client)
    alert = alert_raise(
        kind=ALERT_KIND,
        severity=incident.severity,
        subject=subject,
        dedup_key=f"runaway:incident:{incident.pk}",
        body=body,
        link=INCIDENT_PATH.format(pk=incident.pk),
        data=data,
    )
    if incident.alert_id != alert.pk:
        incident.alert = alert
        RunawayIncident.objects.filter(pk=incident.pk).update(alert=alert)


def incident_sync_alert(incident: RunawayIncident) -> None:
    _sync_alert(incident, _client())


# --- what people do ----------------------------------------------------------------------------------------------


def _actor_label() -> str:
    from apps.core.context import actor_label

    return actor_label()


def incident_resolve(*, incident: RunawayIncident, note: str = "") -> RunawayIncident:
    """Close the incident (whatever its status) and its alert; a scope that burns again opens a new one."""
    from apps.alerts.models import Alert
    from apps.alerts.services import alert_resolve

    note = (note or "").strip()
    with transaction.atomic():
        incident = RunawayIncident.objects.select_for_update().get(pk=incident.pk)
        if incident.status == RunawayIncident.Status.RESOLVED:
            raise ValidationError("This incident is already resolved.")
        before = snapshot(incident, INCIDENT_AUDIT_FIELDS)
        incident.status = RunawayIncident.Status.RESOLVED
        incident.resolved_at = timezone.now()
        incident.resolved_by = _actor_label()
        incident.resolution_note = note
        incident.save()
        audit_record(
            action="runaway.incident_resolve",
            target=incident,
            before=before,
            after={**snapshot(incident, INCIDENT_AUDIT_FIELDS), "note": note},
        )
        alert = Alert.objects.filter(pk=incident.alert_id).exclude(state=Alert.State.RESOLVED).first()
        if alert is not None:
            alert_resolve(alert=alert, note=f"Runaway incident resolved. {note}".strip())
    return incident


def incident_stop(*, incident: RunawayIncident, session=None) -> KillSwitchCall:
    """A person calls the agent's kill-switch now (whatever auto-stop says)."""
    from .killswitch import kill_switch_call

    if incident.status == RunawayIncident.Status.RESOLVED:
        raise ValidationError("This incident is resolved; nothing to stop.")
    if incident.agent is None:
        raise ValidationError(
            "This incident is not an inventory agent's, so Keel has no kill-switch to call: stop it at the source."
        )
    if not incident.agent.kill_switch_url:
        raise ValidationError(f"{incident.agent.name} has no kill-switch URL: add it to the agent in the inventory.")
    return kill_switch_call(incident=incident, trigger=KillSwitchCall.Trigger.MANUAL, session=session)
