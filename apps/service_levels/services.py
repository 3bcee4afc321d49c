"""Writes to a client's service levels: SLOs, business calendars, credit settlement, drift submissions and
OpenSLO import/export. Every write is audited; validation errors are django ValidationErrors keyed by field,
which the portal forms and the API both show."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zoneinfo
from decimal import Decimal, InvalidOperation

import holidays
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record, snapshot
from apps.core.context import actor_label
from apps.inventory.models import Asset

from . import budget, clock, drift, openslo
from .keel_sources import SOURCE_KINDS
from .models import INCIDENT_KINDS, SLO, BusinessCalendar, DriftCheck, DriftMonitor, ServiceCredit, SliKind

NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
SLO_FIELDS = [
    "name",
    "display_name",
    "description",
    "asset_id",
    "sli_kind",
    "objective",
    "threshold",
    "window_kind",
    "window_days",
    "budgeting",
    "timeslice_minutes",
    "timeslice_target",
    "source",
    "keel_source",
    "calendar_id",
    "incident_severities",
    "credit_tiers",
    "min_events",
    "alerting",
    "active",
    "owner_email",
]
THRESHOLD_NEEDED = {
    SliKind.LATENCY: "the latency each event may take, in ms",
    SliKind.INCIDENT_RESPONSE: "the business minutes allowed for a first response",
    SliKind.INCIDENT_RESOLUTION: "the business minutes allowed for a resolution",
}
SEVERITIES = ("critical", "high", "medium", "low", "info")
MAX_DRIFT_FEATURE = 200


def _decimal(value, field: str, errors: dict) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors[field] = "Enter a number."
        return None
    if not number.is_finite():
        errors[field] = "Enter a finite number."
        return None
    return number


def _int(value, field: str, errors: dict, low: int, high: int) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        errors[field] = "Enter a whole number."
        return None
    if not low <= number <= high:
        errors[field] = f"Between {low} and {high}."
        return None
    return number


def slo_clean(values: dict, *, instance: SLO | None = None) -> dict:
    """The validated field values of an SLO (raises ValidationError with every problem at once)."""
    errors: dict[str, str] = {}
    merged = {field: getattr(instance, field) for field in SLO_FIELDS} if instance else {}
    merged.update(values)
    clean: dict = {}

    name = str(merged.get("name") or "").strip().lower()
    if not NAME.match(name):
        errors["name"] = "Lower-case letters, digits and dashes (RFC 1123), at most 63, e.g. claims-api-latency."
    elif SLO.objects.filter(name=name).exclude(pk=instance.pk if instance else None).exists():
        errors["name"] = f"An SLO named {name} already exists."
    clean["name"] = name
    clean["display_name"] = str(merged.get("display_name") or "").strip()[:200] or name
    description = str(merged.get("description") or "").strip()
    if len(description) > 1050:
        errors["description"] = "At most 1,050 characters (as OpenSLO allows)."
    clean["description"] = description

    kind = merged.get("sli_kind")
    if kind not in SliKind.values:
        errors["sli_kind"] = f"One of: {', '.join(SliKind.values)}."
    elif instance and kind != instance.sli_kind and instance.measurements.exists():
        errors["sli_kind"] = "This SLO has measurements of its kind: create a new SLO for another SLI."
    clean["sli_kind"] = kind

    objective = _decimal(merged.get("objective"), "objective", errors)
    if objective is not None and not Decimal("0.0001") <= objective <= Decimal("0.99999999"):
        errors["objective"] = "A share between 0 and 1, e.g. 0.999 for 99.9 %."
    elif objective is None and "objective" not in errors:
        errors["objective"] = "Give the objective, e.g. 0.999."
    clean["objective"] = objective

    threshold = _decimal(merged.get("threshold"), "threshold", errors)
    if threshold is not None and threshold < 0:
        errors["threshold"] = "At least 0."
    if kind in THRESHOLD_NEEDED and threshold is None and "threshold" not in errors:
        errors["threshold"] = f"Give {THRESHOLD_NEEDED[kind]}."
    if kind == SliKind.QUALITY and threshold is not None and threshold > 1:
        errors["threshold"] = "The lowest passing score, from 0 to 1."
    clean["threshold"] = threshold

    window_kind = merged.get("window_kind") or SLO.WindowKind.CALENDAR_MONTH
    if window_kind not in SLO.WindowKind.values:
        errors["window_kind"] = "calendar_month or rolling."
    clean["window_kind"] = window_kind
    clean["window_days"] = _int(merged.get("window_days", 30) or 30, "window_days", errors, 1, 366)
    budgeting = merged.get("budgeting") or SLO.Budgeting.OCCURRENCES
    if budgeting not in SLO.Budgeting.values:
        errors["budgeting"] = "occurrences or timeslices."
    clean["budgeting"] = budgeting
    clean["timeslice_minutes"] = _int(merged.get("timeslice_minutes", 1) or 1, "timeslice_minutes", errors, 1, 1440)
    slice_target = _decimal(merged.get("timeslice_target", "0.95"), "timeslice_target", errors)
    if slice_target is not None and not 0 < slice_target <= 1:
        errors["timeslice_target"] = "A share over 0 and at most 1."
    clean["timeslice_target"] = slice_target if slice_target is not None else Decimal("0.95")

    source = merged.get("source") or SLO.Source.PUSHED
    keel_source = merged.get("keel_source") or ""
    if source not in SLO.Source.values:
        errors["source"] = "pushed or keel."
    elif source == SLO.Source.KEEL:
        if keel_source not in SOURCE_KINDS:
            errors["keel_source"] = f"Which of Keel's data: {', '.join(SOURCE_KINDS)}."
        elif kind not in SOURCE_KINDS[keel_source]:
            errors["keel_source"] = f"{keel_source} cannot measure a {kind} SLI."
    else:
        keel_source = ""
    clean["source"], clean["keel_source"] = source, keel_source

    asset_id = merged.get("asset_id")
    if asset_id in ("", None):
        asset_id = None
    elif not Asset.objects.filter(pk=asset_id).exists():
        errors["asset"] = "No such asset in this workspace."
    if keel_source == SLO.KeelSource.DRIFT_CHECKS and asset_id is None:
        errors["asset"] = "A drift SLO watches one model or pipeline: choose it."
    clean["asset_id"] = asset_id

    calendar_id = merged.get("calendar_id") or None
    if calendar_id is not None and kind not in INCIDENT_KINDS:
        calendar_id = None  # only incident clocks run on business hours
    elif calendar_id is not None and not BusinessCalendar.objects.filter(pk=calendar_id).exists():
        errors["calendar"] = "No such business calendar."
    clean["calendar_id"] = calendar_id
    severities = merged.get("incident_severities") or []
    if not isinstance(severities, list) or any(s not in SEVERITIES for s in severities):
        errors["incident_severities"] = f"A list of: {', '.join(SEVERITIES)}."
    clean["incident_severities"] = list(dict.fromkeys(severities)) if isinstance(severities, list) else []

    tiers = merged.get("credit_tiers") or []
    problems = budget.validate_credit_tiers(tiers)
    if problems:
        errors["credit_tiers"] = " ".join(problems)
    else:
        tiers = [{"below": str(t["below"]), "credit_percent": str(t["credit_percent"])} for t in tiers]
        clean["credit_tiers"] = sorted(tiers, key=lambda t: -Decimal(t["below"]))
    clean["min_events"] = _int(merged.get("min_events", 1) or 1, "min_events", errors, 1, 1_000_000)
    clean["alerting"] = bool(merged.get("alerting", True))
    clean["active"] = bool(merged.get("active", True))
    owner = str(merged.get("owner_email") or "").strip()
    if owner and "@" not in owner:
        errors["owner_email"] = "An e-mail address."
    clean["owner_email"] = owner
    if errors:
        raise ValidationError(errors)
    return clean


def _state(slo: SLO) -> dict:
    return snapshot(slo, [field.removesuffix("_id") for field in SLO_FIELDS])


def slo_save(*, slo: SLO | None = None, starts_at: dt.datetime | None = None, **values) -> SLO:
    """Create an SLO, or change one (its measurements and recorded breaches stay as they are)."""
    clean = slo_clean(values, instance=slo)
    with transaction.atomic():
        if slo is None:
            slo = SLO.objects.create(starts_at=starts_at or timezone.now(), **clean)
            audit_record(action="slo.create", target=slo, after=_state(slo))
            return slo
        before = _state(slo)
        for field, value in clean.items():
            setattr(slo, field, value)
        if starts_at is not None:
            slo.starts_at = starts_at
        slo.save()
        audit_record(action="slo.update", target=slo, before=before, after=_state(slo))
    return slo


def slo_delete(*, slo: SLO) -> None:
    """Only an SLO without breaches can go (they are the contract's record); retire the others."""
    if slo.breaches.exists():
        raise ValidationError({"slo": "This SLO has recorded breaches: retire it instead (active off)."})
    with transaction.atomic():
        audit_record(action="slo.delete", target=slo, before=_state(slo))
        slo.delete()


# --- calendars ---------------------------------------------------------------------------------------------


def calendar_save(*, calendar: BusinessCalendar | None = None, **values) -> BusinessCalendar:
    errors: dict[str, str] = {}
    name = str(values.get("name", calendar.name if calendar else "")).strip()[:120]
    if not name:
        errors["name"] = "Name the calendar, e.g. Toronto office hours."
    elif BusinessCalendar.objects.filter(name=name).exclude(pk=calendar.pk if calendar else None).exists():
        errors["name"] = "A calendar with this name exists."
    zone = str(values.get("time_zone", calendar.time_zone if calendar else "UTC")).strip()
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = "An IANA time zone, e.g. America/Toronto."
    hours = values.get("hours", calendar.hours if calendar else {})
    problems = clock.validate_hours(hours)
    if problems:
        errors["hours"] = " ".join(problems)
    country = str(values.get("holiday_country", calendar.holiday_country if calendar else "")).strip().upper()
    subdivision = str(values.get("holiday_subdivision", calendar.holiday_subdivision if calendar else "")).strip()
    supported = holidays.list_supported_countries()
    if country and country not in supported:
        errors["holiday_country"] = "An ISO country code the holidays calendar knows, e.g. CA, DE, US."
    elif subdivision and (not country or subdivision.upper() not in {s.upper() for s in supported[country]}):
        errors["holiday_subdivision"] = f"A subdivision of {country or 'the country'}, e.g. ON for Ontario."
    extra = []
    for day in values.get("extra_holidays", calendar.extra_holidays if calendar else []) or []:
        try:
            extra.append(day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day).strip()))
        except ValueError:
            errors["extra_holidays"] = f"{str(day)[:20]!r} is not a date (YYYY-MM-DD)."
    if errors:
        raise ValidationError(errors)
    fields = {
        "name": name,
        "time_zone": zone,
        "hours": hours,
        "holiday_country": country,
        "holiday_subdivision": subdivision.upper(),
        "extra_holidays": sorted(set(extra)),
    }
    state = ["name", "time_zone", "hours", "holiday_country", "holiday_subdivision", "extra_holidays"]
    with transaction.atomic():
        if calendar is None:
            calendar = BusinessCalendar.objects.create(**fields)
            audit_record(action="slo.calendar_create", target=calendar, after=snapshot(calendar, state))
        else:
            before = snapshot(calendar, state)
            for field, value in fields.items():
                setattr(calendar, field, value)
            calendar.save()
            audit_record(action="slo.calendar_update", target=calendar, before=before, after=snapshot(calendar, state))
    return calendar


