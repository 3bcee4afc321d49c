"""FinOps portal forms. Billing-source forms are built from the connector's FieldSpecs; the services validate."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from .connectors.base import Connector, FieldSpec
from .focus import COLUMN_BY_FIELD
from .ledger import DEFAULTABLE_FIELDS
from .models import BillingSource

SETTING_PREFIX = "setting__"
SECRET_PREFIX = "secret__"
MIN_INTERVAL_MINUTES = 5


def _setting_field(spec: FieldSpec) -> forms.Field:
    common = {"label": spec.label, "help_text": spec.help, "required": spec.required, "initial": spec.default}
    if spec.choices:
        choices = list(spec.choices) if spec.required else [("", "—"), *spec.choices]
        return forms.ChoiceField(choices=choices, **common)
    return forms.CharField(max_length=2000, widget=forms.TextInput(attrs={"autocomplete": "off"}), **common)


def _secret_field(spec: FieldSpec, *, editing: bool) -> forms.Field:
    help_text = spec.help
    if editing:
        keep = "Leave blank to keep it as stored; type a new value to replace it."
        help_text = f"{spec.help} {keep}" if spec.help else keep
    return forms.CharField(
        label=spec.label,
        help_text=help_text,
        required=spec.required and not editing,
        strip=True,
        max_length=20000,
        # Never rendered with its value: the page shows a hint of the stored secret, not the secret.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"}),
    )


class SourceForm(forms.Form):
    """A billing source: its name and schedule, then the connector's settings and secrets."""

    name = forms.CharField(max_length=120, label="Name", help_text="How the source appears in the portal.")
    enabled = forms.BooleanField(
        required=False, initial=True, label="Enabled", help_text="A paused source is not pulled on its schedule."
    )
    interval_minutes = forms.IntegerField(
        min_value=MIN_INTERVAL_MINUTES, max_value=60 * 24 * 31, label="Pull every (minutes)"
    )
    lookback_days = forms.IntegerField(
        min_value=0,
        max_value=400,
        label="Re-read the last (days)",
        help_text="Every run reads these days again, so restated or late costs replace what was booked.",
    )
    backfill_days = forms.IntegerField(
        min_value=1, max_value=3650, label="First run reads (days)", help_text="How far back the first run goes."
    )

    def __init__(self, *args, connector: Connector, source: BillingSource | None = None, **kwargs):
        self.connector = connector
        self.source = source
        editing = source is not None
        if editing and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": source.name,
                "enabled": source.enabled,
                "interval_minutes": source.interval_minutes,
                "lookback_days": source.lookback_days,
                **{f"{SETTING_PREFIX}{k}": v for k, v in (source.settings or {}).items()},
            }
        elif not editing and "initial" not in kwargs:
            kwargs["initial"] = {
                "interval_minutes": connector.default_interval_minutes,
                "lookback_days": connector.default_lookback_days,
                "backfill_days": connector.default_backfill_days,
            }
        super().__init__(*args, **kwargs)
        pulled = connector.kind != "focus_upload"
        if editing or not pulled:
            del self.fields["backfill_days"]
        if not pulled:
            del self.fields["interval_minutes"]
            del self.fields["lookback_days"]
        for spec in connector.settings_fields:
            self.fields[f"{SETTING_PREFIX}{spec.name}"] = _setting_field(spec)
        for spec in connector.secret_fields:
            self.fields[f"{SECRET_PREFIX}{spec.name}"] = _secret_field(spec, editing=editing)

    # Field groups, for the template.
    def general_fields(self):
        return [self[name] for name in ("name", "enabled") if name in self.fields]

    def schedule_fields(self):
        return [self[name] for name in ("interval_minutes", "lookback_days", "backfill_days") if name in self.fields]

    def setting_fields(self):
        return [self[name] for name in self.fields if name.startswith(SETTING_PREFIX)]

    def secret_fields(self):
        return [self[name] for name in self.fields if name.startswith(SECRET_PREFIX)]

    def service_fields(self) -> dict:
        """Keyword arguments for services.billing_source_save (without the secrets)."""
        data = self.cleaned_data
        fields = {"name": data["name"], "enabled": data["enabled"]}
        for name in ("interval_minutes", "lookback_days", "backfill_days"):
            if name in self.fields:
                fields[name] = data[name]
        fields["settings"] = {
            name.removeprefix(SETTING_PREFIX): value or ""
            for name, value in data.items()
            if name.startswith(SETTING_PREFIX)
        }
        return fields

    def secrets(self) -> dict:
        """Only the secrets typed in: blank fields keep what is stored."""
        return {
            name.removeprefix(SECRET_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(SECRET_PREFIX) and value
        }

    def apply_service_errors(self, exc: ValidationError) -> None:
        """Put the service's messages next to the fields they are about ("settings.bucket" → the bucket input)."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for key, messages in exc.message_dict.items():
            if key.startswith("settings.") and f"{SETTING_PREFIX}{key[9:]}" in self.fields:
                target = f"{SETTING_PREFIX}{key[9:]}"
            elif key in self.fields:
                target = key
            else:
                target = None
            self.add_error(target, messages)


class UploadForm(forms.Form):
    file = forms.FileField(
        label="FOCUS file",
        widget=forms.FileInput(attrs={"accept": ".csv,.gz,.csv.gz,.parquet,text/csv,application/gzip"}),
    )

    def __init__(self, *args, max_mb: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            f"FOCUS 1.0–1.3 as CSV (comma, semicolon, tab or pipe), gzip-compressed CSV or Parquet; at most "
            f"{max_mb:,} MB. Nothing is booked before you have seen the preview."
        )


DEFAULT_LABELS = {
    "billing_currency": ("Billing currency", "ISO 4217 code of every amount in the file, e.g. USD."),
    "provider_name": ("Provider", "Who provided the services, e.g. Example Cloud."),
    "service_name": ("Service name", "One service name for every row, e.g. Example Service."),
    "billing_account_id": ("Billing account id", "One billing account for every row."),
    "invoice_issuer_name": ("Invoice issuer", "Who issued the invoice, e.g. the MSP or the cloud."),
}
DEFAULT_PREFIX = "default_"


class UploadDefaultsForm(forms.Form):
    """A value for the whole file, for each defaultable mandatory column the file does not have at all."""

    def __init__(self, *args, fields: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        for name in fields:
            if name not in DEFAULTABLE_FIELDS:
                continue
            label, help_text = DEFAULT_LABELS.get(name, (COLUMN_BY_FIELD[name].focus, ""))
            self.fields[f"{DEFAULT_PREFIX}{name}"] = forms.CharField(
                label=f"{label} ({COLUMN_BY_FIELD[name].focus})",
                help_text=help_text,
                max_length=200,
                required=True,
            )

    def clean(self):
        data = super().clean()
        key = f"{DEFAULT_PREFIX}billing_currency"
        if data.get(key):
            currency = data[key].strip().upper()
            if len(currency) != 3 or not currency.isalpha():
                self.add_error(key, "Write the three-letter ISO 4217 code, e.g. USD or EUR.")
            else:
                data[key] = currency
        return data

    def defaults(self) -> dict[str, str]:
        if not self.is_bound or not self.is_valid():
            return {}
        return {
            name.removeprefix(DEFAULT_PREFIX): value.strip()
            for name, value in self.cleaned_data.items()
            if value and value.strip()
        }
