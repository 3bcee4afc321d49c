from decimal import Decimal

from django import forms

from .models import RunawaySettings
from .services import SETTINGS_FIELDS

CENT = Decimal("0.01")


class RunawaySettingsForm(forms.ModelForm):
    MONEY = ("min_spend_10m", "max_spend_per_minute")

    class Meta:
        model = RunawaySettings
        fields = SETTINGS_FIELDS
        widgets = {
            "baseline_multiplier": forms.NumberInput(attrs={"step": "0.5", "min": "1.5"}),
            "request_rate_multiplier": forms.NumberInput(attrs={"step": "0.5", "min": "1.5"}),
            "min_spend_10m": forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}),
            "max_spend_per_minute": forms.NumberInput(attrs={"step": "0.01", "min": "0.01"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.MONEY:  # stored with 6 places; shown as people type them
            value = self.initial.get(name)
            if isinstance(value, Decimal) and value == value.quantize(CENT):
                self.initial[name] = value.quantize(CENT)


class ResolveForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000)