# --- credits -----------------------------------------------------------------------------------------------


def credit_settle(*, credit: ServiceCredit, status: str, note: str = "") -> ServiceCredit:
    """Record that a credit was issued (on an invoice) or waived (with the reason); the amount never changes."""
    note = note.strip()[:2000]
    if status not in (ServiceCredit.Status.ISSUED, ServiceCredit.Status.WAIVED, ServiceCredit.Status.DUE):
        raise ValidationError({"status": "due, issued or waived."})
    if status == ServiceCredit.Status.WAIVED and not note:
        raise ValidationError({"note": "Say why the credit is waived (the client will ask)."})
    before = {"status": credit.status, "note": credit.note}
    with transaction.atomic():
        credit.status, credit.note, credit.updated_by = status, note or credit.note, actor_label()
        credit.save()
        audit_record(action="slo.credit_settle", target=credit, before=before, after={"status": status, "note": note})
    return credit


# --- drift -------------------------------------------------------------------------------------------------


def drift_alert_key(monitor_id: int) -> str:
    return f"drift:{monitor_id}"


def drift_submit(
    *,
    asset: Asset,
    feature: str,
    current,
    window_start: dt.datetime,
    window_end: dt.datetime,
    kind: str = DriftMonitor.Kind.NUMERIC,
    reference=None,
    reference_label: str = "",
    key: str = "",
) -> tuple[DriftCheck, bool]:
    """Compare a current window with the monitor's pinned reference (given now, or pinned before).

    Returns (check, created): the same key again returns the stored check unchanged (a retry)."""
    errors: dict[str, str] = {}
    feature = str(feature or "").strip()
    if not feature or len(feature) > MAX_DRIFT_FEATURE or not feature.isprintable():
        errors["feature"] = f"Name the feature or score (at most {MAX_DRIFT_FEATURE} characters)."
    if kind not in DriftMonitor.Kind.values:
        errors["kind"] = "numeric or categorical."
    if window_end <= window_start:
        errors["window_end"] = "The window ends after it starts."
    if errors:
        raise ValidationError(errors)
    monitor = DriftMonitor.objects.filter(asset=asset, feature=feature).first()
    if monitor is not None and monitor.kind != kind:
        raise ValidationError({"kind": f"{feature} is monitored as {monitor.kind}."})
    reference_profile = None
    if reference is not None:
        try:
            reference_profile = drift.reference_profile(kind, reference)
        except drift.DriftInputError as exc:
            raise ValidationError({"reference": exc.errors}) from exc
    elif monitor is None:
        raise ValidationError({"reference": "First submission for this feature: send the reference distribution."})
    key = str(key or "").strip()[:200]
    if not key:
        body = json.dumps([feature, window_start.isoformat(), window_end.isoformat(), current, reference], default=str)
        key = "sha256:" + hashlib.sha256(body.encode()).hexdigest()
    if monitor is not None:
        existing = monitor.checks.filter(key=key).first()
        if existing is not None:
            return existing, False
    base = reference_profile or monitor.reference
    try:
        current_profile = drift.current_profile(base, kind, current)
    except drift.DriftInputError as exc:
        raise ValidationError({"current": exc.errors}) from exc
    result = drift.compare(base, current_profile)
    with transaction.atomic():
        if monitor is None:
            monitor = DriftMonitor.objects.create(
                asset=asset, feature=feature, kind=kind, reference=base, reference_label=reference_label[:200]
            )
            audit_record(action="drift.monitor_create", target=monitor, after={"feature": feature, "kind": kind})
        elif reference_profile is not None and reference_profile != monitor.reference:
            monitor.reference, monitor.reference_label = reference_profile, reference_label[:200]
            monitor.save(update_fields=["reference", "reference_label", "updated_at"])
            audit_record(action="drift.rebaseline", target=monitor, after={"reference_label": reference_label})
        status = drift.classify(result.psi, result.js, monitor.psi_warn, monitor.psi_alert, monitor.js_alert)
        check = DriftCheck.objects.create(
            monitor=monitor,
            key=key,
            window_start=window_start,
            window_end=window_end,
            current=current_profile,
            reference={k: v for k, v in base.items() if k != "sample"},
            n=result.n_current,
            psi=result.psi,
            js=result.js,
            ks_statistic=result.ks_statistic,
            ks_pvalue=result.ks_pvalue,
            status=status,
        )
        audit_record(
            action="drift.check",
            target=check,
            after={"feature": feature, "psi": str(result.psi), "js": str(result.js), "status": status},
        )
        _drift_alert(monitor, check)
    return check, True


