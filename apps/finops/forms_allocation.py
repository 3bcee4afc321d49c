"""The allocation rule form: one match, and either one receiver or up to MAX_TARGETS shared-cost targets."""

from __future__ import annotations

from django import forms

from apps.inventory.models import Asset, Department

from .models import AllocationRule

MAX_TARGETS = 8


class AllocationRuleForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="Shown next to every row this rule allocates.")
    match_field = forms.ChoiceField(label="Match rows by", choices=AllocationRule.Match.choices)
    match_key = forms.CharField(label="Tag key", max_length=200, required=False, help_text="For tag rules, e.g. team.")
    match_value = forms.CharField(
        label="Value or pattern",
        max_length=500,
        help_text="Case-insensitive; * matches any text and ? one character, e.g. claims-* or arn:aws:sagemaker:*.",
    )
    split = forms.ChoiceField(label="Cost goes to", choices=AllocationRule.Split.choices)
    department = forms.ModelChoiceField(queryset=Department.objects.none(), required=False)
    asset = forms.ModelChoiceField(
        queryset=Asset.objects.none(), required=False, help_text="Its department is used when none is chosen."
    )
    enabled = forms.BooleanField(required=False, initial=True)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, rule: AllocationRule | None = None, **kwargs):
        if rule is not None and "initial" not in kwargs:
            kwargs["initial"] = _initial(rule)
        super().__init__(*args, **kwargs)
        departments = Department.objects.order_by("name")
        assets = Asset.objects.order_by("kind", "name")
        self.fields["department"].queryset = departments
        self.fields["asset"].queryset = assets
        self.fields["asset"].label_from_instance = lambda a: f"{a.name} ({a.get_kind_display().lower()})"
        for index in range(MAX_TARGETS):
            self.fields[f"target_{index}_department"] = forms.ModelChoiceField(
                queryset=departments, required=False, label=f"Target {index + 1} department"
            )
            self.fields[f"target_{index}_asset"] = forms.ModelChoiceField(
                queryset=assets, required=False, label=f"Target {index + 1} asset"
            )
            self.fields[f"target_{index}_asset"].label_from_instance = self.fields["asset"].label_from_instance
            self.fields[f"target_{index}_percent"] = forms.DecimalField(
                required=False, min_value=0, max_value=100, decimal_places=4, label=f"Target {index + 1} %"
            )

    def target_rows(self):
        """(department field, asset field, percent field) per target row, for the template."""
        return [
            (self[f"target_{i}_department"], self[f"target_{i}_asset"], self[f"target_{i}_percent"])
            for i in range(MAX_TARGETS)
        ]

    def service_fields(self) -> dict:
        data = self.cleaned_data
        targets = []
        if data["split"] != AllocationRule.Split.NONE:
            for index in range(MAX_TARGETS):
                department = data.get(f"target_{index}_department")
                asset = data.get(f"target_{index}_asset")
                percent = data.get(f"target_{index}_percent")
                if department or asset or percent is not None:
                    targets.append({"department": department, "asset": asset, "percent": percent})
        return {
            "name": data["name"],
            "match_field": data["match_field"],
            "match_key": data["match_key"],
            "match_value": data["match_value"],
            "split": data["split"],
            "department": data["department"] if data["split"] == AllocationRule.Split.NONE else None,
            "asset": data["asset"] if data["split"] == AllocationRule.Split.NONE else None,
            "targets": targets,
            "enabled": data["enabled"],
            "description": data["description"],
        }


def _initial(rule: AllocationRule) -> dict:
    initial = {
        "name": rule.name,
        "match_field": rule.match_field,
        "match_key": rule.match_key,
        "match_value": rule.match_value,
        "split": rule.split,
        "department": rule.department_id,
        "asset": rule.asset_id,
        "enabled": rule.enabled,
        "description": rule.description,
    }
    for index, target in enumerate(rule.targets.all()[:MAX_TARGETS]):
        initial[f"target_{index}_department"] = target.department_id
        initial[f"target_{index}_asset"] = target.asset_id
        initial[f"target_{index}_percent"] = target.percent
    return initial
