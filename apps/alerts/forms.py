from django import forms

from .models import NotificationChannel


class NoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000, label="Note (optional)"
    )


class ChannelForm(forms.ModelForm):
    signing_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Webhooks only. Leave empty to keep the current secret. Receivers verify X-Keel-Signature with it.",
    )

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "target", "min_severity", "is_active"]
        labels = {"min_severity": "Send alerts of at least this severity", "is_active": "Active"}

    def clean(self):
        data = super().clean()
        kind, target = data.get("kind"), (data.get("target") or "").strip()
        if kind == NotificationChannel.Kind.EMAIL:
            addresses = [a.strip() for a in target.split(",") if a.strip()]
            validator = forms.EmailField()
            for address in addresses:
                validator.clean(address)
            if not addresses:
                self.add_error("target", "Enter at least one email address.")
        elif kind and not target.startswith(("https://", "http://")):
            self.add_error("target", "Enter the webhook URL, starting with https://.")
        return data
