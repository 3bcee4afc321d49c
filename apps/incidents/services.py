"""Writes of the incident register (each audited) and the clock watch that alerts before every deadline.

An incident's obligations are derived, never typed: `obligations_sync` recomputes them from the regimes that
apply, the incident's flags and its facts (awareness, classification as major, determination of a breach) and
from the reports already submitted (DORA's intermediate report counts from the initial notification's
submission). Every write that can move a clock ends with it, so due times follow corrections at once.

Alert firing state lives in ObligationAlert under a unique (obligation, stage, due time) constraint, written in
the same transaction as the alert: each stage alerts once per due time; a due time that moves re-arms them.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.alerts.models import Alert, Severity
from apps.alerts.services import alert_assign, alert_raise, alert_resolve
from apps.audit.services import audit_record, snapshot, to_jsonable
from apps.core.context import actor_label

from .models import (
    AIIncident,
    IncidentEvent,
    IncidentKind,
    IncidentSettings,
    IncidentStatus,
    Obligation,
    ObligationAlert,
    SourceKind,
)
from .regimes import Report, compute_due, load_regimes
from .selectors import client_zone, current_client, final_lead, incident_for_source, incident_settings, span

logger = logging.getLogger(__name__)

ALERT_KIND = "incident_deadline"
CLOCK_SKEW = dt.timedelta(minutes=5)  # a time "now" typed on a slow clock is not in the future
REMINDER_HOUR = 9  # daily reminders of soft deadlines go out from 09:00 in the client's time zone
STAGE_SEVERITY = {"half": "medium", "final": "high", "overdue": "critical", "reminder": "medium"}
MAX_TEXT = 20_000
AUDITED_FIELDS = [
    "title",
    "kind",
    "severity",
    "status",
    "occurred_at",
    "detected_at",
    "aware_at",
    "classified_major_at",
    "breach_determined_at",
    "personal_data",
    "personal_data_categories",
    "people_affected",
    "description",
    "root_cause",
    "remediation",
    "lessons_learned",
    "owner_email",
    "source_kind",
    "source_id",
    "source_label",
    "regimes",
    "flags",
    "closed_at",
]
OBLIGATION_FIELDS = [
    "regime",
    "report",
    "t0_event",
    "t0_at",
    "due_kind",
    "due_at",
    "base_due_at",
    "due_estimated",
    "keep_until",
    "status",
    "not_required_reason",
    "submitted_at",
    "submissions",
    "reference",
    "submitted_by",
]
CENT = Decimal("0.01")


def _money(value) -> str:
    return f"{Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP):,}"


def when_text(moment: dt.datetime | None, tz=None) -> str:
    """ "Fri 4 Dec 2026 18:00 CET (17:00 UTC)": the client's zone first, UTC beside it."""
    if moment is None:
        return "—"
    tz = tz or client_zone()
    local = moment.astimezone(tz)
    utc = moment.astimezone(dt.UTC)
    same_day = local.date() == utc.date()
    utc_text = f"{utc:%H:%M} UTC" if same_day else f"{utc:%a %-d %b %H:%M} UTC"
    return f"{local:%a %-d %b %Y %H:%M} {local.tzname()} ({utc_text})"


def _event(incident: AIIncident, kind: str, text: str, *, data: dict | None = None, at=None) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident,
        kind=kind,
        text=text,
        actor=actor_label(),
        at=at or timezone.now(),
        data=to_jsonable(data or {}),
    )


