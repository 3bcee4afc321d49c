from django import forms

from .models import Department


class DepartmentForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ["name", "code", "cost_center", "owner_email", "description"]
        labels = {"owner_email": "Owner's email", "cost_center": "Cost center"}
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def validate_unique(self):
        # The service checks uniqueness (case-insensitive names) in one place.
        pass
