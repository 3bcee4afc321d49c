"""The budget form: scope (one of five), monthly amount, thresholds as text, optional month overrides."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django import forms

from apps.inventory.models import Asset, Department

from .models import Budget
from .selectors import billed_currencies, provider_choices, service_choices
from .services import currency_choices

OVERRIDE_LINE = re.compile(r"^\s*(\d{4}-\d{2})\s*[=:,]?\s*([0-9][0-9,]*(?:\.\d+)?)\s*$")


class BudgetForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="e.g. “OpenAI API” or “Claims department”.")
    scope = forms.ChoiceField(label="Budget for", choices=Budget.Scope.choices, initial=Budget.Scope.CLIENT)
    department = forms.ModelChoiceField(queryset=Department.objects.none(), required=False)
    asset = forms.ModelChoiceField(queryset=Asset.objects.none(), required=False, label="AI asset")
    provider_name = forms.ChoiceField(label="Provider", required=False)
    service_name = forms.ChoiceField(label="Service", required=False)
    amount = forms.DecimalField(label="Monthly amount", min_value=Decimal("0.01"), max_digits=16, decimal_places=2)
    currency = forms.ChoiceField(
        help_text="Keel does not convert currencies: spend billed in other currencies is shown, not counted."
    )
    thresholds = forms.CharField(
        label="Alert thresholds (%)",
        initial="50, 80, 100",
        help_text="Whole percentages of the month's amount, separated by commas. Each one alerts once a month.",
    )
    alert_on = forms.ChoiceField(label="Alert on", choices=Budget.AlertOn.choices, initial=Budget.AlertOn.BOTH)
    owner_email = forms.EmailField(
        label="Owner", required=False, help_text="Gets the budget's alerts assigned (email address)."
    )
    overrides = forms.CharField(
        label="Different amounts for some months",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "2026-12 = 9500\n2027-01 = 8000"}),
        help_text="One month per line: YYYY-MM = amount. Other months use the monthly amount.",
    )
    active = forms.BooleanField(required=False, initial=True, label="Active (evaluated and alerting)")

    def __init__(self, *args, budget: Budget | None = None, reporting_currency: str = "USD", **kwargs):
        if budget is not None and "initial" not in kwargs:
            kwargs["initial"] = _initial(budget)
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.order_by("name")
        self.fields["asset"].queryset = Asset.objects.select_related("department").order_by("kind", "name")
        self.fields["asset"].label_from_instance = lambda a: f"{a.name} ({a.get_kind_display().lower()})"
        providers = provider_choices()
        services = service_choices()
        current = budget.provider_name if budget else ""
        self.fields["provider_name"].choices = [("", "—")] + [(p, p) for p in sorted({*providers, current} - {""})]
        names = {}
        for service, provider in services:
            names.setdefault(service, []).append(provider)
        if budget and budget.service_name:
            names.setdefault(budget.service_name, [])
        self.fields["service_name"].choices = [("", "—")] + [
            (s, f"{s} ({', '.join(names[s])})" if names[s] else s) for s in sorted(names)
        ]
        currencies = currency_choices(reporting_currency)
        if budget and budget.currency not in currencies:
            currencies.append(budget.currency)
        self.fields["currency"].choices = [
            (c, f"{c} (reporting currency)" if c == reporting_currency else f"{c} (billed)") for c in currencies
        ]
        self.fields["currency"].initial = budget.currency if budget else reporting_currency
        billed = [c for c in currencies if c != reporting_currency]
        if billed and reporting_currency not in billed_currencies():
            self.fields[
                "currency"
            ].help_text += f" Nothing is billed in {reporting_currency} yet: the bills are in {', '.join(billed)}."

    def clean_thresholds(self) -> list[str]:
        return [part for part in re.split(r"[,;\s]+", self.cleaned_data["thresholds"]) if part]

    def clean_overrides(self) -> dict[str, Decimal]:
        months: dict[str, Decimal] = {}
        for number, line in enumerate(self.cleaned_data["overrides"].splitlines(), start=1):
            if not line.strip():
                continue
            match = OVERRIDE_LINE.match(line)
            if not match:
                raise forms.ValidationError(f"Line {number}: write it as YYYY-MM = amount, e.g. 2026-12 = 9500.")
            month, amount = match.groups()
            try:
                dt.datetime.strptime(month, "%Y-%m")
                months[month] = Decimal(amount.replace(",", ""))
            except (ValueError, InvalidOperation):
                raise forms.ValidationError(f"Line {number}: {month} is not a month.") from None
        return months

    def service_fields(self) -> dict:
        data = self.cleaned_data
        scope = data["scope"]
        return {
            "name": data["name"],
            "scope": scope,
            "department": data["department"] if scope == Budget.Scope.DEPARTMENT else None,
            "asset": data["asset"] if scope == Budget.Scope.ASSET else None,
            "provider_name": data["provider_name"] if scope == Budget.Scope.PROVIDER else "",
            "service_name": data["service_name"] if scope == Budget.Scope.SERVICE else "",
            "amount": data["amount"],
            "currency": data["currency"],
            "thresholds": data["thresholds"],
            "alert_on": data["alert_on"],
            "owner_email": data["owner_email"],
            "active": data["active"],
            "overrides": data["overrides"],
        }


def _initial(budget: Budget) -> dict:
    return {
        "name": budget.name,
        "scope": budget.scope,
        "department": budget.department_id,
        "asset": budget.asset_id,
        "provider_name": budget.provider_name,
        "service_name": budget.service_name,
        "amount": budget.amount,
        "currency": budget.currency,
        "thresholds": ", ".join(str(t) for t in budget.thresholds),
        "alert_on": budget.alert_on,
        "owner_email": budget.owner_email,
        "active": budget.active,
        "overrides": "\n".join(f"{o.month:%Y-%m} = {o.amount}" for o in budget.overrides.all()),
    }