def _lock(key: str) -> None:
    """Serialise writes to one incident's clocks (a submission and the clock watch may meet)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{connection.schema_name}:incident:{key}"])


# --- validation ----------------------------------------------------------------------------------------------


def _clean_text(value, field: str, errors: dict, *, required=False, limit=MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        errors[field] = "Required."
    elif len(value) > limit:
        errors[field] = f"At most {limit:,} characters."
    return value


def _clean_time(value, field: str, errors: dict, *, required=False, now=None) -> dt.datetime | None:
    if value in (None, ""):
        if required:
            errors[field] = "Required: give the date and time."
        return None
    if isinstance(value, str):
        from django.utils.dateparse import parse_datetime

        parsed = parse_datetime(value.strip())
        if parsed is None:
            errors[field] = f"{value!r} is not a date and time (ISO 8601, e.g. 2026-12-04T18:00:00+01:00)."
            return None
        value = parsed
    if not isinstance(value, dt.datetime):
        errors[field] = "Give a date and time."
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, client_zone())
    if value > (now or timezone.now()) + CLOCK_SKEW:
        errors[field] = "That time is in the future."
    return value.astimezone(dt.UTC)


def _clean_categories(values, errors: dict) -> list[str]:
    if isinstance(values, str):
        values = values.replace(";", ",").split(",")
    cleaned: list[str] = []
    for value in values or []:
        value = str(value).strip()
        if not value:
            continue
        if len(value) > 80:
            errors["personal_data_categories"] = "Each category at most 80 characters."
            break
        if value.lower() not in {c.lower() for c in cleaned}:
            cleaned.append(value)
    if len(cleaned) > 30:
        errors["personal_data_categories"] = "At most 30 categories."
    return cleaned


def _clean_choices(values, known: dict | list, field: str, what: str, errors: dict) -> list[str]:
    cleaned = []
    for value in values or []:
        value = str(value).strip()
        if value not in known:
            errors[field] = f"Unknown {what} {value!r}; known: {', '.join(known)}."
            return []
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def _state(incident: AIIncident) -> dict:
    data = snapshot(incident, AUDITED_FIELDS)
    data["assets"] = sorted(incident.assets.values_list("pk", flat=True)) if incident.pk else []
    return data


# --- obligations ---------------------------------------------------------------------------------------------


def _weekend_relief(report: Report, settings: IncidentSettings) -> bool:
    if not report.weekend_rule:
        return False
    rule = settings.dora_weekend_rule
    if rule == IncidentSettings.DoraWeekendRule.ALL:
        return True
    if rule == IncidentSettings.DoraWeekendRule.FINAL_ONLY:
        return not report.weekend_rule_listed_entities
    return False


def _event_time(incident: AIIncident, event: str) -> dt.datetime | None:
    if event == "awareness":
        return incident.aware_at
    if event == "classification_as_major":
        return incident.classified_major_at
    if event == "determination_of_breach":
        return incident.breach_determined_at or incident.aware_at
    return None


def _resolve_alerts(obligation: Obligation, note: str) -> int:
    fired = ObligationAlert.objects.filter(
        obligation=obligation, alert__state__in=[Alert.State.OPEN, Alert.State.ACKNOWLEDGED]
    ).select_related("alert")
    count = 0
    for row in fired:
        alert_resolve(alert=row.alert, note=note)
        count += 1
    return count


def obligations_sync(incident: AIIncident) -> dict:
    """Make the incident's obligations match its regimes, flags and facts; recompute every clock.

    Pending obligations nobody acted on disappear when their regime or condition no longer applies; submitted
    and not-required ones stay (they are history). Returns what changed, for the caller's messages."""
    _lock(str(incident.pk))
    book = load_regimes()
    settings = incident_settings()
    tz = client_zone()
    holidays = frozenset(settings.bank_holidays or [])
    existing = {(o.regime, o.report): o for o in Obligation.objects.filter(incident=incident)}
    wanted: list[tuple[str, Report]] = []
    for regime_id in incident.regimes:
        regime = book.get(regime_id)
        if regime is None:
            continue
        wanted += [(regime_id, report) for report in regime.applicable_reports(incident.flags)]
    wanted_keys = {(regime_id, report.id) for regime_id, report in wanted}
    changes = {"added": [], "removed": [], "started": [], "moved": []}

    for key, obligation in existing.items():
        untouched = obligation.status == Obligation.Status.PENDING and not obligation.submissions
        if key not in wanted_keys and untouched:
            _resolve_alerts(obligation, "The report no longer applies to the incident.")
            audit_record(
                action="incident.obligation_remove", target=obligation, before=snapshot(obligation, OBLIGATION_FIELDS)
            )
            changes["removed"].append(_name(book, *key))
            obligation.delete()

    by_report: dict[tuple[str, str], Obligation] = {k: o for k, o in existing.items() if o.pk is not None}
    for position, (regime_id, report) in enumerate(wanted):
        regime = book.get(regime_id)
        obligation = by_report.get((regime_id, report.id))
        creating = obligation is None
        if creating:
            obligation = Obligation(incident=incident, regime=regime_id, report=report.id, t0_event=report.t0)
            if report.deadline.kind == "on_request":
                obligation.status = Obligation.Status.NOT_REQUIRED
                obligation.not_required_reason = report.conditions or "Only on request."
        before = None if creating else snapshot(obligation, OBLIGATION_FIELDS)
        obligation.position = position
        obligation.t0_event = report.t0
        estimate_from = None
        if report.t0_report:
            groups = {r.id: r.group for r in regime.reports}
            previous = next(
                (
                    o
                    for (r, rid), o in by_report.items()
                    if r == regime_id and report.t0_report in (rid, groups.get(rid))
                ),
                None,
            )
            t0 = previous.submitted_at if previous and previous.submitted_at else None
            if t0 is None and previous is not None and previous.is_pending and previous.due_at:
                estimate_from = previous.due_at
        elif report.t0 == "on_request":
            t0 = obligation.t0_at  # set when the report is reopened because the authority asked
        else:
            t0 = _event_time(incident, report.t0)
        due = compute_due(
            report,
            t0 or estimate_from,
            tz,
            cap_t0=_event_time(incident, report.cap.t0) if report.cap else None,
            holidays=holidays,
            weekend_relief=_weekend_relief(report, settings),
        )
        old_t0, old_due = obligation.t0_at, obligation.due_at
        obligation.t0_at = t0
        obligation.due_kind = due.kind
        obligation.due_at, obligation.base_due_at = due.due_at, due.base_due_at
        obligation.due_estimated = t0 is None and due.due_at is not None
        obligation.due_capped = due.capped
        obligation.keep_until = due.keep_until
        obligation.save()
        by_report[(regime_id, report.id)] = obligation
        name = _name(book, regime_id, report.id)
        if creating:
            changes["added"].append(name)
            audit_record(
                action="incident.obligation_add", target=obligation, after=snapshot(obligation, OBLIGATION_FIELDS)
            )
        if t0 is not None and old_t0 is None and obligation.status != Obligation.Status.NOT_REQUIRED:
            due_text = when_text(due.due_at, tz) if due.due_at else report.deadline.label().lower()
            extra = " (moved from a weekend or bank holiday)" if due.shifted else ""
            _event(
                incident,
                IncidentEvent.Kind.CLOCK_STARTED,
                f"{name}: the clock started at {when_text(t0, tz)} ({report.t0_label(regime).lower()}); "
                f"due {due_text}{extra}.",
                data={"obligation": obligation.pk, "t0": t0, "due_at": due.due_at},
            )
            changes["started"].append(name)
        elif obligation.is_pending and old_t0 is not None and (t0 != old_t0 or due.due_at != old_due):
            _resolve_alerts(obligation, f"The due time moved to {when_text(due.due_at, tz)}; alerts re-armed.")
            _event(
                incident,
                IncidentEvent.Kind.NOTE,
                f"{name}: due time moved from {when_text(old_due, tz)} to {when_text(due.due_at, tz)}.",
                data={"obligation": obligation.pk, "from": old_due, "to": due.due_at},
            )
            changes["moved"].append(name)
        if not creating and before != snapshot(obligation, OBLIGATION_FIELDS):
            audit_record(
                action="incident.obligation_recompute",
                target=obligation,
                before=before,
                after=snapshot(obligation, OBLIGATION_FIELDS),
            )
    return changes


