"""Portal forms of the ROI inputs: the loaded hourly rate, and one business unit's value driver. The services
(apps.reports.value_services) check the same rules again, so the API and the page refuse the same things."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from apps.unit_economics.models import BusinessUnit

from .models import ValueDriver
from .value_services import ASSISTED_TOO_HIGH, ERRORS_PAIRED


class ValueSettingsForm(forms.Form):
    loaded_hourly_rate = forms.DecimalField(
        label="Loaded hourly rate",
        min_value=Decimal("0"),
        max_digits=20,
        decimal_places=6,
        help_text="What one hour of the client's people costs: salary plus overheads, in the reporting currency. "
        "0 while it is not known (the report then shows hours saved without their value).",
    )
    rate_basis = forms.CharField(
        label="Where the rate comes from",
        max_length=200,
        required=False,
        help_text="Shown in the report's method box, e.g. “HR average for claims handlers, 2026 budget”.",
    )


class ValueDriverForm(forms.Form):
    unit = forms.ModelChoiceField(
        label="Business unit",
        queryset=BusinessUnit.objects.none(),
        help_text="The units Keel counts each month are the volume the minutes are multiplied by.",
    )
    baseline_minutes = forms.DecimalField(
        label="Minutes per unit without AI", min_value=Decimal("0"), max_digits=10, decimal_places=2
    )
    assisted_minutes = forms.DecimalField(
        label="Minutes per unit with AI", min_value=Decimal("0"), max_digits=10, decimal_places=2
    )
    baseline_error_rate = forms.DecimalField(
        label="Error rate before AI (%)",
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=6,
        decimal_places=3,
        required=False,
        help_text="Share of units with an error before AI; leave both rates empty when errors are not tracked.",
    )
    current_error_rate = forms.DecimalField(
        label="Error rate now (%)",
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=6,
        decimal_places=3,
        required=False,
    )
    basis = forms.ChoiceField(
        label="Basis of these figures",
        choices=ValueDriver.Basis.choices,
        initial=ValueDriver.Basis.ESTIMATED,
        help_text="Measured (timed or from a system), estimated (a sample or a model) or self-reported (what people "
        "say): the report labels the time saved with it.",
    )
    note = forms.CharField(
        max_length=300,
        required=False,
        help_text="How the minutes were measured or estimated.",
        widget=forms.TextInput(),
    )

    def __init__(self, *args, driver: ValueDriver | None = None, **kwargs):
        if driver is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "unit": driver.unit_id,
                "baseline_minutes": driver.baseline_minutes,
                "assisted_minutes": driver.assisted_minutes,
                "baseline_error_rate": driver.baseline_error_rate,
                "current_error_rate": driver.current_error_rate,
                "basis": driver.basis,
                "note": driver.note,
            }
        super().__init__(*args, **kwargs)
        self.driver = driver
        taken = ValueDriver.objects.exclude(pk=driver.pk if driver else None).values("unit_id")
        self.fields["unit"].queryset = BusinessUnit.objects.exclude(pk__in=taken).order_by("name")

    def clean(self):
        data = super().clean()
        baseline, assisted = data.get("baseline_minutes"), data.get("assisted_minutes")
        if baseline is not None and assisted is not None and assisted > baseline:
            self.add_error("assisted_minutes", ASSISTED_TOO_HIGH)
        before, now = data.get("baseline_error_rate"), data.get("current_error_rate")
        if (before is None) != (now is None) and "baseline_error_rate" not in self.errors:
            self.add_error("current_error_rate" if now is None else "baseline_error_rate", ERRORS_PAIRED)
        return data

    def driver_fields(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.fields}
