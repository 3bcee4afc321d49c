from __future__ import annotations

from django import forms

from apps.assessment_templates.models import TemplateVersion

from .models import RoadmapItem


def _emails(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").replace("\n", ",").split(",") if part.strip()]


class AssessmentForm(forms.Form):
    template_version = forms.ModelChoiceField(queryset=TemplateVersion.objects.none(), label="Template")
    title = forms.CharField(max_length=200)
    assessed_on = forms.DateField(label="Assessment date", widget=forms.DateInput(attrs={"type": "date"}))
    assessors = forms.CharField(
        required=False, help_text="E-mail addresses, separated by commas.", widget=forms.TextInput()
    )
    prefill = forms.BooleanField(
        required=False, initial=True, label="Prefill answers from what Keel knows about this client"
    )
    copy_previous = forms.BooleanField(
        required=False, initial=True, label="Start from the answers of the last final assessment"
    )

    def __init__(self, *args, versions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template_version"].queryset = versions if versions is not None else TemplateVersion.objects.none()
        self.fields["template_version"].label_from_instance = lambda v: f"{v.name} (v{v.version})"

    def clean_assessors(self):
        return _emails(self.cleaned_data["assessors"])


class AssessmentEditForm(forms.Form):
    title = forms.CharField(max_length=200)
    assessed_on = forms.DateField(label="Assessment date", widget=forms.DateInput(attrs={"type": "date"}))
    assessors = forms.CharField(required=False, help_text="E-mail addresses, separated by commas.")
    reviewer_email = forms.EmailField(required=False, label="Reviewer")
    summary = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5}), help_text="Your conclusion, shown on the report."
    )

    def clean_assessors(self):
        return _emails(self.cleaned_data["assessors"])


class RoadmapItemForm(forms.ModelForm):
    class Meta:
        model = RoadmapItem
        fields = ["title", "detail", "priority", "effort", "owner_email", "due_on", "status", "status_note"]
        widgets = {
            "detail": forms.Textarea(attrs={"rows": 4}),
            "status_note": forms.Textarea(attrs={"rows": 2}),
            "due_on": forms.DateInput(attrs={"type": "date"}),
        }
        labels = {"owner_email": "Owner", "due_on": "Due", "status_note": "Progress note"}


class UploadForm(forms.Form):
    file = forms.FileField()
    title = forms.CharField(max_length=200, required=False, help_text="Defaults to the question.")