def _name(book, regime_id: str, report_id: str) -> str:
    regime = book.get(regime_id)
    if regime is None:
        return f"{regime_id} {report_id}"
    try:
        return f"{regime.short_name} {regime.report(report_id).name.lower()}"
    except KeyError:
        return f"{regime.short_name} {report_id}"


# --- incidents -----------------------------------------------------------------------------------------------


def incident_save(
    *,
    incident: AIIncident | None = None,
    title: str,
    kind: str,
    detected_at,
    aware_at,
    severity: str = Severity.HIGH,
    status: str = IncidentStatus.OPEN,
    occurred_at=None,
    classified_major_at=None,
    breach_determined_at=None,
    personal_data: bool = False,
    personal_data_categories=(),
    people_affected: int | None = None,
    description: str = "",
    root_cause: str = "",
    remediation: str = "",
    lessons_learned: str = "",
    owner_email: str = "",
    assets=None,
    regimes=None,
    flags=None,
    source_kind: str = SourceKind.MANUAL,
    source_id: int | None = None,
    source_label: str = "",
) -> AIIncident:
    """Create or change an incident. assets/regimes/flags None keep what the incident has. The clocks follow."""
    errors: dict[str, str] = {}
    now = timezone.now()
    book = load_regimes()
    title = _clean_text(title, "title", errors, required=True, limit=200)
    if kind not in IncidentKind.values:
        errors["kind"] = f"Choose one of: {', '.join(IncidentKind.values)}."
    if severity not in Severity.values:
        errors["severity"] = f"Choose one of: {', '.join(Severity.values)}."
    if status not in IncidentStatus.values:
        errors["status"] = f"Choose one of: {', '.join(IncidentStatus.values)}."
    occurred = _clean_time(occurred_at, "occurred_at", errors, now=now)
    detected = _clean_time(detected_at, "detected_at", errors, required=True, now=now)
    aware = _clean_time(aware_at, "aware_at", errors, required=True, now=now)
    classified = _clean_time(classified_major_at, "classified_major_at", errors, now=now)
    determined = _clean_time(breach_determined_at, "breach_determined_at", errors, now=now)
    if occurred and detected and occurred > detected and "occurred_at" not in errors:
        errors["occurred_at"] = "It cannot have begun after it was detected."
    if occurred and aware and aware < occurred and "aware_at" not in errors:
        errors["aware_at"] = "Awareness cannot come before the incident began."
    if aware and classified and classified < aware and "classified_major_at" not in errors:
        errors["classified_major_at"] = "An incident is classified after the organisation became aware of it."
    if aware and determined and determined < aware and "breach_determined_at" not in errors:
        errors["breach_determined_at"] = "The breach is determined after the organisation became aware of it."
    categories = _clean_categories(personal_data_categories, errors)
    if categories and not personal_data:
        personal_data = True  # categories of personal data mean personal data is involved
    if people_affected in ("", None):
        people_affected = None
    else:
        try:
            people_affected = int(people_affected)
            if people_affected < 0:
                raise ValueError
        except (TypeError, ValueError):
            errors["people_affected"] = "A whole number of people, 0 or more."
    description = _clean_text(description, "description", errors)
    root_cause = _clean_text(root_cause, "root_cause", errors)
    remediation = _clean_text(remediation, "remediation", errors)
    lessons_learned = _clean_text(lessons_learned, "lessons_learned", errors)
    owner_email = (owner_email or "").strip().lower()
    if owner_email:
        try:
            validate_email(owner_email)
        except ValidationError:
            errors["owner_email"] = "Enter an email address."
    known_regimes = {r.id: r for r in book.regimes}
    if regimes is not None:
        regimes = _clean_choices(regimes, known_regimes, "regimes", "regime", errors)
    if flags is not None:
        flags = _clean_choices(flags, book.flag_labels(), "flags", "flag", errors)
    if source_kind not in SourceKind.values:
        errors["source_kind"] = f"Choose one of: {', '.join(SourceKind.values)}."
    elif source_kind != SourceKind.MANUAL and not source_id:
        errors["source_id"] = "Give the id of the runaway incident, anomaly or alert it comes from."
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        creating = incident is None
        if creating:
            incident = AIIncident(source_kind=source_kind, source_id=source_id or None, source_label=source_label[:300])
            before = None
            old_assets: set[int] = set()
        else:
            incident = AIIncident.objects.select_for_update().get(pk=incident.pk)
            before = _state(incident)
            old_assets = set(before["assets"])
        old_status, old_regimes = incident.status, list(incident.regimes)
        old_facts = (incident.aware_at, incident.classified_major_at, incident.breach_determined_at)
        incident.title, incident.kind, incident.severity, incident.status = title, kind, severity, status
        incident.occurred_at, incident.detected_at, incident.aware_at = occurred, detected, aware
        incident.classified_major_at, incident.breach_determined_at = classified, determined
        incident.personal_data, incident.personal_data_categories = bool(personal_data), categories
        incident.people_affected = people_affected
        incident.description, incident.root_cause = description, root_cause
        incident.remediation, incident.lessons_learned = remediation, lessons_learned
        incident.owner_email = owner_email
        if regimes is not None:
            incident.regimes = regimes
        if flags is not None:
            incident.flags = flags
        if status == IncidentStatus.CLOSED and old_status != IncidentStatus.CLOSED:
            incident.closed_at = now
        elif status != IncidentStatus.CLOSED:
            incident.closed_at = None
        incident.save()
        if assets is not None:
            incident.assets.set(assets)
        tz = client_zone()
        if creating:
            origin = f" from {incident.get_source_kind_display().lower()} {source_label}" if source_id else ""
            _event(
                incident,
                IncidentEvent.Kind.CREATED,
                f"Incident recorded{origin}: {incident.get_kind_display().lower()}, {severity} severity; "
                f"aware at {when_text(aware, tz)}.",
            )
            if source_id:
                _event(
                    incident,
                    IncidentEvent.Kind.LINKED,
                    f"Linked to {incident.get_source_kind_display().lower()} #{source_id}.",
                    data={"source_kind": source_kind, "source_id": source_id},
                )
        elif status != old_status:
            _event(
                incident,
                IncidentEvent.Kind.STATUS,
                f"Status changed from {IncidentStatus(old_status).label.lower()} "
                f"to {incident.get_status_display().lower()}.",
                data={"from": old_status, "to": status},
            )
        if not creating:
            labels = ("Awareness", "Classification as major", "Determination of the breach")
            new_facts = (aware, classified, determined)
            for label, old, new in zip(labels, old_facts, new_facts, strict=True):
                if old != new:
                    text = (
                        f"{label} recorded at {when_text(new, tz)}."
                        if old is None
                        else (
                            f"{label} corrected from {when_text(old, tz)} to {when_text(new, tz)}."
                            if new
                            else f"{label} time removed (was {when_text(old, tz)})."
                        )
                    )
                    _event(incident, IncidentEvent.Kind.NOTE, text)
        if assets is not None:
            new_assets = {a.pk for a in assets}
            added = [a for a in assets if a.pk in new_assets - old_assets]
            if added:
                _event(
                    incident,
                    IncidentEvent.Kind.LINKED,
                    "Affected asset"
                    + ("s " if len(added) > 1 else " ")
                    + ", ".join(a.name for a in added)
                    + " linked.",
                    data={"assets": [a.pk for a in added]},
                )
        if incident.regimes != old_regimes:
            gained = [known_regimes[r].short_name for r in incident.regimes if r not in old_regimes]
            lost = [
                known_regimes[r].short_name for r in old_regimes if r not in incident.regimes and r in known_regimes
            ]
            parts = []
            if gained:
                parts.append("applies " + ", ".join(gained))
            if lost:
                parts.append("no longer applies " + ", ".join(lost))
            _event(incident, IncidentEvent.Kind.NOTE, "Notification regimes: " + "; ".join(parts) + ".")
        obligations_sync(incident)
        audit_record(
            action="incident.create" if creating else "incident.update",
            target=incident,
            before=before,
            after=_state(incident),
        )
    return incident


