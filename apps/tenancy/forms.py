from django import forms

from .models import Client


class ClientForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = [
            "name",
            "slug",
            "industry",
            "time_zone",
            "reporting_currency",
            "data_residency_region",
            "service_tier",
            "sla_tier",
            "monthly_retainer",
        ]
        labels = {
            "slug": "Short name in web addresses",
            "monthly_retainer": "Monthly retainer",
            "sla_tier": "SLA tier",
            "data_residency_region": "Data-residency region",
        }
        help_texts = {"slug": "Lower-case letters, digits and dashes, e.g. acme. It cannot be changed later."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["slug"]
        self.fields["monthly_retainer"].widget.attrs["step"] = "0.01"

    def validate_unique(self):
        # The service checks slug uniqueness (and the schema name) in one place.
        pass


class LifecycleForm(forms.Form):
    lifecycle = forms.ChoiceField(choices=Client.Lifecycle.choices)