def _drift_alert(monitor: DriftMonitor, check: DriftCheck) -> None:
    from apps.alerts.services import alert_raise, alert_resolve_condition

    latest = monitor.checks.order_by("-window_end", "-id").values_list("pk", flat=True).first()
    if latest != check.pk:
        return  # a late check for an older window does not decide today's alert
    if check.status == DriftCheck.Status.SIGNIFICANT:
        alert_raise(
            kind="drift",
            severity="high",
            subject=f"Drift on {monitor.asset.name}: {monitor.feature} (PSI {check.psi:.3f})"[:300],
            body=f"PSI {check.psi:.3f} (alert at {monitor.psi_alert}), Jensen–Shannon {check.js:.3f} for "
            f"{check.window_start:%Y-%m-%d} – {check.window_end:%Y-%m-%d} against "
            f"{monitor.reference_label or 'the reference'}.",
            dedup_key=drift_alert_key(monitor.pk),
            link=f"/service-levels/drift/{monitor.asset_id}/",
            data={"monitor_id": monitor.pk, "check_id": check.pk, "psi": str(check.psi)},
        )
    else:
        alert_resolve_condition(dedup_key=drift_alert_key(monitor.pk), note=f"Latest check: {check.status}.")


# --- OpenSLO ------------------------------------------------------------------------------------------------