def incident_fields(incident: AIIncident) -> dict:
    """The incident's current values as incident_save takes them (partial updates start from these)."""
    return {
        "title": incident.title,
        "kind": incident.kind,
        "severity": incident.severity,
        "status": incident.status,
        "occurred_at": incident.occurred_at,
        "detected_at": incident.detected_at,
        "aware_at": incident.aware_at,
        "classified_major_at": incident.classified_major_at,
        "breach_determined_at": incident.breach_determined_at,
        "personal_data": incident.personal_data,
        "personal_data_categories": list(incident.personal_data_categories),
        "people_affected": incident.people_affected,
        "description": incident.description,
        "root_cause": incident.root_cause,
        "remediation": incident.remediation,
        "lessons_learned": incident.lessons_learned,
        "owner_email": incident.owner_email,
    }


def incident_change(*, incident: AIIncident, **changes) -> AIIncident:
    """incident_save with only some fields given; the others keep their values."""
    return incident_save(incident=incident, **{**incident_fields(incident), **changes})


def incident_set_status(*, incident: AIIncident, status: str, note: str = "") -> AIIncident:
    note = (note or "").strip()
    with transaction.atomic():
        incident = incident_change(incident=incident, status=status)
        if note:
            incident_add_note(incident=incident, text=note)
    return incident


