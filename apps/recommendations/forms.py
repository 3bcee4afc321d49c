"""Portal forms: the decisions on a recommendation, the client's settings, and a routing proposal."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from .models import RecommendationSettings
from .services import SETTINGS_FIELDS


class AcceptForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Who will do it, or when (optional).",
    )


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required: why it is not worth doing or not possible.",
        error_messages={"required": "Say why it is dismissed: the next person to see it will want to know."},
    )


class ImplementForm(forms.Form):
    implemented_on = forms.DateField(
        label="Live since",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The 30 days before this date are the baseline the realised saving is measured against.",
    )
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ReopenForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class SettingsForm(forms.ModelForm):
    class Meta:
        model = RecommendationSettings
        fields = SETTINGS_FIELDS
        labels = {
            "routing_max_input_tokens": "Short prompt: fewer input tokens than",
            "caching_min_repeats": "Repeated prompt: at least this many calls",
            "caching_min_days": "…on at least this many days",
            "caching_low_share_percent": "Low cache-read share (%)",
            "caching_target_share_percent": "Reachable cache-read share (%)",
            "small_min_requests": "High volume: calls in 30 days",
            "small_max_output_tokens": "Simple task: output tokens per call at most",
            "small_max_input_tokens": "Simple task: input tokens per call at most",
            "open_weight_model": "Open-weight model to compare with (catalog key)",
            "commitment_discount_percent": "Commitment discount assumed (%)",
            "deprecation_horizon_days": "Flag models retiring within (days)",
            "min_monthly_saving": "List findings saving at least (per month)",
        }

    def clean(self):
        data = super().clean()
        for name in ("caching_low_share_percent", "caching_target_share_percent", "commitment_discount_percent"):
            value = data.get(name)
            if value is not None and not Decimal(0) <= value <= Decimal(100):
                self.add_error(name, "A percentage between 0 and 100.")
        low, target = data.get("caching_low_share_percent"), data.get("caching_target_share_percent")
        if low is not None and target is not None and target <= low:
            self.add_error("caching_target_share_percent", "The reachable share must be above the low share.")
        return data


class ProposeForm(forms.Form):
    workload = forms.ChoiceField(label="Workload", help_text="A model's use by one project or asset, last 30 days.")
    target = forms.CharField(
        label="Route to (catalog model id)",
        max_length=300,
        widget=forms.TextInput(attrs={"list": "target-models", "autocomplete": "off"}),
        help_text="A model of the same provider, as the price catalog names it, e.g. claude-sonnet-4-6.",
    )
    share_percent = forms.DecimalField(
        label="Share of calls routed (%)",
        min_value=Decimal("0.01"),
        max_value=Decimal(100),
        decimal_places=2,
        initial=Decimal(100),
    )

    def __init__(self, *args, workloads: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workload"].choices = [("", "Choose a workload…"), *workloads]
