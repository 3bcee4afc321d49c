"""Portal forms. They turn what a person types into the values the services take; the services validate."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.db import models

from .models import (
    KIND_MODEL,
    AgentTool,
    Asset,
    AssetKind,
    Department,
    Integration,
    Power,
    PromptVersion,
    RelationKind,
)
from .services import fields_for_kind


class DepartmentForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ["name", "code", "cost_center", "owner_email", "description"]
        labels = {"owner_email": "Owner's email", "cost_center": "Cost center"}
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def validate_unique(self):
        # The service checks uniqueness (case-insensitive names) in one place.
        pass


class KeyValueField(forms.CharField):
    """{"app": "claims"} shown and typed as "app=claims; team=ops"."""

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "; ".join(f"{key}={val}" for key, val in value.items())
        return value

    def to_python(self, value):
        return (value or "").strip()  # the service parses and explains mistakes


class SourcesField(forms.CharField):
    """Pipeline sources, one per line: "Claims PDFs | s3://harbor-claims/docs"."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(f"{item.get('name', '')} | {item.get('location', '')}".rstrip(" |") for item in value)
        return value

    def to_python(self, value):
        sources = []
        for line in (value or "").splitlines():
            if not line.strip():
                continue
            name, _, location = line.partition("|")
            sources.append({"name": name.strip(), "location": location.strip()})
        return sources