def incident_add_note(*, incident: AIIncident, text: str) -> IncidentEvent:
    errors: dict[str, str] = {}
    text = _clean_text(text, "text", errors, required=True, limit=5000)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        event = _event(incident, IncidentEvent.Kind.NOTE, text)
        audit_record(action="incident.note", target=incident, after={"note": text})
    return event


def incident_set_regimes(*, incident: AIIncident, regimes, flags=None) -> AIIncident:
    """Choose which regimes apply (and the facts that switch reports on); the clocks start at once."""
    return incident_change(
        incident=incident, regimes=list(regimes), **({"flags": list(flags)} if flags is not None else {})
    )


# --- obligations: submissions ---------------------------------------------------------------------------------


def _obligation_locked(obligation: Obligation) -> Obligation:
    _lock(str(obligation.incident_id))
    return Obligation.objects.select_for_update().select_related("incident").get(pk=obligation.pk)


def _report_of(obligation: Obligation) -> Report | None:
    regime = load_regimes().get(obligation.regime)
    try:
        return regime.report(obligation.report) if regime else None
    except KeyError:
        return None


def obligation_submit(*, obligation: Obligation, submitted_at=None, reference: str = "", note: str = "") -> Obligation:
    """Record that the report went to its recipient (or the record was made). A repeatable report (DORA's
    intermediate report) can be submitted again as an update; the next clock counts from the latest."""
    errors: dict[str, str] = {}
    now = timezone.now()
    when = _clean_time(submitted_at, "submitted_at", errors, now=now) if submitted_at else now
    reference = _clean_text(reference, "reference", errors, limit=200)
    note = _clean_text(note, "note", errors, limit=5000)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        obligation = _obligation_locked(obligation)
        incident = obligation.incident
        report = _report_of(obligation)
        if obligation.status == Obligation.Status.NOT_REQUIRED:
            raise ValidationError(
                {"status": "This report is marked not required: reopen it before recording a submission."}
            )
        if when < incident.aware_at - CLOCK_SKEW:
            raise ValidationError(
                {"submitted_at": "A report cannot have been submitted before the incident was known."}
            )
        update = obligation.status == Obligation.Status.SUBMITTED
        if update and not (report and report.repeatable):
            raise ValidationError(
                {"status": f"Already submitted on {when_text(obligation.submitted_at)}; this report has no updates."}
            )
        if update and when < obligation.submitted_at:
            raise ValidationError({"submitted_at": "An update comes after the previous submission."})
        before = snapshot(obligation, OBLIGATION_FIELDS)
        obligation.status = Obligation.Status.SUBMITTED
        obligation.submitted_at = when
        obligation.first_submitted_at = obligation.first_submitted_at or when
        obligation.submissions += 1
        obligation.reference = reference or obligation.reference
        obligation.submitted_by = actor_label()
        obligation.submission_note = note
        obligation.save()
        name = _name(load_regimes(), obligation.regime, obligation.report)
        recipient = report.recipient if report else ""
        if report and report.kind == "record":
            text = f"{name} made at {when_text(when)}"
        else:
            verb = "updated and submitted again" if update else "submitted"
            text = f"{name} {verb} to {recipient.lower() or 'its recipient'} at {when_text(when)}"
        if obligation.due_at and when > obligation.due_at:
            text += f", {span(when - obligation.due_at)} after its due time"
        text += f" (reference {reference})." if reference else "."
        if note:
            text += f" {note}"
        _event(
            incident,
            IncidentEvent.Kind.NOTIFICATION_SENT,
            text,
            data={"obligation": obligation.pk, "submitted_at": when, "reference": reference, "update": update},
        )
        _resolve_alerts(obligation, f"Submitted at {when_text(when)}.")
        audit_record(
            action="incident.obligation_submit",
            target=obligation,
            before=before,
            after=snapshot(obligation, OBLIGATION_FIELDS),
        )
        obligations_sync(incident)  # the next report's clock may start now
    return obligation


