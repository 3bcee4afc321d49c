from django import forms

from . import health


class HealthWeightsForm(forms.Form):
    """One weight 0-100 per component; 0 leaves the component out of the score."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key in health.COMPONENTS:
            self.fields[key] = forms.IntegerField(
                label=health.LABELS[key],
                min_value=0,
                max_value=100,
                help_text=health.MAPPINGS[key],
                widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric"}),
            )
