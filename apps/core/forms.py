"""Form helpers every portal app uses."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def apply_validation_error(form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: each message next to the field it names, the rest (and
    messages without a field) at the top of the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, errors in exc.message_dict.items():
        form.add_error(key if key in form.fields else None, errors)
