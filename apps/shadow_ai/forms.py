"""Portal forms of the review: the rule choice shared by register and map, mapping, dismissal and settings. The
register page reuses the inventory's own asset form (apps.inventory.forms.asset_form_class), prefilled."""

from __future__ import annotations

from django import forms

from apps.inventory.models import Asset

from .models import ShadowItem, ShadowSettings
from .services import SETTINGS_FIELDS


def _candidate_label(candidate: dict, currency: str) -> str:
    other = candidate.get("other_spend") or "0"
    label = candidate["label"]
    if other not in ("0", "0.00"):
        return f"{label} — also matches {other} {currency} of other spend in 30 days"
    return f"{label} — matches only this spend"


class RuleChoiceForm(forms.Form):
    """Which allocation rule routes the item's spend (only account × service items have a real choice)."""

    match = forms.ChoiceField(label="Allocation rule", widget=forms.RadioSelect, required=False)

    def __init__(self, *args, item: ShadowItem, **kwargs):
        super().__init__(*args, **kwargs)
        candidates = item.rule_candidates or []
        self.fields["match"].choices = [(c["field"], _candidate_label(c, item.currency)) for c in candidates]
        if candidates:
            self.fields["match"].initial = candidates[0]["field"]
            self.fields["match"].required = True
        self.fields["match"].help_text = (
            "The rule is added before any rule that allocates these rows today, and history is re-allocated in "
            "the background."
        )


class MapForm(RuleChoiceForm):
    asset = forms.ModelChoiceField(
        queryset=Asset.objects.none(),
        label="Existing asset",
        error_messages={"required": "Choose the asset this spend belongs to."},
    )
    field_order = ["asset", "match"]

    def __init__(self, *args, item: ShadowItem, **kwargs):
        super().__init__(*args, item=item, **kwargs)
        self.fields["asset"].queryset = Asset.objects.order_by("kind", "name")
        self.fields["asset"].label_from_instance = lambda a: f"{a.name} ({a.get_kind_display().lower()})"
        self.fields["asset"].empty_label = "— choose an asset —"


class DismissForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required: e.g. a sandbox, a trial that ends this month, a personal test key.",
        error_messages={"required": "Say why it is dismissed: the next person to see it will want to know."},
    )


class SettingsForm(forms.ModelForm):
    class Meta:
        model = ShadowSettings
        fields = SETTINGS_FIELDS
        labels = {
            "alert_threshold": "Alert when a new item spends at least (30 days)",
            "reopen_factor": "Reopen a dismissed item at this multiple of its spend when dismissed",
            "reopen_min_increase": "…and at least this much more",
        }