def obligation_mark_not_required(*, obligation: Obligation, reason: str) -> Obligation:
    """Not owed, with the reason (e.g. GDPR: unlikely to result in a risk). It stops alerting."""
    errors: dict[str, str] = {}
    reason = _clean_text(reason, "reason", errors, required=True, limit=2000)
    if reason and len(reason) < 10:
        errors["reason"] = "Say why in a sentence: the reason is kept with the incident."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        obligation = _obligation_locked(obligation)
        if obligation.status != Obligation.Status.PENDING:
            raise ValidationError(
                {
                    "status": "Only a pending report can be marked not required "
                    f"(this one is {obligation.get_status_display().lower()})."
                }
            )
        before = snapshot(obligation, OBLIGATION_FIELDS)
        obligation.status = Obligation.Status.NOT_REQUIRED
        obligation.not_required_reason = reason
        obligation.save()
        name = _name(load_regimes(), obligation.regime, obligation.report)
        _event(
            obligation.incident,
            IncidentEvent.Kind.NOTE,
            f"{name} marked not required: {reason}",
            data={"obligation": obligation.pk},
        )
        _resolve_alerts(obligation, f"Marked not required: {reason}")
        audit_record(
            action="incident.obligation_not_required",
            target=obligation,
            before=before,
            after=snapshot(obligation, OBLIGATION_FIELDS),
        )
        obligations_sync(obligation.incident)
    return obligation


def obligation_reopen(*, obligation: Obligation, note: str = "") -> Obligation:
    """Back to pending: a report marked not required that turns out to be owed (the CSIRT asks for an
    intermediate report), or a submission recorded by mistake. The timeline keeps what was there."""
    errors: dict[str, str] = {}
    note = _clean_text(note, "note", errors, limit=2000)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        obligation = _obligation_locked(obligation)
        if obligation.status == Obligation.Status.PENDING:
            raise ValidationError({"status": "This report is already pending."})
        before = snapshot(obligation, OBLIGATION_FIELDS)
        was = obligation.get_status_display().lower()
        obligation.status = Obligation.Status.PENDING
        obligation.not_required_reason = ""
        obligation.submitted_at = obligation.first_submitted_at = None
        obligation.submissions = 0
        obligation.reference = obligation.submitted_by = obligation.submission_note = ""
        obligation.save()
        name = _name(load_regimes(), obligation.regime, obligation.report)
        text = f"{name} reopened (was {was})." + (f" {note}" if note else "")
        _event(obligation.incident, IncidentEvent.Kind.STATUS, text, data={"obligation": obligation.pk})
        audit_record(
            action="incident.obligation_reopen",
            target=obligation,
            before=before,
            after=snapshot(obligation, OBLIGATION_FIELDS),
        )
        if obligation.due_kind == "on_request" and obligation.t0_at is None:
            # The request is what starts an on-request report; it has no fixed deadline.
            Obligation.objects.filter(pk=obligation.pk).update(t0_at=timezone.now())
        obligations_sync(obligation.incident)
        obligation.refresh_from_db()
    return obligation


# --- opening an incident from a runaway incident or an anomaly ------------------------------------------------


def _open_from(source_kind: str, source_id: int, fields: dict) -> tuple[AIIncident, bool]:
    """Idempotent: the unique constraint on the source makes a second click (or a race) find the first."""
    found = incident_for_source(source_kind, source_id)
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            incident = incident_save(source_kind=source_kind, source_id=source_id, **fields)
    except IntegrityError:
        found = incident_for_source(source_kind, source_id)
        if found is None:
            raise
        return found, False
    return incident, True


def incident_open_from_runaway(incident) -> tuple[AIIncident, bool]:
    """An AI incident (cost runaway) from a runaway spend incident: aware from its detection, the dollars burned
    in the description, the agent's inventory asset affected. Returns (incident, created)."""
    runaway = incident
    scope = f"{runaway.get_scope_kind_display().lower()} {runaway.scope_key}"
    currency = runaway.currency
    lines = [
        f"Runaway spend of {scope} caught by Keel's live usage scan: {_money(runaway.burned)} {currency} burned "
        f"since {when_text(runaway.started_at)} ({runaway.requests:,} requests, {runaway.minutes_burning:.0f} minutes "
        f"above the threshold).",
        f"Peak {_money(runaway.peak_per_minute)} {currency} a minute; 24 hours at that pace would cost "
        f"{_money(runaway.projected_24h_at_peak)} {currency}.",
        f"Detected at {when_text(runaway.detected_at)}, {runaway.detection_delay_seconds:.0f} s after it began.",
    ]
    if runaway.stopped_at:
        lines.append(f"Kill-switch called at {when_text(runaway.stopped_at)}.")
    if runaway.resolution_note:
        lines.append(f"Runaway resolution note: {runaway.resolution_note}")
    assets = []
    if runaway.scope_kind == "agent" and runaway.agent_id:
        from apps.inventory.models import Asset

        assets = list(Asset.objects.filter(pk=runaway.agent_id))
    severity = runaway.severity if runaway.severity in Severity.values else Severity.HIGH
    return _open_from(
        SourceKind.RUNAWAY,
        runaway.pk,
        {
            "title": f"Runaway spend: {scope}"[:200],
            "kind": IncidentKind.COST_RUNAWAY,
            "severity": severity,
            "occurred_at": runaway.started_at,
            "detected_at": runaway.detected_at,
            "aware_at": runaway.detected_at,
            "description": "\n".join(lines),
            "assets": assets,
            "regimes": [],
            "source_label": f"runaway spend of {scope} ({_money(runaway.burned)} {currency} burned)",
        },
    )


