"""Portal forms: the client's detection settings, and the note or reason of an action on an anomaly."""

from __future__ import annotations

from django import forms

from .models import AnomalySettings
from .services import SETTINGS_FIELDS


class AnomalySettingsForm(forms.ModelForm):
    class Meta:
        model = AnomalySettings
        fields = SETTINGS_FIELDS
        labels = {"sensitivity": "Sensitivity k (robust standard deviations)"}
        widgets = {
            name: forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"})
            for name in (
                "sensitivity",
                "min_impact",
                "min_impact_percent",
                "spread_floor_percent",
                "high_impact",
            )
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("min_impact", "high_impact", "sensitivity", "min_impact_percent", "spread_floor_percent"):
            value = self.initial.get(name)
            if value is not None:  # 50, not 50.000000
                self.initial[name] = f"{value.normalize():f}"

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in SETTINGS_FIELDS}


class ActionForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to dismiss: why this is not a problem (a planned migration, a known batch job…).",
    )
