"""Portal forms: a business unit (what it is, what its cost is measured against) and a counts CSV upload."""

from __future__ import annotations

from django import forms
from django.db.models import Case, Value, When

from apps.inventory.models import Asset, AssetKind, Department

from .models import BusinessUnit, ScopeKind


class BusinessUnitForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="What happened, e.g. “Insurance claim processed”.")
    code = forms.SlugField(
        max_length=40,
        help_text="Lower-case letters, digits and hyphens; the API and CSV files name the unit by it. "
        "It cannot change later.",
    )
    unit_label = forms.CharField(label="One unit is a…", max_length=60, help_text="Singular, e.g. claim.")
    unit_label_plural = forms.CharField(
        label="Plural", max_length=60, required=False, help_text="Only when it is not the singular + “s”."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    scope_kind = forms.ChoiceField(
        label="Measured against", choices=ScopeKind.choices, initial=ScopeKind.CLIENT, widget=forms.RadioSelect
    )
    department = forms.ModelChoiceField(queryset=Department.objects.none(), required=False)
    asset = forms.ModelChoiceField(
        queryset=Asset.objects.none(), required=False, label="AI asset", help_text="Agents are listed first."
    )
    model = forms.CharField(
        max_length=200,
        required=False,
        help_text="The model id exactly as the bills name it (the list offers the models booked this year).",
        widget=forms.TextInput(attrs={"list": "unit-models", "autocomplete": "off"}),
    )
    ai_only = forms.BooleanField(
        label="AI spend only (the AI and Machine Learning service category of the scope)", required=False
    )

    def __init__(self, *args, unit: BusinessUnit | None = None, **kwargs):
        if unit is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": unit.name,
                "code": unit.code,
                "unit_label": unit.unit_label,
                "unit_label_plural": unit.unit_label_plural,
                "description": unit.description,
                "scope_kind": unit.scope_kind,
                "department": unit.department_id,
                "asset": unit.asset_id,
                "model": unit.model,
                "ai_only": unit.ai_only,
            }
        super().__init__(*args, **kwargs)
        self.unit = unit
        self.fields["department"].queryset = Department.objects.order_by("name")
        # Agents first: most business units are one agent's work.
        self.fields["asset"].queryset = Asset.objects.annotate(
            agent_first=Case(When(kind=AssetKind.AGENT, then=Value(0)), default=Value(1))
        ).order_by("agent_first", "kind", "name")
        self.fields["asset"].label_from_instance = lambda a: f"{a.name} ({a.get_kind_display().lower()})"
        if unit is not None:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = "Fixed: the API and CSV files name the unit by it."

    def clean_code(self) -> str:
        return self.cleaned_data["code"].lower()

    def unit_fields(self) -> dict:
        data = dict(self.cleaned_data)
        if self.unit is not None:
            data.pop("code", None)
        return data


class CountsUploadForm(forms.Form):
    file = forms.FileField(label="CSV file")
    unit = forms.ModelChoiceField(
        queryset=BusinessUnit.objects.none(),
        required=False,
        to_field_name="code",
        label="Business unit",
        empty_label="Named in the file (unit column)",
        help_text="Choose one when the file has no unit column: every row is then a count of that unit.",
    )

    def __init__(self, *args, max_mb: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = BusinessUnit.objects.order_by("name")
        self.fields["file"].help_text = (
            f"UTF-8 CSV with a header line: unit, day (YYYY-MM-DD, UTC), count, and optionally department "
            f"(code), asset (name or id) and id. At most {max_mb:,} MB. Nothing is stored before the preview."
        )
        self.fields["file"].widget.attrs["accept"] = ".csv,text/csv"