def incident_open_from_anomaly(anomaly) -> tuple[AIIncident, bool]:
    """An AI incident (cost runaway) from a daily cost anomaly: aware from its first detection, the impact in
    the description, the AI asset affected when the anomaly is an asset's. Returns (incident, created)."""
    currency = anomaly.currency
    impact = Decimal(anomaly.impact or 0)
    sign = "+" if impact >= 0 else "−"
    lines = [
        f"{anomaly.get_direction_display()} of {anomaly.scope_label} on {anomaly.day:%a %-d %b %Y} (UTC charge day): "
        f"{_money(anomaly.actual)} {currency} spent against an expected {_money(anomaly.expected)} {currency} "
        f"(range {_money(anomaly.expected_low)}–{_money(anomaly.expected_high)}), "
        f"{sign}{_money(abs(impact))} {currency} "
        f"that day, {anomaly.score} × the usual spread.",
        f"First detected at {when_text(anomaly.first_detected_at)}.",
    ]
    if anomaly.status_note:
        lines.append(f"Anomaly note: {anomaly.status_note}")
    assets = []
    if anomaly.scope_kind == "asset" and str(anomaly.scope_key).isdigit():
        from apps.inventory.models import Asset

        assets = list(Asset.objects.filter(pk=int(anomaly.scope_key)))
    severity = (
        anomaly.alert.severity
        if anomaly.alert_id and anomaly.alert
        else (Severity.HIGH if anomaly.direction == "spike" else Severity.MEDIUM)
    )
    start = dt.datetime.combine(anomaly.day, dt.time(0), tzinfo=dt.UTC)
    direction = anomaly.get_direction_display().lower()
    return _open_from(
        SourceKind.ANOMALY,
        anomaly.pk,
        {
            "title": f"Cost anomaly: {direction} of {anomaly.scope_label} on {anomaly.day:%-d %b %Y}"[:200],
            "kind": IncidentKind.COST_RUNAWAY,
            "severity": severity,
            "occurred_at": min(start, anomaly.first_detected_at),
            "detected_at": anomaly.first_detected_at,
            "aware_at": anomaly.first_detected_at,
            "description": "\n".join(lines),
            "assets": assets,
            "regimes": [],
            "source_label": f"{direction} of {anomaly.scope_label} on {anomaly.day:%Y-%m-%d} "
            f"({sign}{_money(abs(impact))} {currency})",
        },
    )


# --- settings -------------------------------------------------------------------------------------------------


def incident_settings_save(
    *, dora_financial_entity: bool, dora_weekend_rule: str, nis2_entity: bool, bank_holidays=()
) -> IncidentSettings:
    """Save the client's incident settings; every active incident's clocks are recomputed (the weekend rule and
    the bank holidays move DORA deadlines)."""
    errors: dict[str, str] = {}
    if dora_weekend_rule not in IncidentSettings.DoraWeekendRule.values:
        errors["dora_weekend_rule"] = f"Choose one of: {', '.join(IncidentSettings.DoraWeekendRule.values)}."
    days = []
    for value in bank_holidays or []:
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value.strip())
            except ValueError:
                errors["bank_holidays"] = f"{value!r} is not a date (YYYY-MM-DD)."
                break
        if not isinstance(value, dt.date):
            errors["bank_holidays"] = "Give dates (YYYY-MM-DD)."
            break
        if value not in days:
            days.append(value)
    if len(days) > 200:
        errors["bank_holidays"] = "At most 200 dates."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        found = IncidentSettings.objects.select_for_update().filter(pk=1).first()
        before = snapshot(found) if found else None
        settings = found or IncidentSettings(pk=1)
        settings.dora_financial_entity = bool(dora_financial_entity)
        settings.dora_weekend_rule = dora_weekend_rule
        settings.nis2_entity = bool(nis2_entity)
        settings.bank_holidays = sorted(days)
        settings.save()
        audit_record(action="incident_settings.update", target=settings, before=before, after=snapshot(settings))
        for incident in AIIncident.objects.filter(status__in=AIIncident.ACTIVE).exclude(regimes=[]):
            obligations_sync(incident)
    return settings


# --- the clock watch ------------------------------------------------------------------------------------------


def _stage_times(obligation: Obligation) -> list[tuple[str, dt.datetime]]:
    window = obligation.due_at - obligation.t0_at
    if window.total_seconds() <= 0:
        return [("overdue", obligation.due_at)]
    return [
        ("half", obligation.t0_at + window / 2),
        ("final", obligation.due_at - final_lead(window)),
        ("overdue", obligation.due_at),
    ]


