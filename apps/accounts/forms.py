from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils import timezone

from .roles import CLIENT_ROLES, STAFF_ROLES, Role, Scope

CLIENT_ROLE_CHOICES = [(r.value, r.label) for r in Role if r in CLIENT_ROLES]
STAFF_ROLE_CHOICES = [(r.value, r.label) for r in Role if r in STAFF_ROLES]


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(max_length=150, label="Your name")
    password1 = forms.CharField(widget=forms.PasswordInput, label="Choose a password")
    password2 = forms.CharField(widget=forms.PasswordInput, label="Repeat the password")

    def clean(self):
        data = super().clean()
        if data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        elif data.get("password1"):
            try:
                validate_password(data["password1"])
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class ClientInvitationForm(forms.Form):
    email = forms.EmailField()
    full_name = forms.CharField(max_length=150, required=False, label="Name")
    role = forms.ChoiceField(choices=CLIENT_ROLE_CHOICES)
    expires_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Access ends on",
        help_text="Required for auditors: their access stops at the start of this day (UTC).",
    )

    def clean(self):
        data = super().clean()
        if data.get("role") == Role.AUDITOR and not data.get("expires_on"):
            self.add_error("expires_on", "Auditor access needs an end date.")
        if data.get("expires_on") and data["expires_on"] <= timezone.now().date():
            self.add_error("expires_on", "Choose a date in the future.")
        return data


class StaffInvitationForm(forms.Form):
    email = forms.EmailField()
    full_name = forms.CharField(max_length=150, required=False, label="Name")
    msp_role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES, label="Role")


class AssignClientForm(forms.Form):
    client = forms.ModelChoiceField(queryset=None, empty_label="Choose a client")
    role = forms.ChoiceField(
        choices=[(Role.ACCOUNT_MANAGER.value, Role.ACCOUNT_MANAGER.label), (Role.ENGINEER.value, Role.ENGINEER.label)]
    )

    def __init__(self, *args, clients=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who or what uses it, e.g. “Claims gateway”.")
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[Scope.READ])
    expires_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Expires on",
        help_text="Leave empty for no expiry.",
    )

    def clean_expires_on(self):
        value = self.cleaned_data.get("expires_on")
        if value and value <= timezone.now().date():
            raise forms.ValidationError("Choose a date in the future.")
        return value