def openslo_export(slos) -> str:
    from apps.tenancy.selectors import current_client

    client = current_client()
    rows = []
    for slo in slos:
        row = {field: getattr(slo, field) for field in openslo.FIELDS if field not in ("asset", "calendar")}
        row["asset"] = slo.asset.name if slo.asset_id else None
        row["calendar"] = slo.calendar.name if slo.calendar_id else None
        rows.append(row)
    service = client.slug if client else "keel"
    return openslo.export_documents(rows, service=service, time_zone=client.time_zone if client else "UTC")


def openslo_import(text: str) -> list[SLO]:
    """Create or update (by name) every SLO of an OpenSLO file, all or nothing."""
    try:
        documents = openslo.parse_documents(text)
    except openslo.OpenSloError as exc:
        raise ValidationError({"file": exc.messages}) from exc
    assets = {}
    for asset_id, name in Asset.objects.values_list("pk", "name"):
        assets.setdefault(name.strip().lower(), []).append(asset_id)
    calendars = dict(BusinessCalendar.objects.values_list("name", "pk"))
    problems: list[str] = []
    saved = []
    with transaction.atomic():
        for document in documents:
            values = {k: v for k, v in document.items() if k not in ("asset", "calendar", "starts_at")}
            asset_name = document.get("asset")
            if asset_name:
                matches = assets.get(asset_name.strip().lower(), [])
                if len(matches) != 1:
                    problems.append(
                        f"{document['name']}: asset {asset_name!r} "
                        + ("is not in the inventory." if not matches else "names several assets: rename one.")
                    )
                    continue
                values["asset_id"] = matches[0]
            if document.get("calendar"):
                if document["calendar"] not in calendars:
                    problems.append(f"{document['name']}: business calendar {document['calendar']!r} does not exist.")
                    continue
                values["calendar_id"] = calendars[document["calendar"]]
            values["source"] = SLO.Source.KEEL if values.get("keel_source") else SLO.Source.PUSHED
            existing = SLO.objects.filter(name=document["name"]).first()
            try:
                saved.append(slo_save(slo=existing, starts_at=document.get("starts_at"), **values))
            except ValidationError as exc:
                problems.extend(
                    f"{document['name']}: {field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
                )
        if problems:
            transaction.set_rollback(True)
            raise ValidationError({"file": problems})
    return saved
