"""Writes of anomaly detection: the scan that records, updates and closes anomalies (and their alerts), the
actions people take on an anomaly, and the client's settings. People's and API keys' writes are audited."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.services import audit_record, snapshot
from apps.core.context import current_actor

from .detection import HISTORY_DAYS, Judgement, Params, judge
from .models import Anomaly, AnomalySettings, Direction, ScopeKind
from .selectors import asset_names, scope_label, usage_series, utc_today

logger = logging.getLogger(__name__)

ALERT_KIND = "cost_anomaly"
DETAIL_PATH = "/finops/anomalies/{pk}/"
CENT = Decimal("0.01")
SETTINGS_FIELDS = [
    "sensitivity",
    "min_impact",
    "min_impact_percent",
    "spread_floor_percent",
    "baseline_weeks",
    "min_history_days",
    "scan_days",
    "detect_drops",
    "high_impact",
    "alert_max_age_days",
]
AUDITED_FIELDS = ["scope_kind", "scope_key", "day", "currency", "actual", "expected", "impact", "status", "status_note"]
MAX_SCAN_DAYS = 400  # one scan judges at most this many days (a year of history and a little)
LISTENER_DAYS_AFTER = 7  # a booked day is in the baseline of the week after it
LISTENER_MAX_DAYS = 35  # a large backfill rescans only its recent part on booking; older days on request


def _actor_label() -> str:
    actor = current_actor()
    return actor.user_email or (f"API key {actor.api_key_prefix}" if actor.api_key_prefix else "Keel")


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


# --- settings ----------------------------------------------------------------------------------------------


def anomaly_settings() -> AnomalySettings:
    found, _created = AnomalySettings.objects.get_or_create(pk=1)
    return found


def anomaly_settings_save(**changes) -> AnomalySettings:
    """Change some settings (validated like the form); audited with before and after."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({name: "Not a setting." for name in sorted(unknown)})
    with transaction.atomic():
        current = AnomalySettings.objects.select_for_update().filter(pk=1).first() or anomaly_settings()
        before = snapshot(current, SETTINGS_FIELDS)
        for name, value in changes.items():
            setattr(current, name, value)
        current.full_clean(exclude=["last_scan", "last_scan_at"])
        current.save()
        audit_record(
            action="anomaly_settings.update", target=current, before=before, after=snapshot(current, SETTINGS_FIELDS)
        )
    return current


# --- the scan ----------------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    first_day: dt.date
    last_day: dt.date
    series: int = 0
    days_judged: int = 0
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    alerts_raised: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "series": self.series,
            "days_judged": self.days_judged,
            "created": len(self.created),
            "updated": len(self.updated),
            "reopened": len(self.reopened),
            "resolved": len(self.resolved),
            "alerts_raised": self.alerts_raised,
            "seconds": round(self.seconds, 2),
        }