def _alert_text(obligation: Obligation, stage: str, now: dt.datetime) -> tuple[str, str]:
    book = load_regimes()
    incident = obligation.incident
    name = _name(book, obligation.regime, obligation.report)
    report = _report_of(obligation)
    regime = book.get(obligation.regime)
    tz = client_zone()
    if stage == "reminder":
        soft = report.deadline.label().lower() if report else "as soon as feasible"
        subject = f"{name} for {incident.reference} is still open ({soft})"
    elif stage == "overdue":
        subject = f"{name} for {incident.reference} is overdue since {when_text(obligation.due_at, tz)}"
    else:
        left = span(obligation.due_at - now)
        subject = f"{name} for {incident.reference} due in {left}: {when_text(obligation.due_at, tz)}"
    lines = [f"Incident {incident.reference}: {incident.title} ({incident.get_status_display().lower()})."]
    if report:
        lines.append(
            f"To: {report.recipient}. Rule: {report.deadline.label().lower()} from "
            f"{report.t0_label(regime).lower()} ({report.source})."
        )
    lines.append(f"Clock started {when_text(obligation.t0_at, tz)}.")
    if obligation.due_at:
        lines.append(f"Due {when_text(obligation.due_at, tz)}.")
        if obligation.base_due_at and obligation.base_due_at != obligation.due_at:
            lines.append(f"Moved from {when_text(obligation.base_due_at, tz)} by the weekend and holiday rule.")
    if stage == "overdue":
        lines.append("Submit it now, and tell the recipient why it is late.")
    lines.append("Record the submission, or mark it not required with the reason, on the incident page.")
    return subject, "\n".join(lines)


def _raise(obligation: Obligation, stage: str, due_key: str, now: dt.datetime, lower: list[str]) -> Alert:
    incident = obligation.incident
    subject, body = _alert_text(obligation, stage, now)
    suffix = f":{due_key}" if stage == "reminder" else ""
    alert = alert_raise(
        kind=ALERT_KIND,
        severity=STAGE_SEVERITY[stage],
        subject=subject,
        body=body,
        dedup_key=f"{ALERT_KIND}:{obligation.pk}:{stage}{suffix}",
        link=f"/incidents/{incident.pk}/#clocks",
        data=to_jsonable(
            {
                "incident_id": incident.pk,
                "obligation_id": obligation.pk,
                "regime": obligation.regime,
                "report": obligation.report,
                "stage": stage,
                "due_at": obligation.due_at,
                "t0_at": obligation.t0_at,
            }
        ),
    )
    rows = [
        ObligationAlert(obligation=obligation, stage=s, due_key=due_key, fired_at=now, raised_alert=False)
        for s in lower
    ]
    rows.append(ObligationAlert(obligation=obligation, stage=stage, due_key=due_key, fired_at=now, alert=alert))
    ObligationAlert.objects.bulk_create(rows)
    # The earlier stages' alerts say less than this one: close them so one alert per report stays open.
    superseded = ObligationAlert.objects.filter(
        obligation=obligation, alert__state__in=[Alert.State.OPEN, Alert.State.ACKNOWLEDGED]
    ).exclude(alert=alert)
    for row in superseded.select_related("alert"):
        alert_resolve(alert=row.alert, note="Superseded by a later alert about the same report.")
    if incident.owner_email and not alert.owner_email:
        alert_assign(alert=alert, owner_email=incident.owner_email)
    return alert


def clock_watch(*, now: dt.datetime | None = None) -> dict:
    """Alert before every pending deadline: at half the window, 2 h before (a quarter of the window for short
    ones) and when overdue; soft deadlines get one reminder a day. Runs every 5 minutes (incidents.clock_watch)."""
    now = now or timezone.now()
    tz = client_zone()
    raised = 0
    pending = (
        Obligation.objects.filter(status=Obligation.Status.PENDING, t0_at__isnull=False, due_estimated=False)
        .exclude(due_kind="on_request")
        .select_related("incident")
        .order_by("due_at", "id")
    )
    checked = 0
    for obligation in pending:
        checked += 1
        with transaction.atomic():
            _lock(str(obligation.incident_id))
            obligation = (
                Obligation.objects.select_for_update().select_related("incident").filter(pk=obligation.pk).first()
            )
            if obligation is None or not obligation.is_pending or obligation.t0_at is None:
                continue
            if obligation.due_at is not None:
                due_key = obligation.due_at.astimezone(dt.UTC).isoformat(timespec="seconds")
                reached = [stage for stage, at in _stage_times(obligation) if now >= at]
                fired = set(
                    ObligationAlert.objects.filter(obligation=obligation, due_key=due_key).values_list(
                        "stage", flat=True
                    )
                )
                new = [stage for stage in reached if stage not in fired]
                if new:
                    _raise(obligation, new[-1], due_key, now, lower=new[:-1])
                    raised += 1
                continue
            local = now.astimezone(tz)
            first_day = obligation.t0_at.astimezone(tz).date()
            if local.date() != first_day and local.hour < REMINDER_HOUR:
                continue
            day_key = local.date().isoformat()
            if ObligationAlert.objects.filter(obligation=obligation, stage="reminder", due_key=day_key).exists():
                continue
            _raise(obligation, "reminder", day_key, now, lower=[])
            raised += 1
    return {"obligations": checked, "alerts_raised": raised}


def client_defaults_text(client=None) -> str:
    """What the settings page says Keel assumed before anyone saved the settings."""
    client = client or current_client()
    if client is None:
        return ""
    return f"industry “{client.industry or 'not set'}”, data residency {client.data_residency_region.upper()}"
