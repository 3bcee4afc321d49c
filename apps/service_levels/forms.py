"""Portal forms of the service levels: the SLO, the business calendar, credit settlement and the OpenSLO upload.

They are plain forms: they turn what people type (an objective in percent, hours as "09:00-17:00", holidays one
per line) into the values the services take, and the services validate and save (their ValidationErrors, keyed
by field, are shown next to the fields here)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from apps.inventory.models import Asset

from . import openslo, services
from .clock import DAYS
from .keel_sources import SOURCE_KINDS
from .models import SLO, BusinessCalendar, ServiceCredit, SliKind

HUNDRED = Decimal(100)
TIER_ROWS = 4
# What the threshold means for each kind (services.THRESHOLD_NEEDED says which kinds require it).
THRESHOLD_HELP = (
    "Latency: the milliseconds an event may take (required). Quality: the lowest passing score, 0 to 1 "
    "(or send passed with each score). Drift: the statistic's limit, e.g. PSI 0.2 (the default). Incident "
    "response and resolution: the business minutes allowed (required). Other kinds do not use it."
)
INTERVAL = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")
DAY_LABELS = dict(
    zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True)
)


def _percent(ratio: Decimal | None) -> Decimal | None:
    """A stored ratio as the percent people type: Decimal("0.99900000") → Decimal("99.9")."""
    if ratio is None:
        return None
    value = (ratio * HUNDRED).normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral() else value


def _plain(number: Decimal | None) -> Decimal | None:
    if number is None:
        return None
    value = number.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral() else value


def _keel_source_help() -> str:
    kinds = dict(SliKind.choices)
    return "; ".join(
        f"{SLO.KeelSource(source).label}: {', '.join(sorted(kinds[k].lower() for k in feeds))}"
        for source, feeds in SOURCE_KINDS.items()
    )


class SloForm(forms.Form):
    name = forms.CharField(
        max_length=63,
        help_text="Lower-case letters, digits and dashes (RFC 1123), e.g. claims-api-latency. Measurements name "
        "their SLO by it.",
    )
    display_name = forms.CharField(max_length=200, required=False, help_text="Shown on the pages; default the name.")
    description = forms.CharField(max_length=1050, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    asset = forms.ChoiceField(label="AI asset", required=False)
    sli_kind = forms.ChoiceField(label="What is measured (SLI)", choices=SliKind.choices)
    objective = forms.DecimalField(
        label="Objective (%)",
        max_digits=10,
        decimal_places=6,
        help_text="The share of good events (or good time slices) the window must reach, e.g. 99.9.",
    )
    threshold = forms.DecimalField(max_digits=14, decimal_places=4, required=False, help_text=THRESHOLD_HELP)
    window_kind = forms.ChoiceField(
        label="Window", choices=SLO.WindowKind.choices, initial=SLO.WindowKind.CALENDAR_MONTH
    )
    window_days = forms.IntegerField(
        label="Rolling window (days)", min_value=1, max_value=366, initial=30, help_text="Rolling windows only."
    )
    budgeting = forms.ChoiceField(choices=SLO.Budgeting.choices, initial=SLO.Budgeting.OCCURRENCES)
    timeslice_minutes = forms.IntegerField(
        label="Time slice (minutes)", min_value=1, max_value=1440, initial=1, help_text="Time-slice budgeting only."
    )
    timeslice_target = forms.DecimalField(
        label="Good slice at (%)",
        max_digits=9,
        decimal_places=6,
        initial=Decimal(95),
        help_text="A slice is good when this share of its events is good.",
    )
    source = forms.ChoiceField(label="Measurements", choices=SLO.Source.choices, initial=SLO.Source.PUSHED)
    keel_source = forms.ChoiceField(label="Keel's data", choices=SLO.KeelSource.choices, required=False)
    calendar = forms.ChoiceField(
        label="Business calendar", required=False, help_text="Incident clocks only; none = around the clock (24×7)."
    )
    incident_severities = forms.MultipleChoiceField(
        label="Incident severities counted",
        choices=[(s, s.capitalize()) for s in services.SEVERITIES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Incident SLOs; none ticked = every severity.",
    )
    min_events = forms.IntegerField(
        label="Fewest events for a burn alert",
        min_value=1,
        max_value=1_000_000,
        initial=1,
        help_text="A short window with fewer events never alerts (low traffic: one failure is not an outage).",
    )
    alerting = forms.BooleanField(label="Raise burn-rate alerts", required=False, initial=True)
    active = forms.BooleanField(label="Active (evaluated every minute)", required=False, initial=True)
    owner_email = forms.EmailField(label="Owner", required=False)
    starts_on = forms.DateField(
        label="Counts from",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Midnight in the client's time zone; rolling windows settle whole periods from it. Empty: now "
        "(a new SLO) or unchanged.",
    )

    def __init__(self, *args, slo: SLO | None = None, tz=dt.UTC, **kwargs):
        if slo is not None and "initial" not in kwargs:
            kwargs["initial"] = slo_initial(slo)
        super().__init__(*args, **kwargs)
        self.slo, self.tz = slo, tz
        self.tier_errors: list[str] = []
        assets = Asset.objects.order_by("kind", "name").values_list("pk", "name", "kind")
        self.fields["asset"].choices = [("", "Whole service")] + [
            (str(pk), f"{name} ({kind})") for pk, name, kind in assets
        ]
        calendars = BusinessCalendar.objects.order_by("name").values_list("pk", "name", "time_zone")
        self.fields["calendar"].choices = [("", "24×7")] + [
            (str(pk), f"{name} ({zone})") for pk, name, zone in calendars
        ]
        self.fields["keel_source"].help_text = f"When Keel computes it: {_keel_source_help()}."
        for number in range(1, TIER_ROWS + 1):
            self.fields[f"tier_below_{number}"] = forms.DecimalField(
                label=f"Tier {number}: attainment below (%)", required=False, max_digits=9, decimal_places=6
            )
            self.fields[f"tier_credit_{number}"] = forms.DecimalField(
                label=f"Tier {number}: credit (% of the retainer)", required=False, max_digits=6, decimal_places=2
            )

    @property
    def tier_rows(self) -> list[tuple]:
        return [(self[f"tier_below_{n}"], self[f"tier_credit_{n}"]) for n in range(1, TIER_ROWS + 1)]

    def clean_objective(self) -> Decimal:
        value = self.cleaned_data["objective"]
        if not Decimal("0.01") <= value <= Decimal("99.999999"):
            raise ValidationError("A percentage over 0 and under 100, e.g. 99.9.")
        return value

    def clean_timeslice_target(self) -> Decimal:
        value = self.cleaned_data["timeslice_target"]
        if not 0 < value <= HUNDRED:
            raise ValidationError("A percentage over 0 and at most 100, e.g. 95.")
        return value

    def clean(self):
        data = super().clean()
        tiers = []
        for number in range(1, TIER_ROWS + 1):
            below, credit = data.get(f"tier_below_{number}"), data.get(f"tier_credit_{number}")
            if below is None and credit is None:
                continue
            if below is None:
                self.add_error(f"tier_below_{number}", "Give the attainment under which the credit is owed.")
            elif credit is None:
                self.add_error(f"tier_credit_{number}", "Give the credit this tier owes.")
            else:
                tiers.append({"below": str(_plain(below)), "credit_percent": str(_plain(credit))})
        data["credit_tiers"] = tiers
        return data

    def service_values(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "display_name": data["display_name"],
            "description": data["description"],
            "asset_id": int(data["asset"]) if data["asset"] else None,
            "sli_kind": data["sli_kind"],
            "objective": data["objective"] / HUNDRED,
            "threshold": data["threshold"],
            "window_kind": data["window_kind"],
            "window_days": data["window_days"],
            "budgeting": data["budgeting"],
            "timeslice_minutes": data["timeslice_minutes"],
            "timeslice_target": data["timeslice_target"] / HUNDRED,
            "source": data["source"],
            "keel_source": data["keel_source"],
            "calendar_id": int(data["calendar"]) if data["calendar"] else None,
            "incident_severities": list(data["incident_severities"]),
            "credit_tiers": data["credit_tiers"],
            "min_events": data["min_events"],
            "alerting": data["alerting"],
            "active": data["active"],
            "owner_email": data["owner_email"],
        }

    def save(self) -> SLO:
        """services.slo_save with the form's values (raises its ValidationError: see `show_errors`)."""
        day = self.cleaned_data.get("starts_on")
        starts_at = dt.datetime.combine(day, dt.time(), tzinfo=self.tz).astimezone(dt.UTC) if day else None
        return services.slo_save(slo=self.slo, starts_at=starts_at, **self.service_values())

    def show_errors(self, exc: ValidationError) -> None:
        """The service's problems next to their fields; credit tier problems next to the tiers."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for key, messages in exc.message_dict.items():
            if key == "credit_tiers":
                self.tier_errors.extend(messages)
                self.add_error(None, "Check the credit tiers.")
            else:
                self.add_error(key if key in self.fields else None, messages)


def slo_initial(slo: SLO) -> dict:
    initial = {
        "name": slo.name,
        "display_name": slo.display_name,
        "description": slo.description,
        "asset": str(slo.asset_id) if slo.asset_id else "",
        "sli_kind": slo.sli_kind,
        "objective": _percent(slo.objective),
        "threshold": _plain(slo.threshold),
        "window_kind": slo.window_kind,
        "window_days": slo.window_days,
        "budgeting": slo.budgeting,
        "timeslice_minutes": slo.timeslice_minutes,
        "timeslice_target": _percent(slo.timeslice_target),
        "source": slo.source,
        "keel_source": slo.keel_source,
        "calendar": str(slo.calendar_id) if slo.calendar_id else "",
        "incident_severities": list(slo.incident_severities),
        "min_events": slo.min_events,
        "alerting": slo.alerting,
        "active": slo.active,
        "owner_email": slo.owner_email,
    }
    for number, tier in enumerate((slo.credit_tiers or [])[:TIER_ROWS], start=1):
        initial[f"tier_below_{number}"] = _plain(Decimal(str(tier["below"])))
        initial[f"tier_credit_{number}"] = _plain(Decimal(str(tier["credit_percent"])))
    return initial


# --- calendars ---------------------------------------------------------------------------------------------


class CalendarForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="e.g. Toronto office hours.")
    time_zone = forms.CharField(max_length=64, initial="UTC", help_text="An IANA time zone, e.g. America/Toronto.")
    holiday_country = forms.CharField(
        label="Public holidays of", max_length=2, required=False, help_text="ISO country code, e.g. CA, DE, US."
    )
    holiday_subdivision = forms.CharField(
        label="Region", max_length=10, required=False, help_text="A province or state, e.g. ON for Ontario."
    )
    extra_holidays = forms.CharField(
        label="Other closed days",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "2026-12-24\n2026-12-31"}),
        help_text="One date per line (YYYY-MM-DD): the client's own closures.",
    )

    def __init__(self, *args, calendar: BusinessCalendar | None = None, **kwargs):
        if calendar is not None and "initial" not in kwargs:
            kwargs["initial"] = calendar_initial(calendar)
        super().__init__(*args, **kwargs)
        self.calendar = calendar
        for day in DAYS:
            self.fields[f"hours_{day}"] = forms.CharField(
                label=DAY_LABELS[day],
                required=False,
                widget=forms.TextInput(attrs={"placeholder": "09:00-17:00"}),
            )
        self.fields["hours_mon"].help_text = (
            "Working hours as 09:00-17:00; several intervals separated by commas (09:00-12:00, 13:00-17:00). "
            "Empty = closed. Every day empty = around the clock (24×7)."
        )

    @property
    def day_fields(self):
        return [self[f"hours_{day}"] for day in DAYS]

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data["time_zone"].strip()
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError("An IANA time zone, e.g. America/Toronto or Europe/Paris.") from None
        return zone

    def clean(self):
        data = super().clean()
        hours: dict[str, list[list[str]]] = {}
        for day in DAYS:
            text = data.get(f"hours_{day}", "")
            intervals = []
            for part in (p for p in re.split(r"[,;]", text) if p.strip()):
                match = INTERVAL.match(part)
                if not match:
                    self.add_error(f"hours_{day}", f"“{part.strip()}”: write it as 09:00-17:00.")
                    break
                intervals.append([match.group(1).zfill(5), match.group(2).zfill(5)])
            if intervals:
                hours[day] = intervals
        data["hours"] = hours
        data["extra_list"] = [line.strip() for line in data.get("extra_holidays", "").splitlines() if line.strip()]
        return data

    def save(self) -> BusinessCalendar:
        data = self.cleaned_data
        return services.calendar_save(
            calendar=self.calendar,
            name=data["name"],
            time_zone=data["time_zone"],
            hours=data["hours"],
            holiday_country=data["holiday_country"],
            holiday_subdivision=data["holiday_subdivision"],
            extra_holidays=data["extra_list"],
        )

    def show_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for key, messages in exc.message_dict.items():
            if key != "hours":
                self.add_error(key if key in self.fields else None, messages)
                continue
            # clock.validate_hours names the day first ("tue[0]: start … must be before end …"): show it there.
            for message in messages:
                day = message[:3]
                self.add_error(f"hours_{day}" if day in DAYS else None, message)


def hours_text(intervals) -> str:
    return ", ".join(f"{start}-{end}" for start, end in intervals or [])


def calendar_initial(calendar: BusinessCalendar) -> dict:
    initial = {
        "name": calendar.name,
        "time_zone": calendar.time_zone,
        "holiday_country": calendar.holiday_country,
        "holiday_subdivision": calendar.holiday_subdivision,
        "extra_holidays": "\n".join(day.isoformat() for day in calendar.extra_holidays),
    }
    for day in DAYS:
        initial[f"hours_{day}"] = hours_text((calendar.hours or {}).get(day))
    return initial


# --- credits and OpenSLO -----------------------------------------------------------------------------------


class SettleForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(ServiceCredit.Status.ISSUED, "Issued"), (ServiceCredit.Status.WAIVED, "Waived")]
    )
    note = forms.CharField(max_length=2000, required=False)


class OpenSloUploadForm(forms.Form):
    file = forms.FileField(label="OpenSLO file", help_text="A .yaml file of OpenSLO v1 documents, at most 1 MB.")

    def clean_file(self) -> str:
        """The file's text: YAML, at most 1 MB, UTF-8."""
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".yaml", ".yml")):
            raise ValidationError("Choose a .yaml file (OpenSLO v1 documents).")
        if upload.size > openslo.MAX_BYTES:
            raise ValidationError(f"The file is larger than {openslo.MAX_BYTES // (1024 * 1024)} MB.")
        raw = upload.read(openslo.MAX_BYTES + 1)
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text.") from None