def scan_window(*, days: int, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last `days` closed UTC days (today's spend is still arriving, so it is never judged)."""
    today = today or utc_today()
    return today - dt.timedelta(days=days), today - dt.timedelta(days=1)


def anomalies_scan(
    *, first_day: dt.date | None = None, last_day: dt.date | None = None, today: dt.date | None = None
) -> ScanResult:
    """Judge every scope's Usage spend on the days [first_day, last_day] (default: the settings' last N days).

    New anomalies are recorded and alerted; a day judged again updates its anomaly; an anomaly whose day is now
    within range (the bill was restated) is resolved automatically, with its alert. Idempotent.
    """
    started = timezone.now()
    today = today or utc_today()
    config = anomaly_settings()
    if first_day is None or last_day is None:
        default_first, default_last = scan_window(days=config.scan_days, today=today)
        first_day, last_day = first_day or default_first, last_day or default_last
    last_day = min(last_day, today - dt.timedelta(days=1))
    if first_day > last_day:
        return ScanResult(first_day=first_day, last_day=last_day)
    if (last_day - first_day).days >= MAX_SCAN_DAYS:
        raise ValidationError(f"One scan judges at most {MAX_SCAN_DAYS} days; scan a shorter period.")
    result = ScanResult(first_day=first_day, last_day=last_day)
    params = Params.from_settings(config)
    scopes = distinct_scopes(usage_series(start=first_day - dt.timedelta(days=HISTORY_DAYS), end=last_day))
    result.series = len(scopes)
    names = asset_names(s.key for s in scopes.values() if s.kind == ScopeKind.ASSET)
    alert_from = today - dt.timedelta(days=config.alert_max_age_days)

    with transaction.atomic():
        with connection.cursor() as cur:
            # One scan at a time per client: the daily task and a booking's rescan may meet.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':keel-anomalies'))")
        existing = {
            (a.scope_kind, a.scope_key, a.currency, a.day): a
            for a in Anomaly.objects.filter(day__gte=first_day, day__lte=last_day).select_related("alert")
        }
        for scope in scopes.values():
            last = min(last_day, scope.horizon) if scope.horizon else None
            if last is None:
                continue
            label = scope_label(scope.kind, scope.key, scope.provider, names)
            day = first_day
            while day <= last:
                verdict = judge(scope.series, day, params)
                if verdict is not None:
                    result.days_judged += 1
                    found = existing.get((*scope.ident, day))
                    if verdict.flagged:
                        _record(found, scope, label, verdict, config, result, alert=day >= alert_from)
                    elif found is not None:
                        _clear(found, verdict, result)
                day += dt.timedelta(days=1)
        result.seconds = (timezone.now() - started).total_seconds()
        AnomalySettings.objects.filter(pk=config.pk).update(last_scan_at=timezone.now(), last_scan=result.as_dict())
    logger.info("anomaly scan %s", result.as_dict())
    return result


# When two scopes have exactly the same daily spend (an account billing a single service, a client with one
# service), one incident would be recorded twice: the scope earlier in this order is kept.
SCOPE_PREFERENCE = [ScopeKind.SERVICE, ScopeKind.ASSET, ScopeKind.ACCOUNT, ScopeKind.CLIENT]


def distinct_scopes(scopes: dict) -> dict:
    kept: dict[tuple, object] = {}
    for scope in sorted(scopes.values(), key=lambda s: (SCOPE_PREFERENCE.index(s.kind), s.key)):
        fingerprint = (scope.currency, frozenset((d, v) for d, v in scope.series.values.items() if v))
        kept.setdefault(fingerprint, scope)
    return {scope.ident: scope for scope in kept.values()}


def _figures(verdict: Judgement) -> dict:
    def q(value: Decimal) -> Decimal:
        return value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)

    return {
        "actual": q(verdict.actual),
        "expected": q(verdict.expected),
        "expected_low": q(verdict.low),
        "expected_high": q(verdict.high),
        "impact": q(verdict.impact),
        "spread": q(verdict.spread),
        "typical": q(verdict.typical),
        "score": min(verdict.score, Decimal("99999999")).quantize(CENT, rounding=ROUND_HALF_UP),
        "direction": verdict.direction,
        "details": verdict.details,
    }


def _record(found, scope, label, verdict, config, result: ScanResult, *, alert: bool) -> None:
    now = timezone.now()
    figures = _figures(verdict)
    if found is None:
        anomaly = Anomaly.objects.create(
            scope_kind=scope.kind,
            scope_key=scope.key,
            scope_label=label[:300],
            provider_name=scope.provider[:120],
            day=verdict.day,
            currency=scope.currency,
            first_detected_at=now,
            last_detected_at=now,
            **figures,
        )
        result.created.append(anomaly.pk)
        audit_record(action="anomaly.detect", target=anomaly, after=snapshot(anomaly, AUDITED_FIELDS))
        if alert:
            _raise_alert(anomaly, config)
            result.alerts_raised += 1
        return
    changed = any(getattr(found, name) != value for name, value in figures.items() if name != "details")
    reopen = found.status == Anomaly.Status.RESOLVED and found.resolved_automatically
    for name, value in figures.items():
        setattr(found, name, value)
    found.scope_label, found.last_detected_at = label[:300], now
    if reopen:
        # The day was restated back out of range: the automatic resolution no longer holds.
        found.status, found.resolved_automatically = Anomaly.Status.OPEN, False
        found.status_note = ""
        found.status_changed_at, found.status_changed_by = now, "Keel"
        result.reopened.append(found.pk)
        audit_record(action="anomaly.reopen", target=found, after=snapshot(found, AUDITED_FIELDS))
    elif changed:
        result.updated.append(found.pk)
    found.save()
    # A restated figure (or a first alert for a day that became recent enough) updates the one alert; a day
    # judged again unchanged leaves it alone, so the alert's count means "restated", not "scanned".
    if found.is_active and alert and (reopen or changed or found.alert_id is None):
        _raise_alert(found, config)
        result.alerts_raised += 1


def _clear(found: Anomaly, verdict: Judgement, result: ScanResult) -> None:
    """A day that is no longer anomalous: refresh its figures; an active anomaly resolves itself."""
    figures = _figures(verdict)
    figures.pop("direction")  # keep what it was when flagged
    for name, value in figures.items():
        setattr(found, name, value)
    if not found.is_active:
        found.save()
        return
    now = timezone.now()
    note = (
        f"Resolved automatically on {now:%-d %b %Y}: the day was re-read and its spend, {_money(verdict.actual)} "
        f"{found.currency}, is now within the expected range {_money(verdict.low)}–{_money(verdict.high)}."
    )
    found.status, found.status_note, found.resolved_automatically = Anomaly.Status.RESOLVED, note, True
    found.status_changed_at, found.status_changed_by = now, "Keel"
    found.save()
    result.resolved.append(found.pk)
    audit_record(action="anomaly.auto_resolve", target=found, after=snapshot(found, AUDITED_FIELDS))
    _resolve_alert(found, note)


# --- alerts ------------------------------------------------------------------------------------------------


def severity_for(anomaly: Anomaly, config: AnomalySettings) -> str:
    """Spikes costing at least the high-impact amount in a day are high, smaller spikes medium, drops low."""
    if anomaly.direction == Direction.DROP:
        return "low"
    return "high" if anomaly.impact >= config.high_impact else "medium"


def alert_subject(anomaly: Anomaly) -> str:
    word = "spike" if anomaly.direction == Direction.SPIKE else "drop"
    more = "more" if anomaly.impact >= 0 else "less"
    return (
        f"Cost {word}: {anomaly.scope_label} {_money(abs(anomaly.impact))} {anomaly.currency} {more} than expected "
        f"on {anomaly.day:%-d %b %Y}"
    )


def _raise_alert(anomaly: Anomaly, config: AnomalySettings) -> None:
    from apps.alerts.services import alert_raise

    body = (
        f"{anomaly.get_scope_kind_display()} {anomaly.scope_label}: {_money(anomaly.actual)} {anomaly.currency} of "
        f"Usage spend on {anomaly.day:%A %-d %B %Y} (UTC), where {_money(anomaly.expected)} was expected "
        f"(range {_money(anomaly.expected_low)}–{_money(anomaly.expected_high)}). Impact "
        f"{'+' if anomaly.impact >= 0 else '−'}{_money(abs(anomaly.impact))} {anomaly.currency}, "
        f"{anomaly.score:,.1f} × the usual day-to-day spread."
    )
    alert = alert_raise(
        kind=ALERT_KIND,
        severity=severity_for(anomaly, config),
        subject=alert_subject(anomaly),
        dedup_key=anomaly.dedup_key,
        body=body,
        link=DETAIL_PATH.format(pk=anomaly.pk),
        data={
            "anomaly_id": anomaly.pk,
            "scope_kind": anomaly.scope_kind,
            "scope_key": anomaly.scope_key,
            "day": anomaly.day.isoformat(),
            "currency": anomaly.currency,
            "actual": str(anomaly.actual.quantize(CENT)),
            "expected": str(anomaly.expected.quantize(CENT)),
            "impact": str(anomaly.impact.quantize(CENT)),
            "direction": anomaly.direction,
        },
    )
    if anomaly.alert_id != alert.pk:
        Anomaly.objects.filter(pk=anomaly.pk).update(alert=alert)
        anomaly.alert = alert


def _resolve_alert(anomaly: Anomaly, note: str) -> None:
    from apps.alerts.services import alert_resolve_condition

    alert_resolve_condition(dedup_key=anomaly.dedup_key, note=note)


# --- what people do ----------------------------------------------------------------------------------------

ACTIONS = {
    # action → (states it may start from, the state it leads to, refusal)
    "acknowledge": ({Anomaly.Status.OPEN}, Anomaly.Status.ACKNOWLEDGED, "Only an open anomaly can be acknowledged."),
    "resolve": (
        {Anomaly.Status.OPEN, Anomaly.Status.ACKNOWLEDGED},
        Anomaly.Status.RESOLVED,
        "This anomaly is already closed.",
    ),
    "dismiss": (
        {Anomaly.Status.OPEN, Anomaly.Status.ACKNOWLEDGED},
        Anomaly.Status.DISMISSED,
        "This anomaly is already closed.",
    ),
    "reopen": (
        {Anomaly.Status.RESOLVED, Anomaly.Status.DISMISSED},
        Anomaly.Status.OPEN,
        "This anomaly is still open.",
    ),
}


def anomaly_act(*, anomaly: Anomaly, action: str, note: str = "") -> Anomaly:
    """Acknowledge, resolve (optional note), dismiss (a reason is required) or reopen; the alert follows."""
    if action not in ACTIONS:
        raise ValidationError({"action": f"Unknown action {action!r}."})
    allowed, to_status, refusal = ACTIONS[action]
    note = (note or "").strip()
    if action == "dismiss" and not note:
        raise ValidationError({"note": "Say why this is not an anomaly (e.g. a planned migration, a known batch)."})
    now = timezone.now()
    with transaction.atomic():
        anomaly = Anomaly.objects.select_for_update().get(pk=anomaly.pk)  # judge the stored state
        if anomaly.status not in allowed:
            raise ValidationError(refusal)
        before = snapshot(anomaly, AUDITED_FIELDS)
        anomaly.status = to_status
        anomaly.status_changed_at, anomaly.status_changed_by = now, _actor_label()
        anomaly.resolved_automatically = False
        anomaly.status_note = note  # the earlier note stays in the audit trail
        anomaly.save()
        audit_record(action=f"anomaly.{action}", target=anomaly, before=before, after=snapshot(anomaly, AUDITED_FIELDS))
        _alert_follows(anomaly, action, note)
    return anomaly


def _alert_follows(anomaly: Anomaly, action: str, note: str) -> None:
    from apps.alerts.models import Alert
    from apps.alerts.services import alert_acknowledge, alert_resolve

    alert = Alert.objects.filter(dedup_key=anomaly.dedup_key).exclude(state=Alert.State.RESOLVED).first()
    label = {"acknowledge": "acknowledged", "resolve": "resolved", "dismiss": "dismissed"}.get(action, action)
    text = f"Anomaly {label}" + (f": {note}" if note else ".")
    if action == "acknowledge" and alert is not None and alert.state == Alert.State.OPEN:
        alert_acknowledge(alert=alert, note=text)
    elif action in ("resolve", "dismiss") and alert is not None:
        alert_resolve(alert=alert, note=text)
    elif action == "reopen":
        config = anomaly_settings()
        if anomaly.day >= utc_today() - dt.timedelta(days=config.alert_max_age_days):
            _raise_alert(anomaly, config)


# --- after a booking ---------------------------------------------------------------------------------------


def scan_after_booking(*, start: dt.date, end: dt.date, today: dt.date | None = None) -> ScanResult | None:
    """Re-judge the days a booking touched, [start, end), and the week after them (their baselines moved)."""
    today = today or utc_today()
    last = min(end - dt.timedelta(days=1) + dt.timedelta(days=LISTENER_DAYS_AFTER), today - dt.timedelta(days=1))
    first = max(start, last - dt.timedelta(days=LISTENER_MAX_DAYS - 1))
    if first > last:
        return None
    return anomalies_scan(first_day=first, last_day=last, today=today)
