"""Portal forms of the register. They only shape input; every rule is checked again by the services."""

from __future__ import annotations

from django import forms

from apps.inventory.models import Asset

from .models import Control, ControlMapping, Evidence

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _asset_field(label="Assets in scope", help_text=""):
    field = forms.ModelMultipleChoiceField(
        queryset=Asset.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=label,
        help_text=help_text,
    )
    field.label_from_instance = lambda a: (
        f"{a.name} ({a.get_kind_display().lower()}, {a.get_risk_tier_display().lower()})"
    )
    return field


def _assets():
    return Asset.objects.exclude(lifecycle="retired").order_by("kind", "name")


class EnableFrameworkForm(forms.Form):
    framework = forms.TypedChoiceField(coerce=int, label="Framework")
    roles = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="The client's role(s)",
        help_text="Requirements written for other roles do not apply.",
    )
    assets = _asset_field(help_text="Their kind and EU AI Act risk tier decide which requirements apply.")
    owner_email = forms.EmailField(required=False, label="Owner", help_text="Who answers for this framework.")

    def __init__(self, *args, frameworks=(), chosen=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["framework"].choices = [
            (f.pk, f"{f.short_name} — {f.name}" + (f" (v{f.current.version})" if f.current else "")) for f in frameworks
        ]
        roles = list(chosen.current.roles) if chosen is not None and chosen.current else []
        self.fields["roles"].choices = [(r, r.replace("_", " ").capitalize()) for r in roles]
        if len(roles) == 1:
            self.fields["roles"].initial = roles
        self.fields["assets"].queryset = _assets()


class ClientFrameworkForm(forms.Form):
    roles = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="The client's role(s)")
    assets = _asset_field()
    owner_email = forms.EmailField(required=False, label="Owner")

    def __init__(self, *args, client_framework=None, **kwargs):
        if client_framework is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "roles": client_framework.roles,
                "assets": list(client_framework.assets.values_list("pk", flat=True)),
                "owner_email": client_framework.owner_email,
            }
        super().__init__(*args, **kwargs)
        roles = list(client_framework.version.roles) if client_framework else []
        self.fields["roles"].choices = [(r, r.replace("_", " ").capitalize()) for r in roles]
        self.fields["assets"].queryset = _assets()


class AssessForm(forms.Form):
    not_applicable = forms.BooleanField(required=False, label="Not applicable to this client")
    justification = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when not applicable: why it does not apply. Auditors read this.",
    )
    owner_email = forms.EmailField(required=False, label="Owner")


class ControlForm(forms.Form):
    code = forms.CharField(max_length=40, help_text="Short reference, e.g. AI-LOG-01.")
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    owner_email = forms.EmailField(required=False, label="Owner")
    status = forms.ChoiceField(
        choices=Control.Status.choices,
        initial=Control.Status.PLANNED,
        help_text="Only active controls count towards readiness.",
    )
    review_frequency = forms.ChoiceField(choices=Control.Frequency.choices, initial=Control.Frequency.YEARLY)
    next_review_on = forms.DateField(
        required=False,
        widget=DATE,
        label="Next review",
        help_text="Empty: one review period from today once it is active.",
    )

    def __init__(self, *args, control=None, **kwargs):
        if control is not None and "initial" not in kwargs:
            kwargs["initial"] = {f: getattr(control, f) for f in self.base_fields}
        super().__init__(*args, **kwargs)


class MappingForm(forms.Form):
    urn = forms.ChoiceField(label="Requirement")
    coverage = forms.ChoiceField(choices=ControlMapping.Coverage.choices, initial=ControlMapping.Coverage.FULL)
    rationale = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="How the control meets it (optional)."
    )

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["urn"].choices = [("", "—")] + [(name, options) for name, _fid, options in choices if options]


class EvidenceForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    kind = forms.ChoiceField(
        choices=[(Evidence.Kind.UPLOAD, "Upload a file"), (Evidence.Kind.LINK, "Link to it")],
        initial=Evidence.Kind.UPLOAD,
        widget=forms.RadioSelect,
        label="Evidence is",
    )
    file = forms.FileField(required=False, error_messages={"empty": "The file is empty (0 bytes)."})
    url = forms.URLField(required=False, label="Link", assume_scheme="https")
    effective_date = forms.DateField(
        widget=DATE, help_text="The date it proves (the test, the policy's date…), not today's upload."
    )
    expires_on = forms.DateField(
        required=False,
        widget=DATE,
        label="Expires / review by",
        help_text="The last day it counts. Keel warns 30 and 7 days before.",
    )
    controls = forms.ModelMultipleChoiceField(
        queryset=Control.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Proves these controls",
    )
    assets = _asset_field(label="About these assets")
    owner_email = forms.EmailField(required=False, label="Owner")
    approve = forms.BooleanField(required=False, label="Approve it now (recorded as a self-approval)")

    def __init__(self, *args, max_bytes: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["controls"].queryset = Control.objects.exclude(status=Control.Status.RETIRED).order_by("code")
        self.fields["assets"].queryset = _assets()
        self.fields[
            "file"
        ].help_text = (
            f"PDF, PNG, JPEG, TXT, CSV, JSON, Markdown, DOCX, XLSX or PPTX, up to {max_bytes // (1024 * 1024)} MiB."
        )

    def clean(self):
        data = super().clean()
        if data.get("kind") == Evidence.Kind.LINK and not data.get("url"):
            self.add_error("url", "Give the link.")
        if data.get("kind") == Evidence.Kind.UPLOAD and not data.get("file"):
            self.add_error("file", "Choose a file to upload.")
        return data


class EvidenceEditForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    expires_on = forms.DateField(
        required=False,
        widget=DATE,
        label="Expires / review by",
        help_text="A new date on approved evidence needs a new approval.",
    )
    controls = forms.ModelMultipleChoiceField(
        queryset=Control.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Proves these controls",
    )
    assets = _asset_field(label="About these assets")
    owner_email = forms.EmailField(required=False, label="Owner")

    def __init__(self, *args, evidence=None, **kwargs):
        if evidence is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "title": evidence.title,
                "description": evidence.description,
                "expires_on": evidence.expires_on,
                "controls": [c.pk for c in evidence.controls.all()],
                "assets": [a.pk for a in evidence.assets.all()],
                "owner_email": evidence.owner_email,
            }
        super().__init__(*args, **kwargs)
        self.fields["controls"].queryset = Control.objects.exclude(status=Control.Status.RETIRED).order_by("code")
        self.fields["assets"].queryset = _assets()
        if evidence is not None and evidence.kind == Evidence.Kind.GENERATED:
            del self.fields["expires_on"]  # Keel renews it on every run


class RevisionForm(forms.Form):
    file = forms.FileField(required=False, error_messages={"empty": "The file is empty (0 bytes)."})
    url = forms.URLField(required=False, label="Link", assume_scheme="https")
    effective_date = forms.DateField(widget=DATE, help_text="The date the new version proves.")
    expires_on = forms.DateField(required=False, widget=DATE, label="Expires / review by")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="What changed.")
    approve = forms.BooleanField(required=False, label="Approve it now (recorded as a self-approval)")

    def __init__(self, *args, evidence=None, **kwargs):
        if evidence is not None and "initial" not in kwargs:
            kwargs["initial"] = {"expires_on": evidence.expires_on}
        super().__init__(*args, **kwargs)
        if evidence is not None and evidence.kind == Evidence.Kind.UPLOAD:
            del self.fields["url"]
        elif evidence is not None:
            del self.fields["file"]


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Why it is rejected")
