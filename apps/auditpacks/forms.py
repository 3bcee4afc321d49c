"""The "request an audit pack" form: a period (client's calendar days) and the frameworks to include."""

from __future__ import annotations

from django import forms


class AuditPackForm(forms.Form):
    period_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    period_to = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))
    frameworks = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every enabled framework.",
    )

    def __init__(self, *args, **kwargs):
        from apps.compliance.selectors import client_frameworks

        from .services import default_period

        super().__init__(*args, **kwargs)
        cfs = client_frameworks()
        self.fields["frameworks"].queryset = cfs
        self.fields["frameworks"].label_from_instance = lambda cf: f"{cf.framework.short_name} v{cf.version.version}"
        if not cfs.exists():
            self.fields["frameworks"].help_text = (
                "No framework is enabled for this client yet: the pack holds the audit trail, the incidents and "
                "Keel's generated evidence."
            )
        if not self.is_bound:
            start, end = default_period()
            self.initial.setdefault("period_from", start)
            self.initial.setdefault("period_to", end)
            self.initial.setdefault("frameworks", [cf.pk for cf in cfs])

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "period_from": data["period_from"],
            "period_to": data["period_to"],
            "frameworks": list(data["frameworks"]),
        }
