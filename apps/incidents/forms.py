"""Incident forms. Times are typed in the client's time zone (the portal activates it) and stored in UTC."""

from __future__ import annotations

from django import forms

from apps.alerts.models import Severity
from apps.inventory.models import Asset

from .models import AIIncident, IncidentKind, IncidentSettings, IncidentStatus
from .regimes import load_regimes

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=LOCAL_FORMAT, **kwargs)


def _time_field(label: str, help_text: str = "", required: bool = False) -> forms.DateTimeField:
    return forms.DateTimeField(label=label, required=required, help_text=help_text, widget=LocalDateTimeInput())


def regime_choices() -> list[tuple[str, str]]:
    return [(r.id, r.name) for r in load_regimes().regimes]


def flag_choices() -> list[tuple[str, str]]:
    return [(f.id, f.label) for f in load_regimes().flags]


class IncidentForm(forms.Form):
    title = forms.CharField(max_length=200, help_text="e.g. “Claims assistant told a customer a wrong payout rule”.")
    kind = forms.ChoiceField(choices=IncidentKind.choices)
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.HIGH)
    status = forms.ChoiceField(choices=IncidentStatus.choices, initial=IncidentStatus.OPEN)
    assets = forms.ModelMultipleChoiceField(
        label="Affected AI assets", queryset=Asset.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    occurred_at = _time_field("Began at", "When it started, if known.")
    detected_at = _time_field("Detected at", "When it was first noticed.", required=True)
    aware_at = _time_field(
        "Aware at",
        "When the organisation became aware of it. This starts the AI Act, NIS2 and GDPR clocks.",
        required=True,
    )
    classified_major_at = _time_field(
        "Classified as major at", "DORA: when it was classified as a major ICT-related incident."
    )
    breach_determined_at = _time_field(
        "Breach determined at", "PIPEDA: when it was determined that a breach occurred (default: awareness)."
    )
    personal_data = forms.BooleanField(label="Personal data is involved", required=False)
    personal_data_categories = forms.CharField(
        label="Categories of personal data",
        required=False,
        help_text="Separated by commas, e.g. contact details, health data, claim history.",
    )
    people_affected = forms.IntegerField(label="People affected", required=False, min_value=0)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    root_cause = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    remediation = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    lessons_learned = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    owner_email = forms.EmailField(label="Owner", required=False, help_text="Gets the deadline alerts assigned.")
    regimes = forms.MultipleChoiceField(
        label="Notification regimes that apply",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Each starts its clocks at once. Change them later on the incident page.",
    )
    apply_suggested = forms.BooleanField(
        label="Also apply the regimes Keel suggests from these facts",
        required=False,
        initial=True,
        help_text="Personal data and the client's data residency, its DORA and NIS2 settings, high-risk assets, "
        "frameworks enabled in the compliance register.",
    )
    flags = forms.MultipleChoiceField(
        label="Facts that change the deadlines", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, incident: AIIncident | None = None, **kwargs):
        if incident is not None and "initial" not in kwargs:
            kwargs["initial"] = _initial(incident)
        super().__init__(*args, **kwargs)
        self.fields["assets"].queryset = Asset.objects.order_by("kind", "name")
        self.fields["assets"].label_from_instance = lambda a: f"{a.name} ({a.get_kind_display().lower()})"
        self.fields["regimes"].choices = regime_choices()
        self.fields["flags"].choices = flag_choices()
        if incident is not None:
            del self.fields["apply_suggested"]

    def clean_personal_data_categories(self) -> list[str]:
        raw = self.cleaned_data["personal_data_categories"]
        return [part.strip() for part in raw.split(",") if part.strip()]

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("apply_suggested", None)
        data["assets"] = list(data["assets"])
        return data


def _initial(incident: AIIncident) -> dict:
    return {
        "title": incident.title,
        "kind": incident.kind,
        "severity": incident.severity,
        "status": incident.status,
        "assets": [a.pk for a in incident.assets.all()],
        "occurred_at": incident.occurred_at,
        "detected_at": incident.detected_at,
        "aware_at": incident.aware_at,
        "classified_major_at": incident.classified_major_at,
        "breach_determined_at": incident.breach_determined_at,
        "personal_data": incident.personal_data,
        "personal_data_categories": ", ".join(incident.personal_data_categories),
        "people_affected": incident.people_affected,
        "description": incident.description,
        "root_cause": incident.root_cause,
        "remediation": incident.remediation,
        "lessons_learned": incident.lessons_learned,
        "owner_email": incident.owner_email,
        "regimes": list(incident.regimes),
        "flags": list(incident.flags),
    }


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=IncidentStatus.choices)
    note = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class NoteForm(forms.Form):
    text = forms.CharField(label="Note", max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class RegimesForm(forms.Form):
    regimes = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    flags = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["regimes"].choices = regime_choices()
        self.fields["flags"].choices = flag_choices()


class ClassifyForm(forms.Form):
    classified_major_at = _time_field("Classified as major at", required=True)


class SubmitForm(forms.Form):
    submitted_at = _time_field("Submitted at", "Default: now.")
    reference = forms.CharField(required=False, max_length=200, help_text="The authority's reference or filing id.")
    note = forms.CharField(required=False, max_length=5000)


class NotRequiredForm(forms.Form):
    reason = forms.CharField(
        max_length=2000, help_text="Why this report is not owed, e.g. “unlikely to result in a risk: data encrypted”."
    )


class ReopenForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000)


class SettingsForm(forms.Form):
    dora_financial_entity = forms.BooleanField(
        label="An EU financial entity under DORA",
        required=False,
        help_text=IncidentSettings._meta.get_field("dora_financial_entity").help_text,
    )
    dora_weekend_rule = forms.ChoiceField(
        label="DORA weekend and bank-holiday relief",
        choices=IncidentSettings.DoraWeekendRule.choices,
        widget=forms.RadioSelect,
        help_text=IncidentSettings._meta.get_field("dora_weekend_rule").help_text,
    )
    bank_holidays = forms.CharField(
        label="Bank holidays of the Member State",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "2026-12-25\n2026-12-26\n2027-01-01"}),
        help_text="One date per line (YYYY-MM-DD); weekends are known already.",
    )
    nis2_entity = forms.BooleanField(
        label="An essential or important entity under NIS2",
        required=False,
        help_text=IncidentSettings._meta.get_field("nis2_entity").help_text,
    )

    def __init__(self, *args, settings: IncidentSettings | None = None, **kwargs):
        if settings is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "dora_financial_entity": settings.dora_financial_entity,
                "dora_weekend_rule": settings.dora_weekend_rule,
                "bank_holidays": "\n".join(d.isoformat() for d in settings.bank_holidays or []),
                "nis2_entity": settings.nis2_entity,
            }
        super().__init__(*args, **kwargs)

    def clean_bank_holidays(self) -> list[str]:
        return [
            line.strip() for line in self.cleaned_data["bank_holidays"].replace(",", "\n").splitlines() if line.strip()
        ]