class EvaluationsField(forms.CharField):
    """Model-card results, one per line: "accuracy = 0.94 (holdout 2026-Q3)"."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, list):
            lines = []
            for item in value:
                line = f"{item.get('metric', '')} = {item.get('value', '')}"
                lines.append(f"{line} ({item['dataset']})" if item.get("dataset") else line)
            return "\n".join(lines)
        return value

    def to_python(self, value):
        results = []
        for line in (value or "").splitlines():
            if not line.strip():
                continue
            metric, sep, rest = line.partition("=")
            if not sep:
                raise forms.ValidationError(f"Write each result as metric = value (got “{line.strip()}”).")
            value_part, _, dataset = rest.partition("(")
            item = {"metric": metric.strip(), "value": value_part.strip()}
            if dataset.strip():
                item["dataset"] = dataset.strip().rstrip(")").strip()
            results.append(item)
        return results


LABELS = {
    "owner_email": "Owner",
    "purpose": "Business purpose",
    "risk_tier": "EU AI Act risk tier",
    "annex_iii_area": "Annex III area",
    "risk_rationale": "Why this tier",
    "personal_data": "Processes personal data",
    "residency_region": "Data-residency region",
    "cost_tags": "Cost-allocation tags",
    "model_id": "Model id",
    "open_weight": "Open-weight model",
    "approval_required_for": "Human approval required before",
    "kill_switch_url": "Kill-switch webhook URL",
    "spend_cap": "Spend cap",
    "spend_cap_currency": "Currency",
    "spend_cap_period": "Cap applies",
    "per_document_access_control": "Enforces per-document access control",
    "last_refreshed_at": "Last refreshed (UTC)",
    "health_checked_at": "Health last checked (UTC)",
    "url": "URL",
    "evaluation_results": "Evaluation results",
}
HELP = {
    "cost_tags": "key=value pairs separated by semicolons, e.g. app=claims; team=ops. Cost with these tags is "
    "allocated to this asset.",
    "sources": "One per line: name | location, e.g. Claims PDFs | s3://harbor-claims/docs",
    "evaluation_results": "One per line: metric = value (dataset), e.g. accuracy = 0.94 (holdout 2026-Q3)",
    "approval_required_for": "A person must approve these actions before the agent performs them.",
}
TEXTAREAS = {"purpose", "risk_rationale", "intended_use", "limitations", "training_data_summary"}


def _formfield(db_field, **kwargs):
    if isinstance(db_field, models.URLField):
        kwargs["assume_scheme"] = "https"  # people paste "agents.example.com/kill"
    return db_field.formfield(**kwargs)


def asset_form_class(kind: str) -> type[forms.ModelForm]:
    """A form with the common fields and the kind's own, in the order the services list them."""
    kind_fields = fields_for_kind(kind)

    class AssetForm(forms.ModelForm):
        cost_tags = KeyValueField(required=False, label=LABELS["cost_tags"], help_text=HELP["cost_tags"])
        owner_email = forms.ChoiceField(label="Owner", required=False)

        class Meta:
            model = KIND_MODEL[kind]
            fields = kind_fields
            formfield_callback = _formfield
            labels = LABELS
            help_texts = {key: text for key, text in HELP.items() if key in kind_fields}
            widgets = {
                **{name: forms.Textarea(attrs={"rows": 3}) for name in TEXTAREAS if name in kind_fields},
                "deprecation_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                "last_refreshed_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                "health_checked_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                "approval_required_for": forms.CheckboxSelectMultiple(attrs={"class": "checkbox-list"}),
            }

        def __init__(self, *args, owners: dict[str, str] | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            owners = dict(owners or {})
            current = self.initial.get("owner_email") or ""
            if current and current not in owners:
                owners[current] = current
            self.fields["owner_email"].choices = [("", "— nobody yet —")] + [
                (email, name if name == email else f"{name} <{email}>") for email, name in owners.items()
            ]
            self.fields["owner_email"].help_text = "Members of this client, MSP admins and department owners."
            if "department" in self.fields:
                self.fields["department"].empty_label = "— no department —"
            if "approval_required_for" in self.fields:
                self.fields["approval_required_for"] = forms.MultipleChoiceField(
                    choices=Power.choices,
                    required=False,
                    widget=forms.CheckboxSelectMultiple,
                    label=LABELS["approval_required_for"],
                    help_text=HELP["approval_required_for"],
                    initial=self.initial.get("approval_required_for"),
                )
            if "sources" in self.fields:
                self.fields["sources"] = SourcesField(required=False, help_text=HELP["sources"])
            if "evaluation_results" in self.fields:
                self.fields["evaluation_results"] = EvaluationsField(
                    required=False, label=LABELS["evaluation_results"], help_text=HELP["evaluation_results"]
                )

        def validate_unique(self):
            pass  # the service checks names (case-insensitive, per kind)

        def _post_clean(self):
            pass  # the service validates the instance; errors come back through add_error

        def service_fields(self) -> dict:
            data = {name: self.cleaned_data.get(name) for name in kind_fields if name in self.cleaned_data}
            for name in ("spend_cap", "max_amount_per_action"):
                if isinstance(data.get(name), Decimal):
                    data[name] = data[name].quantize(Decimal("0.01"))
            return data

    AssetForm.__name__ = f"{AssetKind(kind).name.title()}Form"
    return AssetForm


class AgentToolForm(forms.ModelForm):
    powers = forms.MultipleChoiceField(
        choices=Power.choices,
        widget=forms.CheckboxSelectMultiple,
        label="What it lets the agent do",
        error_messages={"required": "Say what the tool lets the agent do (at least “read data”)."},
    )

    class Meta:
        model = AgentTool
        fields = ["name", "description", "integration", "powers", "max_amount_per_action", "max_calls_per_hour"] + [
            "limit_note"
        ]
        labels = {
            "max_amount_per_action": "Most it may move per action",
            "max_calls_per_hour": "Most calls per hour",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["integration"].queryset = Integration.objects.order_by("name")
        self.fields["integration"].empty_label = "— not a registered integration —"

    def validate_unique(self):
        pass

    def _post_clean(self):
        pass


class PromptVersionForm(forms.ModelForm):
    class Meta:
        model = PromptVersion
        fields = ["template", "change_note"]
        labels = {"change_note": "What changed and why"}
        widgets = {"template": forms.Textarea(attrs={"rows": 8, "class": "mono"})}


class RelationForm(forms.Form):
    kind = forms.ChoiceField(choices=RelationKind.choices, label="Relation")
    target = forms.ModelChoiceField(queryset=Asset.objects.none(), label="Asset")
    prompt_version = forms.ModelChoiceField(
        queryset=PromptVersion.objects.none(), required=False, label="Prompt version (for “uses prompt”)"
    )
    note = forms.CharField(required=False, max_length=300)

    def __init__(self, *args, source: Asset, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = Asset.objects.exclude(pk=source.pk).order_by("kind", "name")
        self.fields["target"].label_from_instance = lambda a: f"{a.name} ({a.get_kind_display().lower()})"
        self.fields["prompt_version"].queryset = PromptVersion.objects.select_related("prompt").order_by(
            "prompt__name", "-number"
        )
        self.fields["prompt_version"].empty_label = "— latest / not a prompt —"


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[("retire", "Retire"), ("assign_owner", "Assign owner")])
    ids = forms.ModelMultipleChoiceField(
        queryset=Asset.objects.all(), error_messages={"required": "Tick the assets first."}
    )
    owner_email = forms.CharField(required=False)
